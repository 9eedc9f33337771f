//! Recipients: the public keys a secret is encrypted to. Parsed with the age crate, inspected
//! with ssh-key; messages show fingerprints, never key material.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What kind of key a recipient is; also how its stanza looks in a file header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    SshEd25519,
    SshRsa,
    X25519,
    /// An age plugin recipient; the string is the plugin name (`age1yubikey1…` → `yubikey`).
    Plugin(String),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::SshEd25519 => f.write_str("ssh-ed25519"),
            Kind::SshRsa => f.write_str("ssh-rsa"),
            Kind::X25519 => f.write_str("age X25519"),
            Kind::Plugin(p) => write!(f, "age plugin {p}"),
        }
    }
}

/// A parsed, validated recipient.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// The canonical public text (`ssh-ed25519 AAAA…` without comment, or `age1…`).
    pub text: String,
    pub kind: Kind,
    /// `SHA256:…` for SSH keys (as `ssh-keygen -l` prints), the shortened `age1…` otherwise.
    pub fingerprint: String,
    /// For SSH keys: the 4-byte tag age writes into the stanza, so a header can be matched to
    /// keys without any private key.
    pub ssh_tag: Option<[u8; 4]>,
    /// The name from the rules file (`keys.alice`), when there is one.
    pub name: Option<String>,
    /// The age crate's parsed key, kept so encrypting many files does not parse it again.
    parsed: Parsed,
}

#[derive(Clone)]
enum Parsed {
    SshEd25519(crate::crypto::SshEd25519Recipient),
    Ssh(age::ssh::Recipient),
    X25519(crate::crypto::X25519Recipient),
    Plugin(age::plugin::Recipient),
}

impl fmt::Debug for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Parsed(..)")
    }
}

impl Recipient {
    /// "alice (SHA256:…)" or just the fingerprint.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.fingerprint),
            None => self.fingerprint.clone(),
        }
    }

    /// Identity for comparing recipient sets: the key itself, not its name or comment.
    pub fn key_id(&self) -> &str {
        &self.text
    }

    pub fn parse(s: &str) -> Result<Recipient> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::new("empty public key"));
        }
        if s.starts_with("age1") {
            return parse_age(s);
        }
        let mut parts = s.split_whitespace();
        let algo = parts.next().unwrap_or_default();
        let blob_b64 = parts.next().unwrap_or_default();
        match algo {
            "ssh-ed25519" | "ssh-rsa" => parse_ssh(algo, blob_b64),
            a if a.starts_with("sk-") => Err(Error::new(format!(
                "{a} keys live on a hardware security key, which age cannot encrypt to; \
                 use an age plugin recipient (e.g. age-plugin-fido2-hmac or age-plugin-yubikey) \
                 or an ssh-ed25519 key"
            ))),
            a if a.starts_with("ecdsa-") || a.starts_with("ssh-dss") => Err(Error::new(format!(
                "{a} keys are not supported by age; use an ssh-ed25519 (or ssh-rsa) key or an \
                 age1… key"
            ))),
            "AGE-SECRET-KEY-1" => Err(Error::new(
                "this is a private age key, not a public one: use its age1… recipient \
                 (age-keygen -y FILE prints it)",
            )),
            _ if s.starts_with("AGE-SECRET-KEY-") || s.contains("PRIVATE KEY") => Err(Error::new(
                "this is a private key, not a public one: use the public key (.pub file, or \
                 `ssh-keygen -y -f KEY` / `age-keygen -y FILE`)",
            )),
            _ => Err(Error::new(format!(
                "not a public key: expected `ssh-ed25519 AAAA…`, `ssh-rsa AAAA…` or `age1…`, got \
                 `{}`",
                shorten(s)
            ))),
        }
    }
}

fn shorten(s: &str) -> String {
    let s: String = s.chars().take(24).collect();
    format!("{s}…")
}

fn parse_ssh(algo: &str, blob_b64: &str) -> Result<Recipient> {
    let text = format!("{algo} {blob_b64}");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_b64)
        .map_err(|_| {
            Error::new(format!(
                "{algo} key has invalid base64: `{}`",
                shorten(&text)
            ))
        })?;
    let pk = ssh_key::PublicKey::from_openssh(&text)
        .map_err(|e| Error::new(format!("invalid {algo} key `{}`: {e}", shorten(&text))))?;
    if pk.algorithm().as_str() != algo {
        return Err(Error::new(format!(
            "key `{}` says {algo} but contains a {} key",
            shorten(&text),
            pk.algorithm().as_str()
        )));
    }
    let fingerprint = ssh_fingerprint(&blob);
    if let Some(ed) = pk.key_data().ed25519() {
        if crate::loworder::ed25519_is_small_order(&ed.0) {
            return Err(weak_key(
                &format!("ssh-ed25519 key {fingerprint}"),
                "use the machine's real host key (`ssh-keyscan -t ed25519 HOST`, or \
                 /etc/ssh/ssh_host_ed25519_key.pub on it) or a user key from \
                 `ssh-keygen -t ed25519`",
            ));
        }
    }
    let kind = if algo == "ssh-rsa" {
        let bits = pk
            .key_data()
            .rsa()
            .and_then(|k| k.n.as_positive_bytes())
            .map(bit_len)
            .unwrap_or(0);
        if bits < 2048 {
            return Err(Error::new(format!(
                "RSA key {fingerprint} has {bits} bits; keys under 2048 bits are too weak to \
                 protect secrets: use an ssh-ed25519 key"
            )));
        }
        if bits > 4096 {
            return Err(Error::new(format!(
                "RSA key {fingerprint} has {bits} bits; the age library cannot encrypt to RSA \
                 keys over 4096 bits (it can still decrypt with them): use an ssh-ed25519 key \
                 or an RSA key of 2048–4096 bits"
            )));
        }
        Kind::SshRsa
    } else {
        Kind::SshEd25519
    };
    // The age crate must accept it too, or encryption would fail later.
    let parsed = age::ssh::Recipient::from_str(&text)
        .map_err(|e| Error::new(format!("age cannot use key {fingerprint}: {e:?}")))?;
    let tag = ssh_tag(&blob);
    let parsed = match pk.key_data().ed25519() {
        Some(ed) => Parsed::SshEd25519(
            crate::crypto::SshEd25519Recipient::new(&blob, &ed.0, tag).ok_or_else(|| {
                Error::new(format!(
                    "ssh-ed25519 key {fingerprint} is not a valid curve point"
                ))
            })?,
        ),
        None => Parsed::Ssh(parsed),
    };
    Ok(Recipient {
        text,
        kind,
        fingerprint,
        ssh_tag: Some(tag),
        name: None,
        parsed,
    })
}

fn bit_len(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

fn parse_age(s: &str) -> Result<Recipient> {
    if s.contains(char::is_whitespace) {
        return Err(Error::new(format!(
            "age recipient `{}` contains spaces; put one key per list entry",
            shorten(s)
        )));
    }
    // Byte slicing below needs ASCII (valid recipients are); found by fuzzing.
    let fingerprint = if s.len() > 20 && s.is_ascii() {
        format!("{}…{}", &s[..12], &s[s.len() - 6..])
    } else {
        s.to_string()
    };
    if age::x25519::Recipient::from_str(s).is_ok() {
        // Valid for the age crate, so its data is 32 bytes; we need them to check the point.
        let weak = || {
            weak_key(
                &format!("age X25519 recipient {fingerprint}"),
                "use a real age key: the age1… line `age-keygen` prints (or \
                 `age-keygen -y KEYFILE`)",
            )
        };
        let u = x25519_bytes(s).ok_or_else(|| {
            Error::new(format!(
                "invalid age recipient `{}`: not 32 bytes",
                shorten(s)
            ))
        })?;
        let r = crate::crypto::X25519Recipient::new(u).ok_or_else(weak)?;
        return Ok(Recipient {
            text: s.to_string(),
            kind: Kind::X25519,
            fingerprint,
            ssh_tag: None,
            name: None,
            parsed: Parsed::X25519(r),
        });
    }
    match age::plugin::Recipient::from_str(s) {
        Ok(r) => Ok(Recipient {
            text: s.to_string(),
            kind: Kind::Plugin(r.plugin().to_string()),
            fingerprint,
            ssh_tag: None,
            name: None,
            parsed: Parsed::Plugin(r),
        }),
        Err(_) => Err(Error::new(format!(
            "invalid age recipient `{}`: not an X25519 key nor a plugin recipient (bad checksum \
             or encoding?)",
            shorten(s)
        ))),
    }
}

/// The 32 bytes of an `age1…` recipient the age crate accepted.
fn x25519_bytes(s: &str) -> Option<[u8; 32]> {
    age_core::primitives::bech32_decode(
        s,
        |_| (),
        |_| Ok(()),
        |_, bytes| bytes.collect::<Vec<u8>>().try_into().map_err(|_| ()),
    )
    .ok()
}

/// A weak (small-order) key: what it is, why it cannot be used, and `fix`.
fn weak_key(what: &str, fix: &str) -> Error {
    Error::new(format!(
        "{what} is a weak key (a small-order curve point): every file encrypted to it could be \
         decrypted by anyone who knows only this public key, so it is refused; it is not a real \
         key (a placeholder or a forged one): {fix}"
    ))
}

/// `SHA256:<base64 without padding>` of the key blob, as `ssh-keygen -l` prints it.
pub fn ssh_fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// age's stanza tag for an SSH key: the first 4 bytes of SHA-256 over the key blob.
pub fn ssh_tag(blob: &[u8]) -> [u8; 4] {
    let d = Sha256::digest(blob);
    [d[0], d[1], d[2], d[3]]
}

/// Build the age recipients for encryption. Plugin recipients are grouped per plugin so each
/// plugin binary runs once; a missing plugin binary is an error naming it.
pub fn to_age_recipients(list: &[Recipient]) -> Result<Vec<Box<dyn age::Recipient + Send>>> {
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    let mut plugins: std::collections::BTreeMap<String, Vec<age::plugin::Recipient>> =
        Default::default();
    for r in list {
        match &r.parsed {
            Parsed::SshEd25519(rec) => out.push(Box::new(rec.clone())),
            Parsed::Ssh(rec) => out.push(Box::new(rec.clone())),
            Parsed::X25519(rec) => out.push(Box::new(rec.clone())),
            Parsed::Plugin(rec) => plugins
                .entry(rec.plugin().to_string())
                .or_default()
                .push(rec.clone()),
        }
    }
    for (name, recs) in plugins {
        let p = age::plugin::RecipientPluginV1::new(
            &name,
            &recs,
            &[],
            crate::identity::TerminalCallbacks,
        )
        .map_err(|_| {
            Error::new(format!(
                "cannot encrypt to age plugin recipients of `{name}`: the program \
                 age-plugin-{name} was not found on PATH; install it"
            ))
        })?;
        out.push(Box::new(p));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_private_keys() {
        assert!(Recipient::parse("hello").is_err());
        assert!(Recipient::parse("AGE-SECRET-KEY-1QQQ").is_err());
        assert!(Recipient::parse("ecdsa-sha2-nistp256 AAAA").is_err());
        assert!(Recipient::parse("age1notvalid").is_err());
    }

    #[test]
    fn non_ascii_age_recipient_is_an_error_not_a_panic() {
        let e =
            Recipient::parse("age10doR1oNxyC1lZDI1NTEjhGVvKRGhu+H4SOSoB7uEvooiKmJo\u{10a}nmHxM")
                .unwrap_err();
        assert!(e.message().contains("invalid age recipient"), "{e}");
    }

    #[test]
    fn bit_len_counts_leading_zero_bits() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01, 0]), 9);
    }
}
