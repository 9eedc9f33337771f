//! Did an item change? What would be installed against the previous generation's file:
//! content, mode, owner and group. Decides the "adding"/"modifying" lines and the restarts.

use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use super::owned::Ownership;
use crate::fs::{self, SecretBytes};

use super::modes::MODE_BITS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified(Vec<&'static str>),
    Unchanged,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified(_) => "modified",
            Change::Unchanged => "unchanged",
        }
    }

    /// The owner it will get is not known yet (`--defer-owners`, a user not yet created):
    /// counted as an owner change against a previous file, so its units restart.
    pub fn owner_unknown(self) -> Change {
        match self {
            Change::Added => Change::Added,
            Change::Unchanged => Change::Modified(vec!["owner"]),
            Change::Modified(mut w) => {
                if !w.contains(&"owner") {
                    w.push("owner");
                }
                Change::Modified(w)
            }
        }
    }

    /// Added or modified: worth a log line and the item's restarts.
    pub fn is_change(&self) -> bool {
        matches!(self, Change::Added | Change::Modified(_))
    }
}

/// Compare what would be installed with the previous generation's file.
pub fn compare(
    prev_gen: Option<&Path>,
    rel: &str,
    value: &[u8],
    mode: u32,
    own: Option<Ownership>,
) -> Change {
    let mut c = Comparison::start(prev_gen, rel);
    let _ = c.write_all(value);
    c.finish(mode, own)
}

const CMP_BUF: usize = 64 << 10;

/// A comparison with the previous generation's file fed as the new value streams in (a plain
/// secret decrypted straight into its file): the old file is read alongside, never more of it
/// than its size when it was opened (its owner may grow it without bound), never whole.
pub struct Comparison {
    prev: Option<(File, Metadata)>,
    same: bool,
    seen: u64,
    buf: SecretBytes,
}

impl Comparison {
    pub fn start(prev_gen: Option<&Path>, rel: &str) -> Comparison {
        let prev = prev_gen.and_then(|p| fs::open_path(&p.join(rel), false).ok());
        // No piece compared is longer than the old file (see `write`).
        let len = prev
            .as_ref()
            .map_or(0, |(_, m)| m.len().min(CMP_BUF as u64));
        Comparison {
            prev,
            same: true,
            seen: 0,
            buf: Zeroizing::new(vec![0; len as usize]),
        }
    }

    /// The change, once the whole new value was fed.
    pub fn finish(self, mode: u32, own: Option<Ownership>) -> Change {
        let Some((_, meta)) = &self.prev else {
            return Change::Added;
        };
        let mut what = Vec::new();
        if !(self.same && self.seen == meta.len()) {
            what.push("content");
        }
        changes(meta, mode, own, what)
    }
}

impl Write for Comparison {
    fn write(&mut self, new: &[u8]) -> io::Result<usize> {
        if let (true, Some((f, meta))) = (self.same, &mut self.prev) {
            let end = self.seen + new.len() as u64;
            self.same = end <= meta.len()
                // In pieces the buffer holds: it never reallocates (an unwiped copy).
                && new.chunks(CMP_BUF).all(|piece| {
                    let old = &mut self.buf[..piece.len()];
                    f.read_exact(old).is_ok() && old[..] == piece[..]
                });
        }
        self.seen += new.len() as u64;
        Ok(new.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Mode, owner and group changes, after `what` (the content's).
fn changes(
    meta: &Metadata,
    mode: u32,
    own: Option<Ownership>,
    mut what: Vec<&'static str>,
) -> Change {
    if meta.permissions().mode() & MODE_BITS != mode {
        what.push("mode");
    }
    if let Some(o) = own {
        if meta.uid() != o.uid {
            what.push("owner");
        }
        if meta.gid() != o.gid {
            what.push("group");
        }
    }
    if what.is_empty() {
        Change::Unchanged
    } else {
        Change::Modified(what)
    }
}
