//! agenix's order (issue 14, item 1): `--phase all --defer-owners` (agenixInstall, before the
//! `users` script) puts every secret and template in place root's with owner bits only, so a
//! password file can be any secret; `--phase owners` (agenixChown, after users and groups)
//! gives them their owners, groups and modes, at custom paths too, and does the restarts the
//! install left for it. An owner that still does not exist fails closed and says so.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common;
use crate::install_support::{assert_not_leaked, assert_ok, in_private_ns, mode, owner, text, Env};

const NOBODY: (u32, u32) = (65534, 65534);

/// What the NixOS module's agenixInstall and agenixChown run, with restarts recorded in
/// activation lists under the env (so nothing reaches the host's systemd).
fn step(env: &Env, m: &Path, args: &[&str]) -> std::process::Output {
    common::cmd()
        .arg("install")
        .arg("--manifest")
        .arg(m)
        .args(args)
        .env_remove("NIXOS_ACTION")
        .env("SECRETS_ACTIVATION_LIST_DIR", lists(env))
        .output()
        .unwrap()
}

fn lists(env: &Env) -> PathBuf {
    env.path().join("nixos")
}

fn restart_list(env: &Env) -> String {
    std::fs::read_to_string(lists(env).join("activation-restart-list")).unwrap_or_default()
}

const INSTALL: &[&str] = &["--phase", "all", "--defer-owners"];
const OWNERS: &[&str] = &["--phase", "owners"];

/// The manifest agenix's README password setup produces (a password file from an ordinary
/// secret), with the other README shapes: owner/group/mode, a name, a copy and a link at
/// custom paths, symlink = false with the default path, and a template.
fn readme_manifest(env: &Env, restart: &str) -> PathBuf {
    let copy = env.path().join("etc/monitrc");
    let link = env.path().join("var/app/token");
    env.manifest(
        json!({
            "secret1": {"file": env.encrypt("secret1", b"$6$salt$hash")},
            "tokens": {"file": env.encrypt("tokens", b"t0k-value"), "mode": "0640",
                       "owner": "nobody", "group": "nogroup", "restartUnits": [restart]},
            "monitrc": {"file": env.encrypt("monitrc", b"m0nit-value"), "mode": "0600",
                        "owner": "nobody", "group": "nogroup", "symlink": false,
                        "path": copy.to_str().unwrap()},
            "linked": {"file": env.encrypt("linked", b"lnk"), "owner": "nobody",
                       "group": "nogroup", "path": link.to_str().unwrap()},
            "inPlace": {"file": env.encrypt("inPlace", b"here"), "symlink": false,
                        "name": "in-place.txt"},
        }),
        json!({
            "restartMode": "activation-list",
            "templates": {"app.env": {"content": format!("T={}\n", common::placeholder("tokens")),
                                      "owner": "nobody", "group": "nogroup", "mode": "0440"}},
        }),
    )
}

#[test]
fn every_secret_root_owned_before_users_final_owners_after() {
    if !in_private_ns("owners::every_secret_root_owned_before_users_final_owners_after") {
        return;
    }
    let env = Env::new();
    let m = readme_manifest(&env, "tokens.service");
    let o = step(&env, &m, INSTALL);
    assert_ok(&o);
    assert_not_leaked(&o, &["$6$salt", "t0k-value", "m0nit-value"]);
    let s = env.stable();
    let copy = env.path().join("etc/monitrc");
    let link = env.path().join("var/app/token");
    // Before `users`: every file is there (the password file too), root's, owner bits only.
    assert_eq!(std::fs::read(s.join("secret1")).unwrap(), b"$6$salt$hash");
    for (p, m) in [
        (s.join("secret1"), 0o400),
        (s.join("tokens"), 0o600),
        (s.join("monitrc"), 0o600),
        (s.join("linked"), 0o400),
        (s.join("in-place.txt"), 0o400),
        (s.join("rendered/app.env"), 0o400),
        (copy.clone(), 0o600),
    ] {
        assert_eq!(
            owner(&p),
            (0, 0),
            "{} before owners\n{}",
            p.display(),
            text(&o)
        );
        assert_eq!(mode(&p), m, "{} before owners", p.display());
    }
    assert_eq!(owner(&link), (0, 0), "the link is root's until owners");
    assert_eq!(std::fs::read(&link).unwrap(), b"lnk");
    // No restart yet: the unit would start before its secret is its owner's.
    assert_eq!(restart_list(&env), "");

    let o = step(&env, &m, OWNERS);
    assert_ok(&o);
    assert_eq!(
        (owner(&s.join("secret1")), mode(&s.join("secret1"))),
        ((0, 0), 0o400)
    );
    for (p, m) in [
        (s.join("tokens"), 0o640),
        (s.join("monitrc"), 0o600),
        (s.join("linked"), 0o400),
        (s.join("rendered/app.env"), 0o440),
        (copy.clone(), 0o600),
    ] {
        assert_eq!(
            owner(&p),
            NOBODY,
            "{} after owners\n{}",
            p.display(),
            text(&o)
        );
        assert_eq!(mode(&p), m, "{} after owners", p.display());
    }
    assert_eq!(owner(&link), NOBODY, "the link is the owner's");
    assert_eq!(std::fs::read(&copy).unwrap(), b"m0nit-value");
    assert!(!std::fs::symlink_metadata(&copy).unwrap().is_symlink());
    // symlink = false with the default path: the generation's file, no copy over the link.
    assert!(std::fs::symlink_metadata(&s).unwrap().is_symlink());
    assert_eq!(std::fs::read(s.join("in-place.txt")).unwrap(), b"here");
    // First install: nothing to restart relative to a previous generation.
    assert_eq!(restart_list(&env), "");

    // A changed secret: its unit restarts at the owners step, not before.
    let m2 = readme_manifest(&env, "tokens.service");
    env.encrypt("tokens", b"t0k-value-v2"); // the same file the manifest names, new content
    assert_ok(&step(&env, &m2, INSTALL));
    assert_eq!(restart_list(&env), "", "restarted before owners");
    assert_eq!(owner(&s.join("tokens")), (0, 0));
    let o = step(&env, &m2, OWNERS);
    assert_ok(&o);
    assert!(
        restart_list(&env).contains("tokens.service"),
        "{}",
        text(&o)
    );
    assert_eq!(owner(&s.join("tokens")), NOBODY);
    assert_eq!(std::fs::read(s.join("tokens")).unwrap(), b"t0k-value-v2");
    // Taken: a second owners step restarts nothing again.
    std::fs::remove_file(lists(&env).join("activation-restart-list")).unwrap();
    assert_ok(&step(&env, &m2, OWNERS));
    assert_eq!(restart_list(&env), "");
    assert_eq!(owner(&s.join("tokens")), NOBODY, "idempotent");
}

#[test]
fn owner_missing_at_the_owners_step_fails_closed() {
    if !in_private_ns("owners::owner_missing_at_the_owners_step_fails_closed") {
        return;
    }
    let env = Env::new();
    let m = env.manifest(
        json!({
            "ghost": {"file": env.encrypt("ghost", b"boo"), "owner": "no-such-user-xyz",
                      "group": "nogroup", "mode": "0440"},
            "fine": {"file": env.encrypt("fine", b"ok"), "owner": "nobody",
                     "group": "nogroup"},
        }),
        json!({}),
    );
    // Not an error before users exist: the owner may be created by `users`.
    let o = step(&env, &m, INSTALL);
    assert_ok(&o);
    let ghost = env.stable().join("ghost");
    assert_eq!((owner(&ghost), mode(&ghost)), ((0, 0), 0o400));

    let o = step(&env, &m, OWNERS);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "secret ghost: its owner and group (no-such-user-xyz:nogroup) were not applied",
        "user \"no-such-user-xyz\" does not exist",
        "stays owned by root:root with mode 0400",
        "declare the user and group",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{}", text(&o));
    }
    assert_eq!(
        (owner(&ghost), mode(&ghost)),
        ((0, 0), 0o400),
        "fail closed"
    );
    assert_eq!(std::fs::read(&ghost).unwrap(), b"boo");
    // The others still get theirs.
    assert_eq!(owner(&env.stable().join("fine")), NOBODY);
}

#[test]
fn defer_owners_needs_a_phase_that_writes() {
    if !in_private_ns("owners::defer_owners_needs_a_phase_that_writes") {
        return;
    }
    let env = Env::new();
    let m = env.manifest(json!({"a": {"file": env.encrypt("a", b"x")}}), json!({}));
    let o = step(&env, &m, &["--phase", "users", "--defer-owners"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--defer-owners goes with --phase main or all"),
        "{}",
        text(&o)
    );
    // Nothing installed: the owners step has nothing to do and says so.
    let o = step(&env, &m, OWNERS);
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no owners to apply"),
        "{}",
        text(&o)
    );
}
