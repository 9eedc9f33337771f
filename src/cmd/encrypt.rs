//! `secrets encrypt FILE [--input PATH]`: set a secret without reading its old value; the new
//! content is encrypted as it is read (any size, constant memory), except a structured document,
//! which is checked first.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::{Global, RulesFlag};
use crate::error::{describe_io, Error, Result};
use crate::fs;
use crate::structured::Format;

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
    let shown = args.file.display().to_string();
    let from = args
        .input
        .as_ref()
        .map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
    let read_err = |e: std::io::Error| {
        Error::new(format!(
            "{from}: cannot read: {}; {shown} is unchanged",
            describe_io(&e)
        ))
    };
    // Opened as given: --input may be a FIFO or /dev/fd/N (`--input <(pass show db)`).
    let mut input: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(File::open(p).map_err(read_err)?),
        None => Box::new(std::io::stdin().lock()),
    };
    match super::document::of_rule(&rule) {
        // A structured document is held whole, to refuse one that does not parse (as `edit`
        // does): a file of its kind that `decrypt --key` and the installer cannot read would
        // only fail later, on a host.
        Some(format) if format != Format::Binary => {
            // The smaller of the value limit and the most any document may be (16 MiB), so the
            // error names the bound that can be raised, or says that none can.
            let most_document = crate::structured::Limits::default().document_bytes as u64;
            let limit = fs::value_limit().min(most_document);
            let doc = fs::read_at_most(&mut input, 0, limit)
                .map_err(read_err)?
                .ok_or_else(|| {
                    let what = match &args.input {
                        Some(p) => format!("the document in {}", p.display()),
                        None => "the document on stdin".into(),
                    };
                    if limit < most_document {
                        return fs::value_limit_error(&what, limit).context(&shown);
                    }
                    Error::new(format!(
                        "{shown}: {what} is larger than {} MiB, the most a structured document \
                         may be; {shown} is unchanged (set the rule's format to binary to store \
                         it as it is)",
                        most_document >> 20
                    ))
                })?;
            let doc = super::document::checked(format, &shown, doc, None::<NoReopen>)?;
            crate::store::encrypt_and_replace(&rules, &rule, &doc)?;
        }
        // Anything else is encrypted as it is read, in constant memory: no size limit.
        _ => {
            crate::store::encrypt_stream_and_replace(&rules, &rule, &mut input, &read_err)?;
        }
    }
    super::say_written(&args.file, &rule, g);
    Ok(0)
}

/// `document::checked` without an editor to open again.
type NoReopen = fn(&[u8]) -> Result<Option<fs::SecretBytes>>;
