//! Item 3: the rules are found from the FILE's directory (or the current one) upward, up to a
//! repository root; never from a directory someone else could have written them into; --rules
//! and $RULES still win; the agenix entry looks in the current directory only; -v names the
//! file used.

use super::*;

/// repo/.git, repo/fleet/secrets.json (db.age, hosts/web1.age), db.age encrypted.
fn fleet() -> Repo {
    let repo = Repo::new();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let rules = serde_json::json!({
        "keys": {"alice": pubkey("alice_ed25519")},
        "secrets": {"db.age": {"publicKeys": ["alice"]}, "hosts/web1.age": {"publicKeys": ["alice"]}}
    });
    repo.write("fleet/secrets.json", rules.to_string());
    std::fs::create_dir_all(repo.path().join("fleet/hosts/deep")).unwrap();
    repo.cmd()
        .current_dir(repo.path().join("fleet"))
        .args(["encrypt", "db.age"])
        .write_stdin("hunter2")
        .assert()
        .success();
    repo
}

fn key_arg() -> String {
    alice_key().display().to_string()
}

#[test]
fn a_file_in_another_directory_finds_its_rules_beside_it() {
    let repo = fleet();
    let rules = std::fs::canonicalize(repo.path().join("fleet/secrets.json")).unwrap();
    // From the parent: `cd .. && secrets decrypt fleet/db.age`.
    let out = run(repo
        .cmd()
        .args(["-v", "decrypt", "-i", &key_arg(), "fleet/db.age"]));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "hunter2");
    assert!(
        out.stderr.contains(&format!(
            "rules: {} (found looking from {} upward)",
            rules.display(),
            rules.parent().unwrap().display()
        )),
        "{out}"
    );
    // A new file below, from the parent: written where the rule says, with its rules.
    let out = run(repo
        .cmd()
        .args(["encrypt", "fleet/hosts/web1.age"])
        .write_stdin("w"));
    assert_eq!(out.code, 0, "{out}");
    assert!(repo.path().join("fleet/hosts/web1.age").exists());
    // From a directory below the rules, and a file above it.
    let deep = repo.path().join("fleet/hosts/deep");
    let out =
        run(repo
            .cmd()
            .current_dir(&deep)
            .args(["decrypt", "-i", &key_arg(), "../../db.age"]));
    assert_eq!(out.stdout, "hunter2", "{out}");
}

#[test]
fn commands_without_a_file_look_from_the_current_directory_upward() {
    let repo = fleet();
    repo.cmd()
        .current_dir(repo.path().join("fleet"))
        .args(["encrypt", "hosts/web1.age"])
        .write_stdin("w")
        .assert()
        .success();
    let deep = repo.path().join("fleet/hosts/deep");
    let out = run(repo.cmd().current_dir(&deep).args(["-v", "check"]));
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("ok: 2 file(s) match the rules"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("fleet/secrets.json (found looking from"),
        "{out}"
    );
    let out = run(repo.cmd().current_dir(&deep).args(["rekey", "--dry-run"]));
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn the_search_stops_at_the_repository_root() {
    let outer = Repo::new();
    quickstart(&outer, &pubkey("alice_ed25519"));
    std::fs::create_dir_all(outer.path().join("repo/.git")).unwrap();
    std::fs::create_dir_all(outer.path().join("repo/sub")).unwrap();
    let sub = outer.path().join("repo/sub");
    let out = run(outer.cmd().current_dir(&sub).arg("check"));
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.starts_with("no rules file:"), "{out}");
    assert!(out.stdout.contains("up to a repository root"), "{out}");
    let out = run(outer
        .cmd()
        .current_dir(&sub)
        .args(["edit", "db-password.age"])
        .write_stdin("x"));
    assert!(out.stderr.contains("no rules file"), "{out}");
    assert!(
        out.stderr
            .contains("beside db-password.age or above it, nor in the current"),
        "{out}"
    );
    // Without the .git, the same rules are found (the walk goes on up).
    std::fs::remove_dir(outer.path().join("repo/.git")).unwrap();
    let out = run(outer.cmd().current_dir(&sub).args(["-v", "check"]));
    assert!(
        out.stderr.contains("secrets.json (found looking from"),
        "{out}"
    );
}

/// /tmp-like directories (writable by everyone) and other users' directories are never
/// searched: a rules file planted there must not choose the recipients of your secrets.
#[test]
fn the_search_never_enters_a_directory_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let root = Repo::new();
    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    root.write("shared/secrets.json", r#"{"secrets": {}}"#);
    let mine = shared.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let out = run(root.cmd().current_dir(&mine).arg("check"));
    assert!(out.stdout.starts_with("no rules file:"), "{out}");
    // In that directory itself (chosen by cd) it is used, as always.
    let out = run(root.cmd().current_dir(&shared).args(["-v", "check"]));
    assert!(out.stderr.contains("shared/secrets.json"), "{out}");

    if !common::is_root() {
        // chown needs root; the world-writable case above covers the rule.
        return;
    }
    let other = root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    root.write("other/secrets.json", r#"{"secrets": {}}"#);
    let mine = other.join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::os::unix::fs::chown(&other, Some(12345), Some(12345)).unwrap();
    let out = run(root.cmd().current_dir(&mine).arg("check"));
    assert!(out.stdout.starts_with("no rules file:"), "{out}");
}

#[test]
fn rules_flag_and_variable_win_over_a_found_file() {
    let repo = fleet();
    let other = Repo::new();
    other.write("x/secrets.json", r#"{"secrets": {}}"#);
    let x = other.path().join("x/secrets.json");
    for (flag, env) in [(true, false), (false, true)] {
        let mut c = repo.cmd();
        c.current_dir(repo.path().join("fleet"))
            .args(["-v", "check"]);
        if flag {
            c.arg("--rules").arg(&x);
        }
        if env {
            c.env("RULES", &x);
        }
        let out = run(&mut c);
        let how = if flag {
            "given with --rules"
        } else {
            "given in $RULES"
        };
        assert!(out.stderr.contains(how), "{out}");
        assert!(out.stdout.contains("ok: 0 file(s)"), "{out}");
    }
}

/// The agenix entry keeps agenix's rule: $RULES or ./secrets.nix (here: or .json) only.
#[test]
fn the_agenix_entry_does_not_look_upward() {
    let repo = fleet();
    let hosts = repo.path().join("fleet/hosts");
    let out = run(repo
        .cmd()
        .current_dir(&hosts)
        .args(["-d", "../db.age", "-i", &key_arg()]));
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("no rules file"), "{out}");
    assert!(out.stderr.contains("in the current directory;"), "{out}");
    let out = run(repo.cmd().current_dir(repo.path().join("fleet")).args([
        "-d",
        "db.age",
        "-i",
        &key_arg(),
    ]));
    assert_eq!(out.stdout, "hunter2", "{out}");
}
