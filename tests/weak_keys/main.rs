//! Weak (small-order) keys and forged ephemeral shares.
//!
//! A point of small order makes every X25519 shared secret all zero, so:
//! - a "public key" of small order in the rules would let anyone who knows it decrypt every
//!   file encrypted to it: every command must refuse the rules (naming the key), with a
//!   non-zero exit, no panic (101) and nothing written;
//! - a stanza whose ephemeral share has small order can be sealed by anyone, without any key:
//!   decrypting must refuse it, as Go `age` does ("low order point");
//! - a stanza with more (or fewer) arguments than age writes, or a share or body that is not
//!   32 bytes, is refused as malformed, as Go `age` does ("invalid … recipient block"): the age
//!   crate ignores extra arguments, which once let a low-order share past our check.
//!
//! The point lists here are written out independently of src/keys/loworder.rs (and each is checked
//! against Go `age`, which must call it low order), and the SSH blobs, bech32 strings and age
//! files are built by hand.

#[path = "../common/mod.rs"]
mod common;
#[path = "../install_support/mod.rs"]
mod install_support;

mod keys;
mod stanzas;

use base64::Engine;
use common::{key, pubkey, Repo};
use sha2::{Digest, Sha256};

/// Every Ed25519 encoding of a small-order point: the 8 torsion points, then the non-canonical
/// ones (sign bit set on x = 0, y = p and y = p + 1).
const ED25519_WEAK: [&str; 14] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// Every X25519 u-coordinate of small order: 0, 1, the two order-8 points, p − 1, p, p + 1;
/// `x25519_weak()` adds each with bit 255 set (ignored by X25519).
const X25519_WEAK: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn unhex(s: &str) -> [u8; 32] {
    let v: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

fn x25519_weak() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = X25519_WEAK.iter().map(|h| unhex(h)).collect();
    for i in 0..X25519_WEAK.len() {
        let mut top = out[i];
        top[31] |= 0x80;
        out.push(top);
    }
    out
}

/// `ssh-ed25519 AAAA…` for a 32-byte point: the SSH wire blob is string("ssh-ed25519") ||
/// string(point), each string a 4-byte big-endian length then the bytes.
fn ssh_ed25519(point: &[u8; 32]) -> String {
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], &point[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ u32::from(*v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// `age1…`: bech32 (BIP 173) of the 32 bytes with the human-readable part "age".
fn age1(u: &[u8; 32]) -> String {
    let mut data = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in u {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let hrp = b"age";
    let mut values: Vec<u8> = hrp.iter().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.iter().map(|c| c & 31));
    values.extend(&data);
    values.extend([0; 6]);
    let pm = bech32_polymod(&values) ^ 1;
    data.extend((0..6).map(|i| ((pm >> (5 * (5 - i))) & 31) as u8));
    let chars: String = data.iter().map(|d| BECH32[*d as usize] as char).collect();
    format!("age1{chars}")
}

/// The bytes of an `age1…` string (hand decoder, no checksum check: test keys only).
fn age1_bytes(s: &str) -> [u8; 32] {
    let data = &s["age1".len()..s.len() - 6];
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in data.bytes() {
        let v = BECH32.iter().position(|x| *x == c).unwrap() as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out.try_into().unwrap()
}

/// Every weak key as it would appear in rules, with a label for messages.
fn weak_keys() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, h) in ED25519_WEAK.iter().enumerate() {
        out.push((format!("ssh-ed25519 #{i} {h}"), ssh_ed25519(&unhex(h))));
    }
    for (i, u) in x25519_weak().iter().enumerate() {
        out.push((format!("age1 #{i} {}", hex(u)), age1(u)));
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
