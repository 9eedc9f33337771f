//! Identities: the private keys used to decrypt. SSH keys (OpenSSH/PEM), age X25519 and age
//! plugin identity files. A passphrase-protected SSH key is unlocked at most once per run, and
//! only when a file has a stanza for it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::fingerprint::label;
use super::loworder::RefuseLowOrder;
use super::ssh::{self, SshSecret};
use super::x25519;
use crate::error::{describe_io, Error, Result};
use crate::header::Header;

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
        unlocked: OnceLock<Result<RefuseLowOrder>>,
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
        let (paths, origin) = Self::cli_paths(explicit)?;
        Self::load(&paths, origin)
    }

    /// The identity files `from_cli` loads, and how they were chosen (`secrets list` reads
    /// their public halves only).
    pub fn cli_paths(explicit: &[PathBuf]) -> Result<(Vec<PathBuf>, Origin)> {
        if !explicit.is_empty() {
            return Ok((explicit.to_vec(), Origin::Explicit));
        }
        if let Some(p) = std::env::var_os("SECRETS_IDENTITY").filter(|v| !v.is_empty()) {
            return Ok((vec![PathBuf::from(p)], Origin::Explicit));
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
        Ok((defaults, Origin::Lenient))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each identity's path, with its fingerprint for SSH keys.
    pub fn labels(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|l| {
                label(
                    Some(&l.path.display().to_string()),
                    l.fingerprint.as_deref(),
                )
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
        let mut unlock_err: Option<&Error> = None;
        for l in &self.items {
            match &l.key {
                Key::Ssh(id) => {
                    if l.ssh_tag.is_some_and(|t| tags.contains(&t)) {
                        out.push(id.as_ref());
                    }
                }
                Key::SshLocked { enc, unlocked } => {
                    let Some(tag) = l.ssh_tag.filter(|t| tags.contains(t)) else {
                        continue;
                    };
                    let res = unlocked.get_or_init(|| {
                        let _guard = self.prompt_lock.lock().unwrap_or_else(|e| e.into_inner());
                        let fp = l.fingerprint.as_deref().unwrap_or("?");
                        ssh::unlock(enc, &l.path, fp, tag)
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
            Some(e) if out.is_empty() => Err(e.clone()),
            _ => Ok(out),
        }
    }
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
    let ids = x25519::load_identity_file(path, head, ask)?;
    Ok(vec![Loaded {
        path: path.to_path_buf(),
        fingerprint: None,
        ssh_tag: None,
        key: Key::Age(ids),
    }])
}

/// An SSH private key file, as `Loaded`.
fn load_ssh(path: &Path, text: &str) -> Result<Loaded> {
    let id = ssh::load(path, text)?;
    let key = match id.key {
        SshSecret::Ready(id) => Key::Ssh(id),
        SshSecret::Locked(enc) => Key::SshLocked {
            enc,
            unlocked: OnceLock::new(),
        },
    };
    Ok(Loaded {
        path: path.to_path_buf(),
        fingerprint: Some(id.fingerprint),
        ssh_tag: Some(id.tag),
        key,
    })
}
