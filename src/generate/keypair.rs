//! The key-pair kinds: the private key is the secret, the public key is returned for
//! `<name>.pub`. Each is made from the OS random source in the format its tools read:
//! an OpenSSH private key (`ssh-keygen -t ed25519`), a base64 WireGuard key (`wg genkey`),
//! an age identity (`age-keygen`, without its comment lines).

use age::secrecy::ExposeSecret;
use base64::Engine;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fs::SecretBytes;
use crate::rules::generator::KeyKind;

/// A private key (the secret, ending in a newline as the tools write it) and its public half
/// (one line, without the newline).
pub struct KeyPair {
    pub secret: SecretBytes,
    pub public: String,
}

/// `comment` goes into the OpenSSH key and its public line (the rule's name).
pub fn make(kind: KeyKind, comment: &str) -> Result<KeyPair> {
    match kind {
        KeyKind::SshEd25519 => ssh_ed25519(comment),
        KeyKind::Wireguard => Ok(wireguard()),
        KeyKind::Age => Ok(age_x25519()),
    }
}

/// Copy text into a wiped buffer of exactly its size plus a newline.
fn secret_line(text: &str) -> SecretBytes {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() + 1));
    out.extend_from_slice(text.as_bytes());
    if !text.ends_with('\n') {
        out.push(b'\n');
    }
    out
}

fn ssh_ed25519(comment: &str) -> Result<KeyPair> {
    let fail = |e: ssh_key::Error| Error::new(format!("cannot make an ssh-ed25519 key: {e}"));
    let mut key =
        ssh_key::PrivateKey::random(&mut OsRng, ssh_key::Algorithm::Ed25519).map_err(fail)?;
    key.set_comment(comment);
    // to_openssh gives a wiped string.
    let text = key.to_openssh(ssh_key::LineEnding::LF).map_err(fail)?;
    let public = key.public_key().to_openssh().map_err(fail)?;
    Ok(KeyPair {
        secret: secret_line(&text),
        public,
    })
}

/// Clamped as `wg genkey` does (RFC 7748), so the file is byte-for-byte what wg would make;
/// the public key is the X25519 base point times it.
fn wireguard() -> KeyPair {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut OsRng, &mut bytes[..]);
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    let secret = x25519_dalek::StaticSecret::from(*bytes);
    let public = x25519_dalek::PublicKey::from(&secret);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut text = Zeroizing::new([0u8; 44]);
    b64.encode_slice(&bytes[..], &mut text[..])
        .expect("32 bytes are 44 base64 characters");
    let mut out = Zeroizing::new(Vec::with_capacity(45));
    out.extend_from_slice(&text[..]);
    out.push(b'\n');
    KeyPair {
        secret: out,
        public: b64.encode(public.as_bytes()),
    }
}

fn age_x25519() -> KeyPair {
    let id = age::x25519::Identity::generate();
    let text = id.to_string();
    KeyPair {
        secret: secret_line(text.expose_secret()),
        public: id.to_public().to_string(),
    }
}

/// The public half of a key pair's private key, as `make` writes it (one line, no newline),
/// for rewriting a lost or stale `.pub`. Derived from the private key itself, never taken
/// from a public copy stored beside it. The error says what `secret` is not.
pub fn public_of(kind: KeyKind, secret: &[u8]) -> Result<String> {
    let not = |what: &str| {
        Error::new(format!(
            "it does not hold {what}, which its generator makes; was it set by hand? Rotate it \
             with `secrets generate --force`"
        ))
    };
    match kind {
        KeyKind::SshEd25519 => {
            let what = "an unencrypted OpenSSH ed25519 private key";
            let key = ssh_key::PrivateKey::from_openssh(secret).map_err(|_| not(what))?;
            let ssh_key::private::KeypairData::Ed25519(pair) = key.key_data() else {
                return Err(not(what));
            };
            if key.is_encrypted() {
                return Err(not(what));
            }
            let public = ssh_key::public::Ed25519PublicKey::from(&pair.private);
            ssh_key::PublicKey::new(public.into(), key.comment())
                .to_openssh()
                .map_err(|e| Error::new(format!("cannot write its public key: {e}")))
        }
        KeyKind::Wireguard => {
            let what = "a WireGuard private key (44 base64 characters)";
            let text = trimmed(secret);
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut bytes = Zeroizing::new([0u8; 32]);
            match b64.decode_slice(text, &mut bytes[..]) {
                Ok(32) if text.len() == 44 => {}
                _ => return Err(not(what)),
            }
            let secret = x25519_dalek::StaticSecret::from(*bytes);
            Ok(b64.encode(x25519_dalek::PublicKey::from(&secret).as_bytes()))
        }
        KeyKind::Age => {
            let what = "an age identity (AGE-SECRET-KEY-1…)";
            // age-keygen's own files carry `#` comment lines; accept those too.
            let text = std::str::from_utf8(secret).map_err(|_| not(what))?;
            let mut lines =
                (text.lines().map(str::trim)).filter(|l| !l.is_empty() && !l.starts_with('#'));
            let (Some(line), None) = (lines.next(), lines.next()) else {
                return Err(not(what));
            };
            let id: age::x25519::Identity = line.parse().map_err(|_| not(what))?;
            Ok(id.to_public().to_string())
        }
    }
}

fn trimmed(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = b[..end]
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(end);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wireguard_public_matches() {
        let kp = make(KeyKind::Wireguard, "").unwrap();
        assert_eq!(kp.secret.len(), 45);
        let b64 = base64::engine::general_purpose::STANDARD;
        let raw: [u8; 32] = b64.decode(&kp.secret[..44]).unwrap().try_into().unwrap();
        assert_eq!(raw[0] & 7, 0, "clamped");
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(raw));
        assert_eq!(kp.public, b64.encode(public.as_bytes()));
    }

    #[test]
    fn age_identity_and_recipient_agree() {
        let kp = make(KeyKind::Age, "").unwrap();
        let text = std::str::from_utf8(&kp.secret).unwrap().trim();
        let id: age::x25519::Identity = text.parse().unwrap();
        assert_eq!(id.to_public().to_string(), kp.public);
    }

    #[test]
    fn ssh_key_parses_and_has_the_comment() {
        let kp = make(KeyKind::SshEd25519, "host-key.age").unwrap();
        let k = ssh_key::PrivateKey::from_openssh(&kp.secret[..]).unwrap();
        assert_eq!(k.public_key().to_openssh().unwrap(), kp.public);
        assert!(kp.public.starts_with("ssh-ed25519 ") && kp.public.ends_with(" host-key.age"));
    }

    #[test]
    fn public_of_gives_what_make_wrote() {
        for kind in [KeyKind::SshEd25519, KeyKind::Wireguard, KeyKind::Age] {
            let kp = make(kind, "web1.age").unwrap();
            assert_eq!(public_of(kind, &kp.secret).unwrap(), kp.public);
        }
    }

    #[test]
    fn public_of_refuses_another_kind() {
        let age = make(KeyKind::Age, "").unwrap();
        let wg = make(KeyKind::Wireguard, "").unwrap();
        let e = public_of(KeyKind::Wireguard, &age.secret).unwrap_err();
        assert!(
            e.message()
                .contains("does not hold a WireGuard private key"),
            "{e}"
        );
        let e = public_of(KeyKind::SshEd25519, &wg.secret).unwrap_err();
        assert!(e.message().contains("unencrypted OpenSSH ed25519"), "{e}");
        let e = public_of(KeyKind::Age, b"# x\nAGE-SECRET-KEY-1\nAGE-SECRET-KEY-2\n").unwrap_err();
        assert!(e.message().contains("an age identity"), "{e}");
    }
}
