//! Did an item change? What would be installed against the previous generation's file:
//! content, mode, owner and group. Decides the "adding"/"modifying" lines and the restarts.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::owned::Ownership;
use crate::fs;

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
    let Some(prev) = prev_gen else {
        return Change::Added;
    };
    let Ok((f, meta)) = fs::open_path(&prev.join(rel), false) else {
        return Change::Added;
    };
    let mut what = Vec::new();
    // A file of another size is not read: its owner may have grown it without bound.
    let same = meta.len() == value.len() as u64
        && fs::read_bounded(f, &meta, value.len() as u64).is_ok_and(|old| old[..] == value[..]);
    if !same {
        what.push("content");
    }
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
