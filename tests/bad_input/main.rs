//! The bad-input matrix: malformed rules, `.age` files, keys, paths and environments. Every case
//! must end in a non-zero exit, a message on stderr that names the item (file, key or secret)
//! and says what is wrong or how to fix it, nothing on stdout, and no file created or changed
//! (the scratch directory, which is also HOME, is snapshotted before and after).
//!
//! The matrix is a table (`rows!`), one per module by what the rows attack (rules, age_files,
//! keys, paths, check, rekey, install); a row is a test name, a description, the tools it
//! needs, a setup function that writes files and sets the command line, and the fragments
//! stderr must contain. Each row is its own test, named after its module:
//! `cargo test --test bad_input rsa_1024` runs one (`rules::json_rsa_1024_public_key`).
//!
//! Rows for the newer commands use three extras a setup may set on its `Ctx`:
//! - `report`: the command is `check --json`, whose report on stdout is its output channel:
//!   stdout must be a report with `ok: false` and a problem of that kind naming a file, and the
//!   fragments are looked for in the report and stderr together.
//! - `changes`: files that must change (rekey goes on past a bad file); all others must not.
//! - `variants`: more command lines run against a fresh copy of the same setup with the same
//!   expectations (each install row runs as `install --check` and as `install --dry-run`).

#[path = "../common/mod.rs"]
mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use common::{key, mkfifo, placeholder, pubkey, Repo};

/// What a case sets up: the command line, extra environment, stdin.
struct Ctx<'a> {
    repo: &'a Repo,
    args: Vec<OsString>,
    env: Vec<(&'static str, Option<OsString>)>,
    stdin: Vec<u8>,
    /// `check --json`: the problem kind the report must contain.
    report: Option<&'static str>,
    /// Files (relative) that must change; everything else must stay as it was.
    changes: Vec<&'static str>,
    /// Run after the command; returns what is wrong with the result, if anything.
    verify: Option<fn(&Path) -> Option<String>>,
    /// Other command lines for the same setup and expectations.
    variants: Vec<Vec<OsString>>,
}

impl Ctx<'_> {
    fn p(&self) -> &Path {
        self.repo.path()
    }
    fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(&mut self, a: I) {
        self.args = a.into_iter().map(Into::into).collect();
    }
    /// Rules with one secret `db.age` for alice.
    fn db_rules(&self) {
        self.repo
            .json_rules(r#"{"db.age": {"publicKeys": ["alice"]}}"#);
    }
    /// Rules for `db.age` plus an encrypted db.age (to alice, binary) holding `content`.
    fn db_encrypted(&self, armor: bool) -> Vec<u8> {
        self.db_rules();
        let r = secrets::keys::Recipient::parse(&pubkey("alice_ed25519")).unwrap();
        let c = secrets::crypto::encrypt(b"the secret", &[r], armor).unwrap();
        self.repo.write("db.age", &c);
        c
    }
    fn decrypt_db(&mut self) {
        let k = key("alice_ed25519");
        self.args([
            "decrypt".into(),
            "db.age".into(),
            "-i".into(),
            k.into_os_string(),
        ]);
    }
    fn decrypt_db_with(&mut self, id: impl Into<OsString>) {
        self.args(["decrypt".into(), "db.age".into(), "-i".into(), id.into()]);
    }
    /// `encrypt db.age` from stdin: the command that would write if validation let it through.
    fn encrypt_db(&mut self) {
        self.args(["encrypt", "db.age"]);
        self.stdin = b"new value".to_vec();
    }
    fn json(&self, text: &str) {
        self.repo.write("secrets.json", text);
    }
    fn nix(&mut self, text: &str) {
        self.repo.write("secrets.nix", text);
    }
    /// `name` encrypted (binary) to the named test keys.
    fn encrypted(&self, name: &str, keys: &[&str], value: &[u8]) {
        let rs: Vec<_> = keys
            .iter()
            .map(|k| secrets::keys::Recipient::parse(&pubkey(k)).unwrap())
            .collect();
        let c = secrets::crypto::encrypt(value, &rs, false).unwrap();
        self.repo.write(name, c);
    }
    /// Rules asking for alice and bob on `names`, whose files are encrypted to alice only, so
    /// a rekey has work to do on each of them.
    fn drifted(&self, names: &[&str]) {
        let rules: Vec<String> = names
            .iter()
            .map(|n| format!(r#""{n}": {{"publicKeys": ["alice", "bob"]}}"#))
            .collect();
        self.repo.json_rules(&format!("{{{}}}", rules.join(", ")));
        for n in names {
            self.encrypted(n, &["alice_ed25519"], format!("value of {n}").as_bytes());
        }
    }
    fn rekey_as_alice(&mut self, files: &[&str]) {
        let mut a: Vec<OsString> = vec!["rekey".into()];
        a.extend(files.iter().map(OsString::from));
        a.extend(["-i".into(), key("alice_ed25519").into_os_string()]);
        self.args = a;
    }
    fn check_json(&mut self, kind: &'static str) {
        self.args(["check", "--json"]);
        self.report = Some(kind);
    }
    /// A manifest: `common::manifest_value`'s defaults (every path inside the scratch dir),
    /// alice's key as the identity, secret db from db.age (db.age and api.age encrypted to
    /// alice) with the top-level fields of `overlay`
    /// put over them; `@` in `overlay` stands for the scratch dir. Runs `install --check`, and
    /// `install --dry-run` as a variant.
    fn install(&mut self, overlay: &str) {
        let p = self.p().display().to_string();
        let o: serde_json::Value = serde_json::from_str(&overlay.replace('@', &p)).unwrap();
        let secrets = serde_json::json!({"db": {"file": self.p().join("db.age")}});
        let m = common::manifest_value(self.p(), &key("alice_ed25519"), secrets, o);
        self.install_raw(&m.to_string());
    }
    /// `install` with the manifest text as given.
    fn install_raw(&mut self, text: &str) {
        self.encrypted("db.age", &["alice_ed25519"], b"db value");
        self.encrypted("api.age", &["alice_ed25519"], b"api value");
        self.repo.write("m.json", text);
        self.args(["install", "--check", "--manifest", "m.json"]);
        self.variants = vec![["install", "--dry-run", "--manifest", "m.json"]
            .iter()
            .map(OsString::from)
            .collect()];
    }
    /// Only `install --check` (what the other mode does not look at).
    fn check_only(&mut self) {
        self.variants.clear();
    }
}

fn bad(name: &str) -> PathBuf {
    key(&format!("bad/{name}"))
}

fn bad_pub(name: &str) -> String {
    std::fs::read_to_string(bad(&format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

/// Rules with key `k` set to `text`, used by secret `db.age`.
fn rules_with_key(c: &Ctx, text: &str) {
    let v = serde_json::json!({
        "keys": {"k": text},
        "secrets": {"db.age": {"publicKeys": ["k"]}},
    });
    c.json(&v.to_string());
}

fn nix_rule(c: &mut Ctx, body: &str) {
    c.nix(&format!(
        "let alice = \"{}\"; in {{ {body} }}",
        pubkey("alice_ed25519")
    ));
}

struct Case {
    name: &'static str,
    needs: &'static [&'static str],
    setup: fn(&mut Ctx),
    /// Fragments stderr must contain: the item named, then the reason or the fix.
    expect: &'static [&'static str],
}

const NIX: &[&str] = &["nix-instantiate"];

/// The table: `test_name => Case {..},`. Each row becomes its own `#[test]` named `test_name`,
/// so rows run in parallel and can be picked by name (`cargo test --test bad_input rsa`), and
/// the harness counts the rows that really ran; each module's `ROWS` lists its rows.
/// Defined before the `mod` lines so the modules can use it.
macro_rules! rows {
    ($($test:ident => $case:expr,)*) => {
        $(
            #[test]
            fn $test() {
                run_row(&$case);
            }
        )*
        pub(super) const ROWS: &[&str] = &[$(stringify!($test)),*];
    };
}

mod age_files;
mod check;
mod generate;
mod install;
mod keys;
mod paths;
mod rekey;
mod rules;

type Snapshot = std::collections::BTreeMap<String, (u32, Vec<u8>)>;

fn snap(repo: &Repo) -> Snapshot {
    repo.snapshot()
        .into_iter()
        .map(|(p, m, c)| (p, (m, c)))
        .collect()
}

/// Files whose presence, mode or content differ between two snapshots.
fn changed(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .cloned()
        .collect()
}

impl<'a> Ctx<'a> {
    /// A context with nothing set yet, for a case's setup to fill in.
    fn new(repo: &'a Repo) -> Ctx<'a> {
        Ctx {
            repo,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            report: None,
            changes: Vec::new(),
            verify: None,
            variants: Vec::new(),
        }
    }
}

/// What one command line of a case did wrong, if anything.
struct Outcome {
    args: Vec<OsString>,
    problems: Vec<String>,
    stderr: String,
    /// How many variants the setup asked for.
    variants: usize,
}

/// Run command line `variant` of a case (0: the main one) in a fresh scratch dir.
fn run_case(case: &Case, variant: usize) -> Outcome {
    let repo = Repo::new();
    let mut ctx = Ctx::new(&repo);
    (case.setup)(&mut ctx);
    let args = if variant == 0 {
        ctx.args.clone()
    } else {
        ctx.variants[variant - 1].clone()
    };
    let before = snap(&repo);
    let mut cmd = repo.cmd();
    cmd.args(&args).write_stdin(ctx.stdin.clone());
    for (k, v) in &ctx.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    if out.status.success() {
        problems.push("exited 0".to_string());
    }
    // Where the fragments are looked for: stderr, plus check's report.
    let mut said = stderr.clone();
    match ctx.report {
        None if !out.stdout.is_empty() => {
            problems.push(format!("wrote to stdout: {stdout:?}"));
        }
        None => {}
        Some(kind) => {
            said.push_str(&stdout);
            problems.extend(report_problems(&stdout, kind));
        }
    }
    for frag in case.expect {
        if !said.contains(frag) {
            problems.push(format!("stderr lacks {frag:?}"));
        }
    }
    if stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    let diff = changed(&before, &snap(&repo));
    let unexpected: Vec<_> = diff
        .iter()
        .filter(|f| !ctx.changes.contains(&f.as_str()))
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!("files were created or changed: {unexpected:?}"));
    }
    for f in &ctx.changes {
        if !diff.iter().any(|d| d == f) {
            problems.push(format!("{f} was not changed"));
        }
    }
    if let Some(v) = ctx.verify {
        problems.extend(v(repo.path()));
    }
    Outcome {
        args,
        problems,
        stderr,
        variants: ctx.variants.len(),
    }
}

/// What is wrong with `check --json`'s report on stdout: it must say `ok: false` and hold a
/// problem of `kind` naming a file.
fn report_problems(stdout: &str, kind: &str) -> Vec<String> {
    let r = match serde_json::from_str::<serde_json::Value>(stdout) {
        Err(e) => return vec![format!("stdout is not a JSON report ({e}): {stdout:?}")],
        Ok(r) => r,
    };
    let mut problems = Vec::new();
    if r["ok"] != false {
        problems.push("report says ok".into());
    }
    let hit = r["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["kind"] == kind && p["file"].as_str().is_some_and(|f| !f.is_empty()));
    if !hit {
        problems.push(format!("no problem of kind {kind:?} naming a file"));
    }
    problems
}

/// One row: its main command line and each variant, each against a fresh copy of the setup;
/// fails listing every command line that went wrong.
fn run_row(case: &Case) {
    // A missing tool is a skip, which CI turns into a failure.
    if case.needs.iter().any(|t| common::missing(t)) {
        return;
    }
    let mut failures = Vec::new();
    let mut variant = 0;
    loop {
        let o = run_case(case, variant);
        if !o.problems.is_empty() {
            failures.push(format!(
                "{} ({}): {}\n    stderr: {}",
                case.name,
                o.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                o.problems.join("; "),
                o.stderr.trim_end().replace('\n', "\n            ")
            ));
        }
        if variant == o.variants {
            break;
        }
        variant += 1;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The table keeps all its rows (one test each): a row dropped by mistake shows here.
#[test]
fn the_matrix_keeps_its_rows() {
    let rows = [
        age_files::ROWS,
        check::ROWS,
        generate::ROWS,
        install::ROWS,
        keys::ROWS,
        paths::ROWS,
        rekey::ROWS,
        rules::ROWS,
    ]
    .concat();
    assert!(rows.len() >= 138, "the matrix has {} rows", rows.len());
}
