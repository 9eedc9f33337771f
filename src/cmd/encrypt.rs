//! `secrets encrypt FILE [--input PATH]`: set a secret without reading its old value.

use std::path::PathBuf;

use clap::Args;

use super::{Global, RulesFlag};
use crate::error::{describe_io, Error, Result};
use crate::fs;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets encrypt db.age < new.txt    replace db.age without reading it
  secrets encrypt db.age --input new.txt
                                      the same, from a file")]
pub struct EncryptArgs {
    /// The encrypted file to write (a path, or its name in the rules).
    pub file: PathBuf,
    /// Read the plaintext from this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RulesFlag,
}

pub fn run(args: &EncryptArgs, g: &Global) -> Result<i32> {
    fs::harden_process();
    let (rules, rule) = args.rules.load_with_rule(&args.file, g)?;
    let plain = match &args.input {
        Some(p) => fs::read_secret(p).map_err(|e| {
            Error::new(format!("{}: cannot read: {}", p.display(), describe_io(&e)))
        })?,
        None => {
            fs::read_stdin_secret().map_err(|e| Error::new(format!("cannot read stdin: {e}")))?
        }
    };
    crate::store::encrypt_and_replace(&rules, &rule, &plain)?;
    super::say_written(&args.file, &rule, g);
    Ok(0)
}
