//! One item's value (a decrypted secret or a rendered template, or a plain secret streamed
//! straight from its decryption: `place_streamed`) into a generation: create the file 0400-root, give it its owner, group and mode (the generation is invisible until
//! the switch), or with --defer-owners leave it root's for `--phase owners`; on failure carry
//! over the previous generation's file.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::owned::{self, Ownership};
use crate::error::{describe_io, Result};
use crate::fs::{self, SecretBytes};

use super::compare::{compare, Change, Comparison};
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

/// `place` for a plain secret whose value is not needed later: `stream` writes the value into
/// the writer it is given (the new file, and a comparison with the previous one), so it is
/// never held whole, whatever its size. When `stream` fails (a chunk that does not
/// authenticate, past the ones already written), the partly written file is removed and the
/// previous value carried over, as `place` does for a value that cannot be decrypted.
pub fn place_streamed(
    ctx: &Ctx<'_>,
    item: &ItemSpec,
    stream: impl FnOnce(&mut dyn Write) -> Result<()>,
    ownership: Result<Option<Ownership>>,
) -> Outcome {
    let (ownership, unknown_owner) = match ownership {
        Err(_) if ctx.defer_owners => (Ok(None), true),
        o => (o, false),
    };
    let own = match ownership {
        Ok(o) => o,
        Err(err) => return carry_over(ctx, item, err.to_string(), false),
    };
    let (now_own, now_mode) = if ctx.defer_owners {
        (Some(Ownership { uid: 0, gid: 0 }), interim_mode(item.mode))
    } else {
        (own, item.mode)
    };
    let mut cmp = Comparison::start(ctx.prev_gen, &item.rel);
    let mut write_failed = None;
    let res = match ctx.new_gen {
        Some(gen) => {
            owned::create_owned_with(&gen.join(&item.rel), now_own, now_mode, false, |f| {
                let mut tee = Tee {
                    file: f,
                    cmp: &mut cmp,
                    failed: None,
                };
                let r = stream(&mut tee);
                write_failed = tee.failed.take();
                r.map_err(Fill::Value)
            })
        }
        // A dry run: only compared.
        None => stream(&mut cmp).map_err(Fill::Value),
    };
    let write_error = match (res, write_failed) {
        (Ok(()), _) => None,
        (Err(Fill::Write(e)), _) => Some(describe_io(&e)),
        (Err(Fill::Value(_)), Some(why)) => Some(why),
        (Err(Fill::Value(e)), None) => return carry_over(ctx, item, e.to_string(), false),
    };
    if let (Some(why), Some(gen)) = (write_error, ctx.new_gen) {
        return Outcome {
            status: Status::Failed,
            error: Some(format!(
                "cannot write {}: {why}",
                gen.join(&item.rel).display()
            )),
            fatal: true,
            change: None,
            value: None,
            ownership: now_own,
            mode: now_mode,
            deferred: false,
        };
    }
    let mut change = cmp.finish(item.mode, own);
    if unknown_owner {
        change = change.owner_unknown();
    }
    Outcome {
        status: Status::Installed,
        error: None,
        fatal: false,
        change: Some(change),
        value: None,
        ownership: now_own,
        mode: now_mode,
        deferred: ctx.defer_owners,
    }
}

/// Why streaming a value into its file failed: the value (decryption), or the file.
enum Fill {
    Value(crate::Error),
    Write(io::Error),
}

impl From<io::Error> for Fill {
    fn from(e: io::Error) -> Self {
        Fill::Write(e)
    }
}

/// The new file and the comparison with the previous one, fed together. A failed write of the
/// file is remembered: the value's error that follows is then the file's.
struct Tee<'a> {
    file: &'a mut std::fs::File,
    cmp: &'a mut Comparison,
    failed: Option<String>,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.write(buf) {
            Ok(n) => {
                self.cmp.write_all(&buf[..n])?;
                Ok(n)
            }
            Err(e) => {
                self.failed = Some(describe_io(&e));
                Err(e)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
    if !keep_value {
        return carry_over_streamed(ctx, item, prev, err);
    }
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

/// `carry_over` of a value not needed later: the previous file copied as a stream, never held
/// whole (no more of it than its size when opened: its owner may grow it meanwhile).
fn carry_over_streamed(ctx: &Ctx<'_>, item: &ItemSpec, prev: &Path, err: String) -> Outcome {
    let mut out = Outcome {
        status: Status::Failed,
        error: Some(err),
        fatal: false,
        change: None,
        value: None,
        ownership: None,
        mode: item.mode,
        deferred: false,
    };
    let Ok((old, meta)) = fs::open_path(&prev.join(&item.rel), false) else {
        return out;
    };
    // The previous file exactly as it was: same bytes, mode, owner and group.
    let own = (!ctx.user_mode).then(|| Ownership {
        uid: meta.uid(),
        gid: meta.gid(),
    });
    let mode = meta.permissions().mode() & MODE_BITS;
    if let Some(gen) = ctx.new_gen {
        let copied = owned::create_owned_with(&gen.join(&item.rel), own, mode, false, |f| {
            fs::copy_wiped(std::io::Read::take(old, meta.len()), f).map(drop)
        });
        if let Err(e) = copied {
            out.error = Some(format!(
                "{}; and cannot carry over the previous value: {}",
                out.error.unwrap_or_default(),
                describe_io(&e)
            ));
            out.fatal = true;
            return out;
        }
    }
    Outcome {
        status: Status::CarriedOver,
        change: Some(Change::Unchanged),
        ownership: own,
        mode,
        ..out
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
