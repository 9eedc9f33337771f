//! Encrypt and decrypt in memory over the age crate.

use std::io::Write;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fs::SecretBytes;
use crate::header::Header;
use crate::identity::Identities;
use crate::recipients::{to_age_recipients, Recipient};

/// Encrypt `plain` to `recipients`; ASCII-armored when `armor`.
pub fn encrypt(plain: &[u8], recipients: &[Recipient], armor: bool) -> Result<Vec<u8>> {
    if recipients.is_empty() {
        return Err(Error::new("no recipients to encrypt to"));
    }
    let boxed = to_age_recipients(recipients)?;
    let enc = age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as _))
        .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    let mut out = Vec::with_capacity(plain.len() + 512);
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let fail = |e: std::io::Error| Error::new(format!("cannot encrypt: {e}"));
    let armored = ArmoredWriter::wrap_output(&mut out, format).map_err(fail)?;
    let mut w = enc.wrap_output(armored).map_err(fail)?;
    w.write_all(plain).map_err(fail)?;
    w.finish().and_then(|a| a.finish()).map_err(fail)?;
    Ok(out)
}

/// HKDF label and stanza tag of age's ssh-ed25519 recipient type.
const SSH_ED25519_LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
const SSH_ED25519_TAG: &str = "ssh-ed25519";

/// age's ssh-ed25519 recipient, producing the same stanzas as the age crate's but doing one
/// X25519 ladder per file instead of two. age derives the shared secret as
/// `X25519(tweak, X25519(esk, pk))`, where `tweak` depends only on the recipient's key.
/// Scalar multiplication commutes, so that equals `X25519(esk, X25519(tweak, pk))`, and
/// `X25519(tweak, pk)` is computed once per key instead of once per file (rekey encrypts
/// thousands of files to the same keys). The unit tests check both orders agree and that the
/// age crate decrypts the result; tests/cli.rs and tests/rekey.rs check Go `age` does.
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
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> std::result::Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        use age_core::secrecy::ExposeSecret;
        use base64::Engine;
        let esk = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng);
        let epk = x25519_dalek::PublicKey::from(&esk);
        let shared = esk.diffie_hellman(&self.tweaked);
        // Unreachable for keys `new` accepts; kept so that no path ever seals a file key under
        // an all-zero secret (Go age refuses it the same way).
        if crate::loworder::is_all_zero(shared.as_bytes()) {
            return Err(weak_recipient("ssh-ed25519"));
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(&self.pk);
        let key = Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            SSH_ED25519_LABEL,
            shared.as_bytes(),
        ));
        let body = age_core::primitives::aead_encrypt(&key, file_key.expose_secret());
        let stanza = age_core::format::Stanza {
            tag: SSH_ED25519_TAG.to_string(),
            args: vec![
                self.tag.clone(),
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(epk.as_bytes()),
            ],
            body,
        };
        Ok((vec![stanza], Default::default()))
    }
}

/// The error for a wrap whose shared secret came out all zero: the recipient is a weak key.
fn weak_recipient(kind: &str) -> age::EncryptError {
    age::EncryptError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "the {kind} recipient is a weak (low-order) key: the shared secret with it is all \
             zero, so anyone could decrypt; refusing to encrypt to it"
        ),
    ))
}

/// HKDF label and stanza tag of age's X25519 recipient type.
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const X25519_TAG: &str = "X25519";

/// age's X25519 (`age1…`) recipient, as the age crate writes it, but returning an error where
/// the age crate panics: on an all-zero shared secret, which a low-order key gives for every
/// ephemeral secret (recipients.rs refuses such keys first; this is the last line).
#[derive(Clone)]
pub struct X25519Recipient {
    pk: x25519_dalek::PublicKey,
}

impl X25519Recipient {
    /// None for a weak (low-order) u-coordinate.
    pub fn new(u: [u8; 32]) -> Option<Self> {
        if crate::loworder::x25519_is_low_order(&u) {
            return None;
        }
        Some(X25519Recipient {
            pk: x25519_dalek::PublicKey::from(u),
        })
    }
}

impl age::Recipient for X25519Recipient {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> std::result::Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        use age_core::secrecy::ExposeSecret;
        use base64::Engine;
        let esk = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng);
        let epk = x25519_dalek::PublicKey::from(&esk);
        let shared = esk.diffie_hellman(&self.pk);
        if crate::loworder::is_all_zero(shared.as_bytes()) {
            return Err(weak_recipient("age X25519"));
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(self.pk.as_bytes());
        let key = Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            X25519_LABEL,
            shared.as_bytes(),
        ));
        let stanza = age_core::format::Stanza {
            tag: X25519_TAG.to_string(),
            args: vec![base64::engine::general_purpose::STANDARD_NO_PAD.encode(epk.as_bytes())],
            body: age_core::primitives::aead_encrypt(&key, file_key.expose_secret()),
        };
        Ok((vec![stanza], Default::default()))
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
        if stanza.tag != SSH_ED25519_TAG || stanza.args.len() != 2 || stanza.body.len() != 32 {
            return None;
        }
        if b64.decode(&stanza.args[0]).ok()? != self.tag {
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
        if let Some(why) = crate::loworder::refused_share(stanza, Some(self.tag)) {
            return Some(Err(crate::loworder::decrypt_error(why)));
        }
        match self.unwrap_fast(stanza) {
            Some(k) => Some(Ok(k)),
            None => self.age.unwrap_stanza(stanza),
        }
    }
}

/// Why a decryption failed; the caller adds the file name.
#[derive(Debug)]
pub enum DecryptFailure {
    /// Not an age file or a damaged header.
    Invalid(String),
    /// None of our identities has a stanza in this file.
    NoMatchingIdentity(String),
    /// The header or payload does not authenticate.
    Corrupted(String),
    /// Unlocking a key or running a plugin failed.
    Key(String),
}

impl std::fmt::Display for DecryptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecryptFailure::Invalid(m)
            | DecryptFailure::NoMatchingIdentity(m)
            | DecryptFailure::Corrupted(m)
            | DecryptFailure::Key(m) => f.write_str(m),
        }
    }
}

/// Decrypt a whole file in memory. The header is read first so that only identities with a
/// matching stanza are tried (and only those may ask for a passphrase).
pub fn decrypt(
    cipher: &[u8],
    ids: &Identities,
) -> std::result::Result<SecretBytes, DecryptFailure> {
    let header = Header::parse(cipher).map_err(|e| DecryptFailure::Invalid(e.0))?;
    decrypt_with_header(cipher, &header, ids)
}

pub fn decrypt_with_header(
    cipher: &[u8],
    header: &Header,
    ids: &Identities,
) -> std::result::Result<SecretBytes, DecryptFailure> {
    // Before any identity is chosen or asked (a passphrase included): the age crate would read
    // past a malformed stanza's extra arguments, and so skip the low-order share check.
    if let Some(why) = header.malformed_stanza() {
        return Err(DecryptFailure::Invalid(why));
    }
    if header.is_scrypt() {
        return Err(DecryptFailure::Invalid(
            "this file is passphrase-encrypted (age -p); secrets only handles files encrypted \
             to keys"
                .into(),
        ));
    }
    let usable = ids
        .for_header(header)
        .map_err(|e| DecryptFailure::Key(e.message().to_string()))?;
    if usable.is_empty() {
        return Err(no_match(header, ids));
    }
    let input = if header.armored {
        crate::header::strip_leading_whitespace(cipher)
    } else {
        cipher
    };
    let dec = age::Decryptor::new_buffered(ArmoredReader::new(input))
        .map_err(|e| DecryptFailure::Corrupted(describe(&e)))?;
    let mut reader = match dec.decrypt(usable.iter().map(|i| *i as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Err(no_match(header, ids)),
        Err(e) if crate::loworder::as_refused_stanza(&e).is_some() => {
            return Err(DecryptFailure::Invalid(describe(&e)))
        }
        Err(e @ age::DecryptError::KeyDecryptionFailed)
        | Err(e @ age::DecryptError::Plugin(_))
        | Err(e @ age::DecryptError::PluginResolve(_)) => {
            return Err(DecryptFailure::Key(describe(&e)))
        }
        Err(e) => return Err(DecryptFailure::Corrupted(describe(&e))),
    };
    crate::fs::read_all_wiped(&mut reader, header.payload_len)
        .map_err(|e| DecryptFailure::Corrupted(format!("the encrypted payload is damaged: {e}")))
}

fn no_match(header: &Header, ids: &Identities) -> DecryptFailure {
    let real: Vec<_> = header
        .stanzas
        .iter()
        .filter(|s| !s.tag.ends_with("-grease"))
        .collect();
    let mut kinds: Vec<String> = real.iter().map(|s| s.tag.clone()).collect();
    kinds.sort();
    kinds.dedup();
    DecryptFailure::NoMatchingIdentity(format!(
        "no identity can decrypt it (it is encrypted to {} recipient(s) of type {}; tried: {}); \
         pass the right key with -i, or ask someone who can read it to add your key to the rules \
         and run `secrets rekey`",
        real.len(),
        kinds.join(", "),
        ids.describe()
    ))
}

fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::InvalidMac => {
            "the header does not authenticate (file corrupted or tampered with)".into()
        }
        age::DecryptError::DecryptionFailed => {
            "decryption failed (file corrupted or tampered with)".into()
        }
        age::DecryptError::InvalidHeader => "invalid age header".into(),
        age::DecryptError::UnknownFormat => "unknown age format".into(),
        age::DecryptError::KeyDecryptionFailed => "a private key could not be decrypted".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Origin;

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

    /// Our ssh-ed25519 stanzas decrypt with the age crate's own ssh identity, and only for the
    /// key they name.
    #[test]
    fn ssh_ed25519_stanza_decrypts_with_age_crate() {
        let alice =
            Recipient::parse(&std::fs::read_to_string(keys().join("alice_ed25519.pub")).unwrap())
                .unwrap();
        let cipher = encrypt(b"tweaked", &[alice], false).unwrap();
        let header = Header::parse(&cipher).unwrap();
        let ed: Vec<_> = header
            .stanzas
            .iter()
            .filter(|s| s.tag == "ssh-ed25519")
            .collect();
        assert_eq!(ed.len(), 1);
        for (id, ok) in [("alice_ed25519", true), ("web1_ed25519", false)] {
            let key = std::fs::read(keys().join(id)).unwrap();
            let identity = match age::ssh::Identity::from_buffer(&key[..], None).unwrap() {
                i @ age::ssh::Identity::Unencrypted(_) => i,
                _ => panic!("{id} should be an unencrypted key"),
            };
            let got = age::decrypt(&identity, &cipher);
            assert_eq!(got.is_ok(), ok, "{id}");
            if ok {
                assert_eq!(got.unwrap(), b"tweaked");
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
            tag: SSH_ED25519_TAG.into(),
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

    /// Our X25519 stanzas open with the age crate's own X25519 identity (tests/weak_keys.rs
    /// checks Go `age` too); weak keys are refused when built.
    #[test]
    fn x25519_stanza_decrypts_with_age_crate() {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
        let public = std::fs::read_to_string(keys.join("dave_age.pub")).unwrap();
        let r = Recipient::parse(&public).unwrap();
        let id_text = std::fs::read_to_string(keys.join("dave_age.key")).unwrap();
        let line = id_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap();
        let id: age::x25519::Identity = line.parse().unwrap();
        for round in 0..8u8 {
            let plain = vec![round; 100];
            let cipher = encrypt(&plain, std::slice::from_ref(&r), false).unwrap();
            assert_eq!(age::decrypt(&id, &cipher).unwrap(), plain);
        }
        for u in crate::loworder::X25519_LOW_ORDER {
            assert!(X25519Recipient::new(u).is_none());
        }
    }

    #[test]
    fn decrypt_accepts_whitespace_around_armor() {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
        let public = std::fs::read_to_string(keys.join("dave_age.pub")).unwrap();
        let r = Recipient::parse(&public).unwrap();
        let armored = encrypt(b"hello", &[r], true).unwrap();
        let mut padded = b"\n\r \t\n".to_vec();
        padded.extend_from_slice(&armored);
        padded.extend_from_slice(b"\n \t\n");
        let ids = Identities::load(&[keys.join("dave_age.key")], Origin::Explicit).unwrap();
        assert_eq!(decrypt(&padded, &ids).unwrap().as_slice(), b"hello");
    }
}
