//! ragenix's command line: --rules PATH, -e/--edit FILE with --editor PROGRAM (or $EDITOR;
//! `-` reads the new content from stdin), -r/--rekey, -s/--schema, -i/--identity KEY...,
//! -v/--verbose, -h, -V. As in ragenix, names in the rules are relative to the rules file's
//! directory and FILE is a path from the working directory: our own command line's naming.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cmd::edit::EditArgs;
use crate::cmd::rekey::RekeyArgs;
use crate::cmd::{self, Global, IdentityFlags, RulesFlag};
use crate::error::{Error, Result, EXIT_USAGE};

/// The JSON Schema of what a secrets.nix evaluates to (`--schema`).
pub const RULES_SCHEMA: &str = include_str!("rules.schema.json");

const USAGE: &str =
    "Usage: ragenix [--rules PATH] [-i KEY...] (-e FILE [--editor PROGRAM] | -r | -s) [-v]";

pub const HELP: &str = "\
ragenix - edit and rekey age secret files (the ragenix interface of `secrets`)

Usage: ragenix [--rules PATH] [-i KEY...] (-e FILE [--editor PROGRAM] | -r | -s) [-v]

Options:
  -e, --edit FILE           edit FILE (a path from the current directory) in the editor;
                            created if missing
      --editor PROGRAM      the editor for -e [env: EDITOR]; `-` reads the new content
                            from stdin and replaces FILE without decrypting it
  -r, --rekey               re-encrypt every file in the rules to its recipients
  -s, --schema              print the JSON Schema the rules must match
  -i, --identity KEY...     identities to decrypt with (default: ~/.ssh/id_ed25519 and
                            ~/.ssh/id_rsa)
      --rules PATH          the rules file [env: RULES] [default: ./secrets.nix]; names in
                            it are relative to its directory
  -v, --verbose             say more about what is done
  -h, --help                print this help
  -V, --version             print the version

The full command line is `secrets --help`.";

#[derive(Default)]
struct Parsed {
    edit: Option<PathBuf>,
    editor: Option<String>,
    rekey: bool,
    schema: bool,
    rules: Option<PathBuf>,
    identity: IdentityFlags,
    global: Global,
}

/// Run ragenix's interface; returns the exit code (2 for usage errors, as clap's).
pub fn main(args: Vec<OsString>) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if e.code() == EXIT_USAGE {
                eprintln!("\n{USAGE}\n\nFor more information, try '--help'.");
            }
            e.code()
        }
    }
}

/// Split `--opt=value` into the option and its value.
fn split_long(a: &str) -> (&str, Option<&str>) {
    match a.split_once('=') {
        Some((o, v)) if o.starts_with("--") => (o, Some(v)),
        _ => (a, None),
    }
}

fn parse(args: Vec<OsString>) -> Result<Result<Parsed, i32>> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| Error::usage(format!("invalid UTF-8 in argument {a:?}")))
        })
        .collect::<Result<_>>()?;
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = split_long(&args[i]);
        i += 1;
        // The value of an option: after `=`, else the next argument.
        let mut value = |name: &str| -> Result<String> {
            if let Some(v) = inline {
                return Ok(v.to_string());
            }
            let v = args.get(i).ok_or_else(|| {
                Error::usage(format!(
                    "a value is required for '{name}' but none was supplied"
                ))
            })?;
            i += 1;
            Ok(v.clone())
        };
        match opt {
            "-h" | "--help" => {
                println!("{HELP}\n\n{}", super::version_lines("ragenix"));
                return Ok(Err(0));
            }
            "-V" | "--version" => {
                println!("ragenix {} (secrets)", env!("CARGO_PKG_VERSION"));
                return Ok(Err(0));
            }
            "-e" | "--edit" => p.edit = Some(PathBuf::from(value("--edit <FILE>")?)),
            "--editor" => p.editor = Some(value("--editor <EDITOR>")?),
            "--rules" => p.rules = Some(PathBuf::from(value("--rules <RULES>")?)),
            "-r" | "--rekey" => p.rekey = true,
            "-s" | "--schema" => p.schema = true,
            "-v" | "--verbose" => p.global.verbose = true,
            "-i" | "--identity" => {
                // ragenix takes one or more keys after one -i.
                p.identity
                    .identities
                    .push(value("--identity <PRIVATE_KEY>...")?.into());
                while inline.is_none() && args.get(i).is_some_and(|a| !a.starts_with('-')) {
                    p.identity.identities.push(PathBuf::from(&args[i]));
                    i += 1;
                }
            }
            other => {
                return Err(Error::usage(format!(
                    "unexpected argument '{other}' found{}",
                    if other == "-d" || other == "--decrypt" {
                        " (ragenix has no decrypt; use `secrets decrypt FILE` or `agenix -d FILE`)"
                    } else {
                        ""
                    }
                )))
            }
        }
    }
    Ok(Ok(p))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let p = match parse(args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let actions = [
        (p.edit.is_some(), "--edit <FILE>"),
        (p.rekey, "--rekey"),
        (p.schema, "--schema"),
    ];
    let chosen: Vec<&str> = actions.iter().filter(|a| a.0).map(|a| a.1).collect();
    match chosen.as_slice() {
        [] => {
            return Err(Error::usage(
                "one of --edit <FILE>, --rekey or --schema is required",
            ))
        }
        [_] => {}
        [a, b, ..] => {
            return Err(Error::usage(format!(
                "the argument '{a}' cannot be used with '{b}'"
            )))
        }
    }
    if p.schema {
        print!("{RULES_SCHEMA}");
        return Ok(0);
    }
    let rules = RulesFlag {
        rules: p.rules,
        names_from_cwd: false,
        current_dir_only: true,
    };
    if p.rekey {
        // ragenix re-encrypts every file that exists, whether or not it matches the rules.
        let args = RekeyArgs {
            force: true,
            rules,
            identity: p.identity,
            ..RekeyArgs::default()
        };
        return cmd::rekey::run(&args, &p.global);
    }
    let editor = p
        .editor
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|e| !e.trim().is_empty())
        })
        .ok_or_else(|| {
            Error::usage(
                "--edit needs an editor: pass --editor PROGRAM (or `--editor -` to read the \
                 content from stdin), or set EDITOR",
            )
        })?;
    let args = EditArgs {
        file: p.edit.unwrap_or_default(),
        allow_disk_tmp: false,
        rules,
        identity: p.identity,
        editor: Some(editor),
    };
    cmd::edit::run(&args, &p.global)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_json_and_requires_public_keys() {
        let v: serde_json::Value = serde_json::from_str(super::RULES_SCHEMA).unwrap();
        let rule = &v["additionalProperties"];
        assert_eq!(rule["required"], serde_json::json!(["publicKeys"]));
        assert_eq!(rule["properties"]["armor"]["type"], "boolean");
    }
}
