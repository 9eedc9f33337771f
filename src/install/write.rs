//! One item's value (a decrypted secret or a rendered template) into a generation: create
//! the file 0400-root, give it its owner, group and mode (the generation is invisible until
//! the switch), or with --defer-owners leave it root's for `--phase owners`; on failure carry
//! over the previous generation's file.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::owned::{self, Ownership};
use crate::error::{describe_io, Result};
use crate::fs::{self, SecretBytes};

use super::compare::{compare, Change};
use super::manifest::ItemSpec;
use super::modes::{interim_mode, MODE_BITS};

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
    /// Written root's with its interim mode; its owner, group and mode are still to be
    /// applied (`--phase owners`).
    pub deferred: bool,
}

/// One item of a phase and what became of it.
pub struct Placed<'a> {
    pub spec: &'a ItemSpec,
    pub out: Outcome,
}

pub struct Ctx<'a> {
    pub new_gen: Option<&'a Path>,
    pub prev_gen: Option<&'a Path>,
    pub user_mode: bool,
    /// `--defer-owners` in the main phase: write every file root's, owner bits only.
    pub defer_owners: bool,
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
/// With `Ctx::defer_owners` the file is written root's with its interim mode (see
/// `modes::interim_mode`) and marked `deferred`; an owner that does not exist yet is then no
/// failure: `--phase owners` gives it its owner once users exist, or says why it cannot.
pub fn place(
    ctx: &Ctx<'_>,
    item: &ItemSpec,
    value: Result<SecretBytes>,
    ownership: Result<Option<Ownership>>,
    keep_value: bool,
) -> Outcome {
    let (ownership, unknown_owner) = match ownership {
        Err(_) if ctx.defer_owners => (Ok(None), true),
        o => (o, false),
    };
    let (v, own) = match value.and_then(|v| ownership.map(|o| (v, o))) {
        Ok(x) => x,
        Err(err) => return carry_over(ctx, item, err.to_string(), keep_value),
    };
    let mut change = compare(ctx.prev_gen, &item.rel, &v, item.mode, own);
    if unknown_owner {
        change = change.owner_unknown();
    }
    // What the file gets now: its final owner and mode, or root's and the interim mode.
    let (now_own, now_mode) = if ctx.defer_owners {
        (Some(Ownership { uid: 0, gid: 0 }), interim_mode(item.mode))
    } else {
        (own, item.mode)
    };
    if let Some(gen) = ctx.new_gen {
        if let Err(e) = write_into(gen, &item.rel, &v, now_own, now_mode) {
            return Outcome {
                status: Status::Failed,
                error: Some(format!(
                    "cannot write {}: {}",
                    gen.join(&item.rel).display(),
                    describe_io(&e)
                )),
                fatal: true,
                change: None,
                value: None,
                ownership: now_own,
                mode: now_mode,
                deferred: false,
            };
        }
    }
    Outcome {
        status: Status::Installed,
        error: None,
        fatal: false,
        change: Some(change),
        value: keep_value.then_some(v),
        ownership: now_own,
        mode: now_mode,
        deferred: ctx.defer_owners,
    }
}

fn carry_over(ctx: &Ctx<'_>, item: &ItemSpec, err: String, keep_value: bool) -> Outcome {
    let failed = |err: String, fatal: bool| Outcome {
        status: Status::Failed,
        error: Some(err),
        fatal,
        change: None,
        value: None,
        ownership: None,
        mode: item.mode,
        deferred: false,
    };
    let Some(prev) = ctx.prev_gen else {
        return failed(err, false);
    };
    let Ok((old, meta)) = fs::read_secret_nofollow(&prev.join(&item.rel)) else {
        return failed(err, false);
    };
    // The previous file exactly as it was: same bytes, mode, owner and group.
    let own = (!ctx.user_mode).then(|| Ownership {
        uid: meta.uid(),
        gid: meta.gid(),
    });
    let mode = meta.permissions().mode() & MODE_BITS;
    if let Some(gen) = ctx.new_gen {
        if let Err(e) = write_into(gen, &item.rel, &old, own, mode) {
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
        deferred: false,
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
