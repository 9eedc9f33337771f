//! Item 4: decrypt needs a key and a file, nothing else; rules are used when found, and rules
//! that cannot be used are a warning, not a failure.

use super::*;

/// An encrypted file made under rules, then copied where there are none.
fn lone_ciphertext() -> (Repo, Repo) {
    let made = Repo::new();
    quickstart(&made, &pubkey("alice_ed25519"));
    made.encrypt("db-password.age", "hunter2");
    let host = Repo::new();
    std::fs::copy(
        made.path().join("db-password.age"),
        host.path().join("db.age"),
    )
    .unwrap();
    (made, host)
}

#[test]
fn a_key_and_a_ciphertext_are_enough() {
    let (_made, host) = lone_ciphertext();
    let k = alice_key();
    let out = run(host.cmd().arg("decrypt").arg("-i").arg(&k).arg("db.age"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hunter2");
    assert_eq!(out.stderr, "", "no warning when there are simply no rules");
    // -v says why no rule was used.
    let out = run(host
        .cmd()
        .args(["-v", "decrypt", "-i"])
        .arg(&k)
        .arg("db.age"));
    assert!(out.stderr.contains("rules: none found"), "{out}");
    assert!(out.stderr.contains("decrypting db.age as it is"), "{out}");
    // -o, and an absolute path from elsewhere.
    let out = run(host
        .cmd()
        .current_dir("/")
        .args(["decrypt", "-i"])
        .arg(&k)
        .arg(host.path().join("db.age"))
        .arg("-o")
        .arg(host.path().join("out.txt")));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(read(&host.path().join("out.txt")), "hunter2");
    // A file that is not there: the plain reason.
    let out = run(host.cmd().args(["decrypt", "-i"]).arg(&k).arg("nope.age"));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("nope.age"), "{out}");
}

#[test]
fn rules_that_cannot_be_used_are_a_warning() {
    let (_made, host) = lone_ciphertext();
    let k = alice_key();
    // A broken rules file beside the file.
    host.write("secrets.json", "{\"keys\": ");
    let out = run(host.cmd().args(["decrypt", "-i"]).arg(&k).arg("db.age"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hunter2");
    assert!(out.stderr.starts_with("warning: "), "{out}");
    assert!(
        out.stderr.contains("secrets.json: EOF while parsing"),
        "{out}"
    );
    assert!(out.stderr.contains("decrypt needs no rules"), "{out}");
    // Both rules files.
    host.write("secrets.nix", "{}");
    let out = run(host.cmd().args(["decrypt", "-i"]).arg(&k).arg("db.age"));
    assert_eq!(out.stdout, "hunter2", "{out}");
    assert!(
        out.stderr.contains("both secrets.nix and secrets.json"),
        "{out}"
    );
}

#[test]
fn a_file_no_rule_names_is_decrypted_as_it_is() {
    let (made, host) = lone_ciphertext();
    std::fs::copy(host.path().join("db.age"), made.path().join("copy.age")).unwrap();
    let out = run(made
        .cmd()
        .args(["-v", "decrypt", "-i"])
        .arg(alice_key())
        .arg("copy.age"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hunter2");
    assert!(out.stderr.contains("copy.age: no rule in"), "{out}");
    // The rule's name still works from elsewhere, through the rules.
    let out = run(made
        .cmd()
        .current_dir("/")
        .args(["decrypt", "--rules"])
        .arg(made.path().join("secrets.json"))
        .arg("-i")
        .arg(alice_key())
        .arg(made.path().join("db-password.age")));
    assert_eq!(out.stdout, "hunter2", "{out}");
}

/// A secrets.nix rule that cannot be used (here: no recipients) does not stop reading its file.
#[test]
fn a_broken_rule_does_not_stop_decrypt() {
    if common::missing("nix-instantiate") {
        return;
    }
    let (_made, host) = lone_ciphertext();
    host.write("secrets.nix", "{ \"db.age\".publicKeys = [ ]; }");
    let out = run(host
        .cmd()
        .args(["decrypt", "-i"])
        .arg(alice_key())
        .arg("db.age"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hunter2");
    assert!(
        out.stderr.contains("secret \"db.age\" has no recipients"),
        "{out}"
    );
    assert!(
        out.stderr.contains("decrypt does not need the rule"),
        "{out}"
    );
}
