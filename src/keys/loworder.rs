//! Small-order ("weak") Curve25519 points, in keys and in ephemeral shares.
//!
//! A point of small order (dividing the cofactor 8) is killed by every X25519 scalar, which
//! X25519 clamps to a multiple of 8: the shared secret with it is all zero whatever the secret
//! key, so a file wrapped to such a "public key" opens for anyone who knows the public key, and a
//! stanza whose ephemeral share is one was made by someone who needed no key at all. Go age
//! refuses both ("low order point"); the age crate accepts them (and panics when wrapping to a
//! low-order age1 key). We refuse keys when they are parsed, an all-zero shared secret when
//! wrapping, and low-order shares before any identity computes with them.
//!
//! Malformed X25519 and ssh-ed25519 stanzas (`header::malformed`) are refused here too, before
//! any identity reads them: the age crate reads only the arguments it expects and ignores any
//! others, so a stanza with an extra argument would otherwise skip the share check above and
//! still be opened (with the all-zero secret of a low-order share). Go age refuses such
//! stanzas; so do we.
//!
//! The predicates compute (cofactor multiplication), so they need no list; the lists below are
//! every encoding they must catch, for tests, fuzz seeds and readers. Completeness: the curve's
//! group is Z/8 × Z/ℓ and its twist's Z/4 × Z/ℓ', so the small-order points are the 8 torsion
//! points of the curve and the 4-torsion of the twist; a 255-bit field encoding can exceed
//! p = 2^255 − 19 only by 0..=18, so only y (or u) in {0, 1} have non-canonical forms.

use age_core::format::Stanza;
use base64::Engine;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::montgomery::MontgomeryPoint;

use crate::error::Error;
use crate::header::{malformed, ssh_key_tag, SSH_ED25519, X25519};

/// Every 32-byte Ed25519 encoding that decodes to a point of small order: the 8 torsion points
/// (canonical), then the non-canonical ones: sign bit set on an x = 0 point ("−0") and
/// y ≥ p (y = p is y = 0, y = p + 1 is y = 1).
pub const ED25519_SMALL_ORDER: [[u8; 32]; 14] = [
    // Order 1: the identity (0, 1).
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    // Order 2: (0, −1).
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    // Order 4: (±√−1, 0).
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    // Order 8.
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    // Non-canonical: −0 for the identity and for (0, −1).
    hex32("0100000000000000000000000000000000000000000000000000000000000080"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    // Non-canonical: y = p (≡ 0), both signs; y = p + 1 (≡ 1), with and without −0.
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
];

/// Every 32-byte X25519 u-coordinate of small order: 0 (order 2), 1 (order 4), the two order-8
/// u of the curve, p − 1 (order 4, on the twist), then p and p + 1 (non-canonical 0 and 1); and
/// each again with bit 255 set, which X25519 ignores.
pub const X25519_LOW_ORDER: [[u8; 32]; 14] = with_top_bit([
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]);

/// True when `bytes` decode to an Ed25519 point of small order (any encoding the decoder
/// accepts, canonical or not). Bytes that are no point at all are not "small order": the
/// caller refuses them as invalid.
pub fn ed25519_is_small_order(bytes: &[u8; 32]) -> bool {
    CompressedEdwardsY(*bytes)
        .decompress()
        .is_some_and(|p| p.is_small_order())
}

/// True when the X25519 u-coordinate `u` (bit 255 ignored, values ≥ p reduced, as X25519 does)
/// is a point of small order on the curve or its twist: 8·P is the identity. The ladder
/// represents the identity as u = 0, and so also maps the order-2 point (u = 0) there; that
/// is still small order (no point has order 16).
pub fn x25519_is_low_order(u: &[u8; 32]) -> bool {
    let eight = [true, false, false, false];
    is_all_zero(
        MontgomeryPoint(*u)
            .mul_bits_be(eight.into_iter())
            .as_bytes(),
    )
}

/// True when every byte is zero, without a data-dependent early exit (shared secrets).
pub fn is_all_zero(b: &[u8]) -> bool {
    b.iter().fold(0u8, |acc, x| acc | x) == 0
}

/// Why a stanza is refused: it is malformed (see `malformed`), or its ephemeral share is of
/// small order, so its shared secret is all zero and anyone could have sealed it. `None` when
/// the stanza is not an X25519 or ssh-ed25519 stanza, or a well-formed one with an honest
/// share. The shape is checked whatever the key tag (as Go age does), the share only for
/// ssh-ed25519 stanzas naming `ssh_tag` (the key's own), as Go age looks at no other.
pub fn refused_share(stanza: &Stanza, ssh_tag: Option<[u8; 4]>) -> Option<String> {
    if let Some(why) = malformed(&stanza.tag, &stanza.args, stanza.body.len()) {
        return Some(why);
    }
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let share = match (stanza.tag.as_str(), &stanza.args[..]) {
        (X25519, [share]) => share,
        (SSH_ED25519, [tag, share]) => {
            let ours = ssh_tag.is_some_and(|t| ssh_key_tag(tag) == Some(t));
            if !ours {
                return None;
            }
            share
        }
        _ => return None,
    };
    let bytes: [u8; 32] = b64.decode(share).ok()?.try_into().ok()?;
    x25519_is_low_order(&bytes).then(|| {
        format!(
            "its {} stanza's ephemeral share is a low-order point, which makes the shared \
             secret all zero: such a stanza can be made without any key (age never writes \
             one), so the file is forged or damaged and is refused",
            stanza.tag
        )
    })
}

/// A weak (small-order) key met when parsing a recipient: what it is, why it cannot be used,
/// and `fix`.
pub fn weak_key(what: &str, fix: &str) -> Error {
    Error::new(format!(
        "{what} is a weak key (a small-order curve point): every file encrypted to it could be \
         decrypted by anyone who knows only this public key, so it is refused; it is not a real \
         key (a placeholder or a forged one): {fix}"
    ))
}

/// The error for a wrap whose shared secret came out all zero: the recipient is a weak key.
pub fn weak_recipient(kind: &str) -> age::EncryptError {
    age::EncryptError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "the {kind} recipient is a weak (low-order) key: the shared secret with it is all \
             zero, so anyone could decrypt; refusing to encrypt to it"
        ),
    ))
}

/// An identity that refuses malformed stanzas and stanzas with a low-order ephemeral share
/// before `inner` sees them, so no computation with such a share happens (the age crate's ssh-ed25519 identity would
/// accept one; its X25519 identity refuses it only after the multiplication).
pub struct RefuseLowOrder {
    pub inner: Box<dyn age::Identity + Send + Sync>,
    /// For SSH identities, the key's stanza tag (ssh-ed25519 stanzas of other keys are not ours).
    pub ssh_tag: Option<[u8; 4]>,
}

impl age::Identity for RefuseLowOrder {
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        if let Some(why) = refused_share(stanza, self.ssh_tag) {
            return Some(Err(decrypt_error(why)));
        }
        self.inner.unwrap_stanza(stanza)
    }
}

/// A stanza refused by `refused_share`, carried through the age crate's decryptor (whose own
/// error variants have fixed texts) to `crypto::decrypt`, which reports it as an invalid
/// header.
#[derive(Debug)]
pub struct RefusedStanza(pub String);

impl std::fmt::Display for RefusedStanza {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedStanza {}

pub fn decrypt_error(why: String) -> age::DecryptError {
    age::DecryptError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        RefusedStanza(why),
    ))
}

/// Our refusal inside an age error, if it is one.
pub fn as_refused_stanza(e: &age::DecryptError) -> Option<&RefusedStanza> {
    match e {
        age::DecryptError::Io(io) => io.get_ref()?.downcast_ref::<RefusedStanza>(),
        _ => None,
    }
}

/// Decode 64 hex digits at compile time (a bad literal fails the build, not a run).
const fn hex32(s: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 64, "need 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(s[2 * i]) << 4 | digit(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// The 7 u-coordinates, then the same with bit 255 set.
const fn with_top_bit(us: [[u8; 32]; 7]) -> [[u8; 32]; 14] {
    let mut out = [[0u8; 32]; 14];
    let mut i = 0;
    while i < 7 {
        out[i] = us[i];
        out[i + 7] = us[i];
        out[i + 7][31] |= 0x80;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::edwards::EdwardsPoint;

    /// Random points (honest keys) are not flagged; every listed encoding is.
    #[test]
    fn lists_are_flagged_and_honest_keys_are_not() {
        for e in ED25519_SMALL_ORDER {
            assert!(ed25519_is_small_order(&e), "{e:02x?}");
        }
        for u in X25519_LOW_ORDER {
            assert!(x25519_is_low_order(&u), "{u:02x?}");
        }
        for _ in 0..64 {
            let s = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
            let u = x25519_dalek::PublicKey::from(&s);
            assert!(!x25519_is_low_order(u.as_bytes()));
            let ed = EdwardsPoint::mul_base_clamped(s.to_bytes());
            assert!(!ed25519_is_small_order(ed.compress().as_bytes()));
            // A key with a torsion component is not small order (X25519 clamping removes
            // the component; Go age accepts such keys too).
            let mixed = ed
                + CompressedEdwardsY(ED25519_SMALL_ORDER[4])
                    .decompress()
                    .unwrap();
            assert!(!ed25519_is_small_order(mixed.compress().as_bytes()));
        }
    }

    /// The listed points are what the lists claim: an X25519 multiplication by any clamped
    /// scalar gives all zero, and 8·P is the Edwards identity.
    #[test]
    fn listed_points_give_all_zero_secrets() {
        for _ in 0..8 {
            let s = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
            for u in X25519_LOW_ORDER {
                let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(u));
                assert!(is_all_zero(shared.as_bytes()), "{u:02x?}");
            }
            for e in ED25519_SMALL_ORDER {
                let p = CompressedEdwardsY(e).decompress().unwrap();
                let u = p.to_montgomery();
                let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(u.to_bytes()));
                assert!(is_all_zero(shared.as_bytes()), "{e:02x?}");
            }
        }
    }

    /// Completeness: starting from one order-8 point, its 8 multiples are the whole 8-torsion;
    /// every encoding of each (canonical, −0, y + p where it fits in 255 bits) that decodes is
    /// in the Ed25519 list, and their u-coordinates (plus the twist's p − 1) are in the X25519
    /// list, in every form that fits.
    #[test]
    fn lists_are_complete() {
        let g = CompressedEdwardsY(ED25519_SMALL_ORDER[4])
            .decompress()
            .unwrap();
        let mut torsion = vec![EdwardsPoint::default()];
        for _ in 1..8 {
            torsion.push(torsion.last().unwrap() + g);
        }
        assert_eq!(torsion.last().unwrap() + g, EdwardsPoint::default());
        let p_plus = |v: &[u8; 32]| -> Option<[u8; 32]> {
            // v + p when v ≤ 18 (only then does it fit below 2^255).
            (v[1..31].iter().all(|b| *b == 0) && v[31] & 0x7f == 0 && v[0] <= 18).then(|| {
                let mut out = [0xffu8; 32];
                out[0] = 0xed + v[0];
                out[31] = 0x7f | (v[31] & 0x80);
                out
            })
        };
        let mut us = std::collections::BTreeSet::new();
        for t in &torsion {
            let c = t.compress().to_bytes();
            let mut forms = vec![c];
            let mut neg = c;
            neg[31] ^= 0x80;
            forms.push(neg);
            forms.extend(forms.clone().iter().filter_map(p_plus));
            for f in forms {
                if CompressedEdwardsY(f).decompress().is_some() {
                    assert!(ED25519_SMALL_ORDER.contains(&f), "missing {f:02x?}");
                }
            }
            us.insert(t.to_montgomery().to_bytes());
        }
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        us.insert(minus_one);
        let mut all: Vec<[u8; 32]> = us.iter().copied().collect();
        all.extend(us.iter().filter_map(p_plus));
        for u in all.clone() {
            let mut top = u;
            top[31] |= 0x80;
            all.push(top);
        }
        let listed: std::collections::BTreeSet<_> = X25519_LOW_ORDER.into_iter().collect();
        assert_eq!(
            all.into_iter().collect::<std::collections::BTreeSet<_>>(),
            listed
        );
        let eds: std::collections::BTreeSet<_> = ED25519_SMALL_ORDER.into_iter().collect();
        assert_eq!(eds.len(), 14);
    }

    #[test]
    fn refused_share_reads_only_our_stanzas() {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let stanza = |tag: &str, args: Vec<String>| Stanza {
            tag: tag.into(),
            args,
            body: vec![0; 32],
        };
        let low = b64.encode(X25519_LOW_ORDER[3]);
        let honest = b64.encode(x25519_dalek::PublicKey::from(
            &x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng),
        ));
        let ours = [1, 2, 3, 4];
        let theirs = b64.encode([9, 9, 9, 9]);
        assert!(refused_share(&stanza("X25519", vec![low.clone()]), None).is_some());
        assert!(refused_share(&stanza("X25519", vec![honest.clone()]), None).is_none());
        let ssh = |tag: String, share: &str| stanza("ssh-ed25519", vec![tag, share.into()]);
        assert!(refused_share(&ssh(b64.encode(ours), &low), Some(ours)).is_some());
        assert!(refused_share(&ssh(b64.encode(ours), &honest), Some(ours)).is_none());
        assert!(refused_share(&ssh(theirs.clone(), &low), Some(ours)).is_none());
        assert!(refused_share(&ssh(b64.encode(ours), &low), None).is_none());
        // Malformed stanzas are refused whatever the key tag, before the share is looked at.
        assert!(refused_share(&stanza("X25519", vec!["AAAA".into()]), None).is_some());
        let extra = |mut v: Vec<String>| {
            v.push("extra".into());
            v
        };
        for args in [
            vec![],
            extra(vec![low.clone()]),
            extra(vec![honest.clone()]),
        ] {
            let why = refused_share(&stanza("X25519", args.clone()), None).unwrap();
            assert!(why.contains(&format!("{} argument", args.len())), "{why}");
        }
        for args in [
            vec![],
            vec![b64.encode(ours)],
            extra(vec![b64.encode(ours), low.clone()]),
            extra(vec![theirs.clone(), honest.clone()]),
        ] {
            let why = refused_share(&stanza("ssh-ed25519", args.clone()), Some(ours)).unwrap();
            assert!(why.starts_with("malformed ssh-ed25519 stanza"), "{why}");
            assert!(refused_share(&stanza("ssh-ed25519", args), None).is_some());
        }
    }
}
