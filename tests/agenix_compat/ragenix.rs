//! ragenix's command line, from its manual: --rules, -e with --editor (or $EDITOR; `-` reads
//! stdin), -r, -s/--schema, -i KEY..., -v, and clap's exit code 2 for usage errors. Names in
//! the rules are relative to the rules file's directory, FILE to the working directory.

use super::*;

#[test]
fn schema_is_json_schema_that_accepts_the_example_rules() {
    let Some(ex) = Example::new() else { return };
    let out = ex.run("ragenix", &[], &["--schema"], None);
    assert_eq!(out.code, 0, "{out}");
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let rule = &schema["additionalProperties"];
    assert_eq!(rule["required"], serde_json::json!(["publicKeys"]));
    assert_eq!(rule["properties"]["publicKeys"]["minItems"], 1);
    assert_eq!(rule["properties"]["armor"]["type"], "boolean");
    assert_eq!(ex.run("ragenix", &[], &["-s"], None).stdout, out.stdout);
    // A real validator: the example rules, as Nix evaluates them, are valid; a rule without
    // publicKeys or with none, or armor that is not a boolean, is not.
    let Some(validator) = common::json_schema_validator() else {
        return;
    };
    let eval = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(ex.rules_dir.join("secrets.nix"))
        .output()
        .unwrap();
    assert!(eval.status.success());
    let rules = String::from_utf8(eval.stdout).unwrap();
    let validate = |instance: &str| validator.validate(&out.stdout, instance).is_ok();
    assert!(validate(&rules), "{rules}");
    assert!(validate(
        r#"{"a.age": {"publicKeys": ["age1x"], "armor": true, "note": "kept"}}"#
    ));
    assert!(!validate(r#"{"a.age": {"armor": true}}"#));
    assert!(!validate(r#"{"a.age": {"publicKeys": []}}"#));
    assert!(!validate(
        r#"{"a.age": {"publicKeys": ["k"], "armor": "yes"}}"#
    ));
}

#[test]
fn editor_dash_replaces_a_secret_from_stdin_without_an_identity() {
    let Some(ex) = Example::new() else { return };
    // Nobody here can decrypt greeting.age: no key in ~/.ssh, none given.
    std::fs::remove_file(ex.home().join(".ssh/id_ed25519")).unwrap();
    let out = ex.run(
        "ragenix",
        &[],
        &["--editor", "-", "-e", "greeting.age"],
        Some(b"rotated\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1").unwrap(),
        b"rotated\n"
    );
    // `--editor=-` and EDITOR=- are the same.
    let out = ex.run(
        "ragenix",
        &[("EDITOR", "-")],
        &["-e", "greeting.age"],
        Some(b"again\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("greeting.age", "alice").unwrap(), b"again\n");
}

#[test]
fn the_editor_runs_even_without_a_terminal() {
    let Some(ex) = Example::new() else { return };
    // ragenix's manual: `--editor` is any program given the file; scripts use that.
    let ed = ex.editor("gen", "printf 'generated\\n' > \"$1\"");
    let out = ex.run(
        "ragenix",
        &[],
        &["-e", "not-yet.age", "--editor", &ed],
        Some(b"ignored\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ex.age_decrypt("not-yet.age", "web1").unwrap(),
        b"generated\n"
    );
    // $EDITOR when --editor is not given; an unchanged file is left alone.
    let before = ex.read("greeting.age");
    let out = ex.run(
        "ragenix",
        &[("EDITOR", "true")],
        &["-e", "greeting.age"],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("greeting.age wasn't changed, skipping re-encryption."),
        "{out}"
    );
    assert_eq!(ex.read("greeting.age"), before);
    // A failing editor changes nothing.
    let bad = ex.editor("bad", "echo x > \"$1\"; exit 1");
    let out = ex.run(
        "ragenix",
        &[],
        &["--edit", "greeting.age", "--editor", &bad],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("the editor exited with"), "{out}");
    assert_eq!(ex.read("greeting.age"), before);
}

#[test]
fn edit_needs_an_editor() {
    let Some(ex) = Example::new() else { return };
    let out = ex.run("ragenix", &[], &["-e", "greeting.age"], Some(b"x\n"));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--editor"), "{out}");
}

#[test]
fn rekey_reencrypts_with_the_given_identities() {
    let Some(ex) = Example::new() else { return };
    std::fs::remove_file(ex.home().join(".ssh/id_ed25519")).unwrap();
    let before = ex.read("greeting.age");
    // -i takes one or more keys; the first cannot open these files, the second can.
    let (bob, alice) = (key("bob_rsa3072"), key("alice_ed25519"));
    let out = ex.run(
        "ragenix",
        &[],
        &[
            "-i",
            bob.to_str().unwrap(),
            alice.to_str().unwrap(),
            "-r",
            "-v",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_ne!(ex.read("greeting.age"), before);
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1"),
        Ok(GREETING.to_vec())
    );
    assert_eq!(ex.age_decrypt("pem.age", "alice"), Ok(PEM.to_vec()));
}

#[test]
fn rules_elsewhere_are_read_relative_to_their_directory() {
    // ragenix's manual: names are relative to the rules file's directory.
    let Some(ex) = Example::with_layout("secrets/", "") else {
        return;
    };
    let rules = ex.rules_dir.join("secrets.nix");
    let out = ex.run(
        "ragenix",
        &[],
        &[
            "--rules",
            rules.to_str().unwrap(),
            "--editor",
            "-",
            "-e",
            "secrets/not-yet.age",
        ],
        Some(b"beside the rules\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(ex.rules_dir.join("not-yet.age").is_file(), "{out}");
    assert!(!ex.repo().join("secrets/secrets").exists(), "{out}");
    let age = Command::new("age")
        .args(["-d", "-i"])
        .arg(key("web1_ed25519"))
        .arg(ex.rules_dir.join("not-yet.age"))
        .output()
        .unwrap();
    assert_eq!(age.stdout, b"beside the rules\n");
    // RULES works as --rules does.
    let out = ex.run(
        "ragenix",
        &[("RULES", "secrets/secrets.nix")],
        &["-r"],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let Some(ex) = Example::new() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&[], "one of --edit <FILE>, --rekey or --schema is required"),
        (&["-v"], "is required"),
        (&["-r", "-s"], "cannot be used with"),
        (&["-e"], "a value is required for '--edit <FILE>'"),
        (&["-d", "greeting.age"], "secrets decrypt"),
        (&["--bogus"], "unexpected argument '--bogus'"),
    ];
    for (args, want) in cases {
        let out = ex.run("ragenix", &[], args, None);
        assert_eq!(out.code, 2, "{args:?}: {out}");
        assert!(out.stderr.contains(want), "{args:?}: {out}");
        assert!(out.stderr.contains("Usage: ragenix"), "{args:?}: {out}");
    }
    let out = ex.run("ragenix", &[], &["-V"], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let out = ex.run("ragenix", &[], &["--help"], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("--editor PROGRAM"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("ragenix version: {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}
