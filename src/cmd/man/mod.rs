//! `secrets man`: the man pages, in roff. One page per command (`secrets-edit(1)`, …) besides
//! `secrets(1)`, whose SUBCOMMANDS section names them, and `agenix(1)` and `ragenix(1)` for the
//! entry points of those names. All of them are built from clap's own description of the
//! command line (and the entry points' help texts), so a page cannot drift from what the
//! binary accepts.

mod render;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, CommandFactory};

use super::{Cli, Global};
use crate::error::{Error, Result};

/// The pages of the entry points (`secrets man agenix`, agenix.1), with their help texts.
const ENTRIES: [(&str, &str); 2] = [
    ("agenix", crate::agenix::HELP),
    ("ragenix", crate::agenix::RAGENIX_HELP),
];

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets man | man -l -            read secrets(1)
  secrets man edit | man -l -       read secrets-edit(1)
  secrets man --out-dir share/man/man1
                                    write every page (for a package)")]
pub struct ManArgs {
    /// The page to print: a command (edit prints secrets-edit(1)), agenix or ragenix.
    /// Default: secrets(1).
    #[arg(value_name = "PAGE", value_parser = PageParser)]
    pub page: Option<String>,
    /// Write every page (secrets.1, secrets-COMMAND.1 for each command, agenix.1,
    /// ragenix.1) into DIR, created if missing, instead of printing one.
    #[arg(long, value_name = "DIR", conflicts_with = "page")]
    pub out_dir: Option<PathBuf>,
}

pub fn run(args: &ManArgs, _g: &Global) -> Result<i32> {
    if let Some(dir) = &args.out_dir {
        return write_all(dir);
    }
    let page = match args.page.as_deref() {
        None => Page::Top,
        Some(name) => match ENTRIES.iter().find(|(entry, _)| *entry == name) {
            Some(&(entry, help)) => Page::Entry(entry, help),
            None => Page::Command(name.to_owned()),
        },
    };
    super::write_stdout(&page.render()?)
}

/// One man page.
enum Page {
    Top,
    Command(String),
    /// An entry point (its name and help text).
    Entry(&'static str, &'static str),
}

impl Page {
    /// Every page, in the order `--out-dir` writes them.
    fn all() -> Vec<Page> {
        let mut pages = vec![Page::Top];
        pages.extend(command_names().into_iter().map(Page::Command));
        pages.extend(ENTRIES.map(|(name, help)| Page::Entry(name, help)));
        pages
    }

    fn file_name(&self) -> String {
        match self {
            Page::Top => "secrets.1".into(),
            Page::Command(name) => format!("secrets-{name}.1"),
            Page::Entry(name, _) => format!("{name}.1"),
        }
    }

    fn render(&self) -> Result<Vec<u8>> {
        match self {
            Page::Top => render::top(),
            Page::Command(name) => render::command(name),
            Page::Entry(name, help) => render::entry(name, help),
        }
        .map(|page| render::ascii_only(&page))
        .map_err(|e| {
            Error::new(format!(
                "cannot render the man page {}: {e}",
                self.file_name()
            ))
        })
    }
}

/// The commands that get a page: every one `secrets --help` lists. A hidden command is not
/// meant for users, so it gets no page (and secrets(1) does not name it).
fn command_names() -> Vec<String> {
    // Not built: building would add clap's own `help` command, which has no page.
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// The names `secrets man PAGE` accepts. Computed once; static because clap's possible values
/// borrow their names for good (clap's `string` feature would copy them instead).
fn page_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = command_names()
            .into_iter()
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect();
        names.extend(ENTRIES.map(|(name, _)| name));
        names
    })
}

/// Accepts the names of `page_names`, so an unknown one is clap's usage error (exit 2) listing
/// the valid ones, and completions offer them. The list is computed when asked for, not when
/// the command line is declared: it comes from that same declaration.
#[derive(Clone)]
struct PageParser;

impl TypedValueParser for PageParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> std::result::Result<String, clap::Error> {
        PossibleValuesParser::new(page_names().iter().copied()).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            page_names().iter().map(|n| PossibleValue::new(*n)),
        ))
    }
}

/// Write every page into `dir`: all are rendered and staged as temp files first, so a failure
/// leaves no page behind, then each replaces its file atomically. Prints nothing on success.
fn write_all(dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create the directory", dir, e))?;
    let mut staged = Vec::new();
    for page in Page::all() {
        let target = dir.join(page.file_name());
        staged.push(crate::fs::stage_write(&target, &page.render()?, 0o644)?);
    }
    let points = crate::fs::SyncPoints::open(staged.iter().map(|s| s.target.as_path()));
    for result in crate::fs::commit_staged(staged, &points) {
        result?;
    }
    Ok(0)
}
