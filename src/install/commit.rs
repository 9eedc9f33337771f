//! Committing a written generation: record what it holds, switch the stable symlink to it,
//! put in place the links and copies at custom paths (and take away those of removed items),
//! then prune old generations. Only the first two can fail the phase; the rest are reported.

use std::path::Path;

use super::owned::Ownership;
use crate::error::Result;

use super::generation::{self, Gen};
use super::links;
use super::manifest::{PhaseKind, Plan};
use super::report::Report;
use super::state::{self, GenState, StateItem};
use super::write::{Placed, Status};

/// Commit `g`, the phase's new generation, which replaces `prev`.
pub fn commit(
    plan: &Plan,
    phase: PhaseKind,
    g: &Gen,
    prev: Option<&Gen>,
    items: &mut [Placed],
    removed: &[StateItem],
    report: &mut Report,
) -> Result<()> {
    record(plan, phase, g, items)?;
    generation::switch(plan, phase, g, report)?;
    let stable = plan.stable_dir(phase);
    link(items, stable, report);
    if let Some(p) = prev {
        for r in removed {
            links::remove_old(r, stable, &p.path, report);
        }
    }
    for p in generation::prune(plan, phase, g) {
        report.warn(p);
    }
    Ok(())
}

/// The state file; a generation that cannot record what it holds is not switched to.
fn record(plan: &Plan, phase: PhaseKind, g: &Gen, items: &[Placed]) -> Result<()> {
    let record = GenState::of(items.iter().map(|i| (i.spec, i.out.deferred)));
    let root = (!plan.user_mode).then_some(Ownership { uid: 0, gid: 0 });
    state::write(g, &record, root).map_err(|e| {
        generation::discard(g);
        e.context(format!("{} phase aborted", phase.as_str()))
    })
}

/// Links and copies at custom paths, for every item that has a value installed.
fn link(items: &mut [Placed], stable: &Path, report: &mut Report) {
    let mut link_errors = Vec::new();
    for it in items.iter_mut() {
        let Some(dest) = &it.spec.custom_path else {
            continue;
        };
        if it.out.status == Status::Failed {
            continue;
        }
        let res = links::install(
            &links::Dest::of(it.spec),
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
        report.error(e.to_string());
    }
}
