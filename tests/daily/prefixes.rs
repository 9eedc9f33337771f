//! Item 2: the file a message is about is named once, never as an empty prefix.

use super::*;

#[test]
fn no_rules_file_has_no_empty_prefix() {
    let repo = Repo::new();
    let out = run(repo.cmd().arg("check"));
    assert_eq!(out.code, 1, "{out}");
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("no rules file: "), "{out}");
    assert!(first.contains("--rules PATH"), "{out}");
    let out = run(repo.cmd().args(["check", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["problems"][0]["file"], "", "{out}");
    assert_eq!(v["rules"], serde_json::Value::Null);
}

#[test]
fn both_rules_files_name_the_directory() {
    let repo = Repo::new();
    quickstart(&repo, &pubkey("alice_ed25519"));
    repo.write("secrets.nix", "{}");
    let dir = std::fs::canonicalize(repo.path()).unwrap();
    let want = format!(
        "{}: both secrets.nix and secrets.json exist here: choose one with --rules {}/secrets.nix \
         or --rules {}/secrets.json",
        dir.display(),
        dir.display(),
        dir.display()
    );
    let out = run(repo.cmd().arg("check"));
    assert!(out.stdout.starts_with(&want), "{out}");
    let out = run(repo
        .cmd()
        .args(["edit", "db-password.age"])
        .write_stdin("x"));
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with(&format!("error: {want}")), "{out}");
}

#[test]
fn a_syntax_error_names_the_file_once() {
    let repo = Repo::new();
    repo.write("secrets.json", "{\"keys\": {},}\n");
    let file = std::fs::canonicalize(repo.path().join("secrets.json")).unwrap();
    let out = run(repo.cmd().arg("check"));
    let first = out.stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}: trailing comma", file.display())),
        "{out}"
    );
    assert_eq!(
        first.matches("secrets.json").count(),
        2,
        "the path and the schema hint: {out}"
    );
    assert!(first.contains("see `secrets schema`"), "{out}");
    let out = run(repo.cmd().args(["check", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["problems"][0]["file"], file.display().to_string());
    let msg = v["problems"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with("trailing comma"), "{msg}");
}

#[test]
fn a_missing_rules_file_given_with_rules_names_it_once() {
    let repo = Repo::new();
    let out = run(repo.cmd().args(["check", "--rules", "nowhere.json"]));
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("nowhere.json: "), "{out}");
    assert_eq!(first.matches("nowhere.json").count(), 1, "{out}");
    assert!(first.contains("no such file"), "{out}");
}
