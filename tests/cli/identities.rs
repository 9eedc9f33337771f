//! Identities: where they are looked for, key files as an editor leaves them, passphrases
//! (asked once, only when needed), and age plugins.

use super::*;

#[test]
fn identity_sources_and_default_key_footgun() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "x");
    // SECRETS_IDENTITY for CI.
    repo.cmd()
        .args(["decrypt", "db.age"])
        .env("SECRETS_IDENTITY", key("alice_ed25519"))
        .assert()
        .success()
        .stdout("x");
    // Defaults: a broken ~/.ssh/id_rsa is skipped with a warning, id_ed25519 still works.
    let ssh = repo.path().join(".ssh");
    fs::create_dir(&ssh).unwrap();
    fs::copy(key("alice_ed25519"), ssh.join("id_ed25519")).unwrap();
    fs::write(
        ssh.join("id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n",
    )
    .unwrap();
    repo.cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .success()
        .stdout("x")
        .stderr(
            predicate::str::contains("warning: skipping identity")
                .and(predicate::str::contains("id_rsa")),
        );
    // Repeatable -i: the second one matches.
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(key("bob_rsa3072"))
        .arg("-i")
        .arg(key("dave_age.key"))
        .assert()
        .success()
        .stdout("x");
    // An explicit bad identity is an error naming it.
    repo.cmd()
        .args(["decrypt", "db.age", "-i", "missing-key"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing-key"));
    // No identity anywhere.
    fs::remove_dir_all(&ssh).unwrap();
    repo.cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no identity to decrypt with"));
}

#[test]
fn passphrase_asked_once_and_only_when_needed() {
    if common::missing("python3") {
        return;
    }
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "carol.age", "rsa4096 secret");
    set(&repo, "db.age", "not for carol");
    let carol = key("carol_rsa4096_pass");
    let carol = carol.to_str().unwrap();
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    let run = |args: &[&str], answers: &[&str]| common::run_in_pty(repo.path(), args, answers);
    let (code, prompts, out) = run(&["decrypt", "carol.age", "-i", carol], &["correct horse"]);
    assert_eq!((code, prompts), (0, 1), "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // db.age has no stanza for carol: her key is never unlocked, alice decrypts.
    let (code, prompts, out) = run(
        &["decrypt", "db.age", "-i", carol, "-i", alice],
        &["correct horse"],
    );
    assert_eq!((code, prompts), (0, 0), "{out}");
    // A typo gets another try.
    let (code, prompts, out) = run(
        &["decrypt", "carol.age", "-i", carol],
        &["wrong", "correct horse"],
    );
    assert_eq!((code, prompts), (0, 2), "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // Three wrong answers: a clear error.
    let (code, prompts, out) = run(&["decrypt", "carol.age", "-i", carol], &["wrong"]);
    assert_eq!((code, prompts), (1, 3), "{out}");
    assert!(out.contains("wrong passphrase for"), "{out}");
    // A key that cannot be unlocked does not hide another key that can open the file.
    let (code, _, out) = run(
        &["decrypt", "carol.age", "-i", carol, "-i", alice],
        &["wrong"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // Without a terminal the prompt cannot happen: a clear error, not a hang.
    repo.cmd()
        .args(["decrypt", "carol.age", "-i", carol])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot ask for the passphrase"));
}

/// A private key file with trailing blank lines and spaces (as an editor may leave) is read as
/// the age tool reads it: the fingerprint is found and the file decrypts.
#[test]
fn key_file_with_trailing_whitespace_decrypts() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "whitespace-tolerant");
    let mut text = std::fs::read(key("alice_ed25519")).unwrap();
    text.extend_from_slice(b"\n\n   \n\t\n");
    let padded = repo.write("alice_padded", text);
    std::fs::set_permissions(&padded, std::fs::Permissions::from_mode(0o600)).unwrap();
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(&padded)
        .assert()
        .success()
        .stdout("whitespace-tolerant");
}

/// A real age plugin (see common::age_plugin_dir): a secret encrypted to a plugin recipient
/// and an SSH key decrypts with the plugin identity, and Go `age` opens it with the same
/// plugin; without the plugin on PATH the error names it.
#[test]
fn plugin_recipient_and_identity_round_trip() {
    if common::missing("age") {
        return;
    }
    let Some(dir) = common::age_plugin_dir() else {
        return;
    };
    let path = common::path_with(&dir);
    let repo = Repo::new();
    repo.json_rules(&format!(
        r#"{{"p.age": {{"publicKeys": ["{}", "alice"]}}}}"#,
        common::PLUGIN_RECIPIENT
    ));
    let id = repo.write("plugin.key", format!("{}\n", common::PLUGIN_IDENTITY));
    repo.cmd()
        .env("PATH", &path)
        .args(["encrypt", "p.age"])
        .write_stdin("via a plugin")
        .assert()
        .success();
    let header = std::fs::read(repo.path().join("p.age")).unwrap();
    assert!(
        String::from_utf8_lossy(&header).contains("-> unencrypted "),
        "no plugin stanza"
    );
    repo.cmd()
        .env("PATH", &path)
        .args(["decrypt", "p.age", "-i"])
        .arg(&id)
        .assert()
        .success()
        .stdout("via a plugin");
    let out = std::process::Command::new("age")
        .env("PATH", &path)
        .arg("-d")
        .arg("-i")
        .arg(&id)
        .arg(repo.path().join("p.age"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"via a plugin");
    // The SSH recipient still opens it without any plugin.
    repo.cmd()
        .args(["decrypt", "p.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stdout("via a plugin");
    repo.cmd()
        .args(["decrypt", "p.age", "-i"])
        .arg(&id)
        .assert()
        .failure()
        .stderr(predicate::str::contains("age-plugin-unencrypted"));
}
