//! agenix's messages and exit codes: the help and its version line, usage errors, and each
//! case where we differ on purpose (README, "agenix compatibility"), with the reason.

use super::*;

#[test]
fn help_shows_usage_and_the_version_line() {
    let Some(ex) = Example::new() else { return };
    for flag in ["-h", "--help"] {
        let out = ex.run("agenix", &[], &[flag], None);
        assert_eq!(out.code, 0, "{out}");
        assert!(
            out.stdout.contains("agenix -e FILE [-i PRIVATE_KEY]"),
            "{out}"
        );
        // agenix's package check: `agenix -h | grep <version>`.
        let line = format!("agenix version: {}", env!("CARGO_PKG_VERSION"));
        assert!(out.stdout.lines().any(|l| l == line), "{out}");
    }
    // No arguments: the help, and exit 1.
    let out = ex.run("agenix", &[], &[], None);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("agenix -r [-i PRIVATE_KEY]"), "{out}");
}

#[test]
fn usage_errors_exit_1_as_agenix() {
    let Some(ex) = Example::new() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "agenix -e FILE"),
        // A bare word is no option either.
        (&["greeting.age"], "agenix -e FILE"),
        (&["-e"], "no FILE specified"),
        (&["-d"], "no FILE specified"),
        (&["-d", "greeting.age", "-i"], "no PRIVATE_KEY specified"),
        // agenix fails on an unset variable here; we show the help.
        (&["-v"], "agenix -e FILE"),
    ];
    for (args, want) in cases {
        let out = ex.run("agenix", &[], args, None);
        assert_eq!(out.code, 1, "{args:?}: {out}");
        assert!(out.stdout.contains(want), "{args:?}: {out}");
    }
}

#[test]
fn a_file_without_a_rule_is_an_error() {
    let Some(ex) = Example::new() else { return };
    for args in [&["-e", "nope.age"][..], &["-d", "nope.age"]] {
        let out = ex.run("agenix", &[], args, Some(b"x\n"));
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr.contains("nope.age: no rule for this file"),
            "{out}"
        );
    }
    assert!(!ex.file("nope.age").exists());
    // A rules file that is not there.
    let out = ex.run(
        "agenix",
        &[("RULES", "./elsewhere.nix")],
        &["-d", "greeting.age"],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("elsewhere.nix"), "{out}");
}

#[test]
fn decrypting_a_missing_file_fails() {
    let Some(ex) = Example::new() else { return };
    // agenix prints nothing and exits 0; a script would take that as an empty secret.
    let out = ex.run("agenix", &[], &["-d", "not-yet.age"], None);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("not-yet.age: the file does not exist yet"),
        "{out}"
    );
    // The fix is given in agenix's own command line.
    assert!(
        out.stderr
            .contains("create it with `agenix -e not-yet.age`"),
        "{out}"
    );
}

#[test]
fn empty_stdin_does_not_blank_a_secret() {
    let Some(ex) = Example::new() else { return };
    let before = ex.read("greeting.age");
    // agenix would encrypt the empty input; a script run without input must not do that.
    let out = ex.run("agenix", &[], &["-e", "greeting.age"], Some(b""));
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("stdin is empty"), "{out}");
    assert_eq!(ex.read("greeting.age"), before);
}

#[test]
fn an_editor_that_fails_changes_nothing() {
    let Some(ex) = Example::new() else { return };
    let before = ex.read("greeting.age");
    // Writes, then exits 3 (vim's :cq): agenix ignores the status and saves; we do not.
    let ed = ex.editor("abort", "echo 'half done' > \"$1\"; exit 3");
    let Some(out) = ex.run_tty("agenix", &[("EDITOR", &ed)], &["-e", "greeting.age"]) else {
        return;
    };
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("the editor exited with"), "{out}");
    assert!(out.stderr.contains("unchanged"), "{out}");
    assert_eq!(ex.read("greeting.age"), before);
}

#[test]
fn a_broken_default_id_rsa_is_skipped_with_a_warning() {
    let Some(ex) = Example::new() else { return };
    std::fs::write(ex.home().join(".ssh/id_rsa"), "bogus\n").unwrap();
    // agenix hands it to age, which refuses to start; the working id_ed25519 is used here.
    let out = ex.run("agenix", &[], &["-d", "greeting.age"], None);
    assert_eq!((out.code, out.stdout.as_bytes()), (0, GREETING), "{out}");
    assert!(
        out.stderr.contains("warning: skipping identity") && out.stderr.contains("id_rsa"),
        "{out}"
    );
    // Given with -i it is an error, as any key named on the command line.
    let rsa = ex.home().join(".ssh/id_rsa");
    let out = ex.run(
        "agenix",
        &[],
        &["-d", "greeting.age", "-i", rsa.to_str().unwrap()],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("id_rsa"), "{out}");
}

#[test]
fn no_identity_says_how_to_give_one() {
    let Some(ex) = Example::new() else { return };
    std::fs::remove_file(ex.home().join(".ssh/id_ed25519")).unwrap();
    let out = ex.run("agenix", &[], &["-d", "greeting.age"], None);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("no identity") && out.stderr.contains("-i"),
        "{out}"
    );
    // -i with the host's key works instead.
    let web1 = key("web1_ed25519");
    let out = ex.run(
        "agenix",
        &[],
        &["-d", "greeting.age", "-i", web1.to_str().unwrap()],
        None,
    );
    assert_eq!((out.code, out.stdout.as_bytes()), (0, GREETING), "{out}");
}

#[test]
fn visual_is_ignored_as_agenix_does() {
    let Some(ex) = Example::new() else { return };
    let visual = ex.editor("visual", "exit 7");
    let ed = ex.editor("edit", "echo edited > \"$1\"");
    let Some(out) = ex.run_tty(
        "agenix",
        &[("EDITOR", &ed), ("VISUAL", &visual)],
        &["-e", "greeting.age"],
    ) else {
        return;
    };
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ex.age_decrypt("greeting.age", "alice").unwrap(),
        b"edited\n"
    );
}
