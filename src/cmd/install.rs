//! `secrets install --manifest FILE`: the activation-time installer's command line. The
//! installer itself is the library's `install` module, which takes plain [`Options`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Global;
use crate::error::Result;
use crate::install::{Options, PhaseChoice};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets install --manifest m.json --check
                                      validate only; writes nothing
  secrets install --manifest m.json \\
      --dry-run --json > plan.json    what would change, as JSON

Exit codes: 0 everything installed; 1 a secret failed (others are installed, failed ones keep \
their previous value unless --fail-closed) or the manifest is invalid; 2 usage.")]
pub struct InstallArgs {
    /// The JSON manifest written by the NixOS module.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// users: only neededForUsers secrets (before users exist); main: everything else; all:
    /// both; owners: apply the owners, groups and modes that --defer-owners left for later.
    #[arg(long, value_enum, default_value_t = PhaseArg::All)]
    pub phase: PhaseArg,
    /// Write the main phase's files root-owned, owner bits only, and leave their owners,
    /// groups and final modes (and the restarts) to a later `--phase owners`, run once users
    /// and groups exist (agenix's agenixInstall/agenixChown split).
    #[arg(long)]
    pub defer_owners: bool,
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
    Owners,
}

impl InstallArgs {
    fn options(&self) -> Options {
        Options {
            manifest: self.manifest.clone(),
            phase: match self.phase {
                PhaseArg::Users => PhaseChoice::Users,
                PhaseArg::Main => PhaseChoice::Main,
                PhaseArg::All => PhaseChoice::All,
                PhaseArg::Owners => PhaseChoice::Owners,
            },
            defer_owners: self.defer_owners,
            check: self.check,
            dry_run: self.dry_run,
            json: self.json,
            fail_closed: self.fail_closed,
        }
    }
}

/// The installer's report decides what it prints; `-v` adds nothing to it.
pub fn run(args: &InstallArgs, _g: &Global) -> Result<i32> {
    if args.defer_owners && (args.phase == PhaseArg::Users || args.phase == PhaseArg::Owners) {
        return Err(crate::error::Error::usage(
            "--defer-owners goes with --phase main or all (the phases that write files with \
             owners); --phase owners then applies them",
        ));
    }
    crate::install::run(&args.options())
}
