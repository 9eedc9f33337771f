//! One secret (or rendered template) into a generation: decrypt in memory, create the file
//! 0400-root, give it its owner, group and mode (the generation is invisible until the
//! switch); on failure carry over the previous generation's file. Also decides whether the
//! item changed.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::crypto;
use crate::error::describe_io;
use crate::fs::{self, SecretBytes};
use crate::header::Header;
use crate::identity::Identities;

use super::manifest::{Common, PhaseKind, SecretSpec};
use super::owned::{self, Ownership};

/// Permission bits we set and compare (set-id and sticky bits are rejected in manifests).
const MODE_BITS: u32 = 0o777;

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Installed,
    CarriedOver,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Installed => "installed",
            Status::CarriedOver => "carried-over",
            Status::Failed => "failed",
        }
    }
}

pub struct Outcome {
    pub status: Status,
    pub error: Option<String>,
    /// A write into the generation failed (e.g. ENOSPC): the whole generation is unusable.
    pub fatal: bool,
    pub change: Option<Change>,
    /// The bytes now installed, kept only when needed later (copies, templates).
    pub value: Option<SecretBytes>,
    pub ownership: Option<Ownership>,
    pub mode: u32,
}

pub struct Ctx<'a> {
    pub new_gen: Option<&'a Path>,
    pub prev_gen: Option<&'a Path>,
    pub user_mode: bool,
}

/// Read and decrypt one secret's file; the message names the file, never the content.
pub fn decrypt(spec: &SecretSpec, ids: &Identities) -> Result<SecretBytes, String> {
    let f = &spec.file;
    let cipher = fs::read_regular(f)
        .map_err(|e| format!("cannot read {}: {}", f.display(), describe_io(&e)))?;
    let header = Header::parse(&cipher).map_err(|e| format!("{}: {e}", f.display()))?;
    crypto::decrypt_with_header(&cipher, &header, ids)
        .map_err(|e| format!("cannot decrypt {}: {e}", f.display()))
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

fn write_into(
    gen: &Path,
    rel: &str,
    data: &[u8],
    own: Option<Ownership>,
    mode: u32,
) -> io::Result<()> {
    // Straight to the final name: the generation is new (stale ones are removed first) and
    // invisible until the switch, so no temp file is needed (one could collide with another
    // secret's name); create_owned_file keeps it 0400-root until it is filled.
    // On tmpfs/ramfs an fsync does nothing useful.
    owned::create_owned_file(&gen.join(rel), data, own, mode, false)
}

/// Install `value` (or carry over the previous file when `value` is an error) for one item.
pub fn place(
    ctx: &Ctx<'_>,
    c: &Common,
    value: Result<SecretBytes, String>,
    ownership: Result<Option<Ownership>, String>,
    keep_value: bool,
) -> Outcome {
    let attempt = value.and_then(|v| ownership.map(|o| (v, o)));
    match attempt {
        Ok((v, own)) => {
            let change = compare(ctx.prev_gen, &c.rel, &v, c.mode, own);
            if let Some(gen) = ctx.new_gen {
                if let Err(e) = write_into(gen, &c.rel, &v, own, c.mode) {
                    return Outcome {
                        status: Status::Failed,
                        error: Some(format!(
                            "cannot write {}: {}",
                            gen.join(&c.rel).display(),
                            describe_io(&e)
                        )),
                        fatal: true,
                        change: None,
                        value: None,
                        ownership: own,
                        mode: c.mode,
                    };
                }
            }
            Outcome {
                status: Status::Installed,
                error: None,
                fatal: false,
                change: Some(change),
                value: keep_value.then_some(v),
                ownership: own,
                mode: c.mode,
            }
        }
        Err(err) => carry_over(ctx, c, err, keep_value),
    }
}

fn carry_over(ctx: &Ctx<'_>, c: &Common, err: String, keep_value: bool) -> Outcome {
    let failed = |err: String, fatal: bool| Outcome {
        status: Status::Failed,
        error: Some(err),
        fatal,
        change: None,
        value: None,
        ownership: None,
        mode: c.mode,
    };
    let Some(prev) = ctx.prev_gen else {
        return failed(err, false);
    };
    let Ok((old, meta)) = fs::read_secret_nofollow(&prev.join(&c.rel)) else {
        return failed(err, false);
    };
    // The previous file exactly as it was: same bytes, mode, owner and group.
    let own = (!ctx.user_mode).then(|| Ownership {
        uid: meta.uid(),
        gid: meta.gid(),
    });
    let mode = meta.permissions().mode() & MODE_BITS;
    if let Some(gen) = ctx.new_gen {
        if let Err(e) = write_into(gen, &c.rel, &old, own, mode) {
            return failed(
                format!(
                    "{err}; and cannot carry over the previous value: {}",
                    describe_io(&e)
                ),
                true,
            );
        }
    }
    Outcome {
        status: Status::CarriedOver,
        error: Some(err),
        fatal: false,
        change: Some(Change::Unchanged),
        value: keep_value.then_some(old),
        ownership: own,
        mode,
    }
}

/// Directories a set of relative names needs inside a generation, parents first.
pub fn needed_dirs<'a>(rels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for r in rels {
        let mut acc = String::new();
        let parts: Vec<&str> = r.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(p);
            dirs.insert(acc.clone());
        }
    }
    // BTreeSet order puts "a" before "a/b".
    dirs.into_iter().collect()
}

/// Label for log lines: phase-qualified only for the users phase.
pub fn label(c: &Common) -> String {
    match (c.is_template, c.phase) {
        (true, _) => format!("template {}", c.name),
        (false, PhaseKind::Main) => c.name.clone(),
        (false, PhaseKind::Users) => format!("{} (for users)", c.name),
    }
}
