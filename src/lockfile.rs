//! `secrets.lock.json`: what each encrypted file was last encrypted to, by us.
//!
//! X25519 and plugin stanzas do not name their recipient, so a header alone cannot say whether
//! such a file matches its rule. Whenever `secrets` writes a file it records, next to the rules,
//! the SHA-256 of the exact ciphertext bytes and a short hash of each recipient. An entry counts
//! only while the file's bytes still hash to it: a file rewritten by another tool (or a lock
//! left stale by a merge) is "unverified", never silently trusted. Public data only.
//!
//! This module reads and renders the file; `store` is the one that writes it, under the rules
//! directory's write guard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{describe_io, Error, Result};
use crate::fs::hex;
use crate::keys::Recipient;

pub const FILE_NAME: &str = "secrets.lock.json";
const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Hex SHA-256 of the file's exact bytes.
    pub ciphertext: String,
    /// Sorted recipient ids (`recipient_id`).
    pub recipients: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    version: u32,
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    files: BTreeMap<String, Entry>,
}

#[derive(Debug, Default)]
pub struct LockFile {
    pub path: PathBuf,
    pub files: BTreeMap<String, Entry>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A recipient's id in the lock: the first 64 bits of SHA-256 over its canonical public text.
/// Short enough to keep the lock readable; an accidental collision is out of reach.
pub fn recipient_id(r: &Recipient) -> String {
    hex(&Sha256::digest(r.key_id().as_bytes())[..8])
}

/// The lock entry for `cipher` encrypted to `recipients`.
pub fn entry_for(cipher: &[u8], recipients: &[Recipient]) -> Entry {
    let mut ids: Vec<String> = recipients.iter().map(recipient_id).collect();
    ids.sort();
    ids.dedup();
    Entry {
        ciphertext: sha256_hex(cipher),
        recipients: ids,
    }
}

/// The lock file for rules living in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

impl LockFile {
    /// Read the lock in `dir`; a missing file is an empty lock.
    pub fn load(dir: &Path) -> Result<LockFile> {
        let path = path_in(dir);
        let text = match crate::fs::read_regular_text(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LockFile {
                    path,
                    files: BTreeMap::new(),
                })
            }
            Err(e) => {
                return Err(Error::new(format!(
                    "{}: cannot read: {}",
                    path.display(),
                    describe_io(&e)
                )))
            }
        };
        let d: OnDisk = serde_json::from_str(&text).map_err(|e| {
            Error::new(format!(
                "{}: invalid lock file ({e}); delete it and run `secrets rekey --force` to \
                 rewrite every file and the lock",
                path.display()
            ))
        })?;
        if d.version != VERSION {
            return Err(Error::new(format!(
                "{}: lock file version {} is not supported (expected {VERSION}); upgrade secrets",
                path.display(),
                d.version
            )));
        }
        Ok(LockFile {
            path,
            files: d.files,
        })
    }

    /// Like `load`, but an unreadable or invalid lock is reported on stderr and treated as
    /// empty: every X25519/plugin file then counts as unverified, which is the safe side.
    /// The flag says whether the lock may be saved: a broken lock file is never overwritten
    /// (that would silently drop the entries of every file not rewritten in this run).
    pub fn load_lenient(dir: &Path) -> (LockFile, bool) {
        match LockFile::load(dir) {
            Ok(lf) => (lf, true),
            Err(e) => {
                eprintln!("warning: {e}");
                let empty = LockFile {
                    path: path_in(dir),
                    files: BTreeMap::new(),
                };
                (empty, false)
            }
        }
    }

    /// The entry for `name` if it still describes exactly these bytes.
    pub fn valid_entry(&self, name: &str, cipher_sha256: &str) -> Option<&Entry> {
        self.files
            .get(name)
            .filter(|e| e.ciphertext == cipher_sha256)
    }

    /// One entry per line, sorted, so diffs and merges stay small.
    pub fn render(&self) -> String {
        let mut s = String::from("{\n");
        s.push_str(&format!("  \"version\": {VERSION},\n"));
        s.push_str(
            "  \"_comment\": \"written by `secrets`: SHA-256 of each encrypted file and ids of \
             its recipients, to detect recipient drift without private keys; commit it\",\n",
        );
        s.push_str("  \"files\": {");
        let n = self.files.len();
        for (i, (name, e)) in self.files.iter().enumerate() {
            let key = serde_json::to_string(name).unwrap_or_default();
            let ids = serde_json::to_string(&e.recipients).unwrap_or_default();
            s.push_str(&format!(
                "\n    {key}: {{\"ciphertext\": \"{}\", \"recipients\": {ids}}}{}",
                e.ciphertext,
                if i + 1 < n { "," } else { "" }
            ));
        }
        s.push_str(if n > 0 { "\n  }\n}\n" } else { "}\n}\n" });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_round_trips() {
        let mut l = LockFile::default();
        l.files.insert(
            "a \"b\".age".into(),
            Entry {
                ciphertext: "00".into(),
                recipients: vec!["aa".into(), "bb".into()],
            },
        );
        l.files.insert(
            "c.age".into(),
            Entry {
                ciphertext: "11".into(),
                recipients: vec![],
            },
        );
        let d: OnDisk = serde_json::from_str(&l.render()).unwrap();
        assert_eq!(d.files, l.files);
        let empty: OnDisk = serde_json::from_str(&LockFile::default().render()).unwrap();
        assert!(empty.files.is_empty());
    }
}
