//! `secrets decrypt FILE [-o OUT]`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::error::{Error, Result};
use crate::fs;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets decrypt db.age              print the secret on stdout
  secrets decrypt db.age -o db.txt    write it to db.txt, created 0600
  secrets decrypt -i ~/.ssh/deploy db.age
                                      decrypt with this key only")]
pub struct DecryptArgs {
    /// The encrypted file (a path, or its name in the rules).
    pub file: PathBuf,
    /// Write the plaintext to this file (created 0600) instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RulesFlag,
    #[command(flatten)]
    pub identity: IdentityFlags,
}

pub fn run(args: &DecryptArgs, g: &Global) -> Result<i32> {
    fs::harden_process();
    let (rules, rule) = args.rules.load_with_rule(&args.file, g)?;
    // symlink_metadata: a dangling or looping link is a read error below, not "missing".
    if rule.path.symlink_metadata().is_err() {
        return Err(Error::new(format!(
            "{}: the file does not exist yet; create it with `secrets edit {}`",
            rule.path.display(),
            args.file.display()
        )));
    }
    let ids = args.identity.load()?;
    let plain = crate::store::decrypt_rule(&rule, &ids).map_err(|e| {
        let shown = args.file.display().to_string();
        crate::readers::explain(e, &shown, &rule, &rules, &ids, &args.identity.identities)
    })?;
    match &args.output {
        Some(out) => fs::atomic_write(out, &plain, 0o600)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&plain)
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::new(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(0)
}
