//! One phase (users or main), as named steps: look at the current generation, resolve
//! owners, create the next generation, decrypt and write the secrets, render and write the
//! templates, hand values on to the next phase, report, then either abort (the current
//! generation stays) or commit (`commit`), and note the units to restart.

use std::collections::{BTreeMap, BTreeSet};

use super::owned::{self, Ownership};
use crate::error::{Error, Result};
use crate::fs::SecretBytes;
use crate::keys::Identities;
use crate::par;

use super::commit;
use super::compare::Change;
use super::decrypt;
use super::documents::Documents;
use super::generation::{self, Gen};
use super::genfs;
use super::manifest::{ItemKind, ItemSpec, PhaseKind, Plan};
use super::modes;
use super::own;
use super::phases::{Handoff, PhaseItems};
use super::report::{ItemSummary, PhaseSummary, Report};
use super::restart::Requests;
use super::state::{self, StateItem};
use super::template;
use super::write::{self, Ctx, Outcome, Placed, Status};

/// What every phase of a run shares.
pub struct Run<'a> {
    pub plan: &'a Plan,
    pub ids: &'a Identities,
    pub dry_run: bool,
    /// Any failed item aborts the phase (--fail-closed, onFailure = "abort").
    pub abort: bool,
    /// --defer-owners: the main phase writes its files root's, for `--phase owners`.
    pub defer_owners: bool,
}

/// What phases pass on within one run.
#[derive(Default)]
pub struct Across {
    pub requests: Requests,
    pub handoff: Handoff,
    /// Structured documents, each decrypted once per run.
    pub documents: Documents,
    /// A generation whose owners wait for `--phase owners` was switched to.
    pub deferred: bool,
}

/// An item's owner and group, or why they cannot be had; None in user mode.
type Owners = Result<Option<Ownership>>;

pub fn run(run: &Run, phase: PhaseKind, report: &mut Report, across: &mut Across) -> Result<()> {
    let work = PhaseItems::new(run.plan, phase, &across.handoff);
    let prev = current(run, phase)?;
    let (sec_own, tpl_own) = owners(run.plan, &work);
    let new_gen = next_generation(run, phase, prev.as_ref(), &work, report)?;
    let ctx = Ctx {
        new_gen: new_gen.as_ref().map(|g| g.path.as_path()),
        prev_gen: prev.as_ref().map(|g| g.path.as_path()),
        user_mode: run.plan.user_mode,
        defer_owners: run.defer_owners && phase == PhaseKind::Main,
    };
    across
        .documents
        .load(work.secrets.iter().chain(&work.extra).copied(), run.ids);
    let docs = &across.documents;
    let sec_out = write_secrets(run, &ctx, &work, &sec_own, docs);
    let tpl_out = render_templates(run, &ctx, &work, &sec_out, tpl_own, &across.handoff, docs);
    let mut items = placed(&work, sec_out, tpl_out);
    hand_over(&items, &work.wanted_later, &mut across.handoff);
    report_failures(&items, run.dry_run, report);

    let mut summary = PhaseSummary {
        phase: phase.as_str(),
        generation: new_gen.as_ref().map(|g| g.number),
        previous: prev.as_ref().map(|g| g.number),
        path: new_gen.as_ref().map(|g| g.path.display().to_string()),
        switched: false,
        aborted: false,
    };
    if aborts(run, &items) {
        abort(run, phase, &items, new_gen.as_ref(), prev.as_ref(), report);
        summary.aborted = true;
        summary.generation = None;
        summary.path = None;
        report.summary.phases.push(summary);
        summarize(report, run.plan, phase, &items, &[]);
        return Ok(());
    }

    let new_rels: BTreeSet<&str> = items.iter().map(|i| i.spec.rel.as_str()).collect();
    let removed = state::removed_since(prev.as_ref(), &new_rels);
    report_changes(&items, &removed, run.dry_run, report);
    if let Some(g) = &new_gen {
        commit::commit(
            run.plan,
            phase,
            g,
            prev.as_ref(),
            &mut items,
            &removed,
            report,
        )?;
        summary.switched = true;
        across.deferred |= ctx.defer_owners;
    }
    // Restarts: only relative to a previous generation (first boot starts units anyway).
    if prev.is_some() {
        request_restarts(&items, &removed, &mut across.requests);
    }
    report.summary.phases.push(summary);
    summarize(report, run.plan, phase, &items, &removed);
    Ok(())
}

/// The generation installed now, if any.
fn current(run: &Run, phase: PhaseKind) -> Result<Option<Gen>> {
    if run.dry_run {
        // A dry run must not fail just because nothing was installed yet.
        Ok(generation::current(run.plan, phase).unwrap_or(None))
    } else {
        generation::current(run.plan, phase)
    }
}

/// Owners and groups of the phase's secrets and templates, each name looked up once.
fn owners(plan: &Plan, work: &PhaseItems) -> (Vec<Owners>, Vec<Owners>) {
    let mut resolver = own::Resolver::default();
    let mut ownership = |item: &ItemSpec| -> Owners {
        if plan.user_mode {
            Ok(None)
        } else {
            resolver.ownership(&item.owner, &item.group).map(Some)
        }
    };
    let sec_own = work.secrets.iter().map(|s| ownership(&s.item)).collect();
    let tpl_own = work.templates.iter().map(|t| ownership(&t.item)).collect();
    (sec_own, tpl_own)
}

/// The generation this phase writes, with the directories its items need; none in a dry run.
fn next_generation(
    run: &Run,
    phase: PhaseKind,
    prev: Option<&Gen>,
    work: &PhaseItems,
    report: &mut Report,
) -> Result<Option<Gen>> {
    if run.dry_run {
        return Ok(None);
    }
    let g = generation::create_next(run.plan, phase, prev, report)?;
    let rels = work
        .secrets
        .iter()
        .map(|s| s.item.rel.as_str())
        .chain(work.templates.iter().map(|t| t.item.rel.as_str()));
    let dir_mode = modes::subdir_mode(run.plan.user_mode);
    for d in write::needed_dirs(rels) {
        let p = g.path.join(&d);
        if let Err(e) = owned::mkdir_mode(&p, dir_mode) {
            generation::discard(&g);
            return Err(Error::io("cannot create directory", &p, e));
        }
    }
    Ok(Some(g))
}

/// Decrypt each secret and write it (or carry over its previous value), in parallel. A value
/// no template or copy needs, and that is a whole file (not one key of a document), is
/// decrypted straight into its file, in constant memory; the others are held whole (at most
/// `fs::value_limit()` bytes; a document is decrypted once, see `Documents`).
fn write_secrets(
    run: &Run,
    ctx: &Ctx,
    work: &PhaseItems,
    owners: &[Owners],
    docs: &Documents,
) -> Vec<Outcome> {
    let indexed: Vec<usize> = (0..work.secrets.len()).collect();
    par::par_map(&indexed, decrypt::threads(), |&i| {
        let s = work.secrets[i];
        let keeps = work.keeps_value(s);
        if keeps || s.is_structured() {
            let value = docs.value(s, run.ids);
            return write::place(ctx, &s.item, value, owners[i].clone(), keeps);
        }
        let stream = |out: &mut dyn std::io::Write| {
            // Only the writer's own error reaches here; `place_streamed` words it.
            let write_err = |e: std::io::Error| Error::new(e.to_string());
            decrypt::decrypt_to(s, run.ids, out, &write_err).map(drop)
        };
        write::place_streamed(ctx, &s.item, stream, owners[i].clone())
    })
}

/// Render each template from the freshly decrypted values and write it.
fn render_templates(
    run: &Run,
    ctx: &Ctx,
    work: &PhaseItems,
    sec_out: &[Outcome],
    owners: Vec<Owners>,
    handoff: &Handoff,
    docs: &Documents,
) -> Vec<Outcome> {
    let extra_values = docs.values(&work.extra, run.ids);
    let values = template_inputs(work, sec_out, &extra_values, handoff);
    work.templates
        .iter()
        .zip(owners)
        .map(|(t, own)| {
            let rendered = template::render(&t.segments, |a| values.get(a).copied());
            let keep = t.item.custom_path.is_some() && !t.item.symlink;
            write::place(ctx, &t.item, rendered, own, keep)
        })
        .collect()
}

/// Template inputs: freshly decrypted values only (a carried-over secret means its template
/// is carried over too, so the two stay consistent).
fn template_inputs<'v>(
    work: &'v PhaseItems,
    sec_out: &'v [Outcome],
    extra_values: &'v [Result<SecretBytes>],
    handoff: &'v Handoff,
) -> BTreeMap<&'v str, &'v SecretBytes> {
    let mut values: BTreeMap<&str, &SecretBytes> = BTreeMap::new();
    for (s, o) in work.secrets.iter().zip(sec_out) {
        if o.status == Status::Installed {
            if let Some(v) = &o.value {
                values.insert(&s.item.attr, v);
            }
        }
    }
    for (s, v) in work.extra.iter().zip(extra_values) {
        if let Ok(v) = v {
            values.insert(&s.item.attr, v);
        }
    }
    for (a, v) in handoff.iter() {
        if let Ok(v) = v {
            values.insert(a, v);
        }
    }
    values
}

fn placed<'a>(
    work: &PhaseItems<'a>,
    sec_out: Vec<Outcome>,
    tpl_out: Vec<Outcome>,
) -> Vec<Placed<'a>> {
    let secrets = work.secrets.iter().map(|s| &s.item).zip(sec_out);
    let templates = work.templates.iter().map(|t| &t.item).zip(tpl_out);
    secrets
        .chain(templates)
        .map(|(spec, out)| Placed { spec, out })
        .collect()
}

/// Values a later phase's templates need, for `Across::handoff`.
fn hand_over(items: &[Placed], wanted_later: &BTreeSet<&str>, handoff: &mut Handoff) {
    for it in items
        .iter()
        .filter(|i| wanted_later.contains(i.spec.attr.as_str()))
    {
        // Only a fresh value: a carried-over one is not what the secret's file holds now.
        let v = match (&it.out.value, it.out.status) {
            (Some(v), Status::Installed) => Ok(v.clone()),
            _ => Err(Error::new(it.out.error.clone().unwrap_or_default())),
        };
        handoff.insert(it.spec.attr.clone(), v);
    }
}

fn report_failures(items: &[Placed], dry_run: bool, report: &mut Report) {
    for it in items {
        if let Some(e) = &it.out.error {
            let tail = match it.out.status {
                Status::CarriedOver if dry_run => "; the previous value would be kept",
                Status::CarriedOver => "; keeping the previous value",
                _ if it.out.fatal => "",
                _ => "; not installed (there is no previous value)",
            };
            // Templates are labelled "template NAME" already.
            let mut what = match it.spec.kind {
                ItemKind::Template => it.spec.label(),
                ItemKind::Secret => format!("secret {}", it.spec.label()),
            };
            // Where to find it in the configuration.
            if let Some(o) = &it.spec.option {
                what = format!("{what} ({o})");
            }
            report.error(format!("{what}: {e}{tail}"));
        }
    }
}

/// A write into the generation failed (it is unusable), or an item failed and failures are
/// fatal.
fn aborts(run: &Run, items: &[Placed]) -> bool {
    let any_failed = items.iter().any(|i| i.out.status != Status::Installed);
    fatal(items).is_some() || (run.abort && any_failed && !run.dry_run)
}

fn fatal(items: &[Placed]) -> Option<String> {
    items
        .iter()
        .find(|i| i.out.fatal)
        .map(|i| i.out.error.clone().unwrap_or_default())
}

/// Throw the new generation away and say why; the stable symlink stays where it was.
fn abort(
    run: &Run,
    phase: PhaseKind,
    items: &[Placed],
    new_gen: Option<&Gen>,
    prev: Option<&Gen>,
    report: &mut Report,
) {
    if let Some(g) = new_gen {
        generation::discard(g);
    }
    let why = match fatal(items) {
        Some(e) => genfs::write_failed(&e, new_gen.map(|g| g.path.as_path())),
        None => {
            "a secret failed and failures are fatal (--fail-closed / onFailure = \"abort\")".into()
        }
    };
    let stable = run.plan.stable_dir(phase);
    let keep = match prev {
        Some(p) => format!("{} still points to {}", stable.display(), p.path.display()),
        None => format!("{} was not created", stable.display()),
    };
    report.error(format!("{} phase aborted: {why}; {keep}", phase.as_str()));
}

/// "adding", "modifying", "removing" lines (or "would …" in a dry run).
fn report_changes(items: &[Placed], removed: &[StateItem], dry_run: bool, report: &mut Report) {
    let (add, modify, remove) = if dry_run {
        ("would add", "would modify", "would remove")
    } else {
        ("adding", "modifying", "removing")
    };
    for it in items {
        match &it.out.change {
            Some(Change::Added) if it.out.status == Status::Installed => {
                report.info(format!("{add} {}", it.spec.label()))
            }
            Some(Change::Modified(what)) => report.info(format!(
                "{modify} {} ({})",
                it.spec.label(),
                what.join(", ")
            )),
            _ => {}
        }
    }
    for r in removed {
        let what = match r.template_name() {
            Some(n) => format!("template {n}"),
            None => r.rel.clone(),
        };
        report.info(format!("{remove} {what}"));
    }
}

/// Units of items added, modified or removed.
fn request_restarts(items: &[Placed], removed: &[StateItem], requests: &mut Requests) {
    for it in items {
        if it.out.change.as_ref().is_some_and(Change::is_change)
            && it.out.status == Status::Installed
        {
            requests.add(&it.spec.restart_units, &it.spec.reload_units);
        }
    }
    for r in removed {
        requests.add(&r.restart_units, &r.reload_units);
    }
}

/// The phase's items (and removed ones) for the `--json` summary.
fn summarize(
    report: &mut Report,
    plan: &Plan,
    phase: PhaseKind,
    items: &[Placed],
    removed: &[StateItem],
) {
    for it in items {
        let spec = it.spec;
        let path = spec
            .custom_path
            .clone()
            .unwrap_or_else(|| plan.stable_dir(spec.phase).join(&spec.rel));
        report.summary.items.push(ItemSummary {
            kind: spec.kind.as_str(),
            name: spec.name.clone(),
            phase: spec.phase.as_str(),
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
            kind: r.kind().as_str(),
            name: r.template_name().unwrap_or(&r.rel).to_string(),
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
