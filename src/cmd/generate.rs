//! `secrets generate [FILE...]`: create the missing files whose rules have a `generator`
//! (or the named ones), through the same store as `edit` (atomic replace, lock updated).
//! Needs no private key unless a command generator reads a dependency that exists already.
//! One failure does not stop the others; the summary lists them and the exit code is 1.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::error::{Error, Result};
use crate::fs::{self, SecretBytes};
use crate::generate;
use crate::keys::Identities;
use crate::rules::generator::Generator;
use crate::rules::{Broken, Found, Rule, Rules};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets generate                    create every missing file that has a generator
  secrets generate --dry-run          list what would be created; write nothing
  secrets generate --allow-commands   also run the rules' command generators (review them)
  secrets generate --force --yes k.age
                                      rotate k.age (and k.pub) without asking
  secrets generate --public -i ~/.ssh/id_ed25519
                                      rewrite missing or stale .pub files from the keys")]
pub struct GenerateArgs {
    /// Only these files (paths, or names in the rules). Default: every file whose rule has a
    /// generator and that does not exist yet.
    pub files: Vec<PathBuf>,
    /// Regenerate files that exist (rotates them; key pairs get a new .pub). Asks first on a
    /// terminal; elsewhere it needs --yes.
    #[arg(long)]
    pub force: bool,
    /// With --force: replace without asking (for scripts).
    #[arg(long, short = 'y', requires = "force")]
    pub yes: bool,
    /// List what would be generated; write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Run the command generators too (`kind = "command"`): they run programs named in the
    /// rules file with your rights. Without it they are listed as failures, not run; review
    /// the commands in the rules first.
    #[arg(long)]
    pub allow_commands: bool,
    /// Rewrite the `.pub` of key pairs that exist, from their private keys (a lost or stale
    /// public half): needs an identity; the encrypted files are not changed. Default: every
    /// key-pair rule whose file exists.
    #[arg(long, conflicts_with_all = ["force", "allow_commands"])]
    pub public: bool,
    #[command(flatten)]
    pub rules: RulesFlag,
    #[command(flatten)]
    pub identity: IdentityFlags,
}

/// What the run will do, before anything is made.
struct Plan<'r> {
    /// In dependency order.
    todo: Vec<&'r Rule>,
    /// Rules that cannot be generated, with the reason.
    failed: Vec<String>,
    /// Existing files left alone.
    kept: Vec<&'r Rule>,
    /// Command generators not run because --allow-commands was not given (their failures are
    /// in `failed` too).
    held: Vec<&'r Rule>,
}

pub fn run(args: &GenerateArgs, g: &Global) -> Result<i32> {
    fs::harden_process();
    let rules = args.rules.load()?;
    rules.mention_ignored(g.verbose);
    if args.public {
        return run_public(args, &rules, g);
    }
    let plan = plan(args, &rules)?;
    for r in &plan.kept {
        if !args.files.is_empty() || g.verbose {
            eprintln!("{}: exists, left as it is (--force regenerates it)", r.name);
        }
    }
    if args.dry_run {
        return Ok(dry_run(&plan));
    }
    let rotating: Vec<&str> = (plan.todo.iter())
        .filter(|r| exists(r))
        .map(|r| r.name.as_str())
        .collect();
    if !rotating.is_empty() && !args.yes && !confirm(&rotating)? {
        eprintln!("nothing was changed");
        return Ok(1);
    }
    let mut run = Run {
        rules: &rules,
        identity: &args.identity,
        ids: None,
        made: BTreeMap::new(),
        failed: plan.failed,
        done: Vec::new(),
    };
    let needed: BTreeSet<&str> = (plan.todo.iter())
        .flat_map(|r| r.generator.iter().flat_map(|g| g.dependencies()))
        .map(String::as_str)
        .collect();
    for rule in plan.todo {
        // An interrupted command stops the run: the user asked it to stop.
        run.one(rule, needed.contains(rule.name.as_str()))?;
    }
    Ok(run.summary())
}

fn exists(rule: &Rule) -> bool {
    // symlink_metadata: a dangling link is "there" and is not replaced without --force.
    rule.path.symlink_metadata().is_ok()
}

/// Which rules to generate, in dependency order.
fn plan<'r>(args: &GenerateArgs, rules: &'r Rules) -> Result<Plan<'r>> {
    let mut failed = Vec::new();
    let mut candidates: Vec<&Rule> = Vec::new();
    if args.files.is_empty() {
        candidates.extend(rules.secrets.values().filter(|r| r.generator.is_some()));
        // A rule that cannot be used may well have a generator (a bad one makes it unusable):
        // say so rather than report "nothing to generate".
        failed.extend(rules.broken.iter().map(|b| broken_failure(rules, b)));
    } else {
        for f in &args.files {
            let rule = match rules.find(f)? {
                Found::Rule(r) => r,
                Found::Broken(b) => {
                    failed.push(broken_failure(rules, b));
                    continue;
                }
            };
            if rule.generator.is_none() {
                failed.push(format!(
                    "{}: its rule has no generator; add one (e.g. generator = \"alnum\";) in {}, \
                     or set the secret with `secrets edit {}`",
                    rule.name,
                    rules.file.display(),
                    rule.name
                ));
            } else if !candidates.iter().any(|c| c.name == rule.name) {
                candidates.push(rule);
            }
        }
    }
    let (todo, kept): (Vec<&Rule>, Vec<&Rule>) = candidates
        .into_iter()
        .partition(|r| args.force || !exists(r));
    // Code from the rules runs only when asked for: the rules may come from a pull request.
    let (held, todo): (Vec<&Rule>, Vec<&Rule>) = todo
        .into_iter()
        .partition(|r| !args.allow_commands && is_command(r));
    failed.extend(held.iter().map(|r| held_failure(rules, r)));
    let (todo, cyclic) = dependency_order(todo);
    for r in cyclic {
        failed.push(format!(
            "{}: its dependencies form a cycle with the other files being generated; a command \
             generator cannot depend on its own output",
            r.name
        ));
    }
    Ok(Plan {
        todo,
        failed,
        kept,
        held,
    })
}

fn is_command(rule: &Rule) -> bool {
    matches!(rule.generator, Some(Generator::Command { .. }))
}

/// The failure of a command generator that was not run: which command, and the fix.
fn held_failure(rules: &Rules, rule: &Rule) -> String {
    let Some(Generator::Command {
        command,
        dependencies,
    }) = &rule.generator
    else {
        unreachable!("only command generators are held");
    };
    let given = if dependencies.is_empty() {
        String::new()
    } else {
        format!(", given {}", dependencies.join(", "))
    };
    format!(
        "{}: not generated: its generator runs the command `{}` from the rules{given}, and \
         commands run only with --allow-commands; review the command in {}, then pass \
         --allow-commands",
        rule.name,
        shell_words::join(command),
        rules.file.display()
    )
}

/// A rule that cannot be used, as a failure of this run (its message names it and the fix).
fn broken_failure(rules: &Rules, b: &Broken) -> String {
    format!("{}: {}", rules.file.display(), b.message)
}

/// Kahn's algorithm over the dependencies among `todo`: dependencies first; what is left is
/// on (or behind) a cycle.
fn dependency_order(todo: Vec<&Rule>) -> (Vec<&Rule>, Vec<&Rule>) {
    let names: BTreeSet<&str> = todo.iter().map(|r| r.name.as_str()).collect();
    let deps_of = |r: &Rule| -> Vec<String> {
        (r.generator.iter().flat_map(|g| g.dependencies()))
            .filter(|d| names.contains(d.as_str()))
            .cloned()
            .collect()
    };
    let mut left = todo;
    let mut ordered: Vec<&Rule> = Vec::new();
    loop {
        let placed: BTreeSet<String> = ordered.iter().map(|r| r.name.clone()).collect();
        let (ready, rest): (Vec<&Rule>, Vec<&Rule>) = left
            .into_iter()
            .partition(|r| deps_of(r).iter().all(|d| placed.contains(d)));
        left = rest;
        if ready.is_empty() {
            return (ordered, left);
        }
        ordered.extend(ready);
    }
}

fn dry_run(plan: &Plan) -> i32 {
    for r in &plan.todo {
        let g = r
            .generator
            .as_ref()
            .expect("planned rules have a generator");
        let verb = if exists(r) { "regenerate" } else { "create" };
        let public = if g.has_public_half() {
            format!(" and {}", shown_public(r))
        } else {
            String::new()
        };
        println!("would {verb} {}{public} ({})", r.name, g.describe());
    }
    for r in &plan.held {
        let g = r.generator.as_ref().expect("held rules have a generator");
        let verb = if exists(r) { "regenerate" } else { "create" };
        println!(
            "would {verb} {} ({}) only with --allow-commands",
            r.name,
            g.describe()
        );
    }
    if plan.todo.is_empty() && plan.failed.is_empty() {
        println!("nothing to generate");
    }
    for f in &plan.failed {
        eprintln!("cannot generate {f}");
    }
    i32::from(!plan.failed.is_empty())
}

fn shown_public(rule: &Rule) -> String {
    let p = generate::public_path(rule);
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    match rule.name.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => name.into_owned(),
    }
}

/// A key pair's `.pub` must not replace another rule's encrypted file.
fn public_clash(rules: &Rules, rule: &Rule) -> Result<()> {
    if rules.secrets.contains_key(&shown_public(rule)) {
        return Err(Error::new(format!(
            "its public half would be written to {}, which is another rule's encrypted file; \
             rename one of them",
            shown_public(rule)
        )));
    }
    Ok(())
}

/// `--public`: rewrite the `.pub` of the selected key pairs from their private keys.
fn run_public(args: &GenerateArgs, rules: &Rules, g: &Global) -> Result<i32> {
    let mut failed = Vec::new();
    let mut selected: Vec<&Rule> = Vec::new();
    if args.files.is_empty() {
        selected.extend(
            (rules.secrets.values())
                .filter(|r| r.generator.as_ref().is_some_and(|g| g.has_public_half()))
                .filter(|r| exists(r)),
        );
    } else {
        for f in &args.files {
            match rules.find(f)? {
                Found::Rule(r) if !selected.iter().any(|s| s.name == r.name) => selected.push(r),
                Found::Rule(_) => {}
                Found::Broken(b) => failed.push(broken_failure(rules, b)),
            }
        }
    }
    if selected.is_empty() && failed.is_empty() {
        eprintln!(
            "nothing to rewrite: no key pair (generator \"ssh-ed25519\", \"wireguard\" or \
             \"age\") in {} has its file yet",
            rules.file.display()
        );
        return Ok(0);
    }
    let ids = if selected.is_empty() {
        None
    } else {
        Some(args.identity.load().map_err(|e| {
            e.context("--public derives each .pub from its private key, which needs an identity")
        })?)
    };
    let mut written = 0;
    for rule in &selected {
        let ids = ids.as_ref().expect("loaded when a rule is selected");
        let public = shown_public(rule);
        let outcome = public_clash(rules, rule)
            .and_then(|()| generate::public::refresh(rule, ids, args.dry_run));
        match outcome {
            Ok(generate::public::Refreshed::Written) if args.dry_run => {
                written += 1;
                println!("would write {public} (from {})", rule.name);
            }
            Ok(generate::public::Refreshed::Written) => {
                written += 1;
                eprintln!("wrote {public} (from {})", rule.name);
            }
            Ok(generate::public::Refreshed::Unchanged) => {
                if !args.files.is_empty() || g.verbose {
                    eprintln!("{public}: already the public half of {}", rule.name);
                }
            }
            Err(e) => failed.push(generate::failed(&rule.name, e)),
        }
    }
    let verb = if args.dry_run { "would write" } else { "wrote" };
    if failed.is_empty() {
        eprintln!("{verb} {written} .pub file(s); the encrypted files are unchanged");
        return Ok(0);
    }
    eprintln!("{verb} {written} .pub file(s); {} failed:", failed.len());
    for f in &failed {
        eprintln!("  - {f}");
    }
    Ok(1)
}

/// Ask before replacing existing files, on a terminal only; elsewhere --yes is required.
fn confirm(rotating: &[&str]) -> Result<bool> {
    let list = rotating.join(", ");
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!(
            "--force would replace {} existing file(s) ({list}) and nobody can be asked (stdin \
             is not a terminal); pass --yes as well to replace them",
            rotating.len()
        )));
    }
    eprint!(
        "Replace {} existing file(s) with new values: {list}? The old values are lost. [y/N] ",
        rotating.len()
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// The state of one run: what was made (kept for the command generators that read it) and
/// what failed.
struct Run<'a> {
    rules: &'a Rules,
    identity: &'a IdentityFlags,
    /// Loaded on first need; the error is kept and reported for every rule that needs them.
    ids: Option<std::result::Result<Identities, Error>>,
    /// Plaintext made in this run that a later command generator reads.
    made: BTreeMap<String, SecretBytes>,
    failed: Vec<String>,
    done: Vec<String>,
}

impl Run<'_> {
    /// Generate one file; a failure is recorded, except an interruption, which is returned.
    fn one(&mut self, rule: &Rule, keep: bool) -> Result<()> {
        match self.generate(rule, keep) {
            Ok(what) => {
                eprintln!("generated {what}");
                self.done.push(rule.name.clone());
            }
            Err(e) if e.code() > 128 => return Err(e),
            Err(e) => self.failed.push(generate::failed(&rule.name, e)),
        }
        Ok(())
    }

    fn generate(&mut self, rule: &Rule, keep: bool) -> Result<String> {
        let g = rule
            .generator
            .as_ref()
            .expect("planned rules have a generator");
        if g.has_public_half() {
            public_clash(self.rules, rule)?;
        }
        let deps = self.dependencies(rule, g.dependencies())?;
        let made = generate::make(rule, g, &deps, &self.rules.dir)?;
        drop(deps);
        crate::store::encrypt_and_replace(self.rules, rule, &made.secret)?;
        let mut what = format!("{} ({})", rule.name, g.describe());
        if let Some(public) = &made.public {
            generate::write_public(rule, public).map_err(|e| {
                e.context(format_args!(
                    "the new key is written, but its public half is not ({}); run `secrets \
                     generate --force {}` again",
                    shown_public(rule),
                    rule.name
                ))
            })?;
            what = format!("{what} and {}", shown_public(rule));
        }
        if keep {
            self.made.insert(rule.name.clone(), made.secret);
        }
        Ok(what)
    }

    /// The plaintext of each dependency: made in this run, else decrypted from its file.
    fn dependencies(
        &mut self,
        rule: &Rule,
        names: &[String],
    ) -> Result<Vec<(String, SecretBytes)>> {
        let mut out = Vec::new();
        for dep in names {
            if let Some(v) = self.made.get(dep) {
                out.push((dep.clone(), v.clone()));
                continue;
            }
            let Some(dep_rule) = self.rules.secrets.get(dep) else {
                if self.rules.names_file(dep) {
                    return Err(Error::new(format!(
                        "dependency {dep}: its rule cannot be used (see its failure, or \
                         `secrets check`)"
                    )));
                }
                return Err(Error::new(format!(
                    "dependency \"{dep}\" has no rule in {}; add it or remove it from \
                     `dependencies`",
                    self.rules.file.display()
                )));
            };
            if self
                .failed
                .iter()
                .any(|f| f.starts_with(&format!("{dep}:")))
            {
                return Err(Error::new(format!(
                    "dependency {dep} could not be generated (see its failure)"
                )));
            }
            if !exists(dep_rule) {
                let hint = if dep_rule.generator.is_some() {
                    format!("run `secrets generate {dep}` first")
                } else {
                    format!("set it with `secrets edit {dep}` first")
                };
                return Err(Error::new(format!(
                    "dependency {dep} does not exist; {hint}"
                )));
            }
            let ids = self
                .ids
                .get_or_insert_with(|| self.identity.load())
                .as_ref()
                .map_err(|e| {
                    e.clone().context(format_args!(
                        "reading dependency {dep} of {} needs an identity",
                        rule.name
                    ))
                })?;
            let plain = crate::store::decrypt_rule(dep_rule, ids)?;
            out.push((dep.clone(), plain));
        }
        Ok(out)
    }

    fn summary(self) -> i32 {
        if self.failed.is_empty() {
            if self.rules.secrets.values().all(|r| r.generator.is_none()) {
                eprintln!(
                    "nothing to generate: no rule in {} has a generator (e.g. generator = \
                     \"alnum\";)",
                    self.rules.file.display()
                );
            } else if self.done.is_empty() {
                eprintln!("nothing to generate: every file with a generator exists");
            } else {
                eprintln!("generated {} file(s)", self.done.len());
            }
            return 0;
        }
        eprintln!(
            "generated {} file(s); {} failed:",
            self.done.len(),
            self.failed.len()
        );
        for f in &self.failed {
            eprintln!("  - {f}");
        }
        1
    }
}
