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
}
