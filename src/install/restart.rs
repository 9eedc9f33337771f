//! Restart and reload requests for units whose secrets changed: `systemctl --no-block
//! try-restart/try-reload-or-restart`, or the NixOS activation list files that
//! switch-to-configuration reads.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use crate::error::describe_io;

use super::manifest::RestartMode;
use super::report::Report;

/// Env var overriding `/run/nixos` (tests, and installs that run outside switch-to-configuration).
pub const LIST_DIR_ENV: &str = "SECRETS_ACTIVATION_LIST_DIR";

#[derive(Default, Debug)]
pub struct Requests {
    pub restart: BTreeSet<String>,
    pub reload: BTreeSet<String>,
}

impl Requests {
    pub fn add(&mut self, restart: &[String], reload: &[String]) {
        self.restart.extend(restart.iter().cloned());
        self.reload.extend(reload.iter().cloned());
    }

    /// A unit both restarted and reloaded only needs the restart.
    pub fn finish(&mut self) {
        let r = self.restart.clone();
        self.reload.retain(|u| !r.contains(u));
    }

    pub fn is_empty(&self) -> bool {
        self.restart.is_empty() && self.reload.is_empty()
    }
}

/// Carry out the requests; problems are warnings (the secrets are installed either way).
pub fn execute(
    req: &Requests,
    mode: RestartMode,
    user_mode: bool,
    dry_run: bool,
    report: &mut Report,
) {
    let verb = if dry_run {
        "would restart"
    } else {
        "restarting"
    };
    for u in &req.restart {
        report.info(format!("{verb} {u}"));
    }
    let verb = if dry_run { "would reload" } else { "reloading" };
    for u in &req.reload {
        report.info(format!("{verb} {u}"));
    }
    if dry_run || req.is_empty() {
        return;
    }
    match mode {
        RestartMode::None => {}
        RestartMode::Systemctl => systemctl(req, user_mode, report),
        RestartMode::ActivationList => activation_lists(req, report),
    }
}

/// `systemctl [--user] --no-block try-restart/try-reload-or-restart UNITS`.
fn systemctl(req: &Requests, user_mode: bool, report: &mut Report) {
    for (action, units) in [
        ("try-restart", &req.restart),
        ("try-reload-or-restart", &req.reload),
    ] {
        if units.is_empty() {
            continue;
        }
        let mut cmd = Command::new("systemctl");
        if user_mode {
            cmd.arg("--user");
        }
        cmd.arg("--no-block").arg(action).args(units.iter());
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => report.warn(format!(
                "systemctl {action} {} exited with {s}",
                units.iter().cloned().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => report.warn(format!("cannot run systemctl: {}", describe_io(&e))),
        }
    }
}

/// Append to the lists switch-to-configuration reads after activation.
fn activation_lists(req: &Requests, report: &mut Report) {
    let dir = std::env::var_os(LIST_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/nixos"));
    for (file, units) in [
        ("activation-restart-list", &req.restart),
        ("activation-reload-list", &req.reload),
    ] {
        if units.is_empty() {
            continue;
        }
        let p = dir.join(file);
        let res = std::fs::create_dir_all(&dir).and_then(|_| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)?;
            let mut text = String::new();
            for u in units {
                text.push_str(u);
                text.push('\n');
            }
            f.write_all(text.as_bytes())
        });
        if let Err(e) = res {
            report.warn(format!(
                "cannot append to {}: {}",
                p.display(),
                describe_io(&e)
            ));
        }
    }
}
