//! `secrets install --manifest FILE`: the activation-time installer. One process does what
//! agenix does in per-secret shell: mount a RAM filesystem, decrypt every secret once into a
//! new generation, switch the stable symlink atomically, link or copy custom paths, prune old
//! generations and ask systemd to restart units whose secrets changed.
//!
//! A run, as named steps (`run`): load the manifest (`manifest`: parse, validate); with
//! --check only `buildcheck`; else prepare the process, take the `lock`, plan the phases
//! (`phases`), load the identities, `mount`, then per phase (`phase`): create the generation
//! (`generation`, on its own RAM filesystem: `genfs`), decrypt (`decrypt`), render
//! (`template`), write (`write`, with `compare` for what changed), commit (`commit`: the
//! `state` file, the switch, `links`, pruning); then `restart` and the `report`. With
//! --defer-owners the main phase writes its files root's and `owners` (`--phase owners`, once
//! users exist) gives them their owners and does the restarts.
//! `modes` is the one place for file and directory modes; `own` looks up users and groups;
//! The descriptor-relative primitives under them: `walk` (the one walk from `/`), `safedir`
//! (work relative to a walked directory), `owned` (files created owner-first), `sysmount`
//! (the mount calls).

mod buildcheck;
mod commit;
mod compare;
mod decrypt;
mod documents;
mod generation;
mod genfs;
mod links;
mod lock;
pub mod manifest;
mod modes;
mod mount;
mod own;
mod owned;
mod owners;
mod phase;
mod phases;
mod report;
mod restart;
mod safedir;
mod state;
#[cfg(target_os = "linux")]
mod sysmount;
pub mod template;
mod walk;
mod write;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs;
use crate::keys::Identities;

use manifest::{OnFailure, PhaseKind, Plan};
use report::Report;
use restart::Requests;

/// What `secrets install` is asked to do: the command line's flags, without the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The JSON manifest written by the NixOS module.
    pub manifest: PathBuf,
    pub phase: PhaseChoice,
    /// Validate the manifest and the encrypted files only; write nothing.
    pub check: bool,
    /// Decrypt in memory and say what would change; write, mount and restart nothing.
    pub dry_run: bool,
    /// A JSON summary on stdout.
    pub json: bool,
    /// Any failed secret aborts before the switch.
    pub fail_closed: bool,
    /// The main phase writes its files root's and leaves owners, groups, modes and restarts
    /// to a later run with `PhaseChoice::Owners`.
    pub defer_owners: bool,
}

/// Which phases to run: users (neededForUsers secrets, before users exist), main, or both;
/// or the owners step that follows a main phase run with `defer_owners`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseChoice {
    Users,
    Main,
    All,
    Owners,
}

pub fn run(opts: &Options) -> Result<i32> {
    let dry_run =
        opts.dry_run || std::env::var_os("NIXOS_ACTION").is_some_and(|v| v == "dry-activate");
    let mut report = Report::new(dry_run);
    if opts.check {
        build_check(
            manifest::check_file(&opts.manifest),
            &opts.manifest,
            &mut report,
        );
        return Ok(finish(report, opts.json));
    }
    let plan = manifest::load(&opts.manifest)?;
    prepare(&plan, &opts.manifest, dry_run, &mut report)?;
    // From here to the end, mount included, one installer at a time: what is installed now
    // (read next) must not change under us.
    let _lock = lock::acquire(&plan, dry_run, &mut report)?;
    if opts.phase == PhaseChoice::Owners {
        let requests = owners::run(&plan, dry_run, &mut report);
        restart(&plan, requests, dry_run, &mut report);
        return Ok(finish(report, opts.json));
    }
    let phases = phases::to_run(&plan, opts.phase);
    if phases.is_empty() {
        report.info("no secrets to install and none installed before; nothing to do");
        return Ok(finish(report, opts.json));
    }
    let abort = opts.fail_closed || plan.on_failure == OnFailure::Abort;
    let ids = identities(&plan, &phases, &mut report)?;
    if !dry_run {
        report.summary.mount = Some(mount::ensure(&plan, &mut report)?);
    }
    let run = phase::Run {
        plan: &plan,
        ids: &ids,
        dry_run,
        abort,
        // A user's files are all the user's: there are no owners to wait for.
        defer_owners: opts.defer_owners && !plan.user_mode,
    };
    let mut across = phase::Across::default();
    for phase in phases {
        if let Err(e) = phase::run(&run, phase, &mut report, &mut across) {
            report.error(format!("{} phase: {e}", phase.as_str()));
        }
    }
    if across.deferred {
        // Its units would start before their secrets are theirs: the owners step restarts.
        owners::defer_restarts(&plan, &across.requests, &mut report);
    } else {
        restart(&plan, across.requests, dry_run, &mut report);
    }
    Ok(finish(report, opts.json))
}

/// `--check`: every error of the manifest, and the encrypted files of the items that
/// validated, nothing else; each error on its own line, then how many there are (a build log
/// shows them all at once, not one per rebuild).
fn build_check(checked: manifest::Checked, manifest: &Path, report: &mut Report) {
    for e in &checked.errors {
        report.error(e.message());
    }
    if let Some(plan) = &checked.plan {
        buildcheck::run(plan, &checked.files, report);
    }
    let n = report.summary.errors.len();
    match &checked.plan {
        Some(plan) if n == 0 => report.info(format!(
            "manifest {} is valid: {} secret(s), {} template(s)",
            manifest.display(),
            plan.secrets.len(),
            plan.templates.len()
        )),
        _ => report.info(format!(
            "manifest {} is invalid: {n} error(s), each on a line above",
            manifest.display()
        )),
    }
}

/// Refuse what cannot work before anything is touched, and make the process safe to handle
/// secrets in.
fn prepare(plan: &Plan, manifest: &Path, dry_run: bool, report: &mut Report) -> Result<()> {
    // What this OS cannot install (a tmpfs on macOS) fails here, before anything is touched;
    // --check above stays a portable validation of the manifest and the encrypted files.
    mount::supported(plan).map_err(|e| e.context(format!("manifest {}", manifest.display())))?;
    fs::harden_process();
    // Everything we create gets an explicit mode; a restrictive umask covers the rest.
    fs::set_umask(0o077);
    // SAFETY: geteuid has no preconditions.
    if !plan.user_mode && !dry_run && unsafe { libc::geteuid() } != 0 {
        return Err(Error::new(
            "secrets install must run as root (it mounts a tmpfs and sets owners); for \
             home-manager set userMode = true in the manifest",
        ));
    }
    if plan.user_mode && !dry_run {
        // Before the lock file is created next to the mount point.
        mount::check_user_backing(plan, report)?;
    }
    Ok(())
}

/// The identities to decrypt with (plugins found on pluginPath); an error when the phases
/// have something to decrypt and no identity is usable.
fn identities(plan: &Plan, phases: &[PhaseKind], report: &mut Report) -> Result<Identities> {
    if !plan.plugin_path.is_empty() {
        // The age crate looks plugins up on $PATH when a plugin identity is used. Appended,
        // so that nothing in a plugin package shadows a system program (systemctl). Set while
        // this process is still single-threaded (workers start later).
        let mut dirs: Vec<PathBuf> =
            std::env::var_os("PATH").map_or_else(Vec::new, |p| std::env::split_paths(&p).collect());
        dirs.extend(plan.plugin_path.iter().cloned());
        if let Ok(path) = std::env::join_paths(dirs) {
            std::env::set_var("PATH", path);
        }
    }
    let ids = Identities::load_reporting(&plan.identity_paths, |w| report.warn(w));
    if phases::need_keys(plan, phases) && ids.is_empty() {
        let tried: Vec<String> = plan
            .identity_paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::new(format!(
            "no usable identity to decrypt with (tried {}); nothing was installed and the \
             current secrets stay in place. Check identityPaths (age.identityPaths)",
            if tried.is_empty() {
                "none".to_string()
            } else {
                tried.join(", ")
            }
        )));
    }
    if !ids.is_empty() {
        report.info(format!("decrypting with {}", ids.describe()));
    }
    report.summary.identities = ids.labels();
    Ok(ids)
}

/// Restart and reload what the phases asked for.
fn restart(plan: &Plan, mut requests: Requests, dry_run: bool, report: &mut Report) {
    requests.finish();
    restart::execute(
        &requests,
        plan.restart_mode,
        plan.user_mode,
        dry_run,
        report,
    );
    report.summary.restart = requests.restart.iter().cloned().collect();
    report.summary.reload = requests.reload.iter().cloned().collect();
}

/// The last line on failure, the `--json` summary, and the exit code.
fn finish(mut report: Report, json: bool) -> i32 {
    report.summary.ok = !report.failed();
    if report.failed() {
        eprintln!(
            "secrets install: {} problem(s); see the errors above",
            report.summary.errors.len()
        );
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.summary).expect("summary serializes")
        );
    }
    if report.failed() {
        crate::error::EXIT_ERROR
    } else {
        crate::error::EXIT_OK
    }
}
