//! Who can read an encrypted file, told from its header (and `secrets.lock.json`) without any
//! private key, and whether my own keys can: for `secrets list`, and for the advice when a file
//! cannot be decrypted (`advice`).
//!
//! An `ssh-ed25519`/`ssh-rsa` stanza names its key by a 4-byte tag; X25519 and plugin stanzas
//! name nobody, so for those only a lock entry written for exactly these bytes says who they
//! are (as in `drift`).

mod advice;
mod mine;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::drift::KnownKeys;
use crate::header::Header;
use crate::keys::Recipient;
use crate::lockfile::{recipient_id, Entry, LockFile};

pub use advice::{explain, explain_lines};
pub use mine::{my_keys, MyKey};

/// One recipient of a file (or several, for `Unnamed`).
#[derive(Clone, Debug)]
pub enum Reader {
    /// A key of the rules.
    Known(Box<Recipient>),
    /// A key that is not in the rules: its stanza type and what names it (`key tag …` from
    /// the header, `lock id …` from the lock).
    Unknown { kind: String, id: String },
    /// `count` X25519/plugin stanzas of type `kind` that nothing names: they may be keys of the
    /// rules or not.
    Unnamed { kind: String, count: usize },
}

impl Reader {
    /// For messages: "alice (SHA256:…)".
    pub fn label(&self) -> String {
        match self {
            Reader::Known(r) => key_label(r),
            Reader::Unknown { kind, id } if kind == "unknown" => {
                format!("a key not in the rules ({id})")
            }
            Reader::Unknown { kind, id } => format!("a {kind} key not in the rules ({id})"),
            Reader::Unnamed { kind, count } => format!(
                "{count} {kind} recipient(s) the header does not name (no {} entry for this \
                 version of the file)",
                crate::lockfile::FILE_NAME
            ),
        }
    }
}

/// A key as messages show it: its name in secrets.json, else its comment, with its
/// fingerprint; else the fingerprint alone.
pub fn key_label(r: &Recipient) -> String {
    match short_name(r) {
        Some(n) => format!("{n} ({})", r.fingerprint),
        None => r.fingerprint.clone(),
    }
}

/// A key as a table shows it: its name, else its comment, else its fingerprint.
pub fn short_label(r: &Recipient) -> String {
    short_name(r).unwrap_or_else(|| r.fingerprint.clone())
}

fn short_name(r: &Recipient) -> Option<String> {
    r.name
        .clone()
        .or_else(|| r.comment.as_deref().map(crate::names::escaped))
}

/// The lock entry that says exactly who this file is encrypted to, if there is one.
fn lock_entry<'l>(
    lock: &'l LockFile,
    name: Option<&str>,
    digest: &str,
    header: &Header,
) -> Option<&'l Entry> {
    let entry = lock.valid_entry(name?, digest)?;
    // One that disagrees with the header is not trusted (as in `drift`).
    (entry.recipients.len() == header.real_stanzas().count()).then_some(entry)
}

/// Who the file is encrypted to. `name`: its name in the rules (for its lock entry), None for
/// a file without a rule.
pub fn readers(
    name: Option<&str>,
    digest: &str,
    header: &Header,
    lock: &LockFile,
    known: &KnownKeys,
) -> Vec<Reader> {
    let mut out = from_header_or_lock(name, digest, header, lock, known);
    // Keys of the rules first, by name; the order of stanzas in a header means nothing.
    out.sort_by_key(|r| (!matches!(r, Reader::Known(_)), r.label()));
    out
}

fn from_header_or_lock(
    name: Option<&str>,
    digest: &str,
    header: &Header,
    lock: &LockFile,
    known: &KnownKeys,
) -> Vec<Reader> {
    if let Some(entry) = lock_entry(lock, name, digest, header) {
        return entry
            .recipients
            .iter()
            .map(|id| match known.by_id(id) {
                Some(r) => Reader::Known(Box::new(r.clone())),
                None => Reader::Unknown {
                    kind: "unknown".into(),
                    id: format!("lock id {id}"),
                },
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut opaque: BTreeMap<&str, usize> = BTreeMap::new();
    for s in header.real_stanzas() {
        if !s.is_ssh() {
            *opaque.entry(&s.tag).or_default() += 1;
            continue;
        }
        match s.ssh_tag().and_then(|t| known.by_tag(&t)) {
            Some(r) => out.push(Reader::Known(Box::new(r.clone()))),
            None => out.push(Reader::Unknown {
                kind: s.tag.clone(),
                id: format!(
                    "key tag {}",
                    s.args.first().map(String::as_str).unwrap_or("?")
                ),
            }),
        }
    }
    for (tag, count) in opaque {
        out.push(Reader::Unnamed {
            kind: tag.to_string(),
            count,
        });
    }
    out
}

/// Whether my keys can read a file, from its header alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readable {
    /// Yes, with these identity files.
    Yes(Vec<PathBuf>),
    No,
    /// Cannot be told without decrypting: why.
    Unknown(String),
}

impl Readable {
    pub fn word(&self) -> &'static str {
        match self {
            Readable::Yes(_) => "yes",
            Readable::No => "no",
            Readable::Unknown(_) => "unknown",
        }
    }
}

/// Whether `mine` can read the file: an SSH key whose tag is in the header, or a key its lock
/// entry names. X25519/plugin stanzas without a lock entry, and my keys whose public half is
/// unknown, leave it unknown unless another key says yes.
pub fn readable(
    mine: &[MyKey],
    name: Option<&str>,
    digest: &str,
    header: &Header,
    lock: &LockFile,
) -> Readable {
    let tags = header.ssh_tags();
    let entry = lock_entry(lock, name, digest, header);
    let mut with = Vec::new();
    for m in mine {
        let opens = m.keys.iter().any(|k| {
            k.ssh_tag.is_some_and(|t| tags.contains(&t))
                || entry.is_some_and(|e| e.recipients.contains(&recipient_id(k)))
        });
        if opens {
            with.push(m.path.clone());
        }
    }
    if !with.is_empty() {
        return Readable::Yes(with);
    }
    if let Some(m) = mine.iter().find(|m| m.unknown.is_some()) {
        return Readable::Unknown(format!(
            "the public key of {} is unknown: {}",
            m.path.display(),
            m.unknown.as_deref().unwrap_or_default()
        ));
    }
    let opaque = header.opaque_stanzas().next().is_some();
    let i_have_opaque = mine
        .iter()
        .flat_map(|m| &m.keys)
        .any(|k| k.ssh_tag.is_none());
    if opaque && entry.is_none() && i_have_opaque {
        return Readable::Unknown(format!(
            "its X25519/plugin stanzas name nobody and {} has no entry for this version of the \
             file",
            crate::lockfile::FILE_NAME
        ));
    }
    Readable::No
}
