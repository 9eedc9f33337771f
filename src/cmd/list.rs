//! `secrets list [--json]` (alias `ls`): every secret in the rules, its file's state, its
//! recipients, and whether my keys can read it, told without decrypting anything. The listing
//! is built by the library's `list` module; this renders it: an aligned table on a terminal,
//! one stable tab-separated line per file otherwise, or JSON.

use std::io::{IsTerminal, Write};

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::error::{Error, Result};
use crate::list::{File, Identity, Key, Listing};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets list                        every secret: state, recipients, can I read it
  secrets ls -i ~/.ssh/deploy         the same, for this key
  secrets list --json > list.json     as JSON (see --schema)
  secrets list | awk -F'\\t' '$3 == \"no\"'
                                      the files I cannot read (one line per file,
                                      tab-separated, when stdout is not a terminal)")]
pub struct ListArgs {
    /// Print the listing as JSON on stdout (see --schema).
    #[arg(long)]
    pub json: bool,
    /// Print the JSON Schema of the --json listing and exit.
    #[arg(long, conflicts_with = "json")]
    pub schema: bool,
    #[command(flatten)]
    pub rules: RulesFlag,
    // Only the public halves of the -i keys are read (or their .pub), never unlocked.
    #[command(flatten)]
    pub identity: IdentityFlags,
}

pub fn run(args: &ListArgs, g: &Global) -> Result<i32> {
    if args.schema {
        return super::write_stdout(format!("{}\n", crate::list::SCHEMA.trim_end()).as_bytes());
    }
    let rules = args.rules.load()?;
    rules.mention_ignored(g.verbose);
    let listing = crate::list::list(&rules, &args.identity.identities);
    // Written as it is rendered: the JSON of 100,000 files is ~100 MB, not worth holding.
    if args.json {
        return emit(|w| {
            serde_json::to_writer_pretty(&mut *w, &listing).map_err(std::io::Error::from)?;
            w.write_all(b"\n")
        });
    }
    if std::io::stdout().is_terminal() {
        return super::write_stdout(table(&listing).as_bytes());
    }
    emit(|w| plain(&listing, w))
}

/// Write to stdout through a buffer; a reader that went away (EPIPE) is not an error worth
/// reporting (as `write_stdout`).
fn emit(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<i32> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}

/// One line per file, tab-separated: file, state, readable (yes/no/unknown, `-` without a
/// file), the rule's recipients (", "-separated), the message. Stable for scripts.
fn plain(l: &Listing, out: &mut dyn Write) -> std::io::Result<()> {
    for f in &l.files {
        let cells = [
            f.file.clone(),
            f.state.to_string(),
            f.readable.unwrap_or("-").to_string(),
            shorts(&f.recipients),
            f.message.clone().unwrap_or_default(),
        ];
        let cells: Vec<String> = cells.iter().map(|c| one_cell(c)).collect();
        out.write_all(cells.join("\t").as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A cell of the plain form never holds a tab or a line break.
fn one_cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

fn shorts(keys: &[Key]) -> String {
    keys.iter().map(Key::short).collect::<Vec<_>>().join(", ")
}

/// The terminal's form: who I am, then an aligned table; a file's message on the line below
/// it.
fn table(l: &Listing) -> String {
    let mut out = format!("rules: {}\n", l.rules);
    if l.identities.is_empty() {
        out.push_str(
            "identities: none (pass -i KEY, set SECRETS_IDENTITY, or create ~/.ssh/id_ed25519)\n",
        );
    }
    for id in &l.identities {
        out.push_str(&format!("identity: {}\n", identity_line(id)));
    }
    let head = ["FILE", "STATE", "READABLE", "RECIPIENTS"];
    let rows: Vec<[String; 4]> = l
        .files
        .iter()
        .map(|f| {
            [
                f.file.clone(),
                f.state.to_string(),
                f.readable.unwrap_or("-").to_string(),
                recipients_cell(f),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let line = |cells: [&str; 4]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
        .trim_end()
        .to_string()
    };
    out.push('\n');
    out.push_str(&line(head));
    out.push('\n');
    for (f, r) in l.files.iter().zip(&rows) {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
        out.push('\n');
        for note in f.message.iter().chain(&f.readable_note) {
            out.push_str(&format!("    {}\n", one_cell(note)));
        }
    }
    let count = |s: &str| l.files.iter().filter(|f| f.state == s).count();
    let readable = l.files.iter().filter(|f| f.readable == Some("yes")).count();
    out.push_str(&format!(
        "\n{} file(s): {} present, {} drifted, {} unverified, {} missing, {} invalid, {} \
         orphan(s), {} broken rule(s); you can read {readable}\n",
        l.files.len(),
        count("present"),
        count("drifted"),
        count("unverified"),
        count("missing"),
        count("invalid"),
        count("orphan"),
        count("broken"),
    ));
    out
}

/// The rule's recipients; for a file without a rule, who it is encrypted to.
fn recipients_cell(f: &File) -> String {
    if f.recipients.is_empty() {
        if let Some(readers) = &f.readers {
            return format!("(file: {})", shorts(readers));
        }
    }
    shorts(&f.recipients)
}

fn identity_line(id: &Identity) -> String {
    if let Some(why) = &id.unknown {
        return format!("{} (public key unknown: {why})", id.path);
    }
    let keys: Vec<String> = id
        .keys
        .iter()
        .map(|k| match (&k.name, &k.comment) {
            (Some(n), _) => format!("{n}, {}", k.fingerprint),
            (None, Some(c)) => format!("{c}, {}", k.fingerprint),
            (None, None) => k.fingerprint.clone(),
        })
        .collect();
    let from = id
        .public_from
        .as_ref()
        .map(|p| format!(", from {p}"))
        .unwrap_or_default();
    format!("{} ({}{from})", id.path, keys.join("; "))
}
