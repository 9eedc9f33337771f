//! Recipients: the public keys a secret is encrypted to. Parsed with the age crate, inspected
//! with ssh-key; messages show fingerprints, never key material. Each key type's parsing is in
//! its own module (`ssh`, `x25519`, `plugin`); this one says which, and builds the age
//! recipients to encrypt to.

use std::fmt;

use super::fingerprint::{age_fingerprint, label, shorten};
use super::plugin;
use super::ssh::{self, SshKey};
use super::x25519::{self, X25519Recipient};
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

impl Kind {
    /// The key type as machine-readable output (`secrets check --json`) names it.
    pub fn report_name(&self) -> String {
        match self {
            Kind::SshEd25519 => "ssh-ed25519".into(),
            Kind::SshRsa => "ssh-rsa".into(),
            Kind::X25519 => "x25519".into(),
            Kind::Plugin(p) => format!("plugin:{p}"),
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
    /// An SSH key's comment (`alice@laptop`), as written after the key; it names a key of a
    /// secrets.nix, which has no key names. Not part of the key: never compared.
    pub comment: Option<String>,
    /// The parsed key, kept so encrypting many files does not parse it again.
    parsed: Parsed,
}

#[derive(Clone)]
enum Parsed {
    Ssh(SshKey),
    X25519(X25519Recipient),
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
        label(self.name.as_deref(), Some(&self.fingerprint))
    }

    /// Identity for comparing recipient sets: the key itself, not its name or comment.
    pub fn key_id(&self) -> &str {
        &self.text
    }

    pub fn parse(s: &str) -> Result<Recipient> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::new(
                "empty public key: write the key itself (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…` or \
                 `age1…`)",
            ));
        }
        if s.starts_with("age1") {
            return parse_age(s);
        }
        let mut parts = s.split_whitespace();
        let algo = parts.next().unwrap_or_default();
        let blob_b64 = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let comment = Some(rest.join(" ")).filter(|c| !c.is_empty());
        match algo {
            "ssh-ed25519" | "ssh-rsa" => {
                // The rest is a comment, unless a second key was pasted into the same entry.
                if rest.iter().any(|w| looks_like_key_start(w)) {
                    return Err(Error::new(format!(
                        "`{}` holds two keys in one entry; put each key in its own entry",
                        shorten(s)
                    )));
                }
                let r = ssh::parse(algo, blob_b64)?;
                let kind = match r.key {
                    SshKey::Ed25519(_) => Kind::SshEd25519,
                    SshKey::Rsa(_) => Kind::SshRsa,
                };
                Ok(Recipient {
                    text: r.text,
                    kind,
                    fingerprint: r.fingerprint,
                    ssh_tag: Some(r.tag),
                    name: None,
                    comment,
                    parsed: Parsed::Ssh(r.key),
                })
            }
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

/// Whether a word of a key's comment is where another key starts.
fn looks_like_key_start(word: &str) -> bool {
    ["ssh-ed25519", "ssh-rsa", "ssh-dss"].contains(&word)
        || word.starts_with("ecdsa-sha2-")
        || word.starts_with("sk-ssh-")
        || (word.starts_with("age1") && word.len() > 50)
}

/// An `age1…` recipient: X25519, else a plugin's.
fn parse_age(s: &str) -> Result<Recipient> {
    if s.contains(char::is_whitespace) {
        return Err(Error::new(format!(
            "age recipient `{}` contains spaces; put one key per list entry",
            shorten(s)
        )));
    }
    let fingerprint = age_fingerprint(s);
    let (kind, parsed) = if let Some(r) = x25519::parse(s, &fingerprint) {
        (Kind::X25519, Parsed::X25519(r?))
    } else if let Some(r) = plugin::parse(s) {
        (Kind::Plugin(r.plugin().to_string()), Parsed::Plugin(r))
    } else {
        return Err(Error::new(format!(
            "invalid age recipient `{}`: its checksum or encoding is wrong, so it is neither an \
             X25519 key nor a plugin recipient (a character was probably changed or lost when \
             it was copied); copy it again (`age-keygen -y KEYFILE` prints an X25519 key's \
             recipient)",
            shorten(s)
        )));
    };
    Ok(Recipient {
        text: s.to_string(),
        kind,
        fingerprint,
        ssh_tag: None,
        name: None,
        comment: None,
        parsed,
    })
}

/// Build the age recipients for encryption. Plugin recipients are grouped per plugin so each
/// plugin binary runs once; a missing plugin binary is an error naming it.
pub fn to_age_recipients(list: &[Recipient]) -> Result<Vec<Box<dyn age::Recipient + Send>>> {
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for r in list {
        match &r.parsed {
            Parsed::Ssh(SshKey::Ed25519(rec)) => out.push(Box::new(rec.clone())),
            Parsed::Ssh(SshKey::Rsa(rec)) => out.push(Box::new(rec.clone())),
            Parsed::X25519(rec) => out.push(Box::new(rec.clone())),
            Parsed::Plugin(_) => {}
        }
    }
    out.extend(plugin::recipients(list.iter().filter_map(
        |r| match &r.parsed {
            Parsed::Plugin(rec) => Some(rec),
            _ => None,
        },
    ))?);
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
}
