//! Rendering the pages. clap_mangen writes the title, NAME, SYNOPSIS, DESCRIPTION, OPTIONS and
//! SUBCOMMANDS sections from clap's `Command`; the rest is ours: the text after the options
//! (examples, exit codes) becomes sections of its own with its indented lines kept verbatim
//! (clap_mangen would let roff refill them into one paragraph), then SEE ALSO.

use std::io;

use clap::CommandFactory;
use clap_mangen::roff::{roman, Inline, Roff};
use clap_mangen::Man;

use super::command_names;
use crate::cmd::Cli;

/// What the roff crate writes before every document: it defines `\*(Aq`, the straight
/// apostrophe it writes for `'` (so shell quotes survive copy and paste). Pages are written
/// in several parts, each starting with it; one copy is enough.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// The manual's name in the page header and footer.
const MANUAL: &str = "secrets manual";

/// Related pages for a command's SEE ALSO, after secrets(1). A name that is not (or no longer)
/// a command is left out, so no page points to one that does not exist.
const RELATED: &[(&str, &[&str])] = &[
    ("edit", &["decrypt", "encrypt"]),
    ("decrypt", &["edit"]),
    ("encrypt", &["edit", "rekey"]),
    ("rekey", &["check", "edit"]),
    ("check", &["rekey", "schema", "list"]),
    ("list", &["check", "rekey"]),
    ("install", &["check"]),
    ("schema", &["check"]),
    ("completions", &["man"]),
    ("man", &["completions"]),
];

/// The command line as the pages describe it: built (so every command knows its full name,
/// `secrets edit`, and the global options it inherits), without clap's `help` command, which
/// has no page.
fn cli() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// secrets(1).
pub(super) fn top() -> io::Result<Vec<u8>> {
    let cmd = cli();
    page(
        cmd,
        "SECRETS",
        true,
        vec![roman("agenix(1), ragenix(1), age(1)")],
    )
}

/// secrets-NAME(1).
pub(super) fn command(name: &str) -> io::Result<Vec<u8>> {
    let Some(cmd) = cli().find_subcommand(name).cloned() else {
        return Err(io::Error::other(format!(
            "there is no command {name} (the commands: {})",
            command_names().join(", ")
        )));
    };
    let commands = command_names();
    let related = RELATED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .unwrap_or_default()
        .iter()
        .filter(|r| commands.iter().any(|c| c == *r));
    let mut see_also = vec![roman("secrets(1)")];
    for r in related {
        see_also.push(roman(format!(", secrets-{r}(1)")));
    }
    let title = format!("SECRETS-{}", name.to_uppercase());
    page(cmd, &title, false, see_also)
}

/// The `.TH` line. clap_mangen's would lose its empty date argument (an empty word is no
/// argument to roff), shifting the source and manual into the wrong places.
fn title_line(title: &str) -> Roff {
    let source = format!("secrets {}", env!("CARGO_PKG_VERSION"));
    let mut roff = Roff::default();
    // No date: the pages are rebuilt from the same sources to the same bytes.
    roff.control("TH", [title, "1", "\"\"", source.as_str(), MANUAL]);
    // No hyphenation: a hyphen added at a line break (`--ver-` `sion`) would corrupt option
    // names and commands that are read to be typed.
    roff.control("nh", []);
    roff
}

/// One page from clap's description of `cmd` (see the module comment).
fn page(cmd: clap::Command, title: &str, top: bool, see_also: Vec<Inline>) -> io::Result<Vec<u8>> {
    let cmd = arguments_apart(cmd);
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|t| t.to_string());
    let man = Man::new(cmd);
    let mut parts = Vec::new();
    let mut part = |f: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| -> io::Result<()> {
        let mut buf = Vec::new();
        f(&mut buf)?;
        parts.push(buf);
        Ok(())
    };
    part(&|w| title_line(title).to_writer(w))?;
    part(&|w| man.render_name_section(w))?;
    part(&|w| man.render_synopsis_section(w))?;
    part(&|w| man.render_description_section(w))?;
    if has_args {
        part(&|w| man.render_options_section(w))?;
    }
    if top {
        part(&|w| man.render_subcommands_section(w))?;
    }
    let mut roff = Roff::default();
    if let Some(text) = after {
        after_help(&mut roff, &text);
    }
    roff.control("SH", ["SEE ALSO"]).text(see_also);
    part(&|w| roff.to_writer(w))?;
    if top {
        part(&|w| man.render_version_section(w))?;
    }
    Ok(join(parts))
}

/// Give positional arguments a section of their own (ARGUMENTS) apart from the options, as
/// `--help` does; clap_mangen would list both under OPTIONS. Only for the pages: the headings
/// are set on this copy of the command.
fn arguments_apart(mut cmd: clap::Command) -> clap::Command {
    let ids: Vec<(clap::Id, bool)> = cmd
        .get_arguments()
        .filter(|a| a.get_help_heading().is_none())
        .map(|a| (a.get_id().clone(), a.is_positional()))
        .collect();
    for (id, positional) in ids {
        let heading = if positional { "Arguments" } else { "Options" };
        cmd = cmd.mut_arg(id, |a| a.help_heading(heading));
    }
    cmd
}

/// The text after the options, as sections: an unindented `Heading:` line starts one (the rest
/// of the line is its first text), indented lines are kept verbatim (no fill, no hyphenation,
/// common indentation removed), other lines are prose.
fn after_help(roff: &mut Roff, text: &str) {
    let mut verbatim: Vec<&str> = Vec::new();
    // Whether the current section already has content, and whether a blank line or a
    // verbatim block came since the last prose line: then the next prose is a new paragraph.
    let mut started = false;
    let mut gap = false;
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
            verbatim.push(line);
            continue;
        }
        gap |= flush_verbatim(roff, &mut verbatim, &mut started);
        if line.trim().is_empty() {
            gap = true;
            continue;
        }
        let rest = match heading(line) {
            Some((head, rest)) => {
                roff.control("SH", [section_name(head).as_str()]);
                started = false;
                rest
            }
            None => line,
        };
        if !rest.is_empty() {
            if started && gap {
                roff.control("PP", []);
            }
            roff.text([roman(rest)]);
            started = true;
            gap = false;
        }
    }
    flush_verbatim(roff, &mut verbatim, &mut started);
}

/// Write `lines` (if any) as one verbatim block; true if it did.
fn flush_verbatim(roff: &mut Roff, lines: &mut Vec<&str>, started: &mut bool) -> bool {
    if lines.is_empty() {
        return false;
    }
    let indent = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    if *started {
        roff.control("PP", []);
    }
    roff.control("nf", []);
    for l in lines.drain(..) {
        roff.text([roman(&l[indent..])]);
    }
    roff.control("fi", []);
    *started = true;
    true
}

/// `Examples:` or `Exit codes: 0 …`: a short capitalized phrase and a colon, unindented.
fn heading(line: &str) -> Option<(&str, &str)> {
    let (head, rest) = line.split_once(':')?;
    let words = head.split(' ').count();
    let plain = head.chars().all(|c| c.is_ascii_alphabetic() || c == ' ');
    let capital = head.starts_with(|c: char| c.is_ascii_uppercase());
    (plain && capital && words <= 3).then(|| (head, rest.trim()))
}

/// The conventional section name (man-pages(7)) for a heading of the help text.
fn section_name(head: &str) -> String {
    match head {
        "Exit codes" => "EXIT STATUS".into(),
        _ => head.to_uppercase(),
    }
}

/// The page of the entry point `name` (agenix(1), ragenix(1)), from the help text `help` it
/// prints: its first paragraph is the NAME line, the second the SYNOPSIS, the rest the
/// DESCRIPTION, each kept verbatim.
pub(super) fn entry(name: &str, help: &str) -> io::Result<Vec<u8>> {
    let mut paragraphs = help.split("\n\n");
    let name_line = paragraphs.next().unwrap_or(name);
    let synopsis = paragraphs.next().unwrap_or_default();
    let mut roff = title_line(&name.to_ascii_uppercase());
    roff.control("SH", ["NAME"]).text([roman(name_line)]);
    roff.control("SH", ["SYNOPSIS"]);
    let mut started = false;
    flush_verbatim(&mut roff, &mut synopsis.lines().collect(), &mut started);
    roff.control("SH", ["DESCRIPTION"]);
    started = false;
    for p in paragraphs {
        flush_verbatim(&mut roff, &mut p.lines().collect(), &mut started);
    }
    let commands = command_names();
    let mut see_also = vec![roman("secrets(1)")];
    for c in ["edit", "decrypt", "rekey"] {
        if commands.iter().any(|n| n == c) {
            see_also.push(roman(format!(", secrets-{c}(1)")));
        }
    }
    roff.control("SH", ["SEE ALSO"]).text(see_also);
    let mut buf = Vec::new();
    roff.to_writer(&mut buf)?;
    Ok(buf)
}

/// The parts of one page as one document, with the roff crate's preamble once, at the top.
/// The page with every non-ASCII character written as a roff escape (`\[u2026]` for `…`):
/// groff without preconv reads its input as Latin-1 and warns on UTF-8, and man-db does not
/// always run preconv. Help texts may use any character.
pub(super) fn ascii_only(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out.into_bytes()
}

fn join(parts: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        match p.strip_prefix(PREAMBLE.as_bytes()) {
            Some(rest) if i > 0 => out.extend_from_slice(rest),
            _ => out.extend_from_slice(&p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{after_help, heading};
    use clap_mangen::roff::Roff;

    #[test]
    fn headings_are_short_capitalized_phrases() {
        assert_eq!(heading("Examples:"), Some(("Examples", "")));
        assert_eq!(
            heading("Exit codes: 0 success"),
            Some(("Exit codes", "0 success"))
        );
        assert_eq!(heading("secrets edit: a file"), None);
        assert_eq!(heading("The file db.age: what it holds"), None);
        assert_eq!(heading("See the README, then run it again: done"), None);
    }

    #[test]
    fn indented_lines_are_verbatim_blocks_apart_from_prose() {
        let mut roff = Roff::default();
        after_help(
            &mut roff,
            "Examples:\n  a -x   one\n    b\n\n  c\nafter\nExit codes: 0 ok\nmore\n\nnext\n",
        );
        let out = roff.to_roff();
        let want = ".SH EXAMPLES\n.nf\na \\-x   one\n  b\n.fi\n.PP\n.nf\nc\n.fi\n.PP\n\
                    after\n.SH \"EXIT STATUS\"\n0 ok\nmore\n.PP\nnext\n";
        assert_eq!(out, want);
    }
}
