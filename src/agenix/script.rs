//! agenix's command line (its shell script's): -e/--edit FILE, -d/--decrypt FILE,
//! -r/--rekey, -i/--identity KEY, -v, -h. Names are paths relative to the working directory,
//! wherever $RULES is, as in agenix.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cmd::decrypt::DecryptArgs;
use crate::cmd::edit::EditArgs;
use crate::cmd::rekey::RekeyArgs;
use crate::cmd::{self, Global, IdentityFlags, RulesFlag};
use crate::error::Result;

pub const HELP: &str = "\
agenix - edit and rekey age secret files (the agenix interface of `secrets`)

agenix -e FILE [-i PRIVATE_KEY]
agenix -r [-i PRIVATE_KEY]

options:
-h, --help                show help
-e, --edit FILE           edits FILE using $EDITOR
-r, --rekey               re-encrypts all secrets with specified recipients
-d, --decrypt FILE        decrypts FILE to STDOUT
-i, --identity            identity to use when decrypting
-v, --verbose             verbose output

FILE an age-encrypted file, named by its path from the current directory (as in RULES)

PRIVATE_KEY a path to a private SSH key used to decrypt file

EDITOR environment variable of editor to use when editing FILE;
EDITOR=: re-encrypts FILE as it is (rekeys one file)

If STDIN is not interactive, the new content is read from STDIN

RULES environment variable with path to Nix file specifying recipient public keys.
Defaults to './secrets.nix'

The full command line is `secrets --help`.";

fn help() -> String {
    format!("{HELP}\n\n{}", super::version_lines("agenix"))
}

/// What agenix was asked to do with FILE. As in agenix, a -d anywhere makes the run a
/// decryption, and the last FILE given is the one used.
struct Parsed {
    file: Option<PathBuf>,
    decrypt: bool,
    rekey: bool,
    identity: IdentityFlags,
    global: Global,
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

/// agenix's parse: help and the "no FILE"/"no PRIVATE_KEY" lines on stdout, exit 1.
fn parse(args: Vec<OsString>) -> Result<Parsed, i32> {
    if args.is_empty() {
        println!("{}", help());
        return Err(1);
    }
    let mut p = Parsed {
        file: None,
        decrypt: false,
        rekey: false,
        identity: IdentityFlags::default(),
        global: Global::default(),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.to_str().unwrap_or("") {
            "-h" | "--help" => {
                println!("{}", help());
                return Err(0);
            }
            flag @ ("-e" | "--edit" | "-d" | "--decrypt") => {
                p.decrypt |= flag == "-d" || flag == "--decrypt";
                let Some(f) = it.next() else {
                    println!("no FILE specified");
                    return Err(1);
                };
                p.file = Some(PathBuf::from(f));
            }
            "-i" | "--identity" => {
                let Some(k) = it.next() else {
                    println!("no PRIVATE_KEY specified");
                    return Err(1);
                };
                p.identity.identities.push(PathBuf::from(k));
            }
            "-r" | "--rekey" => p.rekey = true,
            "-v" | "--verbose" => p.global.verbose = true,
            _ => {
                println!("{}", help());
                return Err(1);
            }
        }
    }
    Ok(p)
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let p = match parse(args) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    // agenix has no --rules: $RULES, else ./secrets.nix; its names start at the working dir.
    let rules = RulesFlag {
        rules: None,
        names_from_cwd: true,
        current_dir_only: true,
    };
    let (identity, g) = (p.identity, p.global);
    if p.rekey {
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
    let Some(file) = p.file else {
        // agenix fails here on an unset variable; the help says what is missing.
        println!("{}", help());
        return Ok(1);
    };
    if p.decrypt {
        let args = DecryptArgs {
            file,
            output: None,
            key: None,
            format: None,
            rules,
            identity,
        };
        return cmd::decrypt::run(&args, &g);
    }
    let args = EditArgs {
        file,
        allow_disk_tmp: false,
        rules,
        identity,
        editor: None,
    };
    cmd::edit::run(&args, &g)
}
