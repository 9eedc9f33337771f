//! Item 8: secrets.lock.json is created only when a rule has a recipient a header cannot name
//! (X25519, plugin), and its creation is said once; a committed lock makes `check` work on a
//! fresh clone.

use super::*;

const LOCK: &str = "secrets.lock.json";

#[test]
fn ssh_only_rules_never_create_the_lock() {
    let repo = Repo::new();
    quickstart(&repo, &pubkey("alice_ed25519"));
    let out = run(repo
        .cmd()
        .args(["encrypt", "db-password.age"])
        .write_stdin("x"));
    assert_eq!(out.code, 0, "{out}");
    let out2 = run(repo.cmd().args(["edit", "api-token.age"]).write_stdin("y"));
    assert_eq!(out2.code, 0, "{out2}");
    let out3 = run(repo.cmd().args(["rekey", "--force", "-i"]).arg(alice_key()));
    assert_eq!(out3.code, 0, "{out3}");
    assert!(!repo.path().join(LOCK).exists());
    for o in [out, out2, out3] {
        assert!(!o.stderr.contains(LOCK), "{o}");
    }
    let out = run(repo.cmd().arg("check"));
    assert!(
        out.stdout.contains("ok: 2 file(s) match the rules"),
        "{out}"
    );
}

#[test]
fn an_age1_rule_creates_it_once_and_says_so() {
    let repo = Repo::new();
    repo.json_rules(
        r#"{"ssh.age": {"publicKeys": ["alice"]}, "x.age": {"publicKeys": ["alice", "dave"]}}"#,
    );
    repo.encrypt("ssh.age", "a");
    assert!(!repo.path().join(LOCK).exists());
    let out = run(repo.cmd().args(["encrypt", "x.age"]).write_stdin("b"));
    assert_eq!(out.code, 0, "{out}");
    let lock = std::fs::canonicalize(repo.path().join(LOCK)).unwrap();
    assert!(
        out.stderr.contains(&format!(
            "created {}: commit it with the .age files; it records which X25519/plugin \
             recipients each file was encrypted to",
            lock.display()
        )),
        "{out}"
    );
    assert_eq!(out.stderr.matches("created").count(), 1, "{out}");
    // Once: not again, and from then on every write is recorded.
    for (cmd, file) in [("encrypt", "x.age"), ("encrypt", "ssh.age")] {
        let out = run(repo.cmd().args([cmd, file]).write_stdin("c"));
        assert_eq!(out.code, 0, "{out}");
        assert!(!out.stderr.contains("created"), "{out}");
    }
    let text = read(&lock);
    assert!(
        text.contains("\"x.age\"") && text.contains("\"ssh.age\""),
        "{text}"
    );
    // A rekey of a batch with an age1 rule creates it (after it was deleted) and says so.
    std::fs::remove_file(&lock).unwrap();
    let out = run(repo.cmd().args(["rekey", "--force", "-i"]).arg(alice_key()));
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("created "), "{out}");
    assert!(lock.exists());
}

#[test]
fn a_fresh_clone_checks_clean_when_the_lock_is_committed() {
    if common::missing("git") {
        return;
    }
    let repo = Repo::new();
    repo.json_rules(r#"{"x.age": {"publicKeys": ["alice", "dave"]}}"#);
    repo.encrypt("x.age", "b");
    let git = |dir: &Path, args: &[&str]| {
        let o = std::process::Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {o:?}");
    };
    git(repo.path(), &["init", "-q", "."]);
    // The Quickstart's `git add`, with the lock.
    git(repo.path(), &["add", "secrets.json", "x.age", LOCK]);
    git(repo.path(), &["commit", "-qm", "secrets"]);
    let clone = Repo::new();
    let dst = clone.path().join("c");
    git(
        clone.path(),
        &["clone", "-q", &repo.path().display().to_string(), "c"],
    );
    let out = run(clone.cmd().current_dir(&dst).arg("check"));
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("ok: 1 file(s) match the rules"),
        "{out}"
    );
    // Without it, the X25519 recipient cannot be confirmed: why it must be committed.
    std::fs::remove_file(dst.join(LOCK)).unwrap();
    let out = run(clone.cmd().current_dir(&dst).arg("check"));
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("x.age: "), "{out}");
    assert!(out.stdout.contains("secrets.lock.json"), "{out}");
}
