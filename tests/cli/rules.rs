//! Rules: discovery, secrets.json validation (errors name the secret and the fix), recipient
//! key types, and secrets.nix.

use super::*;

#[test]
fn rules_discovery() {
    let repo = Repo::new();
    two_secrets(&repo);
    repo.write("secrets.nix", "{}");
    repo.cmd()
        .args(["edit", "db.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "both secrets.nix and secrets.json",
        ));
    // RULES picks one (agenix's variable).
    repo.cmd()
        .env("RULES", "secrets.json")
        .args(["encrypt", "db.age"])
        .write_stdin("r")
        .assert()
        .success();
    let empty = Repo::new();
    empty
        .cmd()
        .args(["encrypt", "db.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rules file"));
}

#[test]
fn json_rules_validation_names_secret_and_fix() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"secrets": {"a.age": {"publicKeys": ["alice"], "armour": true}}}"#,
            "unknown field `armour`",
        ),
        (
            r#"{"secrets": {"a.age": {"publicKeys": []}}}"#,
            "\"a.age\" has no recipients",
        ),
        (
            r#"{"keys": {"k": "ssh-ed25519 AAAA"}, "secrets": {}}"#,
            "key \"k\"",
        ),
        (
            r#"{"groups": {"g": ["h"], "h": ["g"]}, "secrets": {"a.age": {"publicKeys": ["g"]}}}"#,
            "group cycle",
        ),
        (
            r#"{"secrets": {"../a.age": {"publicKeys": ["age1x"]}}}"#,
            "outside the rules file's directory",
        ),
        (
            r#"{"keys": {"a": "x", "a": "y"}, "secrets": {}}"#,
            "duplicate entry \"a\"",
        ),
        (
            r#"{"secrets": {"a.age": {"publicKeys": ["nobody"]}}}"#,
            "\"nobody\" is not a defined key or group",
        ),
    ];
    for (json, expect) in cases {
        let repo = Repo::new();
        repo.write("secrets.json", json);
        let before = repo.snapshot();
        repo.cmd()
            .args(["encrypt", "a.age"])
            .write_stdin("x")
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains("secrets.json").and(predicate::str::contains(*expect)),
            );
        assert_eq!(repo.snapshot(), before, "nothing written for {json}");
    }
}

#[test]
fn recipients_key_types() {
    let repo = Repo::new();
    // RSA 1024 is refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    if common::missing("ssh-keygen") {
        return;
    }
    let k = dir.path().join("small");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"])
        .arg(&k)
        .status()
        .unwrap();
    let small = fs::read_to_string(k.with_extension("pub")).unwrap();
    repo.write(
        "secrets.json",
        format!(
            r#"{{"secrets": {{"a.age": {{"publicKeys": ["{}"]}}}}}}"#,
            small.trim()
        ),
    );
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("1024 bits").and(predicate::str::contains("too weak")));
    // A plugin recipient whose plugin is not installed: the error names the plugin.
    repo.write(
        "secrets.json",
        r#"{"secrets": {"a.age": {"publicKeys": ["age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t"]}}}"#,
    );
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("age-plugin-yubikey"));
    assert!(!repo.path().join("a.age").exists());
}

#[test]
fn nix_rules_with_space_and_quote_in_path() {
    if common::missing("nix-instantiate") {
        return;
    }
    let repo = Repo::new();
    let dir = repo.path().join("my \"fleet\" ${x}");
    fs::create_dir(&dir).unwrap();
    let keys = dir.join("keys.nix");
    fs::write(
        &keys,
        format!(
            "{{ alice = \"{}\"; dave = \"{}\"; }}",
            pubkey("alice_ed25519"),
            pubkey("dave_age")
        ),
    )
    .unwrap();
    fs::write(
        dir.join("secrets.nix"),
        r#"let k = import ./keys.nix; in {
  "db.age".publicKeys = [ k.alice k.dave ];
  "./tls.pem.age" = { publicKeys = [ k.alice ]; armor = true; };
}"#,
    )
    .unwrap();
    let mut c = common::cmd();
    c.current_dir(&dir)
        .args(["edit", "tls.pem.age"])
        .write_stdin("cert")
        .assert()
        .success();
    assert!(fs::read_to_string(dir.join("tls.pem.age"))
        .unwrap()
        .starts_with("-----BEGIN AGE"));
    // --rules with the odd path, from elsewhere, absolute file argument.
    common::cmd()
        .arg("--rules")
        .arg(dir.join("secrets.nix"))
        .arg("encrypt")
        .arg(dir.join("db.age"))
        .write_stdin("v")
        .assert()
        .success();
    let out = common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "./db.age", "-i"])
        .arg(key("dave_age.key"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"v");
    // A Nix evaluation error is reported with Nix's message.
    fs::write(dir.join("secrets.nix"), "{ broken = ; }").unwrap();
    common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("could not evaluate"));
    // An unknown attribute in a rule is ignored (as agenix does); the rule's own problem is
    // what is reported.
    fs::write(
        dir.join("secrets.nix"),
        r#"{ "db.age" = { publicKeys = []; owner = "x"; }; }"#,
    )
    .unwrap();
    common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "secret \"db.age\" has no recipients",
        ))
        .stderr(predicate::str::contains("owner").not());
}

#[test]
fn nix_missing_suggests_json() {
    let repo = Repo::new();
    repo.write("secrets.nix", "{}");
    repo.cmd()
        .env("PATH", "/nonexistent")
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("nix-instantiate was not found")
                .and(predicate::str::contains("secrets.json")),
        );
}
