//! `secrets rekey [FILE...]`: re-encrypt files whose recipients (or armor) differ from the rules.
//!
//! Rules are evaluated once; drift is decided without keys (`drift.rs`), so a no-op run needs
//! no private key. Files are decrypted and re-encrypted as streams on all cores, in constant
//! memory whatever their size (`store::restage`), each written atomically; one file that cannot be decrypted does not stop the others, nor does a rule of
//! a secrets.nix that cannot be used (reported, and the exit code is 1). A run over every rule
//! that finds none of their files fails with where it looked and why that may be.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::drift::{assess_file, Drift, KnownKeys, State};
use crate::error::{Error, Result};
use crate::fs::SyncPoints;
use crate::header::Header;
use crate::keys::Identities;
use crate::lockfile::LockFile;
use crate::par::{self, par_map};
use crate::rules::{Broken, Found, Rule, Rules};
use crate::store::{self, LockfileUpdate, NotReplaced, Replacement};

#[derive(Args, Debug, Default)]
#[command(after_help = "\
Examples:
  secrets rekey                       every file whose recipients changed
  secrets rekey --dry-run             what would be rekeyed and why (no key)
  secrets rekey db.age web.age        only these files
  secrets rekey --force               every file, changed or not")]
pub struct RekeyArgs {
    /// Files to rekey (default: all files in the rules).
    pub files: Vec<PathBuf>,
    /// Rekey every named file (or every file), even those that match the rules.
    #[arg(short, long)]
    pub force: bool,
    /// Print what would be rekeyed and why; write nothing, need no private key.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Worker threads (default: two per core, so file creation overlaps with crypto).
    #[arg(
        short,
        long,
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,
    #[command(flatten)]
    pub rules: RulesFlag,
    #[command(flatten)]
    pub identity: IdentityFlags,
    /// agenix's behaviour and messages: `rekeying FILE...` per file, no progress or summary.
    /// Set by the `agenix -r` entry (with `force`); no flag of ours.
    #[arg(skip)]
    pub agenix: bool,
}

struct Job<'a> {
    rule: &'a Rule,
    header: Header,
}

/// What the run found before writing anything, and what went wrong so far.
struct Plan<'a> {
    /// Rules that cannot be used: their files are left as they are.
    broken: Vec<&'a Broken>,
    selected: usize,
    jobs: Vec<Job<'a>>,
    unchanged: usize,
    missing: Vec<String>,
    failures: Vec<(String, String)>,
}

pub fn run(args: &RekeyArgs, g: &Global) -> Result<i32> {
    crate::fs::harden_process();
    let rules = args.rules.load()?;
    rules.mention_ignored(g.verbose);
    let (selected, broken) = select(&rules, &args.files)?;
    let (lockfile, lockfile_ok) = LockFile::load_lenient(&rules.dir);
    let mut plan = assess(&rules, &selected, &lockfile, args, g);
    // The store reads the lock file again under its guard; this copy is not needed meanwhile.
    drop(lockfile);
    plan.broken = broken;
    // Every rule, and not one file where the rules say: nothing to do would hide a layout
    // the user did not mean (or a repository where nothing was created yet); say which.
    if args.files.is_empty()
        && !args.agenix
        && plan.selected > 0
        && plan.missing.len() == plan.selected
    {
        let mut msg = rules.none_exist_message();
        if !plan.broken.is_empty() {
            msg.push('\n');
            msg.push_str(&broken_report(&rules, &plan.broken));
        }
        return Err(Error::new(msg));
    }
    if args.dry_run {
        return Ok(print_dry_run(&rules, &plan));
    }
    let update = LockfileUpdate {
        writable: lockfile_ok,
        prune: args.files.is_empty(),
    };
    let mut rekeyed = 0;
    if !plan.jobs.is_empty() {
        rekeyed = rekey_jobs(&rules, &mut plan, args, update)?;
    } else if update.prune {
        // Nothing to rewrite, but entries of files whose rule is gone are dropped.
        store::replace_staged(&rules, Vec::new(), &SyncPoints::default(), update);
    }
    finish(&rules, plan, rekeyed, args)
}

/// Decide, without keys, which files need rekeying; the dry run prints why, `-v` says it.
fn assess<'a>(
    rules: &Rules,
    selected: &[&'a Rule],
    lockfile: &LockFile,
    args: &RekeyArgs,
    g: &Global,
) -> Plan<'a> {
    let known = KnownKeys::from_rules(rules);
    // A file that needs nothing is counted, its header dropped at once (large repositories).
    let states = par_map(selected, args.jobs, |r| {
        match assess_file(r, lockfile, &known) {
            State::Present { drift, .. } if drift.is_clean() && !args.force => None,
            s => Some(s),
        }
    });
    let mut plan = Plan {
        broken: Vec::new(),
        selected: selected.len(),
        jobs: Vec::new(),
        unchanged: 0,
        missing: Vec::new(),
        failures: Vec::new(),
    };
    for (rule, state) in selected.iter().copied().zip(states) {
        let Some(state) = state else {
            plan.unchanged += 1;
            continue;
        };
        match state {
            State::Missing => plan.missing.push(rule.name.clone()),
            State::Invalid(why) => plan.failures.push((rule.name.clone(), why)),
            State::Present { header, drift, .. } => {
                if drift.is_clean() && !args.force {
                    plan.unchanged += 1;
                    continue;
                }
                if args.dry_run {
                    println!("would rekey {}: {}", rule.name, reason(&drift));
                } else if g.verbose && !args.agenix {
                    eprintln!("{}: {}", rule.name, reason(&drift));
                }
                plan.jobs.push(Job { rule, header });
            }
        }
    }
    plan
}

fn reason(drift: &Drift) -> String {
    if drift.is_clean() {
        "forced".to_string()
    } else {
        drift.reasons()
    }
}

/// The dry run's report; returns the exit code.
fn print_dry_run(rules: &Rules, plan: &Plan) -> i32 {
    for (name, why) in &plan.failures {
        println!("cannot rekey {name}: {why}");
    }
    for b in &plan.broken {
        println!("cannot rekey: {}: {}", rules.file.display(), b.message);
    }
    for name in &plan.missing {
        println!("missing {name}: listed in the rules, no file");
    }
    println!(
        "{} of {} file(s) would be rekeyed{}",
        plan.jobs.len(),
        plan.selected,
        if plan.failures.is_empty() {
            String::new()
        } else {
            format!(", {} cannot be", plan.failures.len())
        }
    );
    if !plan.broken.is_empty() {
        println!("{} rule(s) cannot be used", plan.broken.len());
    }
    if plan.failures.is_empty() && plan.broken.is_empty() {
        0
    } else {
        1
    }
}

/// Decrypt and re-encrypt the jobs on all cores, then put the new files in place through the
/// store. Returns how many were rekeyed; the others are added to the plan's failures.
fn rekey_jobs(
    rules: &Rules,
    plan: &mut Plan,
    args: &RekeyArgs,
    update: LockfileUpdate,
) -> Result<usize> {
    let ids = args.identity.load()?;
    // Ask for every needed passphrase now, on this thread, before progress output starts:
    // workers then never prompt, and a prompt never interleaves with the progress line.
    // Errors (a wrong passphrase) are reported per file by the workers.
    for j in &plan.jobs {
        let _ = ids.for_header(&j.header);
    }
    // Opened before anything is staged, for the commit's syncfs (see fs::SyncPoints).
    let points = SyncPoints::open(plan.jobs.iter().map(|j| j.rule.path.as_path()));
    let results = run_jobs(&plan.jobs, &ids, args);
    // New ciphertexts are staged next to their files; the store puts them in place together,
    // under the write guard, and only over files that still hold what was read: an edit that
    // wrote one meanwhile wins, and that file is reported.
    let mut batch = Vec::new();
    let mut names = Vec::new();
    for (job, res) in plan.jobs.iter().zip(results) {
        match res {
            Ok((staged, read)) => {
                batch.push(Replacement { staged, read });
                names.push(job.rule.name.clone());
            }
            Err(why) => plan
                .failures
                .push((job.rule.name.clone(), failure(rules, job, why, &ids, args))),
        }
    }
    let mut rekeyed = 0;
    for (name, res) in names
        .into_iter()
        .zip(store::replace_staged(rules, batch, &points, update))
    {
        match res {
            Ok(()) => rekeyed += 1,
            Err(NotReplaced::Changed) => plan.failures.push((
                name,
                "the file changed while it was being rekeyed (another program wrote it); it \
                 was left as it is"
                    .to_string(),
            )),
            Err(NotReplaced::Failed(e)) => plan.failures.push((name, e.to_string())),
        }
    }
    Ok(rekeyed)
}

/// Why a file could not be rekeyed; for a file no identity can open, who can read it and
/// who must rekey it instead (`readers::explain_lines`), on the lines below.
fn failure(rules: &Rules, job: &Job, why: Error, ids: &Identities, args: &RekeyArgs) -> String {
    if why.kind() != crate::error::ErrorKind::NoMatchingIdentity {
        return why.to_string();
    }
    let mut msg = crate::crypto::no_match_facts(&job.header, ids);
    for line in crate::readers::explain_lines(
        &job.rule.name,
        job.rule,
        rules,
        // Advice only: a file that changed since it was read changes only the advice.
        &crate::fs::hash_file(&job.rule.path).unwrap_or_default(),
        &job.header,
        &args.identity.identities,
    ) {
        msg.push_str("\n    ");
        msg.push_str(&line);
    }
    msg
}

/// The summary, the warnings, and the error that lists every file that failed and every rule
/// that cannot be used.
fn finish(rules: &Rules, mut plan: Plan, rekeyed: usize, args: &RekeyArgs) -> Result<i32> {
    let failures = &mut plan.failures;
    if !args.agenix {
        let mut extra = String::new();
        if !failures.is_empty() {
            extra.push_str(&format!(", {} failed", failures.len()));
        }
        if !plan.broken.is_empty() {
            extra.push_str(&format!(", {} rule(s) cannot be used", plan.broken.len()));
        }
        eprintln!(
            "rekeyed {rekeyed} file(s), {} already matched the rules{extra}",
            plan.unchanged,
        );
    }
    for name in &plan.missing {
        eprintln!("warning: {name} is listed in the rules but does not exist; skipped");
    }
    if failures.is_empty() && plan.broken.is_empty() {
        return Ok(0);
    }
    failures.sort();
    let mut parts = Vec::new();
    if !failures.is_empty() {
        let mut msg = format!("{} file(s) could not be rekeyed:", failures.len());
        for (name, why) in failures.iter() {
            msg.push_str(&format!("\n  {name}: {why}"));
        }
        parts.push(msg);
    }
    if !plan.broken.is_empty() {
        parts.push(broken_report(rules, &plan.broken));
    }
    let mut msg = parts.join("\n");
    if !args.agenix {
        msg.push_str("\nall other files were rekeyed; fix these and run `secrets rekey` again");
    }
    Err(Error::new(msg))
}

/// The rules that cannot be used, one a line.
fn broken_report(rules: &Rules, broken: &[&Broken]) -> String {
    let mut msg = format!(
        "{} rule(s) in {} cannot be used, and their files were left as they are:",
        broken.len(),
        rules.file.display()
    );
    for b in broken {
        msg.push_str(&format!("\n  {}", b.message));
    }
    msg
}

/// The rules to consider: the named files (each must have a rule), else all of them; and the
/// rules among those that cannot be used.
fn select<'a>(rules: &'a Rules, files: &[PathBuf]) -> Result<(Vec<&'a Rule>, Vec<&'a Broken>)> {
    if files.is_empty() {
        return Ok((
            rules.secrets.values().collect(),
            rules.broken.iter().collect(),
        ));
    }
    let mut out: Vec<&Rule> = Vec::new();
    let mut broken: Vec<&Broken> = Vec::new();
    for f in files {
        match rules.find(f)? {
            Found::Rule(r) if !out.iter().any(|o| o.name == r.name) => out.push(r),
            Found::Broken(b) if !broken.iter().any(|o| o.name == b.name) => broken.push(b),
            _ => {}
        }
    }
    Ok((out, broken))
}

fn run_jobs(
    jobs: &[Job],
    ids: &Identities,
    args: &RekeyArgs,
) -> Vec<Result<(store::Staged, String)>> {
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let show = !args.agenix && std::io::stderr().is_terminal();
    let last = Mutex::new(Instant::now());
    let workers = match args.jobs {
        0 => 2 * par::cores(),
        n => n,
    };
    let results = par_map(jobs, workers, |job| {
        if args.agenix {
            eprintln!("rekeying {}...", job.rule.name);
        }
        let r = store::restage(job.rule, ids).map_err(|e| match e.kind() {
            crate::error::ErrorKind::Unreadable => e.context("cannot read"),
            _ => e,
        });
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if show {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if n == total || last.elapsed() >= Duration::from_millis(100) {
                *last = Instant::now();
                eprint!("\r{n}/{total} rekeyed");
            }
        }
        r
    });
    if show {
        eprint!("\r\x1b[K");
    }
    results
}
