//! A rekey run as a whole: byte-identical unchanged files, failures that do not stop the run,
//! dry and no-op runs, --force, agenix -r, one passphrase prompt, secrets.nix rules.

use super::*;

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

/// A file name of 250 bytes is valid on every common filesystem: every write of it (edit,
/// encrypt streamed, rekey, decrypt -o) works, although its temporary file's name, were it
/// made of the whole name, would pass the 255-byte limit. Also when its characters take
/// several bytes each (a cap counted in characters would not hold).
#[test]
fn a_long_file_name_is_written_by_every_command() {
    for stem in ["n".repeat(246), "\u{1F510}".repeat(60)] {
        long_name_case(&format!("{stem}.age"));
    }
}

fn long_name_case(name: &str) {
    let name = name.to_string();
    // decrypt -o writes to the name without its first character.
    let out = name.chars().skip(1).collect::<String>();
    let repo = Repo::new();
    repo.json_rules(&format!(
        r#"{{"{name}": {{"publicKeys": ["alice", "bob"]}}}}"#
    ));
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    let runs: [(&[&str], &str); 4] = [
        (&["edit", &name, "-i", alice], "one"),
        (&["encrypt", &name], "two"),
        (&["rekey", "--force", &name, "-i", alice], ""),
        (&["decrypt", &name, "-o", &out, "-i", alice], ""),
    ];
    for (args, stdin) in runs {
        let o = repo.cmd().args(args).write_stdin(stdin).output().unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            args[0],
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(std::fs::read(repo.path().join(&out)).unwrap(), b"two");
}
