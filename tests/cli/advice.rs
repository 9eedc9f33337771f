//! When no identity can decrypt a file: who can read it now (from its header's key tags and
//! the lock), and what to do (who must run `secrets rekey FILE`, or `secrets encrypt FILE` when
//! nobody the rules name can), for decrypt, edit and rekey; edit names `secrets encrypt`.

use super::*;

const GENERIC: &str = "ask someone who can read it to add your key";

fn rules(repo: &Repo, db: &str) {
    repo.json_rules(&format!(r#"{{"db.age": {{"publicKeys": {db}}}}}"#));
}

fn fails(repo: &Repo, args: &[&str], id: &str) -> String {
    let out = repo
        .cmd()
        .args(args)
        .arg("-i")
        .arg(key(id))
        .write_stdin("new")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_key_the_rules_list_but_the_file_predates() {
    let repo = Repo::new();
    rules(&repo, r#"["alice", "web1"]"#);
    repo.encrypt("db.age", "v");
    rules(&repo, r#"["alice", "web1", "bob"]"#);
    for args in [&["decrypt", "db.age"][..], &["edit", "db.age"], &["rekey"]] {
        let err = fails(&repo, args, "bob_rsa3072");
        assert!(
            err.contains("who can read it now: alice (SHA256:")
                && err.contains("web1 (SHA256:")
                && err.contains("the rules already list your key bob (SHA256:")
                && err.contains("alice or web1 must run `secrets rekey db.age`"),
            "{args:?}: {err}"
        );
        assert!(!err.contains(GENERIC), "{args:?}: {err}");
    }
    // Edit says how to overwrite the file without reading it; decrypt does not need to.
    let err = fails(&repo, &["edit", "db.age"], "bob_rsa3072");
    assert!(
        err.contains("to overwrite it without reading it: `secrets encrypt db.age < NEW-CONTENT`"),
        "{err}"
    );
    let err = fails(&repo, &["decrypt", "db.age"], "bob_rsa3072");
    assert!(!err.contains("overwrite"), "{err}");
}

#[test]
fn a_key_that_is_not_among_the_recipients() {
    let repo = Repo::new();
    rules(&repo, r#"["alice"]"#);
    repo.encrypt("db.age", "v");
    let err = fails(&repo, &["decrypt", "db.age"], "web1_ed25519");
    assert!(
        err.contains("your key web1 (SHA256:")
            && err.contains("is not among the recipients of db.age in ")
            && err.contains("secrets.json: pass the right key with -i, or add yours to that rule, then alice must run `secrets rekey db.age`"),
        "{err}"
    );
    assert!(!err.contains(GENERIC), "{err}");
}

#[test]
fn nobody_the_rules_name_can_read_it() {
    let repo = Repo::new();
    rules(&repo, r#"["alice"]"#);
    // An ssh-only rule creates no lock file; one that exists records every write.
    repo.write("secrets.lock.json", r#"{"version": 1, "files": {}}"#);
    repo.encrypt("db.age", "v");
    // alice's key is gone from the rules altogether: nobody left can rekey it.
    repo.write(
        "secrets.json",
        format!(
            r#"{{"keys": {{"bob": "{}"}}, "secrets": {{"db.age": {{"publicKeys": ["bob"]}}}}}}"#,
            pubkey("bob_rsa3072")
        ),
    );
    for args in [&["decrypt", "db.age"][..], &["edit", "db.age"], &["rekey"]] {
        let err = fails(&repo, args, "bob_rsa3072");
        assert!(
            // The lock entry names the file's only recipient, by its id.
            err.contains("who can read it now: a key not in the rules (lock id ")
                && err.contains("the rules already list your key bob (SHA256:")
                && err.contains("none of the keys in the rules can read the file, so nobody can rekey it: replace its content without reading it: `secrets encrypt db.age < NEW-CONTENT`"),
            "{args:?}: {err}"
        );
    }
    // Without the lock, the header's key tag names it.
    std::fs::remove_file(repo.path().join("secrets.lock.json")).unwrap();
    let err = fails(&repo, &["decrypt", "db.age"], "bob_rsa3072");
    assert!(
        err.contains("who can read it now: a ssh-ed25519 key not in the rules (key tag "),
        "{err}"
    );
}

#[test]
fn x25519_recipients_the_header_does_not_name() {
    let repo = Repo::new();
    rules(&repo, r#"["dave"]"#);
    repo.encrypt("db.age", "v");
    std::fs::remove_file(repo.path().join("secrets.lock.json")).unwrap();
    let err = fails(&repo, &["decrypt", "db.age"], "alice_ed25519");
    assert!(
        err.contains("1 X25519 recipient(s) the header does not name")
            && err.contains("whoever holds one of its X25519/plugin keys must run `secrets rekey db.age`; if nobody can, replace its content"),
        "{err}"
    );
    // With the lock, the same file names dave.
    repo.encrypt("db.age", "v");
    let err = fails(&repo, &["decrypt", "db.age"], "alice_ed25519");
    assert!(
        err.contains("who can read it now: dave (age1") && err.contains("dave must run"),
        "{err}"
    );
}
