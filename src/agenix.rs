//! The binary invoked as `agenix` speaks agenix's command line, so scripts and habits keep
//! working: -e/--edit FILE, -d/--decrypt FILE, -r/--rekey, -i/--identity KEY, -v, -h.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cmd::decrypt::DecryptArgs;
use crate::cmd::edit::EditArgs;
use crate::cmd::rekey::RekeyArgs;
use crate::cmd::{self, Global, IdentityFlags, RulesFlag};
use crate::error::Result;

pub const HELP: &str = "\
agenix - edit and rekey age secret files (provided by `secrets`)

agenix -e FILE [-i PRIVATE_KEY]
agenix -r [-i PRIVATE_KEY]

options:
-h, --help                show help
-e, --edit FILE           edits FILE using $EDITOR
-r, --rekey               re-encrypts all secrets with specified recipients
-d, --decrypt FILE        decrypts FILE to STDOUT
-i, --identity            identity to use when decrypting
-v, --verbose             verbose output

FILE an age-encrypted file

PRIVATE_KEY a path to a private SSH key used to decrypt file

EDITOR environment variable of editor to use when editing FILE

If STDIN is not interactive, the new content is read from STDIN

RULES environment variable with path to Nix file specifying recipient public keys.
Defaults to './secrets.nix'

The full command line is `secrets --help`.";

/// True when `args` (without argv[0]) ask for one of agenix's actions before naming a
/// subcommand: `nix run <this flake> -- -e x.age`, the agenix habit, starts the binary as
/// `secrets`. A subcommand (`secrets edit -e`) keeps our own command line.
pub fn wants_agenix(args: &[OsString]) -> bool {
    let mut it = args.iter().map(|a| a.to_str().unwrap_or(""));
    while let Some(a) = it.next() {
        match a {
            "-e" | "--edit" | "-d" | "--decrypt" | "-r" | "--rekey" => return true,
            // The option of both command lines that takes a value: skip it.
            "-i" | "--identity" => {
                it.next();
            }
            _ if a.starts_with('-') => {}
            // The first word that is not an option is our subcommand (or a typo for clap).
            _ => return false,
        }
    }
    false
}

enum Action {
    Edit(PathBuf),
    Decrypt(PathBuf),
}

/// Run agenix's interface; returns the exit code (agenix uses 1 for every error).
pub fn main(args: Vec<OsString>) -> i32 {
    // agenix reads only $EDITOR; keep that, so a $VISUAL set for other tools does not change
    // which editor `agenix -e` opens. (Single-threaded here: nothing else reads the env yet.)
    std::env::remove_var("VISUAL");
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            // 128+N for an interrupted edit, as a shell reports it; agenix uses 1 otherwise.
            if e.code() > 128 {
                e.code()
            } else {
                1
            }
        }
    }
}

fn run(args: Vec<OsString>) -> Result<i32> {
    if args.is_empty() {
        println!("{HELP}");
        return Ok(1);
    }
    let mut g = Global::default();
    let mut identity = IdentityFlags::default();
    let mut rekey = false;
    let mut action = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.to_str().unwrap_or("") {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(0);
            }
            "-e" | "--edit" | "-d" | "--decrypt" => {
                let edit = a == "-e" || a == "--edit";
                let Some(f) = it.next() else {
                    println!("no FILE specified");
                    return Ok(1);
                };
                let f = PathBuf::from(f);
                action = Some(if edit {
                    Action::Edit(f)
                } else {
                    Action::Decrypt(f)
                });
            }
            "-i" | "--identity" => {
                let Some(k) = it.next() else {
                    println!("no PRIVATE_KEY specified");
                    return Ok(1);
                };
                identity.identities.push(PathBuf::from(k));
            }
            "-r" | "--rekey" => rekey = true,
            "-v" | "--verbose" => g.verbose = true,
            _ => {
                println!("{HELP}");
                return Ok(1);
            }
        }
    }
    // agenix has no --rules: $RULES, else ./secrets.nix (as `secrets` without --rules).
    let rules = RulesFlag::default();
    if rekey {
        // agenix's semantics: every file in the rules is re-encrypted.
        let args = RekeyArgs {
            force: true,
            agenix: true,
            rules,
            identity,
            ..RekeyArgs::default()
        };
        return cmd::rekey::run(&args, &g);
    }
    match action {
        Some(Action::Decrypt(file)) => {
            let args = DecryptArgs {
                file,
                output: None,
                rules,
                identity,
            };
            cmd::decrypt::run(&args, &g)
        }
        Some(Action::Edit(file)) => {
            let args = EditArgs {
                file,
                allow_disk_tmp: false,
                rules,
                identity,
            };
            cmd::edit::run(&args, &g)
        }
        None => {
            println!("{HELP}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wants_agenix;

    fn wants(args: &[&str]) -> bool {
        wants_agenix(&args.iter().map(Into::into).collect::<Vec<_>>())
    }

    #[test]
    fn agenix_actions_before_a_subcommand_select_agenix() {
        assert!(wants(&["-e", "db.age"]));
        assert!(wants(&["-i", "key", "--decrypt", "db.age"]));
        assert!(wants(&["-v", "-r"]));
        // An identity named like an agenix flag is a value, not an action.
        assert!(!wants(&["-i", "-r", "check"]));
        assert!(!wants(&["edit", "-e"]));
        assert!(!wants(&["--rules", "secrets.json", "decrypt", "-d"]));
        assert!(!wants(&["-v", "rekey", "-r"]));
        assert!(!wants(&["--help"]));
        assert!(!wants(&[]));
    }
}
