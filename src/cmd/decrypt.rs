//! `secrets decrypt FILE [-o OUT] [--key KEY [--format FORMAT]]`. Decryption needs only a key
//! and the file: the rules are used when they are found (FILE may be a rule's name; messages
//! and the document format come from the rule) and never required, so a host or a script
//! holding a key and a ciphertext can decrypt it.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::error::{Error, Result};
use crate::fs;
use crate::rules::{Found, Rule, Rules};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets decrypt db.age              print the secret on stdout
  secrets decrypt db.age -o db.txt    write it to db.txt, created 0600
  secrets decrypt -i ~/.ssh/deploy db.age
                                      decrypt with this key only
  secrets decrypt app.yaml.age --key db.password
                                      print one value of a YAML document
  secrets decrypt -i key /run/x.age   no rules needed: any age file")]
pub struct DecryptArgs {
    /// The encrypted file (a path, or its name in the rules).
    pub file: PathBuf,
    /// Write the plaintext to this file (created 0600) instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Only this value of a JSON, YAML, dotenv or INI document (`db.password`,
    /// `servers[0].token`, `DB_PASSWORD`, `section.key`), exactly as it is installed.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The document's format (json, yaml, dotenv, ini); default: the rule's `format`, else
    /// the file name (`app.yaml.age`).
    #[arg(long, value_name = "FORMAT", value_parser = super::document::parse_format)]
    pub format: Option<crate::structured::Format>,
    #[command(flatten)]
    pub rules: RulesFlag,
    #[command(flatten)]
    pub identity: IdentityFlags,
}

pub fn run(args: &DecryptArgs, g: &Global) -> Result<i32> {
    fs::harden_process();
    let (rules, rule) = if args.rules.names_from_cwd {
        // agenix's -d: FILE is a rule's name, as in agenix.
        let (rules, rule) = args.rules.load_with_rule(&args.file, g)?;
        (Some(rules), rule)
    } else {
        target(args, g)?
    };
    // symlink_metadata: a dangling or looping link is a read error below, not "missing".
    if rule.path.symlink_metadata().is_err() {
        // The command to create it, in the command line the user is speaking.
        let edit = if args.rules.names_from_cwd {
            "agenix -e"
        } else {
            "secrets edit"
        };
        return Err(Error::new(format!(
            "{}: the file does not exist yet; create it with `{edit} {}`",
            rule.path.display(),
            args.file.display()
        )));
    }
    let shown = args.file.display().to_string();
    let sel = super::document::selection(args.key.as_deref(), args.format, &rule, &shown)?;
    let ids = args.identity.load()?;
    // Who can read the file, and what to do, when a rule was found for it.
    let explain = |e| match &rules {
        Some(rules) => {
            crate::readers::explain(e, &shown, &rule, rules, &ids, &args.identity.identities)
        }
        None => e,
    };
    if let Some(sel) = &sel {
        // One value out of a document: the document is held whole (bounded by the value
        // limit, see fs::value_limit) to be parsed.
        let plain = crate::store::decrypt_rule(&rule, &ids).map_err(explain)?;
        let value = super::document::take(sel, &plain, &shown)?;
        return write_whole(args.output.as_deref(), &value);
    }
    // Streamed in constant memory, one authenticated 64 KiB chunk at a time. With -o into a
    // temporary file renamed over OUT only once the last chunk authenticated: a damaged file
    // leaves nothing behind. On stdout, like `age -d`, the chunks before a damaged one have
    // been written when the error comes (the exit code says it failed).
    match &args.output {
        Some(out) => fs::atomic_write_with(out, 0o600, |f| {
            // Straight into the file, no unwiped buffer in between (see `crypto::copy_plain`).
            let write_err = |e| Error::io("cannot write", out, e);
            crate::store::decrypt_rule_to(&rule, &ids, f, &write_err).map(drop)
        })
        .map_err(explain)?,
        None => {
            let write_err = |e| Error::new(format!("cannot write to stdout: {e}"));
            let mut stdout = std::io::stdout().lock();
            crate::store::decrypt_rule_to(&rule, &ids, &mut stdout, &write_err).map_err(explain)?;
            stdout.flush().map_err(write_err)?;
        }
    }
    Ok(0)
}

/// A value held whole (one key of a document): to OUT atomically, or to stdout.
fn write_whole(output: Option<&std::path::Path>, value: &[u8]) -> Result<i32> {
    match output {
        Some(out) => fs::atomic_write(out, value, 0o600)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(value)
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::new(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(0)
}

/// The rule of the file to decrypt, with its rules, when the rules name FILE; else FILE itself
/// as a rule of its own (no recipients, its name giving the document format). Rules that
/// cannot be found or used are no reason to fail (a warning when some were found).
fn target(args: &DecryptArgs, g: &Global) -> Result<(Option<Rules>, Rule)> {
    let start = args.rules.start(Some(&args.file));
    let located = Rules::locate(args.rules.rules.as_deref(), start);
    let rules = match located.and_then(|l| l.map(Rules::load_located).transpose()) {
        Ok(Some(r)) => r,
        Ok(None) => {
            if g.verbose {
                eprintln!(
                    "rules: none found ({}); decrypting {} as it is",
                    crate::rules::discover_where(start),
                    args.file.display()
                );
            }
            return Ok((None, bare(args.file.clone())));
        }
        Err(e) => {
            eprintln!(
                "warning: {e}\n(decrypt needs no rules: decrypting {} as it is)",
                args.file.display()
            );
            return Ok((None, bare(args.file.clone())));
        }
    };
    rules.mention_ignored(g.verbose);
    let rule = match rules.find(&args.file) {
        Ok(Found::Rule(r)) => r.clone(),
        Ok(Found::Broken(b)) => {
            // Its recipients do not matter for reading it.
            eprintln!(
                "warning: {}: {}\n(decrypt does not need the rule: decrypting the file)",
                rules.file.display(),
                b.message
            );
            bare(
                b.file
                    .as_ref()
                    .map_or(args.file.clone(), |f| rules.dir.join(f)),
            )
        }
        Err(e) if args.file.symlink_metadata().is_err() => {
            // Neither a rule nor a file: the rules may know what was meant.
            let shown = args.file.display().to_string();
            let why = e.message();
            let why = why.strip_prefix(&format!("{shown}: ")).unwrap_or(why);
            return Err(Error::new(format!("{shown}: no such file, and {why}")));
        }
        Err(_) => {
            if g.verbose {
                eprintln!(
                    "{}: no rule in {} names it; decrypting it as it is",
                    args.file.display(),
                    rules.file.display()
                );
            }
            return Ok((None, bare(args.file.clone())));
        }
    };
    Ok((Some(rules), rule))
}

/// A file no usable rule names, as a rule of its own: only its path and name matter here.
fn bare(path: PathBuf) -> Rule {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Rule {
        name,
        path,
        recipients: Vec::new().into(),
        armor: false,
        generator: None,
        format: None,
    }
}
