//! Drift: does an encrypted file's recipient set (and armor) match its rule? Decided without
//! any private key, shared by `rekey` and `check`.
//!
//! Method, in order of authority:
//! 1. A lock entry (`lockfile.rs`) whose ciphertext hash equals the file's bytes gives the exact
//!    recipient set the file was encrypted to; its size must equal the header's stanza count.
//! 2. Otherwise SSH recipients are compared by the 4-byte key tag age writes into each
//!    `ssh-ed25519`/`ssh-rsa` stanza, and the number of X25519/plugin stanzas is compared with
//!    the number of such recipients in the rule. Equal counts still cannot tell *which* X25519 or
//!    plugin key a stanza is for, so such a file is "unverified".

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::error::ErrorKind;
use crate::header::Header;
use crate::keys::{label, Recipient};
use crate::lockfile::{recipient_id, LockFile};
use crate::rules::{Rule, Rules};

/// A recipient as reported: name (from secrets.json) when known, fingerprint, key type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Who {
    pub name: Option<String>,
    pub fingerprint: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Who {
    fn of(r: &Recipient) -> Who {
        Who {
            name: r.name.clone(),
            fingerprint: r.fingerprint.clone(),
            kind: r.kind.report_name(),
        }
    }

    pub fn label(&self) -> String {
        label(self.name.as_deref(), Some(&self.fingerprint))
    }
}

/// Every key named anywhere in the rules, to put names on recipients a file still has.
pub struct KnownKeys {
    by_tag: HashMap<[u8; 4], Recipient>,
    by_id: HashMap<String, Recipient>,
}

impl KnownKeys {
    pub fn from_rules(rules: &Rules) -> KnownKeys {
        let mut by_tag = HashMap::new();
        let mut by_id = HashMap::new();
        // Keys declared in secrets.json but used by no rule (a host just removed) still have a
        // name worth showing.
        let all = rules
            .secrets
            .values()
            .flat_map(|rule| rule.recipients.iter())
            .chain(rules.keys.values());
        for r in all {
            if let Some(t) = r.ssh_tag {
                by_tag.entry(t).or_insert_with(|| r.clone());
            }
            by_id.entry(recipient_id(r)).or_insert_with(|| r.clone());
        }
        KnownKeys { by_tag, by_id }
    }

    /// The key of the rules an SSH stanza's tag names, if any.
    pub fn by_tag(&self, tag: &[u8; 4]) -> Option<&Recipient> {
        self.by_tag.get(tag)
    }

    /// The key of the rules a lock entry's recipient id names, if any.
    pub fn by_id(&self, id: &str) -> Option<&Recipient> {
        self.by_id.get(id)
    }
}

/// How a file differs from its rule. Empty = in sync.
#[derive(Clone, Debug, Default)]
pub struct Drift {
    pub added: Vec<Who>,
    pub removed: Vec<Who>,
    /// `Some(file_is_armored)` when the armor differs from the rule.
    pub armor: Option<bool>,
    /// Why the recipients could not be fully verified (X25519/plugin without a valid lock entry).
    pub unverified: Option<String>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.armor.is_none()
            && self.unverified.is_none()
    }

    /// One line: why the file would be rekeyed.
    pub fn reasons(&self) -> String {
        let mut out = Vec::new();
        if !self.added.is_empty() || !self.removed.is_empty() {
            let mut parts = Vec::new();
            if !self.added.is_empty() {
                parts.push(format!("added {}", labels(&self.added)));
            }
            if !self.removed.is_empty() {
                parts.push(format!("removed {}", labels(&self.removed)));
            }
            out.push(format!("recipients differ ({})", parts.join("; ")));
        }
        if let Some(u) = &self.unverified {
            out.push(u.clone());
        }
        if let Some(file_armored) = self.armor {
            out.push(format!(
                "armor differs (rule: {}, file: {})",
                if file_armored { "binary" } else { "armored" },
                if file_armored { "armored" } else { "binary" }
            ));
        }
        out.join("; ")
    }
}

fn labels(w: &[Who]) -> String {
    w.iter().map(Who::label).collect::<Vec<_>>().join(", ")
}

/// The state of one rule's file.
#[derive(Debug)]
pub enum State {
    Missing,
    /// Unreadable, not an age file, or passphrase-encrypted.
    Invalid(String),
    Present {
        /// SHA-256 (hex) of the file's bytes as read.
        digest: String,
        header: Header,
        drift: Drift,
    },
}

/// A file's header and the SHA-256 (hex) of all its bytes, read in constant memory; None when
/// it does not exist; Err says why it cannot be read or is not an age file.
pub fn header_and_digest(path: &std::path::Path) -> Result<Option<(Header, String)>, String> {
    let (f, size) = match crate::fs::open_path(path, true) {
        Ok((f, meta)) => (f, meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {}", crate::error::describe_io(&e))),
    };
    let mut raw = crate::fs::HashingReader::new(f);
    let read = crate::header::stream::open_sized(&mut raw, size).and_then(|o| {
        let header = o.header.clone();
        o.drain().map(|_| header)
    });
    let header = match read {
        Ok(h) => h,
        Err(e) if e.kind() == ErrorKind::Unreadable => {
            return Err(format!("cannot read: {}", e.message()))
        }
        Err(e) => return Err(e.message().to_string()),
    };
    match raw.finish() {
        Ok(digest) => Ok(Some((header, digest))),
        Err(e) => Err(format!("cannot read: {}", crate::error::describe_io(&e))),
    }
}

/// Read and assess a rule's file, in constant memory: its header is parsed and the rest of it
/// read through only to hash it (and check its armor).
pub fn assess_file(rule: &Rule, lock: &LockFile, known: &KnownKeys) -> State {
    let (header, digest) = match header_and_digest(&rule.path) {
        Ok(Some(read)) => read,
        Ok(None) => return State::Missing,
        Err(why) => return State::Invalid(why),
    };
    if header.is_scrypt() {
        return State::Invalid(
            "passphrase-encrypted (age -p), not encrypted to keys; encrypt it again with \
             `secrets encrypt`"
                .into(),
        );
    }
    // Refused here too, not only when decrypting: `check` in CI then reports a forged file,
    // and `rekey` drops it before any passphrase is asked for it.
    if let Some(why) = header.malformed_stanza() {
        return State::Invalid(why);
    }
    let drift = assess(rule, &digest, &header, lock, known);
    State::Present {
        digest,
        header,
        drift,
    }
}

/// Compare a parsed file with its rule.
pub fn assess(
    rule: &Rule,
    digest: &str,
    header: &Header,
    lock: &LockFile,
    known: &KnownKeys,
) -> Drift {
    let mut d = Drift {
        armor: (header.armored != rule.armor).then_some(header.armored),
        ..Drift::default()
    };
    let real_stanzas = header.real_stanzas().count();
    let rule_ids: BTreeSet<String> = rule.recipients.iter().map(recipient_id).collect();

    // 1. A lock entry for exactly these bytes is authoritative.
    if let Some(entry) = lock.valid_entry(&rule.name, digest) {
        if entry.recipients.len() == real_stanzas {
            let had: BTreeSet<&String> = entry.recipients.iter().collect();
            for r in rule.recipients.iter() {
                if !had.contains(&recipient_id(r)) {
                    d.added.push(Who::of(r));
                }
            }
            for id in &entry.recipients {
                if !rule_ids.contains(id) {
                    d.removed.push(match known.by_id.get(id) {
                        Some(r) => Who::of(r),
                        None => Who {
                            name: None,
                            fingerprint: format!("lock id {id}"),
                            kind: "unknown".into(),
                        },
                    });
                }
            }
            d.added.sort();
            d.removed.sort();
            return d;
        }
        // A lock entry that disagrees with the header is not trusted; fall through.
    }

    // 2. From the header alone.
    let mut rule_tags = BTreeSet::new();
    let mut rule_opaque = 0usize;
    for r in rule.recipients.iter() {
        match r.ssh_tag {
            Some(t) => {
                rule_tags.insert(t);
            }
            None => rule_opaque += 1,
        }
    }
    let mut file_tags = BTreeSet::new();
    for s in header.stanzas.iter().filter(|s| s.is_ssh()) {
        let arg = s.args.first().map(String::as_str).unwrap_or_default();
        let tag = s.ssh_tag();
        if let Some(t) = tag {
            file_tags.insert(t);
            if rule_tags.contains(&t) {
                continue;
            }
        }
        d.removed
            .push(match tag.and_then(|t| known.by_tag.get(&t)) {
                Some(r) => Who::of(r),
                None => Who {
                    name: None,
                    fingerprint: format!("key tag {arg}"),
                    kind: s.tag.clone(),
                },
            });
    }
    for r in rule.recipients.iter() {
        if r.ssh_tag.is_some_and(|t| !file_tags.contains(&t)) {
            d.added.push(Who::of(r));
        }
    }
    let file_opaque = header.opaque_stanzas().count();
    let opaque_kinds = || {
        let mut k: Vec<String> = header.opaque_stanzas().map(|s| s.tag.clone()).collect();
        k.sort();
        k.dedup();
        k.join("/")
    };
    if file_opaque > rule_opaque {
        for _ in 0..file_opaque - rule_opaque {
            d.removed.push(Who {
                name: None,
                fingerprint: "unknown".into(),
                kind: opaque_kinds(),
            });
        }
    }
    if file_opaque == 0 && rule_opaque > 0 {
        // No such stanza at all: every X25519/plugin recipient of the rule is missing, for
        // certain (so an ssh-only file, which has no lock entry, still names them).
        for r in rule.recipients.iter().filter(|r| r.ssh_tag.is_none()) {
            d.added.push(Who::of(r));
        }
    } else if rule_opaque > file_opaque {
        d.unverified = Some(format!(
            "the rule has {rule_opaque} X25519/plugin recipient(s) but the file only {file_opaque} \
             such stanza(s)"
        ));
    } else if rule_opaque > 0 {
        let why = if lock.files.contains_key(&rule.name) {
            "the file changed since secrets.lock.json was written"
        } else {
            "no entry in secrets.lock.json"
        };
        d.unverified = Some(format!(
            "X25519/plugin recipients cannot be read from the header and {why}"
        ));
    }
    d.added.sort();
    d.removed.sort();
    d
}
