//! Generations: `<mp>/<N>` (main) and `<mp>/users.<N>` (users phase), the stable symlink that
//! names the current one, stale leftovers of crashed runs, the switch, retiring and pruning.
//! What a generation holds is recorded in its state file (`state`).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::genfs;
use super::manifest::{PhaseKind, Plan};
use super::modes::PARENT_DIR;
use super::report::Report;
use super::safedir::SafeDir;
use crate::error::{describe_io, Error, Result};
use crate::fs;

#[derive(Clone, Debug)]
pub struct Gen {
    /// 0 when the stable symlink points somewhere we did not create (an older layout).
    pub number: u64,
    pub path: PathBuf,
}

pub fn name(phase: PhaseKind, n: u64) -> String {
    match phase {
        PhaseKind::Main => n.to_string(),
        PhaseKind::Users => format!("users.{n}"),
    }
}

fn parse_name(phase: PhaseKind, s: &str) -> Option<u64> {
    let digits = match phase {
        PhaseKind::Main => s,
        PhaseKind::Users => s.strip_prefix("users.")?,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The generation the stable symlink points to now.
pub fn current(plan: &Plan, phase: PhaseKind) -> Result<Option<Gen>> {
    let stable = plan.stable_dir(phase);
    let meta = match std::fs::symlink_metadata(stable) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot inspect", stable, e)),
    };
    if !meta.file_type().is_symlink() {
        return Err(Error::new(format!(
            "{} is a {}, not the symlink the installer manages; it may hold secrets from \
             another tool. Move it away (e.g. mv {0} {0}.old) and run again",
            stable.display(),
            if meta.is_dir() { "directory" } else { "file" }
        )));
    }
    // Its directory may be sticky and writable by all (see `walk::trusted`): a link somebody
    // else made there before us is not ours to take for the current generation (its files
    // would be carried over as secrets).
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Err(Error::new(format!(
            "{} is a symlink owned by uid {}, not one the installer made; remove it and run \
             again",
            stable.display(),
            meta.uid()
        )));
    }
    let target = std::fs::read_link(stable).map_err(|e| Error::io("cannot read", stable, e))?;
    let target = if target.is_absolute() {
        target
    } else {
        fs::parent_dir(stable).join(target)
    };
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => {}
        _ => return Ok(None),
    }
    let number = if target.parent() == Some(plan.mount_point.as_path()) {
        target
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| parse_name(phase, n))
            .unwrap_or(0)
    } else {
        0
    };
    Ok(Some(Gen {
        number,
        path: target,
    }))
}

/// All generations of this phase under the mount point, oldest first.
pub fn list(plan: &Plan, phase: PhaseKind) -> Vec<Gen> {
    let mut out: Vec<Gen> = std::fs::read_dir(&plan.mount_point)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = parse_name(phase, e.file_name().to_str()?)?;
            Some(Gen {
                number: n,
                path: e.path(),
            })
        })
        .collect();
    out.sort_by_key(|g| g.number);
    out
}

/// Throw away a generation that will not be switched to (a failed or aborted phase).
pub fn discard(gen: &Gen) {
    let _ = genfs::remove(&gen.path);
}

/// Remove leftovers of a crashed run (generations newer than the current one, temp symlinks
/// next to the stable path), close off older generations a run killed right after its switch
/// left open, and create the next generation directory.
/// The new generation is its own RAM filesystem, root-only until `switch` (see `genfs`).
pub fn create_next(
    plan: &Plan,
    phase: PhaseKind,
    current: Option<&Gen>,
    report: &mut Report,
) -> Result<Gen> {
    let all = list(plan, phase);
    if let Some(cur) = current.filter(|c| c.number > 0) {
        for g in all.iter().filter(|g| g.number > cur.number) {
            genfs::remove(&g.path)
                .map_err(|e| Error::io("cannot remove stale generation", &g.path, e))?;
        }
    }
    // Now, not at this run's switch: this run may still abort before it.
    retire_all_but(plan, phase, current, report);
    remove_stale_temps(plan.stable_dir(phase));
    let base = current.map(|c| c.number).unwrap_or(0);
    let highest = list(plan, phase).last().map(|g| g.number).unwrap_or(0);
    let n = base.max(highest) + 1;
    let path = plan.mount_point.join(name(phase, n));
    genfs::create(plan, &path)?;
    Ok(Gen { number: n, path })
}

/// Remove our temp symlinks (see `SafeDir::remove_stale_temps`) next to the stable path,
/// left by a run that was killed between creating and renaming them. Its directory is one of
/// the installer's own; when it is missing or refused there is nothing to clean (the switch
/// reports why).
pub fn remove_stale_temps(stable: &Path) {
    let Some(name) = stable.file_name() else {
        return;
    };
    if let Ok(dir) = SafeDir::own(&fs::parent_dir(stable), None) {
        dir.remove_stale_temps(name, None);
    }
}

/// Seal `gen` (its size fixed, readers let in), point the stable symlink at it atomically and
/// at once close off the generation it replaces (before custom links and restarts, which
/// may take a while or fail).
pub fn switch(plan: &Plan, phase: PhaseKind, gen: &Gen, report: &mut Report) -> Result<()> {
    let stable = plan.stable_dir(phase);
    genfs::seal(plan, &gen.path)?;
    // Its directory is walked and made like the mount point's (see `walk`); the link is made
    // and renamed over the old one relative to that directory's descriptor.
    let dir = SafeDir::own(&fs::parent_dir(stable), Some(PARENT_DIR))?;
    let name = stable.file_name().unwrap_or_default();
    dir.symlink(&gen.path, name, None).map_err(|e| {
        Error::new(format!(
            "cannot switch {} to {}: {}",
            stable.display(),
            gen.path.display(),
            describe_io(&e)
        ))
    })?;
    retire_all_but(plan, phase, Some(gen), report);
    Ok(())
}

/// Close off (`genfs::retire`) every generation of `phase` but `current`. A failure is an
/// error of the run: whoever could read that generation before still can.
fn retire_all_but(plan: &Plan, phase: PhaseKind, current: Option<&Gen>, report: &mut Report) {
    for g in list(plan, phase) {
        if current.is_some_and(|c| c.path == g.path) {
            continue;
        }
        if let Err(e) = genfs::retire(plan, &g.path) {
            report.error(format!(
                "{e}; whoever could read it while it was current still can. Fix what stops \
                 root from changing its owner and mode (an immutable flag: chattr -i), or \
                 remove it"
            ));
        }
    }
}

/// Remove generations beyond the newest `keep` (the current one is always kept); those that
/// stay were closed off at the switch (see `retire_all_but`).
pub fn prune(plan: &Plan, phase: PhaseKind, current: &Gen) -> Vec<String> {
    let mut problems = Vec::new();
    let all = list(plan, phase);
    let keep = plan.keep_generations as usize;
    let older: Vec<&Gen> = all.iter().filter(|g| g.number != current.number).collect();
    let n_remove = older.len().saturating_sub(keep.saturating_sub(1));
    for (i, g) in older.iter().enumerate() {
        if i < n_remove {
            if let Err(e) = genfs::remove(&g.path) {
                problems.push(format!(
                    "cannot remove old generation {}: {}",
                    g.path.display(),
                    describe_io(&e)
                ));
            }
        }
    }
    problems
}
