//! RULES elsewhere: agenix names files by their path from the working directory, wherever the
//! rules file is (`RULES=secrets/secrets.nix agenix -e secrets/db.age`). Before this was
//! followed, the edit wrote secrets/secrets/db.age and `-r` rekeyed nothing, exiting 0.

use super::*;

/// agenix's usual layout: secrets/secrets.nix naming "secrets/…", run from the repository.
fn layout() -> Option<Example> {
    Example::with_layout("secrets/", "secrets/")
}

const RULES: (&str, &str) = ("RULES", "secrets/secrets.nix");

#[test]
fn edit_writes_the_file_named_from_the_working_directory() {
    let Some(ex) = layout() else { return };
    let before = ex.snapshot();
    let out = ex.run(
        "agenix",
        &[RULES],
        &["-e", "secrets/not-yet.age"],
        Some(b"new\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("not-yet.age", "web1").unwrap(), b"new\n");
    // Nothing anywhere else: no secrets/secrets/, only the file (and no lock: the rules have
    // ssh keys only, which a header names by itself).
    let after = ex.snapshot();
    let mut added: Vec<&str> = names(&after)
        .into_iter()
        .filter(|n| !names(&before).contains(n))
        .collect();
    added.sort();
    assert_eq!(added, ["secrets/not-yet.age"]);
    assert!(!ex.repo().join("secrets/secrets").exists());
    // An existing file, edited the same way, is the one that changes.
    let out = ex.run(
        "agenix",
        &[RULES],
        &["-e", "./secrets/greeting.age"],
        Some(b"edited\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(ex.age_decrypt("greeting.age", "web1").unwrap(), b"edited\n");
    let out = ex.run("agenix", &[RULES], &["-d", "secrets/greeting.age"], None);
    assert_eq!(out.stdout, "edited\n", "{out}");
}

#[test]
fn rekey_rekeys_the_files_named_from_the_working_directory() {
    let Some(ex) = layout() else { return };
    let before = ex.snapshot();
    let out = ex.run("agenix", &[RULES], &["-r"], None);
    assert_eq!(out.code, 0, "{out}");
    for n in ["greeting.age", "user-only.age", "-dashed.age", "pem.age"] {
        assert!(
            out.stderr.contains(&format!("rekeying secrets/{n}...")),
            "{out}"
        );
    }
    let after = ex.snapshot();
    let changed: Vec<&str> = after
        .iter()
        .filter(|f| !before.contains(f))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "secrets/-dashed.age",
            "secrets/greeting.age",
            "secrets/pem.age",
            "secrets/user-only.age"
        ],
        "{out}"
    );
    assert_eq!(
        ex.age_decrypt("greeting.age", "web1"),
        Ok(GREETING.to_vec())
    );
}

#[test]
fn a_name_relative_to_the_rules_file_is_not_a_rule() {
    let Some(ex) = layout() else { return };
    let before = ex.snapshot();
    // agenix looks the name up as given; "greeting.age" is no attribute of these rules.
    let out = ex.run("agenix", &[RULES], &["-e", "greeting.age"], Some(b"x\n"));
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("greeting.age: no rule for this file")
            && out.stderr.contains("\"greeting.age\""),
        "{out}"
    );
    assert_eq!(ex.snapshot(), before, "nothing written");
}

#[test]
fn from_another_directory_the_names_follow_that_directory() {
    let Some(ex) = layout() else { return };
    // Run from secrets/ with RULES=./secrets.nix: "secrets/greeting.age" now means
    // secrets/secrets/greeting.age (which does not exist), exactly as agenix reads it.
    let dir = ex.repo().join("secrets");
    let out = ex.run_in(
        &dir,
        "agenix",
        &[("RULES", "./secrets.nix")],
        &["-d", "secrets/greeting.age"],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("does not exist"), "{out}");
}
