//! SSH keys of both types (ssh-ed25519, ssh-rsa): public keys parsed into recipients, private
//! key files loaded into identities (a passphrase-protected one unlocked on demand), with the
//! fingerprints and stanza tags that name them. What is particular to a type is in
//! `ssh_ed25519` and `ssh_rsa`.

use std::path::Path;
use std::str::FromStr;

use age::secrecy::SecretString;
use base64::Engine;

use super::fingerprint::{shorten, ssh_fingerprint, ssh_tag};
use super::loworder::RefuseLowOrder;
use super::ssh_ed25519::{self, SshEd25519Identity, SshEd25519Recipient};
use super::ssh_rsa;
use crate::error::{describe_io, Error, Result};

/// A parsed SSH public key.
pub struct SshRecipient {
    /// `ssh-ed25519 AAAA…` without comment.
    pub text: String,
    pub fingerprint: String,
    pub tag: [u8; 4],
    pub key: SshKey,
}

/// The recipient that encrypts to an SSH key, kept so encrypting many files does not parse it
/// again.
#[derive(Clone)]
pub enum SshKey {
    /// Ours, faster than the age crate's.
    Ed25519(SshEd25519Recipient),
    Rsa(age::ssh::Recipient),
}

/// Parse `algo` (`ssh-ed25519` or `ssh-rsa`) and the base64 key blob after it. A key that
/// was damaged in copying (cut short, a character changed) is named as such, with the fix.
pub fn parse(algo: &str, blob_b64: &str) -> Result<SshRecipient> {
    let text = format!("{algo} {blob_b64}");
    let shown = shorten(&text);
    let again = copy_again(algo);
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_b64)
        .map_err(|_| {
            Error::new(format!(
                "`{shown}` is not a whole {algo} key: its base64 text is damaged (cut short, a \
                 character lost, added or changed, or two keys run together); {again}"
            ))
        })?;
    if let Some(inner) = blob_algorithm(&blob).filter(|a| *a != algo) {
        return Err(Error::new(format!(
            "`{shown}` says {algo}, but its key data is of type {}; {again}, unchanged",
            crate::names::escaped(inner)
        )));
    }
    let pk = ssh_key::PublicKey::from_openssh(&text).map_err(|_| {
        Error::new(format!(
            "`{shown}` is not a whole {algo} key: its data is incomplete or damaged (it decodes, \
             but not to an {algo} key); {again}"
        ))
    })?;
    let fingerprint = ssh_fingerprint(&blob);
    let ed25519 = pk.key_data().ed25519().map(|ed| ed.0);
    if let Some(ed) = &ed25519 {
        ssh_ed25519::refuse_weak(ed, &fingerprint)?;
    }
    if algo == "ssh-rsa" {
        ssh_rsa::check_size(&pk, &fingerprint)?;
    }
    // The age crate must accept it too, or encryption would fail later.
    // (It refuses an ssh-ed25519 key that is not a point on the curve: one changed character
    // usually gives that.)
    let parsed = age::ssh::Recipient::from_str(&text).map_err(|_| {
        Error::new(format!(
            "{algo} key {fingerprint} (`{shown}`) is not a valid public key (its value is not \
             a point on the curve): a character was probably changed when it was copied; \
             {again}"
        ))
    })?;
    let tag = ssh_tag(&blob);
    let key = match ed25519 {
        Some(ed) => SshKey::Ed25519(ssh_ed25519::recipient(&blob, &ed, tag, &fingerprint)?),
        None => SshKey::Rsa(parsed),
    };
    Ok(SshRecipient {
        text,
        fingerprint,
        tag,
        key,
    })
}

/// The fix for a key damaged in copying.
fn copy_again(algo: &str) -> String {
    let host = if algo == "ssh-rsa" { "rsa" } else { "ed25519" };
    format!(
        "copy the whole line again from the key's .pub file (a host's: \
         /etc/ssh/ssh_host_{host}_key.pub on it, or `ssh-keyscan -t {host} HOST`)"
    )
}

/// The algorithm name a key blob starts with (a length-prefixed string), if it has one.
fn blob_algorithm(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    std::str::from_utf8(name).ok().filter(|n| n.len() < 64)
}

/// A loaded SSH private key.
pub struct SshIdentity {
    pub fingerprint: String,
    pub tag: [u8; 4],
    pub key: SshSecret,
}

pub enum SshSecret {
    /// An unencrypted key: the age crate's identity behind a guard against low-order shares,
    /// or for ssh-ed25519 our faster one (which guards itself).
    Ready(Box<dyn age::Identity + Send + Sync>),
    /// A passphrase-protected key, unlocked (`unlock`) only when a file needs it.
    Locked(Box<age::ssh::EncryptedKey>),
}

/// Load an SSH private key (`text`: the file's content, from its `-----BEGIN` line).
pub fn load(path: &Path, text: &str) -> Result<SshIdentity> {
    let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string()))
        .map_err(|_| {
            Error::new(format!(
                "{}: cannot parse this SSH private key (corrupted, or a format age does not \
                 read)",
                path.display()
            ))
        })?;
    match &id {
        age::ssh::Identity::Unencrypted(_) => {
            let blob = public_blob(path, text)?;
            let tag = ssh_tag(&blob);
            let key: Box<dyn age::Identity + Send + Sync> = match ssh_ed25519::seed(text) {
                Some((seed, public)) => {
                    Box::new(SshEd25519Identity::new(id, &blob, &seed, &public, tag))
                }
                // ssh-rsa, or an ed25519 key only the age crate reads: guarded all the same.
                None => Box::new(RefuseLowOrder {
                    inner: Box::new(id),
                    ssh_tag: Some(tag),
                }),
            };
            Ok(SshIdentity {
                fingerprint: ssh_fingerprint(&blob),
                tag,
                key: SshSecret::Ready(key),
            })
        }
        age::ssh::Identity::Encrypted(enc) => {
            let blob = public_blob(path, text)?;
            Ok(SshIdentity {
                fingerprint: ssh_fingerprint(&blob),
                tag: ssh_tag(&blob),
                key: SshSecret::Locked(Box::new(enc.clone())),
            })
        }
        age::ssh::Identity::Unsupported(u) => Err(Error::new(format!(
            "{}: {}",
            path.display(),
            unsupported_reason(u, path)
        ))),
    }
}

/// Ask for the passphrase (up to three tries, as ssh does) and decrypt the key, behind the
/// guard against low-order shares; `fp`: its fingerprint, for the prompt.
pub fn unlock(
    enc: &age::ssh::EncryptedKey,
    path: &Path,
    fp: &str,
    tag: [u8; 4],
) -> Result<RefuseLowOrder> {
    const TRIES: usize = 3;
    let prompt = format!("Passphrase for {} ({fp}): ", path.display());
    for attempt in 1..=TRIES {
        let pass = rpassword::prompt_password(&prompt).map_err(|e| {
            Error::new(format!(
                "cannot ask for the passphrase of {} ({fp}): {}; run in a terminal, or use an \
                 unencrypted key for automation (SECRETS_IDENTITY)",
                path.display(),
                describe_io(&e)
            ))
        })?;
        match enc.decrypt(SecretString::from(pass)) {
            Ok(key) => {
                return Ok(RefuseLowOrder {
                    inner: Box::new(age::ssh::Identity::from(key)),
                    ssh_tag: Some(tag),
                })
            }
            Err(_) if attempt < TRIES => eprintln!("wrong passphrase, try again"),
            Err(_) => {}
        }
    }
    Err(Error::new(format!(
        "wrong passphrase for {} ({fp}), {TRIES} tries",
        path.display()
    )))
}

/// The SSH wire encoding of a private key's public half, for its fingerprint and stanza tag.
/// OpenSSH keys store it in clear (even when encrypted); PEM RSA keys are derived.
fn public_blob(path: &Path, text: &str) -> Result<Vec<u8>> {
    let fail = |e: String| {
        Error::new(format!(
            "{}: cannot read the public part: {e}",
            path.display()
        ))
    };
    if text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        // Trailing blank lines or spaces (an editor's) are fine for age, so for us too.
        let pk =
            ssh_key::PrivateKey::from_openssh(text.trim_end()).map_err(|e| fail(e.to_string()))?;
        return pk.public_key().to_bytes().map_err(|e| fail(e.to_string()));
    }
    ssh_rsa::pem_public_blob(text, fail)
}

/// The algorithm and public blob of an SSH private key file's content, read without any
/// passphrase (see `public_blob`); None when it cannot be read that way.
pub(super) fn public_blob_of(text: &str) -> Option<(String, Vec<u8>)> {
    let blob = public_blob(std::path::Path::new(""), text).ok()?;
    let algo = ssh_key::PublicKey::from_bytes(&blob)
        .ok()?
        .algorithm()
        .as_str()
        .to_string();
    Some((algo, blob))
}

fn unsupported_reason(u: &age::ssh::UnsupportedKey, path: &Path) -> String {
    let p = path.display();
    match u {
        age::ssh::UnsupportedKey::EncryptedPem => format!(
            "passphrase-protected PEM keys are not supported; rewrite it in OpenSSH format with \
             `ssh-keygen -p -f {p}`"
        ),
        age::ssh::UnsupportedKey::EncryptedSsh(cipher) => format!(
            "this key is encrypted with {cipher}, which the age library cannot decrypt; \
             re-encrypt it with `ssh-keygen -p -Z aes256-ctr -f {p}`"
        ),
        age::ssh::UnsupportedKey::Hardware(t) => format!(
            "{t} keys live on a hardware security key and cannot decrypt age files; use an age \
             plugin (e.g. age-plugin-yubikey) instead"
        ),
        age::ssh::UnsupportedKey::Type(t) => {
            format!("{t} keys are not supported by age; use an ssh-ed25519 or ssh-rsa key")
        }
    }
}
