//! age's ssh-ed25519 recipient type, as the age crate writes and reads it but with one X25519
//! ladder per file where the age crate does two (or three): rekey encrypts and decrypts
//! thousands of files to the same keys, so what depends only on the key is computed once. Also
//! the refusals specific to this type: weak (small-order) keys when parsed, low-order shares
//! and malformed stanzas before any computation (see `loworder`).

use zeroize::Zeroizing;

use super::loworder::{decrypt_error, ed25519_is_small_order, refused_share, weak_key};
use crate::error::{Error, Result};
use crate::header::{ssh_key_tag, SSH_ED25519};

/// HKDF label of age's ssh-ed25519 recipient type.
const SSH_ED25519_LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";

/// Our recipient for a parsed ssh-ed25519 public key (`wire`: its SSH wire encoding; `ed25519`:
/// its point; `tag`: its stanza tag), refusing a weak (small-order) key and bytes that are no
/// curve point, each with a message naming `fingerprint` and the fix.
pub fn recipient(
    wire: &[u8],
    ed25519: &[u8; 32],
    tag: [u8; 4],
    fingerprint: &str,
) -> Result<SshEd25519Recipient> {
    SshEd25519Recipient::new(wire, ed25519, tag).ok_or_else(|| {
        Error::new(format!(
            "ssh-ed25519 key {fingerprint} is not a valid curve point"
        ))
    })
}

/// Refuse a weak (small-order) ssh-ed25519 key: anyone could open what is encrypted to it.
pub fn refuse_weak(ed25519: &[u8; 32], fingerprint: &str) -> Result<()> {
    if ed25519_is_small_order(ed25519) {
        return Err(weak_key(
            &format!("ssh-ed25519 key {fingerprint}"),
            "use the machine's real host key (`ssh-keyscan -t ed25519 HOST`, or \
             /etc/ssh/ssh_host_ed25519_key.pub on it) or a user key from \
             `ssh-keygen -t ed25519`",
        ));
    }
    Ok(())
}

/// age's ssh-ed25519 recipient, producing the same stanzas as the age crate's but doing one
/// X25519 ladder per file instead of two. age derives the shared secret as
/// `X25519(tweak, X25519(esk, pk))`, where `tweak` depends only on the recipient's key.
/// Scalar multiplication commutes, so that equals `X25519(esk, X25519(tweak, pk))`, and
/// `X25519(tweak, pk)` is computed once per key instead of once per file (rekey encrypts
/// thousands of files to the same keys). The unit tests check both orders agree and that the
/// age crate decrypts the result; tests/cli/ and tests/rekey/ check Go `age` does.
#[derive(Clone)]
pub struct SshEd25519Recipient {
    /// Base64 of the 4-byte key tag, as written in the stanza.
    tag: String,
    /// The key as an X25519 public key (salt input).
    pk: [u8; 32],
    /// `X25519(tweak, pk)`.
    tweaked: x25519_dalek::PublicKey,
}

impl SshEd25519Recipient {
    /// `wire`: the SSH wire encoding of the public key (what `ssh-ed25519 AAAA…` base64-encodes);
    /// `ed25519`: its 32-byte Ed25519 point; `tag`: the first 4 bytes of SHA-256(`wire`).
    /// None for bytes that are not a point on the curve, or a weak (small-order) one.
    pub fn new(wire: &[u8], ed25519: &[u8; 32], tag: [u8; 4]) -> Option<Self> {
        use base64::Engine;
        let point = curve25519_dalek::edwards::CompressedEdwardsY(*ed25519).decompress()?;
        if point.is_small_order() {
            return None;
        }
        let pk = point.to_montgomery().to_bytes();
        let tweak = x25519_dalek::StaticSecret::from(age_core::primitives::hkdf(
            wire,
            SSH_ED25519_LABEL,
            &[],
        ));
        let tweaked = x25519_dalek::PublicKey::from(
            *tweak
                .diffie_hellman(&x25519_dalek::PublicKey::from(pk))
                .as_bytes(),
        );
        Some(SshEd25519Recipient {
            tag: base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag),
            pk,
            tweaked,
        })
    }
}

impl age::Recipient for SshEd25519Recipient {
    fn wrap_file_key(&self, file_key: &age_core::format::FileKey) -> super::x25519::Wrapped {
        // `tweaked` = X25519(tweak, pk), so the ephemeral secret times it is age's
        // X25519(tweak, X25519(esk, pk)) (see the type's comment). An all-zero result is
        // unreachable for keys `new` accepts; `seal` refuses it anyway, as Go age does.
        super::x25519::seal(
            SSH_ED25519,
            std::slice::from_ref(&self.tag),
            &self.tweaked,
            &self.pk,
            SSH_ED25519_LABEL,
            SSH_ED25519,
            file_key,
        )
    }
}

/// age's ssh-ed25519 identity for an unencrypted key, doing one X25519 ladder per file where
/// the age crate does a base-point multiplication and two ladders. age computes
/// `X25519(t, X25519(s, epk))` with the key's scalar `s` and tweak `t`. For an `epk` on
/// Curve25519 (every honest file: it is `esk·B`), that is `x(t·s·P)`, and since the group has
/// order 8ℓ, `t·s` can be replaced by `k ≡ t·s (mod 8ℓ)`, computed once per key. An `epk` not
/// on the curve (on its quadratic twist, of order 4ℓ', where that reduction is wrong) is
/// recognised before the ladder and handed to the age crate's own computation, as is every
/// stanza the fast path does not open; so every stanza opens, or fails, exactly as with the
/// age crate.
pub struct SshEd25519Identity {
    /// The age crate's identity for the same key: the fallback.
    age: age::ssh::Identity,
    tag: [u8; 4],
    /// The key's X25519 public key (salt input): the Montgomery form of its Ed25519 key, the
    /// value age derives from `s`.
    pk: [u8; 32],
    /// `k = t·s mod 8ℓ`, little-endian.
    k: Zeroizing<[u8; 32]>,
}

impl SshEd25519Identity {
    /// `age`: the age crate's identity for this key; `wire`: the SSH wire encoding of its public
    /// key; `seed`: its 32-byte Ed25519 private seed; `public`: its Ed25519 public key; `tag`:
    /// the first 4 bytes of SHA-256(`wire`).
    pub fn new(
        age: age::ssh::Identity,
        wire: &[u8],
        seed: &[u8; 32],
        public: &[u8; 32],
        tag: [u8; 4],
    ) -> Self {
        use curve25519_dalek::scalar::Scalar;
        use sha2::Digest;
        use zeroize::Zeroize;
        // As age does: the X25519 secret is the first half of SHA-512(seed).
        let mut hash = sha2::Sha512::digest(seed);
        let mut s_bytes = Zeroizing::new([0u8; 32]);
        s_bytes.copy_from_slice(&hash[..32]);
        hash.as_mut_slice().zeroize();
        let pk = curve25519_dalek::edwards::CompressedEdwardsY(*public)
            .decompress()
            .map_or([0u8; 32], |p| p.to_montgomery().to_bytes());
        let t_bytes = age_core::primitives::hkdf(wire, SSH_ED25519_LABEL, &[]);
        // X25519 clamps scalars to multiples of 8: s = 8s', t = 8t', so
        // t·s = 64·s'·t' ≡ 8·(8·s'·t' mod ℓ) (mod 8ℓ).
        let mut s = Scalar::from_bytes_mod_order(*clamped_div8(&s_bytes));
        let t = Scalar::from_bytes_mod_order(*clamped_div8(&t_bytes));
        let mut s8 = Scalar::from(8u64) * s;
        let mut m = s8 * t;
        let mut k = Zeroizing::new(m.to_bytes());
        // k = 8m; m < ℓ < 2^253, so 8m fits in 256 bits.
        let mut carry = 0u8;
        for b in k.iter_mut() {
            let next = *b >> 5;
            *b = (*b << 3) | carry;
            carry = next;
        }
        debug_assert_eq!(carry, 0);
        s.zeroize();
        s8.zeroize();
        m.zeroize();
        SshEd25519Identity { age, tag, pk, k }
    }

    /// The file key, if this stanza is ours, its `epk` is on the curve, and it authenticates
    /// under the fast computation.
    fn unwrap_fast(&self, stanza: &age_core::format::Stanza) -> Option<age_core::format::FileKey> {
        use base64::Engine;
        use zeroize::Zeroize;
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        if stanza.tag != SSH_ED25519 || stanza.args.len() != 2 || stanza.body.len() != 32 {
            return None;
        }
        if ssh_key_tag(&stanza.args[0]) != Some(self.tag) {
            return None;
        }
        let epk = curve25519_dalek::montgomery::MontgomeryPoint(
            b64.decode(&stanza.args[1]).ok()?.try_into().ok()?,
        );
        // Twist points (and u = -1, which has no Edwards form) go to the age crate: the
        // reduction mod 8ℓ holds on the curve only. Costs a square root, not a ladder.
        epk.to_edwards(0)?;
        let bits = (0..256).rev().map(|i| (self.k[i / 8] >> (i % 8)) & 1 == 1);
        let shared = Zeroizing::new(epk.mul_bits_be(bits).to_bytes());
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&epk.0);
        salt[32..].copy_from_slice(&self.pk);
        let key = Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            SSH_ED25519_LABEL,
            &shared[..],
        ));
        let mut plain = age_core::primitives::aead_decrypt(&key, 16, &stanza.body).ok()?;
        let file_key = age_core::format::FileKey::init_with_mut(|k| k.copy_from_slice(&plain));
        plain.zeroize();
        Some(file_key)
    }
}

/// Clamp a 32-byte X25519 scalar as RFC 7748 does and divide it by 8 (exact after clamping).
fn clamped_div8(b: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut c = Zeroizing::new(*b);
    c[0] &= 248;
    c[31] &= 127;
    c[31] |= 64;
    let mut out = Zeroizing::new([0u8; 32]);
    for i in 0..32 {
        let hi = if i + 1 < 32 { c[i + 1] << 5 } else { 0 };
        out[i] = (c[i] >> 3) | hi;
    }
    out
}

impl age::Identity for SshEd25519Identity {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<std::result::Result<age_core::format::FileKey, age::DecryptError>> {
        // Before both computations: a low-order share gives an all-zero secret in either, and
        // the age crate's would accept a stanza sealed under it (also with an extra argument,
        // which it ignores: malformed stanzas are refused here too).
        if let Some(why) = refused_share(stanza, Some(self.tag)) {
            return Some(Err(decrypt_error(why)));
        }
        match self.unwrap_fast(stanza) {
            Some(k) => Some(Ok(k)),
            None => self.age.unwrap_stanza(stanza),
        }
    }
}

/// The private seed of an unencrypted OpenSSH ssh-ed25519 key (None for any other key), for
/// `SshEd25519Identity`.
pub fn seed(text: &str) -> Option<(zeroize::Zeroizing<[u8; 32]>, [u8; 32])> {
    let key = ssh_key::PrivateKey::from_openssh(text.trim_end()).ok()?;
    if key.is_encrypted() {
        return None;
    }
    let pair = key.key_data().ed25519()?;
    Some((
        zeroize::Zeroizing::new(pair.private.to_bytes()),
        pair.public.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{to_age_recipients, Recipient};

    fn keys() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys")
    }

    /// The precomputation relies on `X25519(tweak, X25519(esk, pk)) == X25519(esk, X25519(tweak,
    /// pk))`: check it against the age crate's order for both test keys and many ephemerals.
    #[test]
    fn tweak_first_equals_age_order() {
        for name in ["alice_ed25519", "web1_ed25519"] {
            let text = std::fs::read_to_string(keys().join(format!("{name}.pub"))).unwrap();
            let pk = ssh_key::PublicKey::from_openssh(text.trim()).unwrap();
            let wire = pk.to_bytes().unwrap();
            let ed = pk.key_data().ed25519().unwrap().0;
            let ours = SshEd25519Recipient::new(&wire, &ed, [0; 4]).unwrap();
            let tweak = x25519_dalek::StaticSecret::from(age_core::primitives::hkdf(
                &wire,
                SSH_ED25519_LABEL,
                &[],
            ));
            let mont = x25519_dalek::PublicKey::from(ours.pk);
            for _ in 0..32 {
                let esk = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
                let inner = x25519_dalek::PublicKey::from(*esk.diffie_hellman(&mont).as_bytes());
                let age_order = tweak.diffie_hellman(&inner);
                let our_order = esk.diffie_hellman(&ours.tweaked);
                assert_eq!(age_order.as_bytes(), our_order.as_bytes(), "{name}");
            }
        }
    }

    /// Our fast identity for a test key, plus what the test needs to build stanzas by hand.
    fn fast_identity(name: &str) -> (SshEd25519Identity, [u8; 32], Vec<u8>) {
        use sha2::Digest;
        let text = std::fs::read_to_string(keys().join(name)).unwrap();
        let key = ssh_key::PrivateKey::from_openssh(&text).unwrap();
        let seed = key.key_data().ed25519().unwrap().private.to_bytes();
        let public = key.key_data().ed25519().unwrap().public.0;
        let wire = key.public_key().to_bytes().unwrap();
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&sha2::Sha256::digest(&wire)[..4]);
        let age_id = age::ssh::Identity::from_buffer(text.as_bytes(), None).unwrap();
        let mut s = [0u8; 32];
        s.copy_from_slice(&sha2::Sha512::digest(seed)[..32]);
        (
            SshEd25519Identity::new(age_id, &wire, &seed, &public, tag),
            s,
            wire,
        )
    }

    /// Honest stanzas (from our recipient and from the age crate's) open on the fast path, with
    /// the right file key; another key's identity does not claim them.
    #[test]
    fn fast_identity_opens_honest_stanzas() {
        use age::Recipient as _;
        use age_core::secrecy::ExposeSecret;
        let (alice, _, _) = fast_identity("alice_ed25519");
        let (web1, _, _) = fast_identity("web1_ed25519");
        let public = std::fs::read_to_string(keys().join("alice_ed25519.pub")).unwrap();
        let ours = Recipient::parse(&public).unwrap();
        let theirs: age::ssh::Recipient = public.trim().parse().unwrap();
        for round in 0..16u8 {
            let fk = age_core::format::FileKey::init_with_mut(|k| k.fill(round));
            let mut stanzas = to_age_recipients(std::slice::from_ref(&ours)).unwrap()[0]
                .wrap_file_key(&fk)
                .unwrap()
                .0;
            stanzas.extend(theirs.wrap_file_key(&fk).unwrap().0);
            for st in &stanzas {
                let got = alice.unwrap_fast(st).expect("fast path");
                assert_eq!(got.expose_secret(), fk.expose_secret());
                assert!(web1.unwrap_fast(st).is_none());
                assert!(age::Identity::unwrap_stanza(&web1, st).is_none());
            }
        }
    }

    /// An ephemeral key on the quadratic twist (u = 2) makes the fast value differ from age's;
    /// the stanza must still open, through the age crate's computation.
    #[test]
    fn fast_identity_falls_back_for_twist_points() {
        use age_core::secrecy::ExposeSecret;
        use base64::Engine;
        let (alice, s, wire) = fast_identity("alice_ed25519");
        let mut epk = [0u8; 32];
        epk[0] = 2;
        // age's order: X25519(tweak, X25519(s, epk)).
        let sk = x25519_dalek::StaticSecret::from(s);
        let tweak = x25519_dalek::StaticSecret::from(age_core::primitives::hkdf(
            &wire,
            SSH_ED25519_LABEL,
            &[],
        ));
        let inner = sk.diffie_hellman(&x25519_dalek::PublicKey::from(epk));
        let shared = tweak.diffie_hellman(&x25519_dalek::PublicKey::from(*inner.as_bytes()));
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&epk);
        salt[32..].copy_from_slice(x25519_dalek::PublicKey::from(&sk).as_bytes());
        let key = age_core::primitives::hkdf(&salt, SSH_ED25519_LABEL, shared.as_bytes());
        let file_key = [7u8; 16];
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let stanza = age_core::format::Stanza {
            tag: SSH_ED25519.into(),
            args: vec![b64.encode(alice.tag), b64.encode(epk)],
            body: age_core::primitives::aead_encrypt(&key, &file_key),
        };
        assert!(
            alice.unwrap_fast(&stanza).is_none(),
            "twist point took the fast path"
        );
        let got = age::Identity::unwrap_stanza(&alice, &stanza)
            .unwrap()
            .unwrap();
        assert_eq!(got.expose_secret(), &file_key);

        // Sealed under what the fast path would compute for this twist point (only the key's
        // holder can make such a stanza): the age crate refuses it, and so must we.
        let bits = (0..256).rev().map(|i| (alice.k[i / 8] >> (i % 8)) & 1 == 1);
        let fast = curve25519_dalek::montgomery::MontgomeryPoint(epk).mul_bits_be(bits);
        let key = age_core::primitives::hkdf(&salt, SSH_ED25519_LABEL, fast.as_bytes());
        let forged = age_core::format::Stanza {
            body: age_core::primitives::aead_encrypt(&key, &file_key),
            ..stanza
        };
        let age_id = age::ssh::Identity::from_buffer(
            &std::fs::read(keys().join("alice_ed25519")).unwrap()[..],
            None,
        )
        .unwrap();
        assert!(matches!(
            age::Identity::unwrap_stanza(&age_id, &forged),
            Some(Err(_))
        ));
        assert!(matches!(
            age::Identity::unwrap_stanza(&alice, &forged),
            Some(Err(_))
        ));
    }
}
