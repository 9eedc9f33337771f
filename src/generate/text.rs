//! The text kinds: letters and digits, hex, base64, each from the OS random source into a
//! buffer allocated once at its final size (no reallocation leaves an unwiped copy) and wiped
//! on drop.

use base64::Engine;
use rand::distributions::{Alphanumeric, Distribution};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::fs::SecretBytes;
use crate::rules::generator::TextKind;

pub fn make(kind: TextKind, length: usize) -> SecretBytes {
    match kind {
        TextKind::Alnum => alnum(length),
        TextKind::Hex => hex(length),
        TextKind::Base64 => base64(length),
    }
}

/// `Alphanumeric` draws uniformly from the 62 symbols (rejection sampling, no modulo bias).
fn alnum(length: usize) -> SecretBytes {
    let mut out = Zeroizing::new(Vec::with_capacity(length));
    out.extend(Alphanumeric.sample_iter(OsRng).take(length));
    out
}

fn hex(length: usize) -> SecretBytes {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = random_bytes(length.div_ceil(2));
    let mut out = Zeroizing::new(Vec::with_capacity(length));
    for b in bytes.iter() {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    out.truncate(length);
    out
}

/// `length` is a multiple of 4 (the rules check it): exactly `length / 4 * 3` random bytes,
/// so the encoding never needs padding.
fn base64(length: usize) -> SecretBytes {
    let bytes = random_bytes(length / 4 * 3);
    let mut out = Zeroizing::new(vec![0u8; length]);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(&bytes[..], &mut out[..])
        .expect("the buffer has the encoded length");
    debug_assert_eq!(n, length);
    out
}

pub fn random_bytes(n: usize) -> SecretBytes {
    let mut b = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        for n in [22, 23, 32, 101] {
            let a = make(TextKind::Alnum, n);
            assert_eq!(a.len(), n);
            assert!(a.iter().all(u8::is_ascii_alphanumeric));
        }
        for n in [32, 33, 64] {
            let h = make(TextKind::Hex, n);
            assert_eq!(h.len(), n);
            assert!(h
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
        }
        let b = make(TextKind::Base64, 44);
        assert_eq!(b.len(), 44);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&b[..])
            .unwrap();
        assert_eq!(raw.len(), 33);
    }

    #[test]
    fn values_differ() {
        assert_ne!(make(TextKind::Alnum, 32), make(TextKind::Alnum, 32));
    }
}
