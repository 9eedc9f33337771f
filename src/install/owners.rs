//! `--phase owners`: the second half of agenix's agenixInstall/agenixChown split. The main
//! phase run with `--defer-owners` (before the `users` activation script) wrote every file
//! root's with its interim mode and recorded, per item in the generation's state file, the
//! owner, group and mode it is for, and left its restarts in a file next to the install lock.
//! Run once users and groups exist, this step gives each such file (and its copy or link at a
//! custom path) its owner, group and final mode, in the current generation, then does the
//! restarts. An owner or group that still does not exist is an error naming the item, the
//! owner and the fix; that file stays (or is put back) root's with its interim mode.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::generation::{self, Gen};
use super::links;
use super::manifest::{ItemKind, PhaseKind, Plan, Principal};
use super::modes::{interim_mode, PARENT_DIR};
use super::own::Resolver;
use super::owned::Ownership;
use super::report::Report;
use super::restart::Requests;
use super::safedir::SafeDir;
use super::state::{self, Pending, StateItem};
use crate::error::{describe_io, Error, Result};
use crate::fs::at::{cvt, fstat, is_type};
use crate::fs::{parent_dir, read_secret_nofollow};

const ROOT: Ownership = Ownership { uid: 0, gid: 0 };

/// Apply what the current main generation's state file leaves pending; returns the restarts
/// the deferred install left for this step.
pub fn run(plan: &Plan, dry_run: bool, report: &mut Report) -> Requests {
    let requests = take_restarts(plan, dry_run, report);
    let gen = match generation::current(plan, PhaseKind::Main) {
        Ok(Some(g)) => g,
        Ok(None) => {
            report.info("no secrets installed; no owners to apply");
            return requests;
        }
        Err(e) => {
            report.error(format!("owners phase: {e}"));
            return requests;
        }
    };
    // A generation another tool wrote (no state file) has nothing pending.
    let items = state::read(&gen).map(|s| s.items).unwrap_or_default();
    let mut resolver = Resolver::default();
    let stable = plan.stable_dir(PhaseKind::Main);
    for item in &items {
        if let Some(p) = &item.pending {
            apply(&gen, stable, item, p, &mut resolver, dry_run, report);
        }
    }
    requests
}

fn label(item: &StateItem) -> String {
    match item.template_name() {
        Some(n) => format!("template {n}"),
        None if item.kind() == ItemKind::Template => format!("template {}", item.attr),
        None => format!("secret {}", item.rel),
    }
}

/// Give one item its owner, group and mode (or, when they cannot be had, root and the
/// interim mode, and say why).
fn apply(
    gen: &Gen,
    stable: &Path,
    item: &StateItem,
    p: &Pending,
    resolver: &mut Resolver,
    dry_run: bool,
    report: &mut Report,
) {
    let what = label(item);
    let resolved = Principal::parse(&p.owner, "owner", &what)
        .and_then(|o| Ok((o, Principal::parse(&p.group, "group", &what)?)))
        .and_then(|(o, g)| resolver.ownership(&o, &g));
    let (own, mode) = match &resolved {
        Ok(o) => (*o, p.mode),
        Err(_) => (ROOT, interim_mode(p.mode)),
    };
    if dry_run {
        report.info(format!(
            "would give {what} to {}:{} with mode {:04o}",
            p.owner, p.group, p.mode
        ));
        return;
    }
    let file = gen.path.join(&item.rel);
    if let Err(e) = set_in_generation(&file, own, mode) {
        report.error(format!(
            "{what}: cannot give {} owner {}:{} and mode {:04o}: {e}; it stays root's, readable \
             by root only",
            file.display(),
            p.owner,
            p.group,
            p.mode
        ));
        return;
    }
    if let Some(dest) = &item.path {
        if let Err(e) = relink(item, stable, &file, dest, own, mode, report) {
            report.error(format!("{what}: {e}"));
        }
    }
    if let Err(e) = resolved {
        report.error(format!(
            "{what}: its owner and group ({}:{}) were not applied: {}. It stays owned by \
             root:root with mode {mode:04o} (nobody else can read it); declare the user and \
             group (users.users.<name>, users.groups.<name>) or use numeric ids, then activate \
             again",
            p.owner,
            p.group,
            e.message()
        ));
    }
}

/// chown and chmod one file of the generation through a descriptor of it: opened without
/// following a link, and only a regular file with no other name.
fn set_in_generation(file: &Path, own: Ownership, mode: u32) -> Result<()> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(Error::new(format!("{}: not a file path", file.display())));
    };
    let dir = SafeDir::own(dir, None)?;
    let io = |e: std::io::Error| Error::new(describe_io(&e));
    let fd = dir
        .open_at(
            name,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0,
        )
        .map_err(io)?;
    let st = fstat(&fd).map_err(io)?;
    if !is_type(&st, libc::S_IFREG) || st.st_nlink != 1 {
        return Err(Error::new(
            "it is not the regular file the installer wrote (left alone)",
        ));
    }
    // SAFETY: a descriptor we own.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), own.uid, own.gid) }).map_err(io)?;
    // After chown, which clears set-id bits: the final mode is the last word.
    // SAFETY: as above.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) }).map_err(io)
}

/// The link or copy at a custom path, made again with the owner (a copy: with the mode too)
/// it was waiting for: the same atomic, descriptor-relative replacement the install uses.
fn relink(
    item: &StateItem,
    stable: &Path,
    file: &Path,
    dest: &Path,
    own: Ownership,
    mode: u32,
    report: &mut Report,
) -> Result<()> {
    let d = links::Dest {
        attr: &item.attr,
        rel: &item.rel,
        symlink: item.symlink,
    };
    if item.symlink {
        return links::install(&d, stable, dest, None, Some(own), mode, report);
    }
    let (value, _) = read_secret_nofollow(file).map_err(|e| Error::io("cannot read", file, e))?;
    links::install(&d, stable, dest, Some(&value), Some(own), mode, report)
}

/// The restarts a deferred install left for this step.
#[derive(Serialize, Deserialize, Default)]
struct Left {
    restart: BTreeSet<String>,
    reload: BTreeSet<String>,
}

fn read_left(dir: &SafeDir, name: &std::ffi::OsStr) -> Option<Left> {
    let (data, meta) = dir.read_file(name, 1 << 20).ok()?;
    use std::os::unix::fs::MetadataExt;
    // Only a file the installer made (root's, nobody else may write it) names units.
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return None;
    }
    serde_json::from_slice(&data).ok()
}

/// `--defer-owners`: leave this run's restarts to `--phase owners` (added to any an earlier
/// run left, when its owners step never ran): a unit restarted now would start before its
/// secret is readable by it.
pub fn defer_restarts(plan: &Plan, requests: &Requests, report: &mut Report) {
    let path = plan.restarts_path();
    let res = SafeDir::own(&parent_dir(&path), Some(PARENT_DIR)).and_then(|dir| {
        let name = path.file_name().unwrap_or_default();
        let mut left = read_left(&dir, name).unwrap_or_default();
        left.restart.extend(requests.restart.iter().cloned());
        left.reload.extend(requests.reload.iter().cloned());
        let data = serde_json::to_vec(&left).expect("restarts serialize");
        dir.copy(name, &data, None, 0o600)
            .map(drop)
            .map_err(|e| Error::io("cannot write", &path, e))
    });
    match res {
        Ok(()) if !requests.is_empty() => report.info(format!(
            "restarts left for the owners step (--phase owners) in {}",
            path.display()
        )),
        Ok(()) => {}
        Err(e) => report.error(format!(
            "{e}; the units of changed secrets will not be restarted by the owners step"
        )),
    }
}

/// The restarts left by a deferred install, taken (the file removed) unless `dry_run`.
fn take_restarts(plan: &Plan, dry_run: bool, report: &mut Report) -> Requests {
    let path = plan.restarts_path();
    let name = path.file_name().unwrap_or_default();
    let Ok(dir) = SafeDir::own(&parent_dir(&path), None) else {
        return Requests::default();
    };
    let left = read_left(&dir, name).unwrap_or_default();
    if !dry_run {
        if let Err(e) = dir.remove(name) {
            if e.kind() != std::io::ErrorKind::NotFound {
                report.warn(format!(
                    "cannot remove {}: {}",
                    path.display(),
                    describe_io(&e)
                ));
            }
        }
    }
    Requests {
        restart: left.restart,
        reload: left.reload,
    }
}
