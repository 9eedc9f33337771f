//! `secrets rekey [FILE...]`: re-encrypt files whose recipients (or armor) differ from the rules.
//!
//! Rules are evaluated once; drift is decided without keys (`drift.rs`), so a no-op run needs
//! no private key. Files are decrypted and re-encrypted in memory on all cores, each written
//! atomically; one file that cannot be decrypted does not stop the others.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::Global;
use crate::drift::{assess_file, par_map, KnownKeys, State};
use crate::error::{Error, Result};
use crate::header::Header;
use crate::identity::Identities;
use crate::lock::{entry_for, Entry, Lock};
use crate::rules::{Rule, Rules};

#[derive(Args, Debug, Default)]
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
}

#[derive(Default)]
struct Options {
    force: bool,
    dry_run: bool,
    jobs: usize,
    /// agenix's behaviour and messages: `rekeying FILE...` per file, no progress or summary.
    agenix: bool,
}

pub fn run(args: &RekeyArgs, g: &Global) -> Result<i32> {
    let opts = Options {
        force: args.force,
        dry_run: args.dry_run,
        jobs: args.jobs,
        agenix: false,
    };
    rekey(&args.files, &opts, g)
}

/// `agenix -r`: agenix's semantics, every file in the rules is re-encrypted.
pub fn agenix_rekey(g: &Global) -> Result<i32> {
    let opts = Options {
        force: true,
        agenix: true,
        ..Options::default()
    };
    rekey(&[], &opts, g)
}

struct Job<'a> {
    rule: &'a Rule,
    data: Vec<u8>,
    header: Header,
}

fn rekey(files: &[PathBuf], opts: &Options, g: &Global) -> Result<i32> {
    crate::fsutil::harden_process();
    let rules = Rules::discover(g.rules.as_deref())?;
    let selected = select(&rules, files)?;
    let (lock, lock_ok) = Lock::load_lenient(&rules.dir);
    let known = KnownKeys::from_rules(&rules);

    let states = par_map(&selected, opts.jobs, |r| assess_file(r, &lock, &known));
    let mut missing = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut jobs = Vec::new();
    let mut unchanged = 0usize;
    for (rule, state) in selected.iter().copied().zip(states) {
        match state {
            State::Missing => missing.push(rule.name.clone()),
            State::Invalid(why) => failures.push((rule.name.clone(), why)),
            State::Present {
                data,
                header,
                drift,
            } => {
                if drift.is_clean() && !opts.force {
                    unchanged += 1;
                    continue;
                }
                if opts.dry_run {
                    let why = if drift.is_clean() {
                        "forced".to_string()
                    } else {
                        drift.reasons()
                    };
                    println!("would rekey {}: {why}", rule.name);
                } else if g.verbose && !opts.agenix {
                    let why = if drift.is_clean() {
                        "forced".to_string()
                    } else {
                        drift.reasons()
                    };
                    eprintln!("{}: {why}", rule.name);
                }
                jobs.push(Job { rule, data, header });
            }
        }
    }

    if opts.dry_run {
        for (name, why) in &failures {
            println!("cannot rekey {name}: {why}");
        }
        for name in &missing {
            println!("missing {name}: listed in the rules, no file");
        }
        println!(
            "{} of {} file(s) would be rekeyed{}",
            jobs.len(),
            selected.len(),
            if failures.is_empty() {
                String::new()
            } else {
                format!(", {} cannot be", failures.len())
            }
        );
        return Ok(if failures.is_empty() { 0 } else { 1 });
    }

    let mut rekeyed = 0usize;
    if !jobs.is_empty() {
        let ids = super::identities(g)?;
        // Ask for every needed passphrase now, on this thread, before progress output starts:
        // workers then never prompt, and a prompt never interleaves with the progress line.
        // Errors (a wrong passphrase) are reported per file by the workers.
        for j in &jobs {
            let _ = ids.for_header(&j.header);
        }
        // Opened before anything is staged, for the commit's syncfs (see fsutil::SyncPoints).
        let points = crate::fsutil::SyncPoints::open(jobs.iter().map(|j| j.rule.path.as_path()));
        let results = run_jobs(&jobs, &ids, opts);
        // New ciphertexts are staged next to their files; put them in place together, under
        // the write guard, and only over files that still hold what was read: an edit that
        // wrote one meanwhile wins, and that file is reported.
        let guard = crate::lock::lock_for_writing(&rules.dir);
        let mut staged = Vec::new();
        let mut entries = Vec::new();
        for (job, res) in jobs.iter().zip(results) {
            match res {
                Ok(_)
                    if crate::fsutil::read_regular(&job.rule.path).ok().as_deref()
                        != Some(&job.data[..]) =>
                {
                    failures.push((
                        job.rule.name.clone(),
                        "the file changed while it was being rekeyed (another program wrote \
                         it); it was left as it is"
                            .to_string(),
                    ))
                }
                Ok((s, entry)) => {
                    staged.push(s);
                    entries.push((job.rule.name.clone(), entry));
                }
                Err(why) => failures.push((job.rule.name.clone(), why)),
            }
        }
        let mut written = Vec::new();
        for ((name, entry), res) in entries
            .into_iter()
            .zip(crate::fsutil::commit_staged(staged, &points))
        {
            match res {
                Ok(()) => {
                    rekeyed += 1;
                    written.push((name, entry));
                }
                Err(e) => failures.push((name, e.to_string())),
            }
        }
        save_lock(&guard, written, lock_ok, &rules, files.is_empty());
    } else if files.is_empty() {
        let guard = crate::lock::lock_for_writing(&rules.dir);
        save_lock(&guard, Vec::new(), lock_ok, &rules, true);
    }

    if !opts.agenix {
        eprintln!(
            "rekeyed {rekeyed} file(s), {unchanged} already matched the rules{}",
            if failures.is_empty() {
                String::new()
            } else {
                format!(", {} failed", failures.len())
            }
        );
    }
    for name in &missing {
        eprintln!("warning: {name} is listed in the rules but does not exist; skipped");
    }
    if failures.is_empty() {
        return Ok(0);
    }
    failures.sort();
    let mut msg = format!("{} file(s) could not be rekeyed:", failures.len());
    for (name, why) in &failures {
        msg.push_str(&format!("\n  {name}: {why}"));
    }
    if !opts.agenix {
        msg.push_str("\nall other files were rekeyed; fix these and run `secrets rekey` again");
    }
    Err(Error::new(msg))
}

/// The rules to consider: the named files (each must have a rule), else all of them.
fn select<'a>(rules: &'a Rules, files: &[PathBuf]) -> Result<Vec<&'a Rule>> {
    if files.is_empty() {
        return Ok(rules.secrets.values().collect());
    }
    let mut out: Vec<&Rule> = Vec::new();
    for f in files {
        let r = rules.lookup(f)?;
        if !out.iter().any(|o| o.name == r.name) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Record the new entries; after a run over all files, drop entries of files without a rule.
/// Applied to the lock file as it is now (see `lock::update`), not to the copy read at the
/// start, so entries that an edit recorded during this run are kept.
fn save_lock(
    guard: &crate::lock::WriteGuard,
    written: Vec<(String, Entry)>,
    lock_ok: bool,
    rules: &Rules,
    prune: bool,
) {
    if !lock_ok {
        eprintln!(
            "warning: {} was left unchanged because it could not be read; fix it (or delete it \
             and run `secrets rekey --force`)",
            crate::lock::path_in(&rules.dir).display()
        );
        return;
    }
    let res = crate::lock::update(guard, &rules.dir, |lock| {
        lock.files.extend(written);
        if prune {
            lock.files
                .retain(|name, _| rules.secrets.contains_key(name));
        }
    });
    if let Err(e) = res {
        eprintln!(
            "warning: {e}; the rekeyed files are written, but X25519/plugin files stay \
             \"unverified\" until the lock can be written"
        );
    }
}

fn run_jobs(
    jobs: &[Job],
    ids: &Identities,
    opts: &Options,
) -> Vec<std::result::Result<(crate::fsutil::Staged, Entry), String>> {
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let show = !opts.agenix && std::io::stderr().is_terminal();
    let last = Mutex::new(Instant::now());
    let workers = match opts.jobs {
        0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let results = par_map(jobs, workers, |job| {
        if opts.agenix {
            eprintln!("rekeying {}...", job.rule.name);
        }
        let r = rekey_one(job, ids);
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

/// Decrypt in memory (the plaintext buffer is wiped on drop), encrypt to the rule's recipients
/// with the rule's armor, stage the new ciphertext next to the file keeping its mode.
fn rekey_one(
    job: &Job,
    ids: &Identities,
) -> std::result::Result<(crate::fsutil::Staged, Entry), String> {
    let rule = job.rule;
    let plain = crate::crypto::decrypt_with_header(&job.data, &job.header, ids)
        .map_err(|e| e.to_string())?;
    let cipher =
        crate::crypto::encrypt(&plain, &rule.recipients, rule.armor).map_err(|e| e.to_string())?;
    drop(plain);
    let mode = crate::fsutil::existing_mode(&rule.path).unwrap_or(0o644);
    let staged =
        crate::fsutil::stage_write(&rule.path, &cipher, mode).map_err(|e| e.to_string())?;
    Ok((staged, entry_for(&cipher, &rule.recipients)))
}
