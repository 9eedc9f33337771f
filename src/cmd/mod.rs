//! The command line: one module per command, each with its clap arguments and
//! `run(&Args, &Global) -> Result<i32>` (the exit code). `main` and `agenix` only build the
//! arguments and call `run`.
//!
//! `--rules` and `-i` may come before the command's name, so the top level declares them too;
//! `Cli::parse_args` hands their values to the command when it takes them and refuses them
//! (a usage error, exit 2) when it does not: a flag is accepted only where it acts. A command
//! declares the flags it uses itself (`RulesFlag`, `IdentityFlags`), so its help, man page and
//! completions offer only those. `Global` holds the one flag every command takes.

pub mod check;
pub mod completions;
pub mod decrypt;
mod document;
pub mod edit;
pub mod encrypt;
pub mod generate;
pub mod install;
pub mod list;
pub mod man;
pub mod rekey;
pub mod schema;

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::keys::Identities;
use crate::rules::{Rule, Rules, Start};

const EXAMPLES: &str = "\
Examples:
  secrets edit db.age                 edit (or create) a secret in $EDITOR
  echo -n hunter2 | secrets edit db.age
                                      set a secret from stdin
  secrets decrypt db.age -o db.txt    decrypt to a file created 0600
  secrets encrypt db.age < new.txt    rotate a secret you cannot read
  secrets list                        every secret, its state, who and whether you can read it
  secrets rekey                       re-encrypt files whose recipients changed
  secrets generate                    create missing secrets that have a generator
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
    // Declared here so they may come before the command's name; `parse_args` gives their
    // values to the command, which declares them too when it uses them.
    #[command(flatten)]
    rules: RulesFlag,
    #[command(flatten)]
    identity: IdentityFlags,
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

// The flags of every command. (Plain comments on these structs: a doc comment on a flattened
// struct would become the help text of the command that flattens it.)
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Say more about what is done.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

// `--rules`, for the commands that read the rules. The explicit display orders keep the help
// of every command as it was when these were only declared at the top (first, second, then
// `-v`): clap sorts options by display order, then by name. Not `global`: a global argument
// would be accepted (and ignored) by every command.
#[derive(Args, Debug, Clone, Default)]
pub struct RulesFlag {
    /// Rules file (secrets.nix or secrets.json). Default: $RULES, else the first secrets.nix
    /// or secrets.json from the FILE's directory (or the current one) upward, up to a
    /// repository root.
    #[arg(long, value_name = "PATH", display_order = 0)]
    pub rules: Option<PathBuf>,
    /// agenix's naming (files relative to the working directory, see `rules::working_dir`);
    /// set by the `agenix` entry, no flag of ours.
    #[arg(skip)]
    pub names_from_cwd: bool,
    /// Look for the rules in the current directory only, not upward (the agenix and ragenix
    /// entries: those tools look nowhere else); no flag of ours.
    #[arg(skip)]
    pub current_dir_only: bool,
}

// `-i`, for the commands that decrypt.
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityFlags {
    /// Identity (private key) to decrypt with; repeatable. Default: $SECRETS_IDENTITY, else
    /// ~/.ssh/id_ed25519 and ~/.ssh/id_rsa.
    #[arg(short = 'i', long = "identity", value_name = "KEY", display_order = 1)]
    pub identities: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Edit a secret in $VISUAL/$EDITOR (or set it from stdin when stdin is not a terminal).
    Edit(edit::EditArgs),
    /// Decrypt a secret to stdout or a file.
    Decrypt(decrypt::DecryptArgs),
    /// Encrypt new content for a secret without decrypting the old value.
    Encrypt(encrypt::EncryptArgs),
    /// Re-encrypt secrets whose recipients differ from the rules.
    Rekey(rekey::RekeyArgs),
    /// Check, without private keys, that the encrypted files match the rules (for CI).
    Check(check::CheckArgs),
    /// List every secret: its file's state, its recipients, and whether you can read it.
    #[command(visible_alias = "ls")]
    List(list::ListArgs),
    /// Create missing secrets from their rules' generators (passwords, key pairs, …).
    Generate(generate::GenerateArgs),
    /// Install secrets at activation from a manifest (used by the NixOS module).
    Install(install::InstallArgs),
    /// Print the JSON Schema of secrets.json.
    Schema(schema::SchemaArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Print a man page (roff), or write them all to a directory.
    Man(man::ManArgs),
}

impl Cli {
    /// Parse the command line (clap's usage error, exit 2, on a bad one), then hand `--rules`
    /// and `-i` given before the command's name to the command; a command that does not use
    /// one of them is a usage error too, as if it had been given after its name.
    pub fn parse_args<I, T>(args: I) -> Cli
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut cli = Cli::parse_from(args);
        if let Err(msg) = cli.hand_down() {
            Cli::command()
                .error(clap::error::ErrorKind::ArgumentConflict, msg)
                .exit();
        }
        cli
    }

    fn hand_down(&mut self) -> std::result::Result<(), String> {
        let name = self.command.name();
        let (rules, ids) = self.command.flags_mut();
        if let Some(path) = self.rules.rules.take() {
            match rules {
                Some(r) if r.rules.is_none() => r.rules = Some(path),
                Some(_) => {
                    return Err("--rules is given twice (before and after the command)".into())
                }
                None => return Err(not_used("--rules", &name, "rules")),
            }
        }
        if !self.identity.identities.is_empty() {
            match ids {
                Some(i) => {
                    let mut all = std::mem::take(&mut self.identity.identities);
                    all.append(&mut i.identities);
                    i.identities = all;
                }
                None => return Err(not_used("-i/--identity", &name, "identities")),
            }
        }
        Ok(())
    }
}

/// "`secrets NAME` takes no FLAG: …", naming the commands that do take it (from clap's own
/// description, so the list cannot go stale).
fn not_used(flag: &str, name: &str, id: &str) -> String {
    let takers: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|c| c.get_arguments().any(|a| a.get_id() == id))
        .map(|c| c.get_name().to_string())
        .collect();
    format!(
        "`secrets {name}` takes no {flag} (it would do nothing there); the commands that use it: \
         {}",
        takers.join(", ")
    )
}

impl Command {
    /// The command's name as typed (`list` also for its alias `ls`).
    fn name(&self) -> String {
        let id = match self {
            Command::Edit(_) => "edit",
            Command::Decrypt(_) => "decrypt",
            Command::Encrypt(_) => "encrypt",
            Command::Rekey(_) => "rekey",
            Command::Check(_) => "check",
            Command::List(_) => "list",
            Command::Generate(_) => "generate",
            Command::Install(_) => "install",
            Command::Schema(_) => "schema",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        };
        id.to_string()
    }

    /// The command's `--rules` and `-i`, for those that take them.
    fn flags_mut(&mut self) -> (Option<&mut RulesFlag>, Option<&mut IdentityFlags>) {
        match self {
            Command::Edit(a) => (Some(&mut a.rules), Some(&mut a.identity)),
            Command::Decrypt(a) => (Some(&mut a.rules), Some(&mut a.identity)),
            Command::Rekey(a) => (Some(&mut a.rules), Some(&mut a.identity)),
            Command::Generate(a) => (Some(&mut a.rules), Some(&mut a.identity)),
            Command::List(a) => (Some(&mut a.rules), Some(&mut a.identity)),
            Command::Encrypt(a) => (Some(&mut a.rules), None),
            Command::Check(a) => (Some(&mut a.rules), None),
            Command::Install(_)
            | Command::Schema(_)
            | Command::Completions(_)
            | Command::Man(_) => (None, None),
        }
    }
}

impl RulesFlag {
    /// Find and load the rules, looking from the current directory.
    pub fn load(&self) -> Result<Rules> {
        self.load_from(self.start(None))
    }

    /// Where to look for the rules of a command on `file` (see `rules::discover`).
    pub fn start<'a>(&self, file: Option<&'a Path>) -> Start<'a> {
        match file {
            _ if self.current_dir_only => Start::CurrentDirOnly,
            Some(f) => Start::FileDir(f),
            None => Start::CurrentDir,
        }
    }

    fn load_from(&self, start: Start) -> Result<Rules> {
        let mut rules = Rules::discover(self.rules.as_deref(), start)?;
        if self.names_from_cwd {
            rules.name_files_from(&working_dir()?);
        }
        Ok(rules)
    }

    /// Load the rules (evaluated once) and the rule for `file`; with `-v`, say which rule
    /// attributes are ignored.
    pub fn load_with_rule(&self, file: &Path, g: &Global) -> Result<(Rules, Rule)> {
        let rules = self.load_from(self.start(Some(file)))?;
        rules.mention_ignored(g.verbose);
        let rule = if self.names_from_cwd {
            rules.lookup_from(&working_dir()?, file)?.clone()
        } else {
            rules.lookup(file)?.clone()
        };
        Ok((rules, rule))
    }
}

impl IdentityFlags {
    /// The identities for decryption; none at all is an error that says how to give one.
    pub fn load(&self) -> Result<Identities> {
        let ids = Identities::from_cli(&self.identities)?;
        if ids.is_empty() {
            return Err(Error::new(
                "no identity to decrypt with: pass -i KEY, set SECRETS_IDENTITY, or create \
                 ~/.ssh/id_ed25519 or ~/.ssh/id_rsa",
            ));
        }
        Ok(ids)
    }
}

/// The current directory, resolved (so an absolute FILE below a symlinked one still matches).
fn working_dir() -> Result<PathBuf> {
    std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            Error::new(format!(
                "cannot tell the current directory: {}",
                crate::error::describe_io(&e)
            ))
        })
}

/// After `edit` or `encrypt` wrote a file: one line on stderr saying what was written, when
/// stderr is a terminal (someone is looking) or with -v; a script gets silence.
fn say_written(shown: &std::path::Path, rule: &Rule, g: &Global) {
    use std::io::IsTerminal;
    if g.verbose || std::io::stderr().is_terminal() {
        eprintln!(
            "wrote {}: encrypted to {} recipient(s), {}",
            shown.display(),
            rule.recipients.len(),
            if rule.armor {
                "ASCII-armored"
            } else {
                "binary"
            }
        );
    }
}

/// Write to stdout; a reader that went away (EPIPE) is not an error worth reporting.
fn write_stdout(buf: &[u8]) -> Result<i32> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(buf).and_then(|_| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}
