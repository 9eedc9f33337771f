//! The command line, declared with clap derive. Each command's own flags live in its module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;

const EXAMPLES: &str = "\
Examples:
  secrets edit db.age                 edit (or create) a secret in $EDITOR
  echo -n hunter2 | secrets edit db.age
                                      set a secret from stdin
  secrets decrypt db.age -o db.txt    decrypt to a file created 0600
  secrets encrypt db.age < new.txt    rotate a secret you cannot read
  secrets rekey                       re-encrypt files whose recipients changed
  secrets check --json                CI: do the files match the rules?
  secrets install --manifest m.json   activation: decrypt into /run/agenix

Exit codes: 0 success, 1 error (or problems found), 2 usage error.";

#[derive(Parser, Debug)]
#[command(
    name = "secrets",
    version,
    about = "age-encrypted secrets for NixOS fleets (an agenix drop-in)",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Rules file (secrets.nix or secrets.json). Default: $RULES, else ./secrets.nix or
    /// ./secrets.json.
    #[arg(long, global = true, value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Identity (private key) to decrypt with; repeatable. Default: $SECRETS_IDENTITY, else
    /// ~/.ssh/id_ed25519 and ~/.ssh/id_rsa.
    #[arg(short = 'i', long = "identity", global = true, value_name = "KEY")]
    pub identities: Vec<PathBuf>,
    /// Say more about what is done.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Edit a secret in $VISUAL/$EDITOR (or set it from stdin when stdin is not a terminal).
    Edit(cmd::edit::EditArgs),
    /// Decrypt a secret to stdout or a file.
    Decrypt(cmd::decrypt::DecryptArgs),
    /// Encrypt new content for a secret without decrypting the old value.
    Encrypt(cmd::encrypt::EncryptArgs),
    /// Re-encrypt secrets whose recipients differ from the rules.
    Rekey(cmd::rekey::RekeyArgs),
    /// Check, without private keys, that the encrypted files match the rules (for CI).
    Check(cmd::check::CheckArgs),
    /// Install secrets at activation from a manifest (used by the NixOS module).
    Install(crate::install::InstallArgs),
    /// Print the JSON Schema of secrets.json.
    Schema,
    /// Print a shell completion script.
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page (roff).
    Man,
}
