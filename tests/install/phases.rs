//! The users phase before the main one, and user mode (home-manager: a user's runtime
//! directory, ramfs, refusing a disk-backed mount point).

use std::path::Path;

use serde_json::json;

use crate::common;
use crate::install_support::{assert_ok, in_private_ns, mode, owner, text, Env};
use crate::{install_as_user, mount_line, runtime_dir};

#[test]
fn users_phase_then_main_phase() {
    if !in_private_ns("phases::users_phase_then_main_phase") {
        return;
    }
    let env = Env::new();
    let m = env.manifest(
        json!({
            "pw": {"file": env.encrypt("pw", b"hash"), "neededForUsers": true},
            "app": {"file": env.encrypt("app", b"app-val"), "owner": "daemon"},
        }),
        json!({}),
    );
    let o = env.install(&m, &["--phase", "users"]);
    assert_ok(&o);
    assert_eq!(
        std::fs::read_link(env.users()).unwrap(),
        env.mp().join("users.1")
    );
    assert_eq!(std::fs::read(env.users().join("pw")).unwrap(), b"hash");
    assert_eq!(owner(&env.users().join("pw")), (0, 0));
    assert!(!env.stable().exists(), "main phase must not run yet");
    let o = env.install(&m, &["--phase", "main"]);
    assert_ok(&o);
    assert_eq!(std::fs::read(env.stable().join("app")).unwrap(), b"app-val");
    assert!(!env.stable().join("pw").exists());
    assert_eq!(owner(&env.stable().join("app")).0, 1);
    // all = both, each with its own generation sequence.
    assert_ok(&env.install(&m, &[]));
    assert_eq!(env.gens(), vec!["2", "users.2"]);

    // No neededForUsers secret: the users phase is a no-op that mounts nothing.
    let other = Env::new();
    let m = other.manifest(
        json!({"app": {"file": env.encrypt("app", b"x")}}),
        json!({}),
    );
    let o = other.install(&m, &["--phase", "users"]);
    assert_ok(&o);
    assert!(
        !other.mp().exists() && !other.users().exists(),
        "{}",
        text(&o)
    );
}

#[test]
fn ramfs_and_user_mode() {
    if !in_private_ns("phases::ramfs_and_user_mode") {
        return;
    }
    let env = Env::new();
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-val")}}),
        json!({"filesystem": "ramfs"}),
    );
    assert_ok(&env.install(&m, &[]));
    assert!(
        mount_line(&env.mp()).contains(" - ramfs "),
        "{}",
        mount_line(&env.mp())
    );
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"a-val");

    // filesystem = "none": the existing directory as is, nothing mounted.
    let none = Env::new();
    let m = none.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-val")}}),
        json!({"filesystem": "none"}),
    );
    assert_ok(&none.install(&m, &[]));
    assert!(mount_line(&none.mp()).is_empty());
    assert_eq!(std::fs::read(none.stable().join("a")).unwrap(), b"a-val");

    // User mode: nothing mounted, paths from $XDG_RUNTIME_DIR (a tmpfs), no chown.
    let xdg = runtime_dir(&env);
    let manifest = json!({
        "version": 1, "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "${XDG_RUNTIME_DIR}/agenix.d",
        "identityPaths": [env.host_key()],
        "secrets": {"u": {"file": env.encrypt("u", b"u-val"), "owner": "daemon",
                          "path": "$XDG_RUNTIME_DIR/app/u"}},
    });
    assert_ok(&install_as_user(&env, &xdg, &manifest).output().unwrap());
    assert!(
        mount_line(&xdg.join("agenix.d")).is_empty(),
        "nothing mounted"
    );
    assert_eq!(std::fs::read(xdg.join("agenix/u")).unwrap(), b"u-val");
    assert_eq!(std::fs::read(xdg.join("app/u")).unwrap(), b"u-val");
    assert_eq!(
        owner(&xdg.join("agenix/u")),
        (0, 0),
        "no chown in user mode"
    );
    assert_eq!(mode(&xdg.join("agenix.d")), 0o700);
}

/// A user's installer never switches secretsDirForUsers: on a NixOS host that is the system's
/// link, with the system's password secrets behind it.
#[test]
fn user_mode_leaves_the_users_dir_alone() {
    if !in_private_ns("phases::user_mode_leaves_the_users_dir_alone") {
        return;
    }
    let env = Env::new();
    let xdg = runtime_dir(&env);
    // What the system installer left: a link to a generation holding a password secret.
    let system_gen = env.path().join("system-users.1");
    std::fs::create_dir(&system_gen).unwrap();
    std::fs::write(system_gen.join("pw"), b"system").unwrap();
    let users_link = env.path().join("agenix-for-users");
    std::os::unix::fs::symlink(&system_gen, &users_link).unwrap();
    let manifest = json!({
        "version": 1, "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "$XDG_RUNTIME_DIR/agenix.d",
        "secretsDirForUsers": users_link,
        "identityPaths": [env.host_key()],
        "secrets": {"u": {"file": env.encrypt("u", b"u-val")}},
    });
    for _ in 0..2 {
        assert_ok(&install_as_user(&env, &xdg, &manifest).output().unwrap());
        assert_eq!(std::fs::read_link(&users_link).unwrap(), system_gen);
        assert_eq!(std::fs::read(system_gen.join("pw")).unwrap(), b"system");
        assert_eq!(std::fs::read(xdg.join("agenix/u")).unwrap(), b"u-val");
    }
}

/// Removing the last neededForUsers secret removes it now: the users phase still runs while
/// the users symlink exists, switches to an empty generation, prunes the old one and asks for
/// the secret's restart units.
#[test]
fn removing_last_users_secret_takes_effect_now() {
    if !in_private_ns("phases::removing_last_users_secret_takes_effect_now") {
        return;
    }
    let env = Env::new();
    let lists = env.path().join("nixos");
    let extra = json!({"restartMode": "activation-list"});
    let app = json!({"file": env.encrypt("app", b"app-val")});
    let m1 = env.manifest(
        json!({
            "pw": {"file": env.encrypt("pw", b"hash"), "neededForUsers": true,
                   "restartUnits": ["pw-user.service"]},
            "app": app,
        }),
        extra.clone(),
    );
    let run = |m: &Path, args: &[&str]| {
        let o = common::cmd()
            .arg("install")
            .arg("--manifest")
            .arg(m)
            .args(args)
            .env_remove("NIXOS_ACTION")
            .env("SECRETS_ACTIVATION_LIST_DIR", &lists)
            .output()
            .unwrap();
        assert_ok(&o);
        o
    };
    run(&m1, &[]);
    assert_eq!(std::fs::read(env.users().join("pw")).unwrap(), b"hash");

    let m2 = env.manifest(json!({"app": app}), extra);
    let o = run(&m2, &["--json"]);
    assert_eq!(
        std::fs::read_link(env.users()).unwrap(),
        env.mp().join("users.2"),
        "{}",
        text(&o)
    );
    assert!(!env.users().join("pw").exists(), "{}", text(&o));
    assert!(
        !env.mp().join("users.1").exists(),
        "old users generation kept"
    );
    let restart =
        std::fs::read_to_string(lists.join("activation-restart-list")).unwrap_or_default();
    assert!(
        restart.lines().any(|l| l == "pw-user.service"),
        "{restart:?}"
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "pw" && i["status"] == "removed"),
        "{j}"
    );
    // Later runs (users phase alone too) keep working with the empty users generation.
    run(&m2, &["--phase", "users"]);
    assert!(!env.users().join("pw").exists());
    assert_eq!(env.gens(), vec!["2", "users.3"]);

    // Only `--phase main` runs (the module's systemd mode has no users unit once the last
    // neededForUsers secret is gone): it removes the leftover users secret itself.
    let env = Env::new();
    let m1 = env.manifest(
        json!({"pw": {"file": env.encrypt("pw", b"hash"), "neededForUsers": true},
               "app": {"file": env.encrypt("app", b"app-val")}}),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    let m2 = env.manifest(
        json!({"app": {"file": env.encrypt("app", b"app-val")}}),
        json!({}),
    );
    let o = env.install(&m2, &["--phase", "main"]);
    assert_ok(&o);
    assert!(!env.users().join("pw").exists(), "{}", text(&o));
    assert_eq!(env.gens(), vec!["2", "users.2"]);
    // Nothing left: the next main phase leaves the users generation alone.
    assert_ok(&env.install(&m2, &["--phase", "main"]));
    assert_eq!(env.gens(), vec!["3", "users.2"]);
}

/// userMode with secretsMountPoint on a disk-backed filesystem: refused before anything is
/// written, unless the manifest says "allowDiskBacked": true (then a warning).
#[test]
fn user_mode_refuses_disk_backed_mount_point() {
    if !in_private_ns("phases::user_mode_refuses_disk_backed_mount_point") {
        return;
    }
    let env = Env::new();
    let base = [
        env.path().to_path_buf(),
        Path::new(env!("CARGO_TARGET_TMPDIR")).into(),
    ]
    .into_iter()
    .find(|d| !secrets::fs::is_ram_backed(d));
    let Some(base) = base else {
        common::skip("no disk-backed directory (the temp dir and the target dir are RAM-backed)");
        return;
    };
    let home = tempfile::tempdir_in(&base).unwrap();
    let h = home.path();
    let manifest = |allow: Option<bool>| {
        let mut m = json!({
            "version": 1, "userMode": true,
            "secretsDir": "$HOME/agenix",
            "secretsMountPoint": "$HOME/.cache/agenix.d",
            "identityPaths": [env.host_key()],
            "restartMode": "none",
            "secrets": {"u": {"file": env.encrypt("u", b"u-val"), "symlink": false,
                              "path": "$HOME/app/u"}},
        });
        if let Some(a) = allow {
            m["allowDiskBacked"] = json!(a);
        }
        let p = env.path().join("user.json");
        std::fs::write(&p, m.to_string()).unwrap();
        common::cmd()
            .args(["install", "--manifest"])
            .arg(&p)
            .env("HOME", h)
            .env_remove("NIXOS_ACTION")
            .output()
            .unwrap()
    };
    for allow in [None, Some(false)] {
        let o = manifest(allow);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("not on a RAM-backed filesystem") && err.contains("allowDiskBacked"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(h).unwrap().count(),
            0,
            "something was written"
        );
    }
    let o = manifest(Some(true));
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning:"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(h.join("agenix/u")).unwrap(), b"u-val");
    assert_eq!(std::fs::read(h.join("app/u")).unwrap(), b"u-val");
}
