//! Mistakes the installer would refuse are caught at evaluation, each message naming the
//! option (issue 16, item 2): unit names, modes, owners and groups by their option types;
//! names, paths and the characters src/names.rs refuses by assertions (all of them at once);
//! the oldest NixOS release and the 24.05/24.11 combination that cannot work (item 4); and
//! what is lost when the build-time check does not run is said, not silent.

use serde_json::json;

use crate::{assert_rejected_all, available, eval_case, eval_error, strs};

/// The type error of `case`: names `option`, shows `value`, and says what is expected.
fn assert_type_error(case: &str, option: &str, value: &str, expected: &str) {
    let e = eval_error(case, "allValues");
    assert!(
        e.contains(&format!("A definition for option `{option}")),
        "{case}: the error does not name {option}:\n{e}"
    );
    assert!(
        e.contains(&format!("\"{value}\"")),
        "{case}: value not shown:\n{e}"
    );
    assert!(e.contains(expected), "{case}: lacks {expected:?}:\n{e}");
}

#[test]
fn unit_names_are_checked_with_the_option_path() {
    need_nix!();
    let what = "is not of type `systemd unit name (like \"nginx.service\"";
    assert_type_error(
        "badRestartUnit",
        "age.secrets.db.restartUnits.\"[definition 1-entry 1]\"'",
        "postgresql",
        what,
    );
    assert_type_error(
        "badReloadUnit",
        "age.templates.conf.reloadUnits.\"[definition 1-entry 1]\"'",
        "nginx service",
        what,
    );
}

#[test]
fn modes_owners_and_groups_are_checked_with_the_option_path() {
    need_nix!();
    let mode = "file mode as chmod takes it, octal (\"0440\") or symbolic (\"u=r,g=r\"), without setuid, setgid or sticky bits";
    assert_type_error("badMode", "age.secrets.db.mode'", "4755", mode);
    assert_type_error("badSymbolicMode", "age.secrets.db.mode'", "u=rw,g+s", mode);
    let principal = "user or group name (letters, digits and _.-$@, not starting with -) or numeric id below 4294967295";
    assert_type_error("badOwner", "age.secrets.db.owner'", "-postgres", principal);
    // (uid_t)-1: chown's "leave unchanged".
    assert_type_error("badGroup", "age.secrets.db.group'", "4294967295", principal);
    // What the installer accepts passes: octal with leading zeros, symbolic, ids, names.
    for case in ["plain", "agenixReadme", "restart"] {
        assert_eq!(eval_case(case)["allValues"], json!(true), "{case}");
    }
}

#[test]
fn names_and_paths_every_problem_at_once_with_its_option() {
    need_nix!();
    let rel = " Use a relative path like \"db-password\" or \"nginx/cert\".";
    let chars = "contains a control, bidirectional, invisible or separator character (or a space other than U+0020), which would make it print like something it is not.";
    assert_rejected_all(
        "badNamesAndPaths",
        &[
            &format!("age.secrets.abs.name = \"/etc/shadow\" is absolute.{rel}"),
            &format!("age.secrets.up.name = \"../etc/shadow\" has an empty, `.` or `..` component.{rel}"),
            "age.secrets.up.path = \"/run/agenix/../etc/shadow\" contains a `..` component.",
            &format!("age.secrets.state.name = \".secrets-install.json\" is reserved for the installer's state file.{rel}"),
            "age.secrets.rel.path = \"var/lib/app/token\" is not an absolute path.",
            "age.secrets.dotdot.path = \"/var/lib/../../etc/passwd\" contains a `..` component.",
            // Shown escaped: the raw character would print as "dbpassword".
            &format!("age.secrets.zw.name = \"db\\u{{200B}}password\" {chars}{rel}"),
            &format!("age.secrets.zw.path = \"/run/agenix/db\\u{{200B}}password\" {chars}"),
            &format!("age.templates.t.name = \"a//b\" has an empty, `.` or `..` component.{rel}"),
            "age.templates.t: content contains no placeholder; use ${config.age.placeholder.<secret>} (or put non-secret text in environment.etc instead).",
        ],
    );
}

#[test]
fn oldest_release_and_the_static_sysusers_combination() {
    need_nix!();
    assert_rejected_all(
        "release2311",
        &["age (secrets): this NixOS is 23.11; the module needs NixOS 24.05 or later (sysinit-reactivation.target, which re-runs its units on switch). Use agenix on this release, or upgrade."],
    );
    assert_eq!(eval_case("release2411")["failedAssertions"], json!([]));
    assert_rejected_all(
        "release2411StaticSysusers",
        &["users.users.alice.hashedPasswordFile is a secret, but on NixOS 24.11 systemd.sysusers.enable with users.mutableUsers = false builds /etc/passwd and /etc/shadow when the system is built, reading the password file then, where no decrypted secret exists (there is no systemd-sysusers.service at boot). Set users.mutableUsers = true, use the scripted users setup (systemd.sysusers.enable = false), or upgrade to NixOS 25.05 or later."],
    );
    // NixOS 25.05 runs systemd-sysusers.service at boot with immutable users too.
    assert_eq!(
        eval_case("release2505StaticSysusers")["failedAssertions"],
        json!([])
    );
}

#[test]
fn skipping_the_build_time_check_is_never_silent() {
    need_nix!();
    let lost = "that each age.secrets.<name>.file exists and is an age file";
    let kept =
        "(names, paths, modes, owners, groups and unit names are still checked at evaluation)";
    let v = eval_case("noValidation");
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("age.validateManifest = false: "), "{w:?}");
    assert!(
        w[0].contains(lost) && w[0].contains("and is encrypted to one of age.hostPublicKeys"),
        "{w:?}"
    );
    assert!(w[0].contains(kept), "{w:?}");
    // The unchecked manifest is what is installed.
    assert!(v["checkCommand"].is_null());

    let v = eval_case("crossBuild");
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("this is a cross build (x86_64-linux cannot run programs for aarch64-linux)"),
        "{w:?}"
    );
    assert!(w[0].contains(lost) && w[0].contains(kept), "{w:?}");
    // Evaluation checks still run without the build-time check.
    assert_type_error(
        "crossBuildBadMode",
        "age.secrets.a.mode'",
        "0999",
        "file mode",
    );
    let v = eval_case("noValidationBadName");
    assert!(
        strs(&v["failedAssertions"])
            .iter()
            .any(|m| m.starts_with("age.secrets.a.name = \"../a\" has an empty")),
        "{}",
        v["failedAssertions"]
    );
}

#[test]
fn age_bin_warns_without_secrets() {
    need_nix!();
    let v = eval_case("ageBinNoSecrets");
    assert_eq!(v["failedAssertions"], json!([]));
    assert_eq!(
        strs(&v["warnings"]),
        ["age.ageBin is set but unused: secrets are decrypted by age.package (secrets-0.1.0); remove age.ageBin (age plugins go in age.plugins)."]
    );
}
