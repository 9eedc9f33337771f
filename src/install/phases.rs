//! The plan of a run: which phases run (users, main), and what each one installs, needs from
//! the other, and hands on to it.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::fs::SecretBytes;

use super::generation;
use super::manifest::{PhaseKind, Plan, SecretSpec, TemplateSpec};
use super::state;
use super::template;
use super::PhaseChoice;

/// The phases to run for `choice`, in order; empty when there is nothing to do.
pub fn to_run(plan: &Plan, choice: PhaseChoice) -> Vec<PhaseKind> {
    let mut phases: Vec<PhaseKind> = match choice {
        PhaseChoice::Users => vec![PhaseKind::Users],
        PhaseChoice::Main => vec![PhaseKind::Main],
        PhaseChoice::All => vec![PhaseKind::Users, PhaseKind::Main],
        // Not a phase that writes a generation (see `owners`).
        PhaseChoice::Owners => vec![],
    };
    // Without neededForUsers secrets the users phase is a no-op (nothing mounted either),
    // unless an earlier run installed some: then it runs to switch to an empty generation,
    // so the removed secrets disappear now (not at reboot) and their units restart.
    let has_users = plan
        .secrets
        .iter()
        .any(|s| s.item.phase == PhaseKind::Users);
    let users_installed = std::fs::symlink_metadata(&plan.users_dir).is_ok();
    if !users_installed && !has_users {
        phases.retain(|p| *p != PhaseKind::Users);
    }
    // The NixOS module runs no users phase at all (systemd mode) once the last
    // neededForUsers secret is gone, so the main phase removes what is left of them.
    if choice == PhaseChoice::Main && !has_users && users_secrets_left(plan) {
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
        plan.secrets.iter().any(|s| s.item.phase == PhaseKind::Main) || !plan.templates.is_empty();
    if !has_main && std::fs::symlink_metadata(&plan.secrets_dir).is_err() {
        phases.retain(|p| *p != PhaseKind::Main);
    }
    phases
}

/// Does the current users generation still hold anything?
fn users_secrets_left(plan: &Plan) -> bool {
    match generation::current(plan, PhaseKind::Users) {
        Ok(Some(g)) => state::holds_anything(&g),
        _ => false,
    }
}

/// Does any of `phases` install something (and so need a key)?
pub fn need_keys(plan: &Plan, phases: &[PhaseKind]) -> bool {
    plan.secrets.iter().any(|s| phases.contains(&s.item.phase))
        || plan
            .templates
            .iter()
            .any(|t| phases.contains(&t.item.phase))
}

/// Values (or decryption errors) of secrets one phase installed that a later phase's
/// templates need (attr -> value): each file is decrypted once per run.
pub type Handoff = BTreeMap<String, Result<SecretBytes>>;

/// What one phase installs, and what it shares with the other phase.
pub struct PhaseItems<'a> {
    pub secrets: Vec<&'a SecretSpec>,
    pub templates: Vec<&'a TemplateSpec>,
    /// The secrets this phase's templates reference.
    pub referenced: BTreeSet<&'a str>,
    /// Template inputs installed by the other phase: handed over when that phase ran in this
    /// process, else decrypted here, in memory only.
    pub extra: Vec<&'a SecretSpec>,
    /// This phase's secrets that another phase's templates need.
    pub wanted_later: BTreeSet<&'a str>,
}

impl<'a> PhaseItems<'a> {
    pub fn new(plan: &'a Plan, phase: PhaseKind, handoff: &Handoff) -> PhaseItems<'a> {
        let secrets: Vec<_> = plan
            .secrets
            .iter()
            .filter(|s| s.item.phase == phase)
            .collect();
        let templates: Vec<_> = plan
            .templates
            .iter()
            .filter(|t| t.item.phase == phase)
            .collect();
        let referenced: BTreeSet<&str> = templates
            .iter()
            .flat_map(|t| template::references(&t.segments))
            .collect();
        let extra = plan
            .secrets
            .iter()
            .filter(|s| {
                s.item.phase != phase
                    && referenced.contains(s.item.attr.as_str())
                    && !handoff.contains_key(&s.item.attr)
            })
            .collect();
        let wanted_later = plan
            .templates
            .iter()
            .filter(|t| t.item.phase != phase)
            .flat_map(|t| template::references(&t.segments))
            .collect();
        PhaseItems {
            secrets,
            templates,
            referenced,
            extra,
            wanted_later,
        }
    }

    /// Is a secret's value needed after it is written: for a template (this phase's or a
    /// later one's) or for a copy at its custom path?
    pub fn keeps_value(&self, s: &SecretSpec) -> bool {
        self.referenced.contains(s.item.attr.as_str())
            || self.wanted_later.contains(s.item.attr.as_str())
            || (s.item.custom_path.is_some() && !s.item.symlink)
    }
}
