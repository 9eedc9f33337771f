//! Edit from stdin, decrypt, encrypt: each recipient can read what was written, the rule's
//! options and path spellings hold, unchanged content is not re-encrypted, and the Go `age`
//! binary reads our files and we read its.

use super::*;

#[test]
fn edit_from_stdin_then_decrypt_with_each_recipient() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "hunter2");
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "hunter2");
    assert_eq!(get(&repo, "db.age", "dave_age.key"), "hunter2");
    // Not a recipient: a clear error naming the file, nothing on stdout.
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(key("bob_rsa3072"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("db.age")
                .and(predicate::str::contains("no identity can decrypt")),
        );
    // Nested names create their directory.
    set(&repo, "nested/app.env.age", "A=1\n");
    assert_eq!(get(&repo, "nested/app.env.age", "alice_ed25519"), "A=1\n");
}

#[test]
fn rsa_and_armor_follow_the_rule() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "armored.age", "pem please");
    let text = fs::read_to_string(repo.path().join("armored.age")).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert_eq!(get(&repo, "armored.age", "bob_rsa3072"), "pem please");
    set(&repo, "db.age", "bin");
    let bin = fs::read(repo.path().join("db.age")).unwrap();
    assert!(bin.starts_with(b"age-encryption.org/v1\n"));
}

#[test]
fn same_rule_by_dot_slash_plain_and_absolute_path() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "./db.age", "one");
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "one");
    let abs = repo.path().join("db.age");
    let out = repo
        .cmd()
        .arg("decrypt")
        .arg(&abs)
        .arg("-i")
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"one");
    // From another directory, with --rules and a path relative to that directory.
    let sub = repo.path().join("elsewhere");
    fs::create_dir(&sub).unwrap();
    let out = common::cmd()
        .current_dir(&sub)
        .args(["--rules", "../secrets.json", "decrypt", "../db.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"one");
}

#[test]
fn unchanged_content_is_not_reencrypted() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "same");
    let before = fs::read(repo.path().join("db.age")).unwrap();
    repo.cmd()
        .args(["edit", "db.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("same")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "wasn't changed, skipping re-encryption",
        ));
    assert_eq!(fs::read(repo.path().join("db.age")).unwrap(), before);
    // Empty stdin (a script run without input) never blanks a secret.
    repo.cmd()
        .args(["edit", "db.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to store an empty secret",
        ));
    assert_eq!(fs::read(repo.path().join("db.age")).unwrap(), before);
}

#[test]
fn decrypt_to_file_is_0600_and_missing_things_fail() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "v");
    repo.cmd()
        .args(["decrypt", "db.age", "-o", "out.txt", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stdout("");
    let p = repo.path().join("out.txt");
    assert_eq!(fs::read(&p).unwrap(), b"v");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    repo.cmd()
        .args(["decrypt", "carol.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist yet"));
    repo.cmd()
        .args(["decrypt", "nope.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rule for this file"));
}

#[test]
fn encrypt_rotates_without_reading_the_old_value() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "old");
    // No identity at all: encrypt still works.
    repo.cmd()
        .args(["encrypt", "db.age"])
        .write_stdin("new")
        .assert()
        .success();
    assert_eq!(get(&repo, "db.age", "dave_age.key"), "new");
    repo.write("plain.txt", "from file");
    repo.cmd()
        .args(["encrypt", "db.age", "--input", "plain.txt"])
        .assert()
        .success();
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "from file");
}

#[test]
fn interop_with_go_age_both_ways() {
    if common::missing("age") {
        return;
    }
    let repo = Repo::new();
    two_secrets(&repo);
    for (file, armor) in [("db.age", false), ("armored.age", true)] {
        set(&repo, file, "interop ✓\n");
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(key("alice_ed25519"))
            .arg(repo.path().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age -d {file} (armor {armor}): {out:?}"
        );
        assert_eq!(out.stdout, "interop ✓\n".as_bytes());
    }
    // Files written by `age -R` (binary and armored) decrypt with secrets.
    let recips = repo.write(
        "recips.txt",
        format!(
            "{}\n{}\n{}\n",
            pubkey("alice_ed25519"),
            pubkey("bob_rsa3072"),
            pubkey("dave_age")
        ),
    );
    for (file, armor) in [("db.age", false), ("armored.age", true)] {
        let mut c = std::process::Command::new("age");
        c.arg("-R")
            .arg(&recips)
            .arg("-o")
            .arg(repo.path().join(file));
        if armor {
            c.arg("-a");
        }
        c.stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"from go").unwrap();
        assert!(child.wait().unwrap().success());
        for id in ["alice_ed25519", "bob_rsa3072", "dave_age.key"] {
            assert_eq!(get(&repo, file, id), "from go", "{file} with {id}");
        }
    }
}
