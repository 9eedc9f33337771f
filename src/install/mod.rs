//! `secrets install --manifest FILE`: the activation-time installer. One process does what
//! agenix does in per-secret shell: mount a RAM filesystem, decrypt every secret once into a
//! new generation, switch the stable symlink atomically, link or copy custom paths, prune old
//! generations and ask systemd to restart units whose secrets changed.
//!
//! Modules, one job each: `manifest` (parse + validate), `check` (--check), `lock`, `mount`
//! (with `sysmount`), `generation` (numbering, switch, prune, state), `genfs` (a
//! generation's own RAM filesystem), `write` (one item into a generation),
//! `own` (user/group lookup), `links` (custom paths), `template`, `restart`, `report`.
//! The descriptor-relative primitives under them: `walk` (the one walk from `/`), `safedir`
//! (work relative to a walked directory), `owned` (files created owner-first).

pub mod check;
pub mod generation;
mod genfs;
pub mod links;
mod lock;
pub mod manifest;
pub mod mount;
pub mod own;
mod owned;
pub mod report;
pub mod restart;
mod safedir;
#[cfg(target_os = "linux")]
mod sysmount;
pub mod template;
mod walk;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};
use crate::fs::{self, SecretBytes, DIR_PRIVATE, DIR_SHARED};
use crate::identity::Identities;
use crate::par;

use generation::{Gen, State, StateItem};
use manifest::{Common, OnFailure, PhaseKind, Plan};
use report::{ItemSummary, PhaseSummary, Report};
use restart::Requests;
use write::{Change, Ctx, Outcome, Status};

pub use owned::Ownership;

#[derive(Args, Debug)]
#[command(after_help = "\
Exit codes: 0 everything installed; 1 a secret failed (others are installed, failed ones keep \
their previous value unless --fail-closed) or the manifest is invalid; 2 usage.")]
pub struct InstallArgs {
    /// The JSON manifest written by the NixOS module.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// users: only neededForUsers secrets (before users exist); main: everything else; all: both.
    #[arg(long, value_enum, default_value_t = PhaseArg::All)]
    pub phase: PhaseArg,
    /// Validate the manifest and the encrypted files only (build time); writes nothing.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// Decrypt in memory and print what would change; writes, mounts and restarts nothing.
    /// Also enabled by NIXOS_ACTION=dry-activate.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON summary on stdout (log lines stay on stderr).
    #[arg(long)]
    pub json: bool,
    /// Any failed secret aborts before the switch (same as onFailure = "abort").
    #[arg(long)]
    pub fail_closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    Users,
    Main,
    All,
}

pub fn run(args: &InstallArgs) -> Result<i32> {
    let plan = manifest::load(&args.manifest)?;
    let dry_run =
        args.dry_run || std::env::var_os("NIXOS_ACTION").is_some_and(|v| v == "dry-activate");
    let mut report = Report::new(dry_run);
    if args.check {
        check::run(&plan, &mut report);
        if !report.failed() {
            report.info(format!(
                "manifest {} is valid: {} secret(s), {} template(s)",
                args.manifest.display(),
                plan.secrets.len(),
                plan.templates.len()
            ));
        }
        return Ok(finish(report, args.json));
    }
    // What this OS cannot install (a tmpfs on macOS) fails here, before anything is touched;
    // --check above stays a portable validation of the manifest and the encrypted files.
    mount::supported(&plan)
        .map_err(|e| e.context(format!("manifest {}", args.manifest.display())))?;
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
        mount::check_user_backing(&plan, &mut report)?;
    }
    // From here to the end, mount included, one installer at a time: what is installed now
    // (read next) must not change under us.
    let _lock = lock::acquire(&plan, dry_run, &mut report)?;
    let mut phases: Vec<PhaseKind> = match args.phase {
        PhaseArg::Users => vec![PhaseKind::Users],
        PhaseArg::Main => vec![PhaseKind::Main],
        PhaseArg::All => vec![PhaseKind::Users, PhaseKind::Main],
    };
    // Without neededForUsers secrets the users phase is a no-op (nothing mounted either),
    // unless an earlier run installed some: then it runs to switch to an empty generation,
    // so the removed secrets disappear now (not at reboot) and their units restart.
    let has_users = plan.secrets.iter().any(|s| s.c.phase == PhaseKind::Users);
    let users_installed = std::fs::symlink_metadata(&plan.users_dir).is_ok();
    if !users_installed && !has_users {
        phases.retain(|p| *p != PhaseKind::Users);
    }
    // The NixOS module runs no users phase at all (systemd mode) once the last
    // neededForUsers secret is gone, so the main phase removes what is left of them.
    if args.phase == PhaseArg::Main && !has_users && users_secrets_left(&plan) {
        phases.insert(0, PhaseKind::Users);
    }
    // A user's installer has no users phase: on a NixOS host secretsDirForUsers may be the
    // system's root-owned link, which is not this user's to switch.
    if plan.user_mode {
        phases.retain(|p| *p != PhaseKind::Users);
    }
    // Likewise the main phase: a host without secrets (the module imported everywhere) mounts
    // nothing, while one whose last secret was just removed switches to an empty generation.
    let has_main =
        plan.secrets.iter().any(|s| s.c.phase == PhaseKind::Main) || !plan.templates.is_empty();
    if !has_main && std::fs::symlink_metadata(&plan.secrets_dir).is_err() {
        phases.retain(|p| *p != PhaseKind::Main);
    }
    if phases.is_empty() {
        report.info("no secrets to install and none installed before; nothing to do");
        return Ok(finish(report, args.json));
    }
    let abort = args.fail_closed || plan.on_failure == OnFailure::Abort;

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
    let needs_keys = plan.secrets.iter().any(|s| phases.contains(&s.c.phase))
        || plan.templates.iter().any(|t| phases.contains(&t.c.phase));
    if needs_keys && ids.is_empty() {
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

    if !dry_run {
        report.summary.mount = Some(mount::ensure(&plan, &mut report)?);
    }

    let mut across = Across::default();
    for phase in phases {
        if let Err(e) = run_phase(&plan, &ids, phase, dry_run, abort, &mut report, &mut across) {
            report.error(format!("{} phase: {e}", phase.as_str()));
        }
    }
    let mut requests = across.requests;
    requests.finish();
    restart::execute(
        &requests,
        plan.restart_mode,
        plan.user_mode,
        dry_run,
        &mut report,
    );
    report.summary.restart = requests.restart.iter().cloned().collect();
    report.summary.reload = requests.reload.iter().cloned().collect();
    Ok(finish(report, args.json))
}

/// Does the current users generation still hold anything?
fn users_secrets_left(plan: &Plan) -> bool {
    match generation::current(plan, PhaseKind::Users) {
        Ok(Some(g)) => match generation::read_state(&g) {
            Some(st) => !st.items.is_empty(),
            None => !generation::walk_files(&g.path).is_empty(),
        },
        _ => false,
    }
}

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

/// What phases pass on within one run.
#[derive(Default)]
struct Across {
    requests: Requests,
    /// Values (or decryption errors) of secrets one phase installs and a later phase's
    /// templates need (attr -> value): each file is decrypted once per run.
    handoff: BTreeMap<String, std::result::Result<SecretBytes, String>>,
}

struct Item<'a> {
    kind: &'static str,
    c: &'a Common,
    out: Outcome,
}

fn run_phase(
    plan: &Plan,
    ids: &Identities,
    phase: PhaseKind,
    dry_run: bool,
    abort: bool,
    report: &mut Report,
    across: &mut Across,
) -> Result<()> {
    let Across { requests, handoff } = across;
    let secrets: Vec<_> = plan.secrets.iter().filter(|s| s.c.phase == phase).collect();
    let templates: Vec<_> = plan
        .templates
        .iter()
        .filter(|t| t.c.phase == phase)
        .collect();
    let stable = plan.stable_dir(phase);
    let prev = if dry_run {
        // A dry run must not fail just because nothing was installed yet.
        generation::current(plan, phase).unwrap_or(None)
    } else {
        generation::current(plan, phase)?
    };
    let referenced: BTreeSet<&str> = templates
        .iter()
        .flat_map(|t| template::references(&t.segments))
        .collect();
    // Template inputs installed by the other phase: handed over when that phase ran in this
    // process, else decrypted here, in memory only.
    let extra: Vec<_> = plan
        .secrets
        .iter()
        .filter(|s| {
            s.c.phase != phase
                && referenced.contains(s.c.attr.as_str())
                && !handoff.contains_key(&s.c.attr)
        })
        .collect();
    // This phase's secrets that another phase's templates need.
    let wanted_later: BTreeSet<&str> = plan
        .templates
        .iter()
        .filter(|t| t.c.phase != phase)
        .flat_map(|t| template::references(&t.segments))
        .collect();

    let mut resolver = own::Resolver::default();
    let mut ownership = |c: &Common| -> std::result::Result<Option<Ownership>, String> {
        if plan.user_mode {
            Ok(None)
        } else {
            resolver.ownership(&c.owner, &c.group).map(Some)
        }
    };
    let sec_own: Vec<_> = secrets.iter().map(|s| ownership(&s.c)).collect();
    let tpl_own: Vec<_> = templates.iter().map(|t| ownership(&t.c)).collect();

    let new_gen: Option<Gen> = if dry_run {
        None
    } else {
        Some(generation::create_next(plan, phase, prev.as_ref(), report)?)
    };
    let dir_mode = if plan.user_mode {
        DIR_PRIVATE
    } else {
        DIR_SHARED
    };
    if let Some(g) = &new_gen {
        let rels = secrets
            .iter()
            .map(|s| s.c.rel.as_str())
            .chain(templates.iter().map(|t| t.c.rel.as_str()));
        for d in write::needed_dirs(rels) {
            let p = g.path.join(&d);
            if let Err(e) = owned::mkdir_mode(&p, dir_mode) {
                generation::discard(g);
                return Err(Error::io("cannot create directory", &p, e));
            }
        }
    }
    let ctx = Ctx {
        new_gen: new_gen.as_ref().map(|g| g.path.as_path()),
        prev_gen: prev.as_ref().map(|g| g.path.as_path()),
        user_mode: plan.user_mode,
    };

    let indexed: Vec<usize> = (0..secrets.len()).collect();
    // Secrets are independent: decrypt them on all cores (at most 8).
    let threads = par::cores().min(8);
    let sec_out: Vec<Outcome> = par::par_map(&indexed, threads, |&i| {
        let s = secrets[i];
        let keep = referenced.contains(s.c.attr.as_str())
            || wanted_later.contains(s.c.attr.as_str())
            || (s.c.custom_path.is_some() && !s.c.symlink);
        write::place(&ctx, &s.c, write::decrypt(s, ids), sec_own[i].clone(), keep)
    });
    let extra_values: Vec<std::result::Result<SecretBytes, String>> =
        par::par_map(&extra, threads, |s| write::decrypt(s, ids));

    // Template inputs: freshly decrypted values only (a carried-over secret means its
    // template is carried over too, so the two stay consistent).
    let mut values: BTreeMap<&str, &SecretBytes> = BTreeMap::new();
    for (s, o) in secrets.iter().zip(&sec_out) {
        if o.status == Status::Installed {
            if let Some(v) = &o.value {
                values.insert(&s.c.attr, v);
            }
        }
    }
    for (s, v) in extra.iter().zip(&extra_values) {
        if let Ok(v) = v {
            values.insert(&s.c.attr, v);
        }
    }
    for (a, v) in handoff.iter() {
        if let Ok(v) = v {
            values.insert(a, v);
        }
    }
    let mut tpl_out = Vec::new();
    for (t, own) in templates.iter().zip(tpl_own) {
        let rendered = template::render(&t.segments, |a| values.get(a).copied())
            .map_err(|a| format!("needs secret {a:?}, which could not be decrypted"));
        let keep = t.c.custom_path.is_some() && !t.c.symlink;
        tpl_out.push(write::place(&ctx, &t.c, rendered, own, keep));
    }
    drop(values);

    let mut items: Vec<Item> = secrets
        .iter()
        .zip(sec_out)
        .map(|(s, out)| Item {
            kind: "secret",
            c: &s.c,
            out,
        })
        .chain(templates.iter().zip(tpl_out).map(|(t, out)| Item {
            kind: "template",
            c: &t.c,
            out,
        }))
        .collect();

    for it in items
        .iter()
        .filter(|i| wanted_later.contains(i.c.attr.as_str()))
    {
        // Only a fresh value: a carried-over one is not what the secret's file holds now.
        let v = match (&it.out.value, it.out.status) {
            (Some(v), Status::Installed) => Ok(v.clone()),
            _ => Err(it.out.error.clone().unwrap_or_default()),
        };
        handoff.insert(it.c.attr.clone(), v);
    }

    let fatal = items
        .iter()
        .find(|i| i.out.fatal)
        .map(|i| i.out.error.clone().unwrap_or_default());
    let any_failed = items.iter().any(|i| i.out.status != Status::Installed);
    let mut phase_sum = PhaseSummary {
        phase: phase.as_str(),
        generation: new_gen.as_ref().map(|g| g.number),
        previous: prev.as_ref().map(|g| g.number),
        path: new_gen.as_ref().map(|g| g.path.display().to_string()),
        switched: false,
        aborted: false,
    };

    for it in &items {
        if let Some(e) = &it.out.error {
            let tail = match it.out.status {
                Status::CarriedOver if dry_run => "; the previous value would be kept",
                Status::CarriedOver => "; keeping the previous value",
                _ if it.out.fatal => "",
                _ => "; not installed (there is no previous value)",
            };
            // Templates are labelled "template NAME" already.
            let what = match it.c.is_template {
                true => write::label(it.c),
                false => format!("secret {}", write::label(it.c)),
            };
            report.error(format!("{what}: {e}{tail}"));
        }
    }

    if fatal.is_some() || (abort && any_failed && !dry_run) {
        if let Some(g) = &new_gen {
            generation::discard(g);
        }
        let why = match &fatal {
            Some(e) => genfs::write_failed(e, new_gen.as_ref().map(|g| g.path.as_path())),
            None => {
                "a secret failed and failures are fatal (--fail-closed / onFailure = \"abort\")"
                    .into()
            }
        };
        let keep = match &prev {
            Some(p) => format!("{} still points to {}", stable.display(), p.path.display()),
            None => format!("{} was not created", stable.display()),
        };
        report.error(format!("{} phase aborted: {why}; {keep}", phase.as_str()));
        phase_sum.aborted = true;
        phase_sum.generation = None;
        phase_sum.path = None;
        report.summary.phases.push(phase_sum);
        push_items(report, plan, phase, &items, &[]);
        return Ok(());
    }

    // What disappeared since the previous generation.
    let new_rels: BTreeSet<&str> = items.iter().map(|i| i.c.rel.as_str()).collect();
    let prev_state = prev.as_ref().and_then(generation::read_state);
    let removed: Vec<StateItem> = match (&prev, &prev_state) {
        (None, _) => Vec::new(),
        (Some(_), Some(st)) => st
            .items
            .iter()
            .filter(|i| !new_rels.contains(i.rel.as_str()))
            .cloned()
            .collect(),
        (Some(p), None) => generation::walk_files(&p.path)
            .into_iter()
            .filter(|r| !new_rels.contains(r.as_str()))
            .map(|rel| StateItem {
                kind: "secret".into(),
                attr: rel.clone(),
                rel,
                path: None,
                symlink: true,
                restart_units: Vec::new(),
                reload_units: Vec::new(),
            })
            .collect(),
    };

    let (add, modify, remove) = if dry_run {
        ("would add", "would modify", "would remove")
    } else {
        ("adding", "modifying", "removing")
    };
    for it in &items {
        match &it.out.change {
            Some(Change::Added) if it.out.status == Status::Installed => {
                report.info(format!("{add} {}", write::label(it.c)))
            }
            Some(Change::Modified(what)) => report.info(format!(
                "{modify} {} ({})",
                write::label(it.c),
                what.join(", ")
            )),
            _ => {}
        }
    }
    for r in &removed {
        let what = match r
            .rel
            .strip_prefix("rendered/")
            .filter(|_| r.kind == "template")
        {
            Some(n) => format!("template {n}"),
            None => r.rel.clone(),
        };
        report.info(format!("{remove} {what}"));
    }

    if let Some(g) = &new_gen {
        let state = State {
            version: 1,
            items: items
                .iter()
                .map(|i| StateItem {
                    kind: i.kind.into(),
                    attr: i.c.attr.clone(),
                    rel: i.c.rel.clone(),
                    path: i.c.custom_path.clone(),
                    symlink: i.c.symlink,
                    restart_units: i.c.restart_units.clone(),
                    reload_units: i.c.reload_units.clone(),
                })
                .collect(),
        };
        let root = (!plan.user_mode).then_some(Ownership { uid: 0, gid: 0 });
        if let Err(e) = generation::write_state(g, &state, root) {
            generation::discard(g);
            return Err(e.context(format!("{} phase aborted", phase.as_str())));
        }
        generation::switch(plan, phase, g, report)?;
        phase_sum.switched = true;

        let mut link_errors = Vec::new();
        for it in items.iter_mut() {
            let Some(dest) = &it.c.custom_path else {
                continue;
            };
            if it.out.status == Status::Failed {
                continue;
            }
            let res = links::install(
                it.c,
                stable,
                dest,
                it.out.value.as_deref().map(|v| &v[..]),
                it.out.ownership,
                it.out.mode,
                report,
            );
            // Values were only kept for copies and templates; drop them as soon as possible.
            it.out.value = None;
            if let Err(e) = res {
                link_errors.push(e);
            }
        }
        for e in link_errors {
            report.error(e);
        }
        if let Some(p) = &prev {
            for r in &removed {
                links::remove_old(r, stable, &p.path, report);
            }
        }
        for p in generation::prune(plan, phase, g) {
            report.warn(p);
        }
    }

    // Restarts: only relative to a previous generation (first boot starts units anyway).
    if prev.is_some() {
        for it in &items {
            if matches!(
                it.out.change,
                Some(Change::Added) | Some(Change::Modified(_))
            ) && it.out.status == Status::Installed
            {
                requests.add(&it.c.restart_units, &it.c.reload_units);
            }
        }
        for r in &removed {
            requests.add(&r.restart_units, &r.reload_units);
        }
    }
    report.summary.phases.push(phase_sum);
    push_items(report, plan, phase, &items, &removed);
    Ok(())
}

fn push_items(
    report: &mut Report,
    plan: &Plan,
    phase: PhaseKind,
    items: &[Item],
    removed: &[StateItem],
) {
    for it in items {
        let path =
            it.c.custom_path
                .clone()
                .unwrap_or_else(|| plan.stable_dir(it.c.phase).join(&it.c.rel));
        report.summary.items.push(ItemSummary {
            kind: it.kind,
            name: it.c.name.clone(),
            phase: it.c.phase.as_str(),
            status: it.out.status.as_str(),
            change: it.out.change.as_ref().map(Change::as_str),
            changed: match &it.out.change {
                Some(Change::Modified(w)) => w.clone(),
                _ => Vec::new(),
            },
            path: path.display().to_string(),
            error: it.out.error.clone(),
        });
    }
    for r in removed {
        report.summary.items.push(ItemSummary {
            kind: if r.kind == "template" {
                "template"
            } else {
                "secret"
            },
            name: r
                .rel
                .strip_prefix("rendered/")
                .filter(|_| r.kind == "template")
                .unwrap_or(&r.rel)
                .to_string(),
            phase: phase.as_str(),
            status: "removed",
            change: Some("removed"),
            changed: Vec::new(),
            path: r
                .path
                .clone()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            error: None,
        });
    }
}
