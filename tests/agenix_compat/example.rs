//! The example-repository flows of agenix's README and integration test, run as `agenix`:
//! decrypt, edit through an editor and through stdin, an unchanged edit, `EDITOR=:`, a new
//! file, armor, and `-r` with and without a file we cannot decrypt.

use super::*;

#[test]
fn decrypt_prints_what_age_encrypted() {
    let Some(ex) = Example::new() else { return };
    let out = ex.run("agenix", &[], &["-d", "greeting.age"], None);
    assert_eq!((out.code, out.stdout.as_bytes()), (0, GREETING), "{out}");
    // A name that starts with a hyphen is still FILE after -d, and --decrypt is the same.
    let out = ex.run("agenix", &[], &["--decrypt", "-dashed.age"], None);
    assert_eq!((out.code, out.stdout.as_bytes()), (0, DASHED), "{out}");
}

#[test]
fn edit_through_the_editor_reencrypts_for_every_recipient() {
    let Some(ex) = Example::new() else { return };
    let ed = ex.editor("append", "echo 'second line' >> \"$1\"");
    let Some(out) = ex.run_tty("agenix", &[("EDITOR", &ed)], &["-e", "greeting.age"]) else {
        return;
    };
    assert_eq!(out.code, 0, "{out}");
    let want = [GREETING, b"second line\n"].concat();
    // The host can read what the user wrote: the rule's recipients, not only the editor's.
    assert_eq!(ex.age_decrypt("greeting.age", "web1"), Ok(want.clone()));
    assert_eq!(ex.age_decrypt("greeting.age", "alice"), Ok(want));
}

#[test]
fn edit_from_stdin_replaces_the_content() {
    let Some(ex) = Example::new() else { return };
    let out = ex.run("agenix", &[], &["-e", "greeting.age"], Some(b"piped in\n"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1").unwrap(),
        b"piped in\n"
    );
    // And back out through -d, as agenix's integration test does.
    let out = ex.run("agenix", &[], &["-d", "greeting.age"], None);
    assert_eq!(out.stdout, "piped in\n", "{out}");
}

#[test]
fn an_unchanged_edit_leaves_the_file_alone() {
    let Some(ex) = Example::new() else { return };
    let before = ex.read("greeting.age");
    let Some(out) = ex.run_tty("agenix", &[("EDITOR", "true")], &["-e", "greeting.age"]) else {
        return;
    };
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("greeting.age wasn't changed, skipping re-encryption."),
        "{out}"
    );
    assert_eq!(ex.read("greeting.age"), before);
    // The same content from stdin is no change either.
    let out = ex.run("agenix", &[], &["-e", "greeting.age"], Some(GREETING));
    assert!(out.stderr.contains("wasn't changed"), "{out}");
    assert_eq!(ex.read("greeting.age"), before);
}

#[test]
fn editor_colon_reencrypts_one_file_without_a_change() {
    let Some(ex) = Example::new() else { return };
    let (before, other) = (ex.read("greeting.age"), ex.read("user-only.age"));
    // From a script (stdin not a terminal) too: `:` wins over stdin, as in agenix.
    let out = ex.run("agenix", &[("EDITOR", ":")], &["-e", "greeting.age"], None);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stderr.contains("wasn't changed"), "{out}");
    assert_ne!(ex.read("greeting.age"), before, "EDITOR=: must re-encrypt");
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1"),
        Ok(GREETING.to_vec())
    );
    assert_eq!(ex.read("user-only.age"), other, "only the named file");
    // On a terminal as well.
    let before = ex.read("greeting.age");
    if let Some(out) = ex.run_tty("agenix", &[("EDITOR", ":")], &["-e", "greeting.age"]) {
        assert_eq!(out.code, 0, "{out}");
        assert_ne!(ex.read("greeting.age"), before);
    }
    // A file that does not exist yet is not created from nothing.
    let out = ex.run("agenix", &[("EDITOR", ":")], &["-e", "not-yet.age"], None);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("not-yet.age wasn't created."), "{out}");
    assert!(!ex.file("not-yet.age").exists());
}

#[test]
fn a_new_file_is_created_for_its_rule() {
    let Some(ex) = Example::new() else { return };
    // An editor that saves nothing creates nothing.
    if let Some(out) = ex.run_tty("agenix", &[("EDITOR", "true")], &["-e", "not-yet.age"]) {
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stderr.contains("not-yet.age wasn't created."), "{out}");
        assert!(!ex.file("not-yet.age").exists());
        // An editor that writes one does.
        let ed = ex.editor("write", "echo 'from the editor' > \"$1\"");
        let out = ex
            .run_tty("agenix", &[("EDITOR", &ed)], &["-e", "not-yet.age"])
            .unwrap();
        assert_eq!(out.code, 0, "{out}");
        assert_eq!(
            ex.age_decrypt("not-yet.age", "web1").unwrap(),
            b"from the editor\n"
        );
        std::fs::remove_file(ex.file("not-yet.age")).unwrap();
    }
    let out = ex.run("agenix", &[], &["-e", "not-yet.age"], Some(b"new\n"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("not-yet.age", "web1").unwrap(), b"new\n");
    // No identity is needed to create a file (nothing to decrypt).
    std::fs::remove_file(ex.home().join(".ssh/id_ed25519")).unwrap();
    std::fs::remove_file(ex.file("not-yet.age")).unwrap();
    let out = ex.run("agenix", &[], &["-e", "not-yet.age"], Some(b"newer\n"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("not-yet.age", "alice").unwrap(), b"newer\n");
}

#[test]
fn armor_true_writes_ascii_armor() {
    let Some(ex) = Example::new() else { return };
    let out = ex.run("agenix", &[], &["-e", "pem.age"], Some(b"re-armored\n"));
    assert_eq!(out.code, 0, "{out}");
    let text = String::from_utf8(ex.read("pem.age")).expect("armored output is text");
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{text}"
    );
    assert_eq!(ex.age_decrypt("pem.age", "alice").unwrap(), b"re-armored\n");
    // And a rule without armor stays binary.
    ex.run("agenix", &[], &["-e", "user-only.age"], Some(b"bin\n"));
    assert!(ex
        .read("user-only.age")
        .starts_with(b"age-encryption.org/v1\n"));
}

#[test]
fn rekey_reencrypts_every_file_that_exists() {
    let Some(ex) = Example::new() else { return };
    let names = ["greeting.age", "user-only.age", "-dashed.age", "pem.age"];
    let before: Vec<_> = names.iter().map(|n| ex.read(n)).collect();
    let out = ex.run("agenix", &[], &["-r"], None);
    assert_eq!(out.code, 0, "{out}");
    for (n, b) in names.iter().zip(&before) {
        assert!(out.stderr.contains(&format!("rekeying {n}...")), "{out}");
        assert_ne!(&ex.read(n), b, "{n} was not re-encrypted");
    }
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1"),
        Ok(GREETING.to_vec())
    );
    assert_eq!(ex.age_decrypt("-dashed.age", "web1"), Ok(DASHED.to_vec()));
    assert_eq!(ex.age_decrypt("pem.age", "alice"), Ok(PEM.to_vec()));
    // The file the rules name but nobody created is mentioned, not created.
    assert!(out.stderr.contains("not-yet.age"), "{out}");
    assert!(!ex.file("not-yet.age").exists());
    // A recipient added to a rule gets access: agenix's reason for -r.
    std::fs::write(
        ex.rules_dir.join("secrets.nix"),
        std::fs::read_to_string(ex.rules_dir.join("secrets.nix"))
            .unwrap()
            .replace(
                "publicKeys = [ user ];\n    armor",
                "publicKeys = [ user host ];\n    armor",
            ),
    )
    .unwrap();
    assert!(ex.age_decrypt("pem.age", "web1").is_err());
    let out = ex.run("agenix", &[], &["--rekey"], None);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("pem.age", "web1"), Ok(PEM.to_vec()));
}

#[test]
fn rekey_with_a_file_we_cannot_decrypt_rekeys_the_others_and_fails() {
    let Some(ex) = Example::new() else { return };
    ex.write_rules(&format!(
        "  \"{}bob-only.age\".publicKeys = [ other ];",
        ex.prefix
    ));
    ex.age_encrypt("bob-only.age", &["bob"], false, b"not for alice\n");
    let (bob, greeting) = (ex.read("bob-only.age"), ex.read("greeting.age"));
    let out = ex.run("agenix", &[], &["-r"], None);
    // agenix stops at that file with exit 1; we rekey every other file and then fail.
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("bob-only.age"), "{out}");
    assert_eq!(ex.read("bob-only.age"), bob, "left as it was");
    assert_ne!(ex.read("greeting.age"), greeting, "the others are rekeyed");
    assert_eq!(
        ex.age_decrypt("bob-only.age", "bob").unwrap(),
        b"not for alice\n"
    );
    // With the key that opens it (-i replaces the defaults, as in agenix), it goes through.
    let bob_key = key("bob_rsa3072");
    let alice_key = key("alice_ed25519");
    let out = ex.run(
        "agenix",
        &[],
        &[
            "-r",
            "-i",
            bob_key.to_str().unwrap(),
            "-i",
            alice_key.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_ne!(ex.read("bob-only.age"), bob);
}
