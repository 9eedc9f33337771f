//! Weak public keys: the hand encoders match real keys, Go `age` calls every listed point low
//! order, and every command refuses rules naming such a key (also a literal one).

use super::*;

/// The hand-made encoders agree with real keys: alice's point gives her .pub, dave's bytes
/// give his age1 recipient back.
#[test]
fn hand_encoders_match_real_keys() {
    let alice = pubkey("alice_ed25519");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(alice.split(' ').nth(1).unwrap())
        .unwrap();
    let point: [u8; 32] = blob[blob.len() - 32..].try_into().unwrap();
    assert_eq!(
        ssh_ed25519(&point),
        alice.split(' ').take(2).collect::<Vec<_>>().join(" ")
    );
    let dave = pubkey("dave_age");
    assert_eq!(age1(&age1_bytes(&dave)), dave);
}

/// Go `age` agrees that each listed key is low order (so the list is not ours alone).
#[test]
fn go_age_refuses_every_listed_key() {
    if common::missing("age") {
        return;
    }
    for (label, k) in weak_keys() {
        let out = assert_cmd::Command::new("age")
            .args(["-r", &k])
            .write_stdin("x")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("low order point"),
            "{label}: Go age: {err}"
        );
    }
}

/// Rules with `weak` (one listed key) next to alice, for a.age, which already exists
/// (encrypted to alice alone).
fn repo_with(weak: &str) -> Repo {
    let repo = Repo::new();
    let rules = |extra: &str| {
        format!(
            r#"{{"keys": {{"alice": "{}"{extra}}}, "secrets": {{"a.age": {{"publicKeys": ["alice"{}]}}}}}}"#,
            pubkey("alice_ed25519"),
            if extra.is_empty() { "" } else { r#", "weak""# }
        )
    };
    repo.write("secrets.json", rules(""));
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("old secret")
        .assert()
        .success();
    repo.write("secrets.json", rules(&format!(r#", "weak": "{weak}""#)));
    if weak.starts_with("ssh-") {
        // As if encrypted by a tool that accepts the key (the age crate does): the file then
        // matches the rules, and today's main `check` calls it ok.
        let to: Vec<age::ssh::Recipient> = [pubkey("alice_ed25519"), weak.to_string()]
            .iter()
            .map(|k| k.parse().unwrap())
            .collect();
        let enc = age::Encryptor::with_recipients(to.iter().map(|r| r as _)).unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, b"old secret").unwrap();
        w.finish().unwrap();
        repo.write("a.age", out);
    }
    repo
}

/// Every weak key, ssh-ed25519 and age1, in secrets.json: check, rekey, encrypt and edit all
/// refuse the rules with exit 1 and a message naming the key, saying it is weak and what to
/// use instead; nothing is written (today's main: `check` says ok for a file encrypted to an
/// ssh one, encrypt/edit write files to them, and encrypt/rekey panic (exit 101) on the age1
/// ones).
#[test]
fn every_command_refuses_rules_with_a_weak_key() {
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    for (label, weak) in weak_keys() {
        let repo = repo_with(&weak);
        let before = repo.snapshot();
        let runs: [(&str, Vec<&str>, Option<&str>); 5] = [
            ("check", vec!["check"], None),
            ("check --json", vec!["check", "--json"], None),
            ("rekey", vec!["-i", alice, "rekey"], None),
            ("encrypt", vec!["encrypt", "a.age"], Some("new secret")),
            (
                "edit",
                vec!["-i", alice, "edit", "a.age"],
                Some("new secret"),
            ),
        ];
        for (what, args, stdin) in runs {
            let mut c = repo.cmd();
            c.args(&args);
            if let Some(s) = stdin {
                c.write_stdin(s);
            }
            let out = c.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(1), "{label}: {what}: {text}");
            for needle in ["key \\\"weak\\\"", "weak key", "anyone"] {
                let needle = if what.ends_with("--json") {
                    needle.to_string()
                } else {
                    needle.replace('\\', "")
                };
                assert!(
                    text.contains(&needle),
                    "{label}: {what}: no `{needle}` in {text}"
                );
            }
            let fix = if weak.starts_with("age1") {
                "age-keygen"
            } else {
                "ssh-keyscan"
            };
            assert!(text.contains(fix), "{label}: {what}: no fix in {text}");
            assert_eq!(repo.snapshot(), before, "{label}: {what} wrote something");
        }
    }
}

/// A weak key written straight into a secret's publicKeys (not under "keys") is refused too,
/// naming the secret and the key's fingerprint.
#[test]
fn literal_weak_key_in_public_keys_is_refused() {
    let weak_ssh = ssh_ed25519(&unhex(ED25519_WEAK[0]));
    let weak_age = age1(&x25519_weak()[3]);
    for weak in [weak_ssh, weak_age] {
        let repo = Repo::new();
        repo.write(
            "secrets.json",
            format!(
                r#"{{"secrets": {{"b.age": {{"publicKeys": ["{}", "{weak}"]}}}}}}"#,
                pubkey("alice_ed25519")
            ),
        );
        let out = repo
            .cmd()
            .args(["encrypt", "b.age"])
            .write_stdin("x")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("secret \"b.age\"") && err.contains("weak key"),
            "{err}"
        );
        let shown = if weak.starts_with("age1") {
            weak[..12].to_string()
        } else {
            "SHA256:".to_string()
        };
        assert!(err.contains(&shown), "{err}");
        assert!(!repo.path().join("b.age").exists());
    }
}
