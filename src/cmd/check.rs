//! `secrets check [--json]`: for CI. Without any private key, do the encrypted files match the
//! rules? Exit 0 when clean, 1 when problems are found, 2 on usage errors.

use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::{Global, RulesFlag};
use crate::drift::{assess_file, Drift, KnownKeys, State, Who};
use crate::error::Result;
use crate::lockfile::{self, LockFile};
use crate::par::par_map;
use crate::rules::{Broken, Rules};

/// The JSON Schema of the `--json` report, printed by `secrets check --schema`.
pub const REPORT_SCHEMA: &str = include_str!("../check.schema.json");

#[derive(Args, Debug, Default)]
#[command(after_help = "\
Examples:
  secrets check                       one line per problem (exit 1 if any)
  secrets check --json > report.json  the report for CI (see --schema)
  secrets check --schema              the JSON Schema of that report")]
pub struct CheckArgs {
    /// Print a machine-readable JSON report on stdout (see --schema).
    #[arg(long)]
    pub json: bool,
    /// Print the JSON Schema of the --json report and exit.
    #[arg(long, conflicts_with = "json")]
    pub schema: bool,
    #[command(flatten)]
    pub rules: RulesFlag,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<Vec<Who>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<Who>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_armor: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_armor: Option<bool>,
}

impl Problem {
    fn new(kind: &'static str, file: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            kind,
            message: message.into(),
            added: None,
            removed: None,
            expected_armor: None,
            actual_armor: None,
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub version: u32,
    pub ok: bool,
    pub rules: Option<String>,
    pub checked: usize,
    pub problems: Vec<Problem>,
}

pub fn run(args: &CheckArgs, g: &Global) -> Result<i32> {
    if args.schema {
        println!("{}", REPORT_SCHEMA.trim_end());
        return Ok(0);
    }
    let report = check(&args.rules, g.verbose);
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| crate::Error::new(format!("cannot render the report: {e}")))?;
        println!("{text}");
    } else {
        for p in &report.problems {
            // No file (no rules file at all): the message alone, no empty prefix.
            match p.file.as_str() {
                "" => println!("{}", p.message),
                file => println!("{file}: {}", p.message),
            }
        }
        let broken = report.problems.iter().filter(|p| p.kind == "rule").count();
        if report.ok {
            println!("ok: {} file(s) match the rules", report.checked);
        } else if report.problems.iter().any(|p| p.kind == "rules") {
            // The rules could not be loaded: no file was looked at.
            println!(
                "{} problem(s) found in the rules file; no file was checked",
                report.problems.len()
            );
        } else {
            println!(
                "{} problem(s) found in {} file(s) listed in the rules{}",
                report.problems.len(),
                report.checked,
                if broken > 0 {
                    format!("; {broken} rule(s) cannot be used")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(if report.ok { 0 } else { 1 })
}

/// Build the report. Never fails: a rules file that cannot be loaded is itself a problem, and
/// so is each rule of a secrets.nix that cannot be used.
pub fn check(flag: &RulesFlag, verbose: bool) -> Report {
    let rules = match flag.load() {
        Ok(r) => r,
        Err(e) => return unloadable_rules(flag, e),
    };
    rules.mention_ignored(verbose);
    let mut problems: Vec<Problem> = rules
        .broken
        .iter()
        .map(|b| broken_problem(&rules, b))
        .collect();
    let lockfile = match LockFile::load(&rules.dir) {
        Ok(l) => l,
        Err(e) => {
            problems.push(Problem::new("lock", lockfile::FILE_NAME, e.message()));
            LockFile {
                path: lockfile::path_in(&rules.dir),
                ..LockFile::default()
            }
        }
    };
    let known = KnownKeys::from_rules(&rules);
    let list: Vec<_> = rules.secrets.values().collect();
    // Each file's problems are made on the worker that read it: a header is dropped at once,
    // not kept for every file of a large repository.
    let found = par_map(&list, 0, |r| {
        let state = assess_file(r, &lockfile, &known);
        let missing = matches!(state, State::Missing);
        let mut mine = Vec::new();
        file_problems(r, state, &mut mine);
        (missing, mine)
    });
    let none_exist = !list.is_empty() && found.iter().all(|(missing, _)| *missing);
    for (_, mine) in found {
        problems.extend(mine);
    }
    if none_exist {
        // Said once, beside each missing file: where check looked, and why none may be there.
        problems.push(Problem::new(
            "layout",
            rules.file.display().to_string(),
            // One problem, one line.
            rules.none_exist_message().replace('\n', " "),
        ));
    }
    orphan_problems(&rules, &mut problems);
    for (file, message) in crate::generate::public_half_problems(&rules) {
        problems.push(Problem::new("pub", file, message));
    }
    problems.sort();
    Report {
        version: 1,
        ok: problems.is_empty(),
        rules: Some(rules.file.display().to_string()),
        checked: rules.secrets.len() + rules.broken.len(),
        problems,
    }
}

/// A rule of a secrets.nix that cannot be used: named by its file name when it has one, else
/// by its name as written (escaped).
fn broken_problem(rules: &Rules, b: &Broken) -> Problem {
    let file = b
        .file
        .clone()
        .unwrap_or_else(|| crate::names::escaped(&b.name));
    Problem::new(
        "rule",
        file,
        format!(
            "{} (in {}); only this rule is affected until it is fixed",
            b.message,
            rules.file.display()
        ),
    )
}

/// The report when the rules cannot be loaded.
fn unloadable_rules(flag: &RulesFlag, e: crate::Error) -> Report {
    // Name the file that was found but could not be loaded (the schema promises its path);
    // "" and null only when there is none at all.
    let found = Rules::discover_path(flag.rules.as_deref(), flag.start(None))
        .ok()
        .map(|l| std::fs::canonicalize(&l.path).unwrap_or(l.path));
    // One problem per problem of the file, each under its name once.
    let problems = match e.about() {
        Some((file, list)) => list
            .iter()
            .map(|m| Problem::new("rules", file, m.as_str()))
            .collect(),
        None => {
            let file = found.as_ref().map(|p| p.display().to_string());
            vec![Problem::new("rules", file.unwrap_or_default(), e.message())]
        }
    };
    Report {
        version: 1,
        ok: false,
        rules: found.map(|p| p.display().to_string()),
        checked: 0,
        problems,
    }
}

/// What is wrong with one file listed in the rules.
fn file_problems(rule: &crate::rules::Rule, state: State, problems: &mut Vec<Problem>) {
    let name = &rule.name;
    match state {
        State::Missing => problems.push(Problem::new(
            "missing",
            name,
            format!(
                "listed in the rules but the file does not exist; create it with `{}` or \
                 remove its rule",
                crate::generate::create_command(rule)
            ),
        )),
        State::Invalid(why) => problems.push(Problem::new(
            "invalid",
            name,
            format!("not a valid age file: {why}"),
        )),
        State::Present { drift, .. } => drift_problems(name, &drift, problems),
    }
}

/// How a present file differs from its rule: recipients, unverified recipients, armor.
fn drift_problems(name: &str, drift: &Drift, problems: &mut Vec<Problem>) {
    if !drift.added.is_empty() || !drift.removed.is_empty() {
        let mut parts = Vec::new();
        if !drift.added.is_empty() {
            parts.push(format!(
                "added to the rule, not in the file: {}",
                labels(&drift.added)
            ));
        }
        if !drift.removed.is_empty() {
            parts.push(format!(
                "in the file, not in the rule: {}",
                labels(&drift.removed)
            ));
        }
        let mut p = Problem::new(
            "recipients",
            name,
            format!(
                "recipients differ from the rule ({}); run `secrets rekey {name}`",
                parts.join("; ")
            ),
        );
        p.added = Some(drift.added.clone());
        p.removed = Some(drift.removed.clone());
        problems.push(p);
    }
    if let Some(why) = &drift.unverified {
        problems.push(Problem::new(
            "unverified",
            name,
            format!(
                "{why}; run `secrets rekey {name}` to re-encrypt it and record it in {}",
                lockfile::FILE_NAME
            ),
        ));
    }
    if let Some(actual) = drift.armor {
        let mut p = Problem::new(
            "armor",
            name,
            format!(
                "the rule says armor = {} but the file is {}; run `secrets rekey {name}`",
                !actual,
                if actual { "ASCII-armored" } else { "binary" }
            ),
        );
        p.expected_armor = Some(!actual);
        p.actual_armor = Some(actual);
        problems.push(p);
    }
}

/// `*.age` files below the rules' directory that no rule names.
fn orphan_problems(rules: &Rules, problems: &mut Vec<Problem>) {
    for orphan in orphans(rules) {
        // A plaintext file that merely ends in .age must not be called "encrypted": it may be
        // a secret committed in the clear.
        let not_age = crate::fs::read_regular(&rules.dir.join(&orphan))
            .ok()
            .and_then(|d| crate::header::Header::parse(&d).err());
        let message = match not_age {
            Some(why) => format!(
                "{why}; it has no rule in {}: if it holds a secret, purge it from git history, \
                 then add a rule for \"{orphan}\" and set it with `secrets edit {orphan}`",
                rules.file.display()
            ),
            None => format!(
                "encrypted file without a rule in {}; add a rule for \"{orphan}\" or delete the \
                 file",
                rules.file.display()
            ),
        };
        problems.push(Problem::new("orphan", &orphan, message));
    }
}

fn labels(w: &[Who]) -> String {
    w.iter().map(Who::label).collect::<Vec<_>>().join(", ")
}

/// The `*.age` files below the rules' directory that no rule names (a rule that cannot be used
/// still names its file); shared with `secrets list`.
pub fn orphans(rules: &Rules) -> Vec<String> {
    let mut files = age_files(&rules.dir);
    files.retain(|f| !rules.names_file(f));
    files
}

/// Every `*.age` regular file below `dir`, as a name relative to it. Hidden directories
/// (`.git`) and symlinks (e.g. Nix `result` links) are not followed.
fn age_files(dir: &Path) -> Vec<String> {
    let mut files = crate::fs::regular_files(dir, |name| !name.starts_with('.'));
    files.retain(|rel| rel.ends_with(".age"));
    files
}
