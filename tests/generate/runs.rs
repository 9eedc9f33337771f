//! Whole runs: what is chosen, --dry-run, failures among successes, secrets.nix, check.

use super::*;

/// --dry-run lists each file that would be made (with its .pub and kind), writes nothing and
/// needs no key.
#[test]
fn dry_run_lists_and_writes_nothing() {
    let f = Fixture::new(&rules(&[
        rule("pw.age", r#"{"kind": "alnum", "length": 40}"#),
        rule("host.age", r#""ssh-ed25519""#),
        r#""manual.age": {"publicKeys": ["alice"]}"#.to_string(),
    ]));
    let before = f.repo.snapshot();
    let out = f
        .generate(&["--dry-run"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "would create host.age and host.pub (ssh-ed25519 key pair)\n\
         would create pw.age (alnum, 40 characters)\n"
    );
    assert_eq!(f.repo.snapshot(), before, "a dry run changed files");
    assert!(f.home_is_empty());
}

/// Existing files are left byte for byte; only the missing one is made.
#[test]
fn existing_files_are_left_alone() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("a.age", r#""alnum""#),
        rule("b.age", r#""hex""#),
    ]));
    f.repo.encrypt("a.age", "set by hand");
    let a = std::fs::read(f.path().join("a.age")).unwrap();
    let out = f.generate(&[]).assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generated b.age (hex, 64 characters)"),
        "{stderr}"
    );
    assert!(!stderr.contains("generated a.age"), "{stderr}");
    assert_eq!(std::fs::read(f.path().join("a.age")).unwrap(), a);
    assert_eq!(f.age_decrypt("a.age"), b"set by hand");
    // Named, it is reported as left alone.
    let out = f
        .generate(&["a.age"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.age: exists, left as it is (--force regenerates it)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(f.path().join("a.age")).unwrap(), a);
    // A second run has nothing to do.
    let out = f.generate(&[]).assert().success().get_output().clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to generate"));
}

/// A failing generator (a command that exits 3) and a named file without a generator do not
/// stop the others: they are made, the summary names both failures, the exit code is 1.
#[test]
fn one_failure_does_not_stop_the_others() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("a-first.age", r#""alnum""#),
        rule(
            "broken.age",
            r#"{"kind": "command", "command": ["sh", "-c", "exit 3"]}"#,
        ),
        rule("empty.age", r#"{"kind": "command", "command": ["true"]}"#),
        rule("z-last.age", r#""wireguard""#),
        r#""manual.age": {"publicKeys": ["alice"]}"#.to_string(),
    ]));
    let out = f
        .generate(&["--allow-commands"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generated 2 file(s); 2 failed:"),
        "{stderr}"
    );
    assert!(stderr.contains("  - broken.age: command `sh -c 'exit 3'`: it failed (exit status: 3); nothing was written for broken.age"), "{stderr}");
    assert!(
        stderr.contains("  - empty.age: command `true`: it printed nothing"),
        "{stderr}"
    );
    assert!(f.path().join("a-first.age").exists() && f.path().join("z-last.pub").exists());
    assert!(!f.path().join("broken.age").exists() && !f.path().join("empty.age").exists());
    assert_eq!(f.age_decrypt("a-first.age").len(), 32);

    // Named: the one without a generator fails with the fix, the other is made.
    std::fs::remove_file(f.path().join("a-first.age")).unwrap();
    let out = f
        .generate(&["manual.age", "a-first.age"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("manual.age: its rule has no generator; add one"),
        "{stderr}"
    );
    assert!(stderr.contains("`secrets edit manual.age`"), "{stderr}");
    assert!(f.path().join("a-first.age").exists());
    assert!(f.path().join("z-last.age").exists());
}

/// secrets.nix: `generator` is read from the evaluated rules (agenix ignores it), as a name
/// and as a set.
#[test]
fn secrets_nix_generators() {
    if common::missing("nix-instantiate") || common::missing("age") {
        return;
    }
    let f = Fixture::new("{}");
    std::fs::remove_file(f.path().join("secrets.json")).unwrap();
    f.repo.write(
        "secrets.nix",
        format!(
            r#"let alice = "{}"; in {{
  "pw.age" = {{ publicKeys = [ alice ]; generator = {{ kind = "hex"; length = 40; }}; }};
  "host.age" = {{ publicKeys = [ alice ]; generator = "age"; }};
}}"#,
            alice()
        ),
    );
    f.generate(&[]).assert().success();
    assert_eq!(f.age_decrypt("pw.age").len(), 40);
    assert!(f.read("host.pub").starts_with("age1"));
    // A bad length there is an error naming the rule.
    f.repo.write(
        "secrets.nix",
        format!(
            r#"let alice = "{}"; in {{ "pw.age" = {{ publicKeys = [ alice ]; generator = {{ kind = "hex"; length = 8; }}; }}; }}"#,
            alice()
        ),
    );
    let out = f.generate(&[]).assert().code(1).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "secret \"pw.age\": generator: length 8 is too short: at least 32 characters"
        ),
        "{stderr}"
    );
}

/// `check` reports a key-pair rule whose .pub is missing or is not a public key of its
/// kind, naming the file and the fix; a rule without a key-pair generator needs none.
#[test]
fn check_reports_a_missing_pub() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("host.age", r#""ssh-ed25519""#),
        rule("wg.age", r#""wireguard""#),
        rule("pw.age", r#""alnum""#),
    ]));
    f.generate(&[]).assert().success();
    f.repo.cmd().arg("check").assert().success();
    std::fs::remove_file(f.path().join("host.pub")).unwrap();
    std::fs::write(f.path().join("wg.pub"), "not a key\n").unwrap();
    let out = f
        .repo
        .cmd()
        .args(["check", "--json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0]["kind"], "pub");
    assert_eq!(problems[0]["file"], "host.age");
    let m = problems[0]["message"].as_str().unwrap();
    assert!(
        m.contains("its public half host.pub cannot be read (no such file or directory)"),
        "{m}"
    );
    assert!(
        m.contains("`secrets generate --force host.age` (this rotates the key)"),
        "{m}"
    );
    assert_eq!(problems[1]["file"], "wg.age");
    let m = problems[1]["message"].as_str().unwrap();
    assert!(m.contains("wg.pub is not a WireGuard public key"), "{m}");
    // A kind the published report schema knows.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../src/check.schema.json")).unwrap();
    let kinds = &schema["$defs"]["problem"]["properties"]["kind"];
    assert!(kinds["enum"].as_array().unwrap().contains(&"pub".into()));
    assert!(kinds["description"]
        .as_str()
        .unwrap()
        .contains("pub: a key-pair rule"));
}

/// A key pair whose .pub would land on another rule's file is refused; a run over rules
/// without any generator says so.
#[test]
fn pub_over_another_rule_and_no_generators() {
    let f = Fixture::new(&rules(&[
        rule("host.age", r#""age""#),
        r#""host.pub": {"publicKeys": ["alice"]}"#.to_string(),
    ]));
    f.repo
        .encrypt("host.pub", "a secret that happens to be named host.pub");
    let before = std::fs::read(f.path().join("host.pub")).unwrap();
    let out = f.generate(&[]).assert().code(1).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("host.age: its public half would be written to host.pub, which is another rule's encrypted file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(f.path().join("host.pub")).unwrap(), before);
    assert!(!f.path().join("host.age").exists());

    let f = Fixture::new(r#"{"db.age": {"publicKeys": ["alice"]}}"#);
    let out = f.generate(&[]).assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing to generate: no rule in"),
        "{stderr}"
    );
    assert!(
        stderr.contains("has a generator (e.g. generator = \"alnum\";)"),
        "{stderr}"
    );
}

/// `check` says how to create a missing file: `secrets generate NAME` when its rule has a
/// generator, `secrets edit NAME` otherwise.
#[test]
fn check_suggests_generate_for_a_missing_file_with_a_generator() {
    let f = Fixture::new(&rules(&[
        rule("made.age", r#""alnum""#),
        r#""manual.age": {"publicKeys": ["alice"]}"#.to_string(),
    ]));
    let out = f
        .repo
        .cmd()
        .args(["check", "--json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = |file: &str| {
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["file"] == file && p["kind"] == "missing")
            .unwrap_or_else(|| panic!("no missing problem for {file}: {report}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let made = message("made.age");
    assert!(
        made.contains("create it with `secrets generate made.age` or remove its rule"),
        "{made}"
    );
    let manual = message("manual.age");
    assert!(
        manual.contains("create it with `secrets edit manual.age` or remove its rule"),
        "{manual}"
    );
}
