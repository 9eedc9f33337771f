//! Identities: the private keys used to decrypt. SSH keys (OpenSSH/PEM), age X25519 and age
//! plugin identity files. A passphrase-protected SSH key is unlocked at most once per run, and
//! only when a file has a stanza for it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use age::secrecy::SecretString;

use crate::error::{describe_io, Error, Result};
use crate::header::Header;
use crate::loworder::RefuseLowOrder;
use crate::recipients::{ssh_fingerprint, ssh_tag};

/// How a set of identity paths was chosen, which decides whether a bad one is fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Given by the user (`-i`, `SECRETS_IDENTITY`): any problem is an error.
    Explicit,
    /// Defaults (`~/.ssh/id_*`) or manifest paths: problems are warnings, the key is skipped.
    Lenient,
}

enum Key {
    /// An unencrypted SSH key: the age crate's identity, or for ssh-ed25519 our faster one.
    Ssh(Box<dyn age::Identity + Send + Sync>),
    /// Once unlocked, the age crate's identity behind a guard against low-order shares.
    SshLocked {
        enc: Box<age::ssh::EncryptedKey>,
        unlocked: OnceLock<std::result::Result<RefuseLowOrder, String>>,
    },
    /// X25519 and plugin identities from an age identity file, each behind a guard against
    /// low-order shares in X25519 stanzas.
    Age(Vec<RefuseLowOrder>),
}

struct Loaded {
    path: PathBuf,
    /// SHA256 fingerprint for SSH keys.
    fingerprint: Option<String>,
    ssh_tag: Option<[u8; 4]>,
    key: Key,
}

pub struct Identities {
    items: Vec<Loaded>,
    /// Passphrase prompts are serialized so parallel workers never ask twice at once.
    prompt_lock: Mutex<()>,
}

impl Identities {
    /// Load identity files. With `Origin::Lenient`, unreadable or unparsable files are skipped
    /// with a warning on stderr; with `Origin::Explicit` they are errors.
    pub fn load(paths: &[PathBuf], origin: Origin) -> Result<Identities> {
        match origin {
            Origin::Explicit => Self::load_with(paths, true, Err),
            Origin::Lenient => Self::load_with(paths, true, |e| {
                eprintln!("warning: skipping identity {e}");
                Ok(())
            }),
        }
    }

    /// For unattended use (activation): like `load` with `Origin::Lenient`, and
    /// passphrase-protected keys are skipped too, since nobody may be there to answer a prompt
    /// (an activation run from a terminal would otherwise wait for one); for the same reason a
    /// plugin's questions (a PIN, a confirmation) are declined, never asked. Each skipped file's
    /// warning goes to `warn` instead of stderr (the installer's report prints it once and puts
    /// it into its JSON summary).
    pub fn load_reporting(paths: &[PathBuf], mut warn: impl FnMut(String)) -> Identities {
        let mut ids = Self::load_with(paths, false, |e| {
            warn(format!("skipping identity {e}"));
            Ok(())
        })
        .expect("lenient loading never fails");
        ids.items.retain(|l| {
            let locked = matches!(l.key, Key::SshLocked { .. });
            if locked {
                warn(format!(
                    "skipping identity {}: it is passphrase-protected, and the installer never \
                     asks for a passphrase; use an unencrypted host key",
                    l.path.display()
                ));
            }
            !locked
        });
        ids
    }

    /// `ask`: whether plugins may ask questions on the terminal.
    fn load_with(
        paths: &[PathBuf],
        ask: bool,
        mut on_error: impl FnMut(Error) -> Result<()>,
    ) -> Result<Identities> {
        let mut items = Vec::new();
        for p in paths {
            match load_one(p, ask) {
                Ok(mut l) => items.append(&mut l),
                Err(e) => on_error(e)?,
            }
        }
        Ok(Identities {
            items,
            prompt_lock: Mutex::new(()),
        })
    }

    /// The identities to use from the CLI: `-i` paths, else `SECRETS_IDENTITY`, else the default
    /// `~/.ssh/id_ed25519` and `~/.ssh/id_rsa` (skipped with a warning when unusable).
    pub fn from_cli(explicit: &[PathBuf]) -> Result<Identities> {
        if !explicit.is_empty() {
            return Self::load(explicit, Origin::Explicit);
        }
        if let Some(p) = std::env::var_os("SECRETS_IDENTITY").filter(|v| !v.is_empty()) {
            return Self::load(&[PathBuf::from(p)], Origin::Explicit);
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::new(
                    "no identity given and HOME is not set: pass -i KEY or set SECRETS_IDENTITY",
                )
            })?;
        let ssh = Path::new(&home).join(".ssh");
        let defaults: Vec<PathBuf> = ["id_ed25519", "id_rsa"]
            .iter()
            .map(|n| ssh.join(n))
            .filter(|p| p.exists())
            .collect();
        Self::load(&defaults, Origin::Lenient)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each identity's path, with its fingerprint for SSH keys.
    pub fn labels(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|l| match &l.fingerprint {
                Some(fp) => format!("{} ({fp})", l.path.display()),
                None => l.path.display().to_string(),
            })
            .collect()
    }

    /// All identities on one line, for messages: path and fingerprint.
    pub fn describe(&self) -> String {
        if self.items.is_empty() {
            return "none".into();
        }
        self.labels().join(", ")
    }

    /// The identities that may open a file with this header. Locked SSH keys are unlocked
    /// (passphrase asked once per run) only when the header has a stanza with their tag.
    pub fn for_header(&self, header: &Header) -> Result<Vec<&(dyn age::Identity + Sync)>> {
        let tags = header.ssh_tags();
        let has_opaque = header.opaque_stanzas().next().is_some();
        let mut out: Vec<&(dyn age::Identity + Sync)> = Vec::new();
        let mut unlock_err: Option<&String> = None;
        for l in &self.items {
            match &l.key {
                Key::Ssh(id) => {
                    if l.ssh_tag.is_some_and(|t| tags.contains(&t)) {
                        out.push(id.as_ref());
                    }
                }
                Key::SshLocked { enc, unlocked } => {
                    if !l.ssh_tag.is_some_and(|t| tags.contains(&t)) {
                        continue;
                    }
                    let res = unlocked.get_or_init(|| {
                        let _guard = self.prompt_lock.lock().unwrap_or_else(|e| e.into_inner());
                        unlock(enc, &l.path, l.fingerprint.as_deref().unwrap_or("?")).map(|id| {
                            RefuseLowOrder {
                                inner: Box::new(id),
                                ssh_tag: l.ssh_tag,
                            }
                        })
                    });
                    // A key that could not be unlocked is passed over: another identity may
                    // still open the file. Its error is reported only if none can.
                    match res {
                        Ok(id) => out.push(id),
                        Err(e) => unlock_err = unlock_err.or(Some(e)),
                    }
                }
                Key::Age(ids) => {
                    if has_opaque {
                        out.extend(ids.iter().map(|g| g as &(dyn age::Identity + Sync)));
                    }
                }
            }
        }
        match unlock_err {
            Some(e) if out.is_empty() => Err(Error::new(e.clone())),
            _ => Ok(out),
        }
    }
}

/// Ask for the passphrase (up to three tries, as ssh does) and decrypt the key.
fn unlock(
    enc: &age::ssh::EncryptedKey,
    path: &Path,
    fp: &str,
) -> std::result::Result<age::ssh::Identity, String> {
    const TRIES: usize = 3;
    let prompt = format!("Passphrase for {} ({fp}): ", path.display());
    for attempt in 1..=TRIES {
        let pass = rpassword::prompt_password(&prompt).map_err(|e| {
            format!(
                "cannot ask for the passphrase of {} ({fp}): {}; run in a terminal, or use an \
                 unencrypted key for automation (SECRETS_IDENTITY)",
                path.display(),
                describe_io(&e)
            )
        })?;
        match enc.decrypt(SecretString::from(pass)) {
            Ok(key) => return Ok(age::ssh::Identity::from(key)),
            Err(_) if attempt < TRIES => eprintln!("wrong passphrase, try again"),
            Err(_) => {}
        }
    }
    Err(format!(
        "wrong passphrase for {} ({fp}), {TRIES} tries",
        path.display()
    ))
}

fn load_one(path: &Path, ask: bool) -> Result<Vec<Loaded>> {
    // Followed if a symlink (keys are often linked from persistent storage), but never
    // blocking on a FIFO nor reading a device or a huge file to its end: see `crate::fs::open_regular`.
    let data = crate::fs::read_path(path, true, crate::fs::MAX_KEY_FILE)
        .map(|r| r.0)
        .map_err(|e| {
            Error::new(format!(
                "{}: cannot read: {}",
                path.display(),
                describe_io(&e)
            ))
        })?;
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(format!("{}: the file is empty", path.display())));
    }
    let text = std::str::from_utf8(&data)
        .map_err(|_| Error::new(format!("{}: not a text key file", path.display())))?;
    let head = text.trim_start();
    if head.starts_with("-----BEGIN PRIVATE KEY-----")
        || head.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    {
        return Err(Error::new(format!(
            "{}: PKCS#8 keys are not supported; convert the key to OpenSSH format \
             (ssh-keygen -p -f {} rewrites it) or generate a new one with ssh-keygen -t ed25519",
            path.display(),
            path.display()
        )));
    }
    if head.starts_with("-----BEGIN ") {
        return load_ssh(path, head).map(|l| vec![l]);
    }
    if head.starts_with("ssh-") || head.starts_with("age1") {
        return Err(Error::new(format!(
            "{}: this is a public key; pass the private key file instead",
            path.display()
        )));
    }
    let file = age::IdentityFile::from_buffer(head.as_bytes()).map_err(|_| {
        Error::new(format!(
            "{}: not a private key (expected an OpenSSH private key or an age identity \
                 file with AGE-SECRET-KEY-1… / AGE-PLUGIN-… lines)",
            path.display()
        ))
    })?;
    let ids = if ask {
        file.with_callbacks(TerminalCallbacks).into_identities()
    } else {
        file.with_callbacks(NoQuestions).into_identities()
    };
    let ids = ids.map_err(|e| {
        Error::new(format!(
            "{}: cannot use this identity file: {e}",
            path.display()
        ))
    })?;
    if ids.is_empty() {
        return Err(Error::new(format!(
            "{}: no identities in this file",
            path.display()
        )));
    }
    let ids = ids
        .into_iter()
        .map(|inner| RefuseLowOrder {
            inner,
            ssh_tag: None,
        })
        .collect();
    Ok(vec![Loaded {
        path: path.to_path_buf(),
        fingerprint: None,
        ssh_tag: None,
        key: Key::Age(ids),
    }])
}

fn load_ssh(path: &Path, text: &str) -> Result<Loaded> {
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
            let key: Box<dyn age::Identity + Send + Sync> = match ed25519_seed(text) {
                Some((seed, public)) => Box::new(crate::crypto::SshEd25519Identity::new(
                    id, &blob, &seed, &public, tag,
                )),
                // ssh-rsa, or an ed25519 key only the age crate reads: guarded all the same.
                None => Box::new(RefuseLowOrder {
                    inner: Box::new(id),
                    ssh_tag: Some(tag),
                }),
            };
            Ok(Loaded {
                path: path.to_path_buf(),
                fingerprint: Some(ssh_fingerprint(&blob)),
                ssh_tag: Some(tag),
                key: Key::Ssh(key),
            })
        }
        age::ssh::Identity::Encrypted(enc) => {
            let blob = public_blob(path, text)?;
            Ok(Loaded {
                path: path.to_path_buf(),
                fingerprint: Some(ssh_fingerprint(&blob)),
                ssh_tag: Some(ssh_tag(&blob)),
                key: Key::SshLocked {
                    enc: Box::new(enc.clone()),
                    unlocked: OnceLock::new(),
                },
            })
        }
        age::ssh::Identity::Unsupported(u) => Err(Error::new(format!(
            "{}: {}",
            path.display(),
            unsupported_reason(u, path)
        ))),
    }
}

/// The private seed of an unencrypted OpenSSH ssh-ed25519 key (None for any other key), for
/// the faster identity in `crypto`.
fn ed25519_seed(text: &str) -> Option<(zeroize::Zeroizing<[u8; 32]>, [u8; 32])> {
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
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let sk = rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| fail(e.to_string()))?;
    let key = ssh_key::public::RsaPublicKey {
        e: ssh_key::Mpint::from_positive_bytes(&sk.e().to_bytes_be())
            .map_err(|e| fail(e.to_string()))?,
        n: ssh_key::Mpint::from_positive_bytes(&sk.n().to_bytes_be())
            .map_err(|e| fail(e.to_string()))?,
    };
    ssh_key::PublicKey::from(ssh_key::public::KeyData::Rsa(key))
        .to_bytes()
        .map_err(|e| fail(e.to_string()))
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

/// Callbacks for age plugins run unattended (the installer): messages are logged, every
/// question is declined, so a plugin needing a PIN fails instead of waiting on a terminal.
#[derive(Clone, Copy)]
pub struct NoQuestions;

impl age::Callbacks for NoQuestions {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, _: &str) -> Option<SecretString> {
        None
    }
}

/// Callbacks for age plugins: messages and questions go to the terminal.
#[derive(Clone, Copy)]
pub struct TerminalCallbacks;

impl age::Callbacks for TerminalCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let q = match no_string {
            Some(no) => format!("{message} [{yes_string}/{no}]: "),
            None => format!("{message} [{yes_string}]: "),
        };
        let answer = rpassword::prompt_password(q).ok()?;
        Some(answer.trim().eq_ignore_ascii_case(yes_string))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        rpassword::prompt_password(format!("{description}: ")).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        rpassword::prompt_password(format!("{description}: "))
            .ok()
            .map(SecretString::from)
    }
}
