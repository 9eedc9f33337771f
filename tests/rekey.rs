//! `secrets rekey`: drift detection per recipient type, byte-identical unchanged files, failures
//! that do not stop the run, dry runs, agenix -r, one passphrase prompt, secrets.nix.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{key, pubkey, Repo};

const PAYLOAD: &[u8] = b"s3cret payload\n";

/// A scratch repo whose secrets.json also knows `eve`, a second X25519 key made per test,
/// and `plug`/`plug2`, two recipients of a real age plugin (with_plugin only).
struct Fleet {
    repo: Repo,
    eve_pub: String,
    eve_key: PathBuf,
    /// PATH with the plugin's directory in front (with_plugin), for every child.
    plugin_path: Option<std::ffi::OsString>,
}

/// `plug2`: the test plugin's recipient with other data (it accepts any).
const PLUGIN_RECIPIENT_2: &str = "age1unencrypted1wdjkxmmwvsverzwh"; // data "second"

impl Fleet {
    fn new() -> Fleet {
        let repo = Repo::new();
        let eve = age::x25519::Identity::generate();
        let eve_pub = eve.to_public().to_string();
        use age::secrecy::ExposeSecret;
        let eve_key = repo.write("eve.key", format!("{}\n", eve.to_string().expose_secret()));
        Fleet {
            repo,
            eve_pub,
            eve_key,
            plugin_path: None,
        }
    }

    /// A fleet whose commands find the test plugin (None after a skip).
    fn with_plugin() -> Option<Fleet> {
        let dir = common::age_plugin_dir()?;
        let mut f = Fleet::new();
        f.plugin_path = Some(common::path_with(&dir));
        f.repo
            .write("plugin.key", format!("{}\n", common::PLUGIN_IDENTITY));
        Some(f)
    }

    /// `secrets` in this fleet's directory (with the plugin on PATH when there is one).
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.repo.cmd();
        if let Some(p) = &self.plugin_path {
            c.env("PATH", p);
        }
        c
    }

    /// Go `age`, likewise.
    fn age(&self) -> Command {
        let mut c = Command::new("age");
        if let Some(p) = &self.plugin_path {
            c.env("PATH", p);
        }
        c
    }

    /// Decrypt with the real Go `age`: the plaintext, or age's stderr.
    fn age_decrypt(&self, key: &Path, file: &Path) -> Result<Vec<u8>, String> {
        age_decrypt_with(self.age(), key, file)
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    fn pub_of(&self, name: &str) -> String {
        match name {
            "alice" => pubkey("alice_ed25519"),
            "web1" => pubkey("web1_ed25519"),
            "bob" => pubkey("bob_rsa3072"),
            "carol" => pubkey("carol_rsa4096_pass"),
            "dave" => pubkey("dave_age"),
            "eve" => self.eve_pub.clone(),
            "plug" => common::PLUGIN_RECIPIENT.to_string(),
            "plug2" => PLUGIN_RECIPIENT_2.to_string(),
            _ => panic!("unknown key {name}"),
        }
    }

    fn key_of(&self, name: &str) -> Option<PathBuf> {
        match name {
            "alice" => Some(key("alice_ed25519")),
            "web1" => Some(key("web1_ed25519")),
            "bob" => Some(key("bob_rsa3072")),
            "dave" => Some(key("dave_age.key")),
            "eve" => Some(self.eve_key.clone()),
            // The test plugin's identity opens the stanzas of plug and plug2 alike.
            "plug" if self.plugin_path.is_some() => Some(self.path().join("plugin.key")),
            _ => None, // carol needs a passphrase
        }
    }

    /// secrets.json with every test key named and `secrets` as the rule list:
    /// `(file, [key names], armor)`.
    fn rules(&self, secrets: &[(&str, &[&str], bool)]) {
        let keys: serde_json::Map<String, serde_json::Value> = [
            "alice", "web1", "bob", "carol", "dave", "eve", "plug", "plug2",
        ]
        .iter()
        .map(|n| (n.to_string(), self.pub_of(n).into()))
        .collect();
        let rules: serde_json::Map<String, serde_json::Value> = secrets
            .iter()
            .map(|(f, ks, armor)| {
                (
                    f.to_string(),
                    serde_json::json!({"publicKeys": ks, "armor": armor}),
                )
            })
            .collect();
        let doc = serde_json::json!({"keys": keys, "secrets": rules});
        self.repo.write("secrets.json", doc.to_string());
    }

    /// Encrypt with the real Go `age` (as agenix would): no lock entry is written.
    fn age_encrypt(&self, file: &str, to: &[&str], armor: bool) {
        let mut c = self.age();
        if armor {
            c.arg("-a");
        }
        for k in to {
            c.arg("-r").arg(self.pub_of(k));
        }
        c.arg("-o").arg(self.path().join(file));
        run_with_stdin(c, PAYLOAD);
    }

    /// Encrypt with `secrets encrypt` under the current rules (writes the lock entry).
    fn secrets_encrypt(&self, file: &str) {
        self.cmd()
            .args(["encrypt", file])
            .write_stdin(PAYLOAD)
            .assert()
            .success();
    }

    /// All usable test identities as `-i` arguments.
    fn all_ids(&self) -> Vec<String> {
        ["alice", "web1", "bob", "dave", "eve", "plug"]
            .iter()
            .filter(|n| self.key_of(n).is_some())
            .flat_map(|n| {
                [
                    "-i".to_string(),
                    self.key_of(n).unwrap().display().to_string(),
                ]
            })
            .collect()
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path().join(file)).unwrap()
    }

    fn check_json(&self) -> (i32, serde_json::Value) {
        let out = self.cmd().args(["check", "--json"]).output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check --json printed invalid JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap(), v)
    }
}

fn run_with_stdin(mut c: Command, input: &[u8]) {
    use std::io::Write;
    let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "{c:?} failed");
}

/// Decrypt with the real Go `age`: the plaintext, or age's stderr.
fn age_decrypt(key: &Path, file: &Path) -> Result<Vec<u8>, String> {
    age_decrypt_with(Command::new("age"), key, file)
}

fn age_decrypt_with(mut age: Command, key: &Path, file: &Path) -> Result<Vec<u8>, String> {
    let out = age.arg("-d").arg("-i").arg(key).arg(file).output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Go `age`'s refusal when the key opens no stanza of the file.
const AGE_NO_MATCH: &str = "no identity matched any of the recipients";

/// `age` refused the file because the key is not among its recipients; any other failure (a
/// missing key file, a damaged file) is not what the caller means to show.
fn assert_age_refuses(r: Result<Vec<u8>, String>, what: &str) {
    match r {
        Ok(_) => panic!("{what}: age decrypted it"),
        Err(e) => assert!(
            e.contains(AGE_NO_MATCH),
            "{what}: age failed for another reason: {e}"
        ),
    }
}

fn names(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|w| match &w["name"] {
                    serde_json::Value::String(s) => s.clone(),
                    _ => format!("?{}", w["type"].as_str().unwrap_or("")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One drift scenario: the file is encrypted to `old`, the rule then says `new`.
/// `with_lock`: the file was written by `secrets` (lock entry) or by plain `age` (none).
/// `expect`: Some((added, removed)) names check must report as a `recipients` problem,
/// None when it can only say `unverified` (X25519 without a lock entry).
fn drift_case(old: &[&str], new: &[&str], with_lock: bool, expect: Option<(&[&str], &[&str])>) {
    if common::missing("age") {
        return;
    }
    drift_case_in(Fleet::new(), old, new, with_lock, expect);
}

fn drift_case_in(
    f: Fleet,
    old: &[&str],
    new: &[&str],
    with_lock: bool,
    expect: Option<(&[&str], &[&str])>,
) {
    let ctx = format!("old {old:?} → new {new:?}, lock {with_lock}");
    if with_lock {
        f.rules(&[("s.age", old, false), ("keep.age", &["alice"], false)]);
        f.secrets_encrypt("s.age");
        f.secrets_encrypt("keep.age");
    } else {
        f.age_encrypt("s.age", old, false);
        f.age_encrypt("keep.age", &["alice"], false);
    }
    f.rules(&[("s.age", new, false), ("keep.age", &["alice"], false)]);

    let (code, report) = f.check_json();
    assert_eq!(code, 1, "{ctx}: check must fail on drift: {report:#}");
    let problems = report["problems"].as_array().unwrap();
    let for_s: Vec<_> = problems.iter().filter(|p| p["file"] == "s.age").collect();
    match expect {
        Some((added, removed)) => {
            let p = for_s
                .iter()
                .find(|p| p["kind"] == "recipients")
                .unwrap_or_else(|| panic!("{ctx}: no recipients problem: {report:#}"));
            assert_eq!(names(&p["added"]), set(added), "{ctx}: added");
            assert_eq!(names(&p["removed"]), set(removed), "{ctx}: removed");
        }
        None => assert!(
            for_s.iter().any(|p| p["kind"] == "unverified"),
            "{ctx}: expected unverified: {report:#}"
        ),
    }
    assert!(
        problems.iter().all(|p| p["file"] != "keep.age"),
        "{ctx}: keep.age is in sync (with a lock entry or by its SSH tag): {report:#}"
    );

    let keep_before = f.read("keep.age");
    let s_before = f.read("s.age");
    let dry = f.cmd().args(["rekey", "--dry-run"]).output().unwrap();
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{ctx}: {dry:?}");
    assert!(dry_out.contains("would rekey s.age"), "{ctx}: {dry_out}");
    assert!(!dry_out.contains("keep.age"), "{ctx}: {dry_out}");
    assert_eq!(f.read("s.age"), s_before, "{ctx}: dry run wrote");

    f.cmd().arg("rekey").args(f.all_ids()).assert().success();
    assert_ne!(f.read("s.age"), s_before, "{ctx}: s.age not rekeyed");
    assert_eq!(
        f.read("keep.age"),
        keep_before,
        "{ctx}: keep.age must keep its bytes"
    );
    let (code, report) = f.check_json();
    assert_eq!(code, 0, "{ctx}: check after rekey: {report:#}");
    for k in new {
        if let Some(key) = f.key_of(k) {
            assert_eq!(
                f.age_decrypt(&key, &f.path().join("s.age")).as_deref(),
                Ok(PAYLOAD),
                "{ctx}: {k} cannot decrypt the rekeyed file with age"
            );
        }
    }
    // (The test plugin's identity opens any of its stanzas: not checked for plug.)
    for k in old
        .iter()
        .filter(|k| !new.contains(k) && !k.starts_with("plug"))
    {
        if let Some(key) = f.key_of(k) {
            assert_age_refuses(
                f.age_decrypt(&key, &f.path().join("s.age")),
                &format!("{ctx}: removed recipient {k}"),
            );
        }
    }
    // A second run finds nothing to do.
    let again = f.snapshot_all();
    f.cmd().arg("rekey").assert().success();
    assert_eq!(f.snapshot_all(), again, "{ctx}: no-op rekey changed files");
}

impl Fleet {
    fn snapshot_all(&self) -> Vec<(String, u32, Vec<u8>)> {
        self.repo.snapshot()
    }
}

#[test]
fn drift_ssh_ed25519() {
    for lock in [false, true] {
        drift_case(&["alice"], &["alice", "web1"], lock, Some((&["web1"], &[])));
        drift_case(&["alice", "web1"], &["alice"], lock, Some((&[], &["web1"])));
        drift_case(
            &["bob", "web1"],
            &["bob", "alice"],
            lock,
            Some((&["alice"], &["web1"])),
        );
    }
}

#[test]
fn drift_ssh_rsa() {
    for lock in [false, true] {
        drift_case(&["alice"], &["alice", "bob"], lock, Some((&["bob"], &[])));
        drift_case(&["alice", "bob"], &["alice"], lock, Some((&[], &["bob"])));
        drift_case(
            &["alice", "bob"],
            &["alice", "carol"],
            lock,
            Some((&["carol"], &["bob"])),
        );
    }
}

#[test]
fn drift_x25519_with_lock_names_the_keys() {
    drift_case(&["alice"], &["alice", "dave"], true, Some((&["dave"], &[])));
    drift_case(&["alice", "dave"], &["alice"], true, Some((&[], &["dave"])));
    drift_case(
        &["alice", "dave"],
        &["alice", "eve"],
        true,
        Some((&["eve"], &["dave"])),
    );
}

/// Plugin recipients, like X25519 ones, are not named in the header: the lock file names them.
#[test]
fn drift_plugin_with_lock_names_the_keys() {
    if common::missing("age") {
        return;
    }
    for (old, new, expect) in [
        (
            &["alice"][..],
            &["alice", "plug"][..],
            (&["plug"][..], &[][..]),
        ),
        (&["alice", "plug"], &["alice"], (&[], &["plug"])),
        (
            &["alice", "plug"],
            &["alice", "plug2"],
            (&["plug2"], &["plug"]),
        ),
    ] {
        let Some(f) = Fleet::with_plugin() else {
            return;
        };
        drift_case_in(f, old, new, true, Some(expect));
    }
}

#[test]
fn drift_x25519_without_lock_is_detected_or_unverified() {
    // Without a lock entry the header only shows how many X25519 stanzas there are.
    drift_case(&["alice"], &["alice", "dave"], false, None);
    drift_case(
        &["alice", "dave"],
        &["alice"],
        false,
        Some((&[], &["?X25519"])),
    );
    drift_case(&["alice", "dave"], &["alice", "eve"], false, None);
}

#[test]
fn x25519_rewritten_by_another_tool_is_unverified_then_fixed() {
    if common::missing("age") {
        return;
    }
    let f = Fleet::new();
    f.rules(&[("x.age", &["alice", "dave"], false)]);
    f.secrets_encrypt("x.age");
    assert_eq!(f.check_json().0, 0);
    // Same recipients, but new bytes the lock does not know.
    f.age_encrypt("x.age", &["alice", "dave"], false);
    let (code, report) = f.check_json();
    assert_eq!(code, 1);
    assert_eq!(report["problems"][0]["kind"], "unverified", "{report:#}");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{report:#}"
    );
    f.repo
        .cmd()
        .arg("rekey")
        .args(f.all_ids())
        .assert()
        .success();
    assert_eq!(f.check_json().0, 0);
}

#[test]
fn unchanged_files_keep_their_exact_bytes() {
    let f = Fleet::new();
    let names: Vec<String> = (0..6).map(|i| format!("f{i}.age")).collect();
    let rules: Vec<(&str, &[&str], bool)> = names
        .iter()
        .map(|n| (n.as_str(), &["alice", "bob"][..], false))
        .collect();
    f.rules(&rules);
    for n in &names {
        f.secrets_encrypt(n);
    }
    let before = f.repo.snapshot();
    // Only f3 drifts (armor changes).
    let mut rules2 = rules.clone();
    rules2[3].2 = true;
    f.rules(&rules2);
    let rules_after = std::fs::read(f.path().join("secrets.json")).unwrap();
    f.repo
        .cmd()
        .arg("rekey")
        .args(["-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    let after = f.repo.snapshot();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.0, b.0);
        match a.0.as_str() {
            "f3.age" => {
                assert_ne!(a.2, b.2, "f3.age must be rekeyed");
                assert!(
                    a.2.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"),
                    "armor kept per rule"
                );
            }
            "secrets.lock.json" => assert_ne!(a.2, b.2, "lock must record f3.age"),
            "secrets.json" => assert_eq!(a.2, rules_after),
            _ => assert_eq!(a, b, "{} must be byte-identical (and keep its mode)", a.0),
        }
    }
    assert_eq!(f.check_json().0, 0);
}

#[test]
fn a_bad_file_in_the_middle_does_not_stop_the_others() {
    if common::missing("age") {
        return;
    }
    let f = Fleet::new();
    let names: Vec<String> = (0..9).map(|i| format!("s{i}.age")).collect();
    let mut rules: Vec<(&str, &[&str], bool)> = names
        .iter()
        .map(|n| (n.as_str(), &["alice"][..], false))
        .collect();
    rules.push(("gone.age", &["alice"], false));
    f.rules(&rules);
    for n in &names {
        f.secrets_encrypt(n);
    }
    // s3: payload corrupted. s5: encrypted to web1 only, and we only hold alice's key.
    // s7: not an age file at all.
    let p3 = f.path().join("s3.age");
    let mut c = std::fs::read(&p3).unwrap();
    let last = c.len() - 5;
    c[last] ^= 0x55;
    std::fs::write(&p3, &c).unwrap();
    f.age_encrypt("s5.age", &["web1"], false);
    f.repo
        .write("s7.age", "plaintext that was committed by mistake\n");
    // Everyone gains bob.
    let rules2: Vec<(&str, &[&str], bool)> = rules
        .iter()
        .map(|(n, _, a)| (*n, &["alice", "bob"][..], *a))
        .collect();
    f.rules(&rules2);
    let before = f.repo.snapshot();

    let out = f
        .repo
        .cmd()
        .args(["rekey", "-i"])
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("3 file(s) could not be rekeyed"), "{err}");
    assert!(
        err.contains("s3.age: the encrypted payload is damaged"),
        "{err}"
    );
    assert!(err.contains("s5.age: no identity can decrypt it"), "{err}");
    assert!(err.contains("s7.age: not an age file"), "{err}");
    assert!(
        err.contains("gone.age is listed in the rules but does not exist"),
        "{err}"
    );
    let after = f.repo.snapshot();
    for n in &names {
        let b = before.iter().find(|e| &e.0 == n).unwrap();
        let a = after.iter().find(|e| &e.0 == n).unwrap();
        if ["s3.age", "s5.age", "s7.age"].contains(&n.as_str()) {
            assert_eq!(a, b, "{n} must be left untouched");
        } else {
            assert_ne!(a.2, b.2, "{n} must be rekeyed despite the failures");
            assert_eq!(
                age_decrypt(&key("bob_rsa3072"), &f.path().join(n)).as_deref(),
                Ok(PAYLOAD),
                "{n}: bob (added) decrypts with age"
            );
        }
    }
    assert!(!f.path().join("gone.age").exists());
}

#[test]
fn dry_run_writes_nothing_and_needs_no_key() {
    if common::missing("age") {
        return;
    }
    let f = Fleet::new();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["alice"], false)]);
    f.secrets_encrypt("a.age");
    f.age_encrypt("b.age", &["alice"], false);
    f.rules(&[
        ("a.age", &["alice", "web1"], false),
        ("b.age", &["alice"], true),
    ]);
    let before = f.repo.snapshot();
    for args in [&["rekey", "--dry-run"][..], &["rekey", "-n", "--force"][..]] {
        let out = f.repo.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("would rekey a.age: recipients differ (added web1"),
            "{text}"
        );
        assert!(text.contains("would rekey b.age"), "{text}");
        assert!(text.contains("armor differs"), "{text}");
        assert_eq!(f.repo.snapshot(), before, "{args:?} wrote something");
    }
}

#[test]
fn noop_rekey_needs_no_private_key_and_writes_nothing() {
    let f = Fleet::new();
    f.rules(&[("a.age", &["alice", "dave"], false)]);
    f.secrets_encrypt("a.age");
    let before = f.repo.snapshot();
    // HOME is the scratch dir: no ~/.ssh keys, no -i.
    let out = f.repo.cmd().arg("rekey").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rekeyed 0 file(s), 1 already matched"));
    assert_eq!(f.repo.snapshot(), before);
}

#[test]
fn force_rekeys_named_files_only() {
    let f = Fleet::new();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["alice"], false)]);
    f.secrets_encrypt("a.age");
    f.secrets_encrypt("b.age");
    let (a, b) = (f.read("a.age"), f.read("b.age"));
    f.repo.cmd().args(["rekey", "a.age"]).assert().success();
    assert_eq!(f.read("a.age"), a, "in sync: not rekeyed without --force");
    f.repo
        .cmd()
        .args(["rekey", "--force", "a.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_ne!(f.read("a.age"), a);
    assert_eq!(f.read("b.age"), b);
    f.repo
        .cmd()
        .args(["rekey", "nope.age"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("nope.age: no rule for this file"));
    assert_eq!(f.check_json().0, 0);
}

#[test]
fn agenix_r_rekeys_everything_with_its_messages() {
    if common::missing("age") {
        return;
    }
    let f = Fleet::new();
    f.rules(&[
        ("a.age", &["alice"], false),
        ("sub/b.age", &["alice", "bob"], true),
    ]);
    f.secrets_encrypt("a.age");
    f.secrets_encrypt("sub/b.age");
    let (a, b) = (f.read("a.age"), f.read("sub/b.age"));
    let link = f.path().join("bin/agenix");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(common::bin(), &link).unwrap();
    let out = Command::new(&link)
        .args(["-r", "-i"])
        .arg(key("alice_ed25519"))
        .current_dir(f.path())
        .env("HOME", f.path())
        .env_remove("RULES")
        .env("RULES", "./secrets.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("rekeying a.age...") && err.contains("rekeying sub/b.age..."),
        "{err}"
    );
    assert_ne!(
        f.read("a.age"),
        a,
        "agenix -r rekeys files that are in sync"
    );
    assert_ne!(f.read("sub/b.age"), b);
    assert_eq!(
        age_decrypt(&key("bob_rsa3072"), &f.path().join("sub/b.age")).as_deref(),
        Ok(PAYLOAD)
    );
    assert_eq!(f.check_json().0, 0);
}

#[test]
fn passphrase_is_asked_once_for_the_whole_parallel_run() {
    if common::missing("python3") || common::missing("age") {
        return;
    }
    let f = Fleet::new();
    let names: Vec<String> = (0..12).map(|i| format!("p{i}.age")).collect();
    for n in &names {
        f.age_encrypt(n, &["carol"], false);
    }
    let rules: Vec<(&str, &[&str], bool)> = names
        .iter()
        .map(|n| (n.as_str(), &["carol", "alice"][..], false))
        .collect();
    f.rules(&rules);
    let carol = key("carol_rsa4096_pass");
    let args = ["rekey", "--jobs", "4", "-i", carol.to_str().unwrap()];
    let (code, prompts, out) = common::run_in_pty(f.path(), &args, &["correct horse"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(prompts, 1, "passphrase asked {prompts} times:\n{out}");
    for n in &names {
        assert_eq!(
            age_decrypt(&key("alice_ed25519"), &f.path().join(n)).as_deref(),
            Ok(PAYLOAD),
            "{n}"
        );
    }
    // A wrong passphrase: three tries for the whole run (not per file), then every file
    // reports it.
    for n in &names {
        f.age_encrypt(n, &["carol"], false);
    }
    let (code, prompts, out) = common::run_in_pty(f.path(), &args, &["wrong"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(prompts, 3, "{out}");
    assert!(out.contains("12 file(s) could not be rekeyed"), "{out}");
    assert!(out.contains("wrong passphrase"), "{out}");
}

#[test]
fn secrets_nix_rules_are_evaluated_and_rekeyed() {
    if common::missing("nix-instantiate") || common::missing("age") {
        return;
    }
    let f = Fleet::new();
    let nix = |keys: &str| {
        format!(
            "let alice = \"{}\"; dave = \"{}\"; web1 = \"{}\"; in {{\n  \"a.age\".publicKeys = [ {keys} ];\n  \"b.age\" = {{ publicKeys = [ alice ]; armor = true; }};\n}}\n",
            pubkey("alice_ed25519"),
            pubkey("dave_age"),
            pubkey("web1_ed25519")
        )
    };
    f.repo.write("secrets.nix", nix("alice dave"));
    f.secrets_encrypt("a.age");
    f.secrets_encrypt("b.age");
    f.repo.cmd().arg("check").assert().success();
    f.repo.write("secrets.nix", nix("alice web1"));
    f.repo
        .cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicates::str::contains("a.age: recipients differ"))
        .stdout(predicates::str::contains(
            "added to the rule, not in the file: SHA256:",
        ));
    f.repo
        .cmd()
        .args(["rekey", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "rekeyed 1 file(s), 1 already matched",
        ));
    assert_eq!(
        age_decrypt(&key("web1_ed25519"), &f.path().join("a.age")).as_deref(),
        Ok(PAYLOAD)
    );
    assert_age_refuses(
        age_decrypt(&key("dave_age.key"), &f.path().join("a.age")),
        "dave (removed)",
    );
    f.repo.cmd().arg("check").assert().success();
}

#[test]
fn a_broken_lock_file_is_never_overwritten() {
    let f = fleet_a_alice_dave_b_dave();
    // A merge left conflict markers in the lock.
    let lock = f.path().join("secrets.lock.json");
    let broken = format!(
        "<<<<<<< ours\n{}=======\n",
        std::fs::read_to_string(&lock).unwrap()
    );
    std::fs::write(&lock, &broken).unwrap();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let out = f
        .repo
        .cmd()
        .args(["rekey", "a.age", "-i"])
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("left unchanged"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), broken);
}

/// rekey changes the lock file under the rules directory's write guard (an flock) and re-reads
/// it there: an entry another process recorded while the rekey ran (here: written while the
/// test holds the flock, after the rekey staged its file) is kept, and the rekey's own entries
/// land.
#[test]
fn rekey_keeps_lock_entries_recorded_meanwhile() {
    let f = fleet_a_alice_dave_b_dave();
    let lock_path = f.path().join("secrets.lock.json");
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let (guard, child) = rekey_a_waiting_for_the_guard(&f);
    // Another process records an entry meanwhile (as `secrets edit` would, under the flock).
    let mut during = before.clone();
    during["files"]["other.age"] = before["files"]["b.age"].clone();
    std::fs::write(&lock_path, serde_json::to_string_pretty(&during).unwrap()).unwrap();
    drop(guard);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    assert_eq!(
        after["files"]["other.age"], during["files"]["other.age"],
        "the entry recorded during the rekey was dropped: {after}"
    );
    assert_ne!(
        after["files"]["a.age"], before["files"]["a.age"],
        "the rekey's own entry is missing: {after}"
    );
    assert_eq!(after["files"]["b.age"], before["files"]["b.age"]);
}

/// a.age to alice and dave, b.age to dave, both written by `secrets` (so both have lock
/// entries).
fn fleet_a_alice_dave_b_dave() -> Fleet {
    let f = Fleet::new();
    f.rules(&[
        ("a.age", &["alice", "dave"], false),
        ("b.age", &["dave"], false),
    ]);
    f.secrets_encrypt("a.age");
    f.secrets_encrypt("b.age");
    f
}

/// A file written by someone else after rekey read it (here while the test holds the rules
/// directory's write guard, after rekey staged its replacement) is not overwritten: rekey
/// reports it, leaves the other writer's bytes and removes its staged file.
#[test]
fn rekey_never_overwrites_a_file_changed_meanwhile() {
    let f = fleet_a_alice_dave_b_dave();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let (guard, child) = rekey_a_waiting_for_the_guard(&f);
    // Another writer replaces a.age (any bytes will do: they must survive).
    let theirs = b"written by someone else meanwhile".to_vec();
    std::fs::write(f.path().join("a.age"), &theirs).unwrap();
    drop(guard);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a.age: the file changed while it was being rekeyed"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(f.path().join("a.age")).unwrap(), theirs);
    assert!(!a_is_staged(&f), "the staged replacement was left behind");
}

/// rekey's staged replacement of a.age exists (it is written before the commit).
fn a_is_staged(f: &Fleet) -> bool {
    std::fs::read_dir(f.path()).unwrap().any(|e| {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        n.starts_with(".a.age.") && n.ends_with(".tmp")
    })
}

/// Take the rules directory's flock, start `secrets rekey a.age` and return once it has staged
/// its new a.age: it is then waiting for the flock (released by dropping the returned file).
fn rekey_a_waiting_for_the_guard(f: &Fleet) -> (std::fs::File, std::process::Child) {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(f.path()).unwrap();
    // SAFETY: flock on a descriptor we own; closing it releases the lock.
    assert_eq!(unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) }, 0);
    let child = common::command(common::bin())
        .current_dir(f.path())
        .env("HOME", f.path())
        .args(["rekey", "a.age", "-i"])
        .arg(key("alice_ed25519"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !a_is_staged(f) {
        assert!(t.elapsed().as_secs() < 60, "rekey never staged a.age");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (dir, child)
}
