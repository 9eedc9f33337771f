//! `secrets install` (issue A): the real binary as root in a private mount namespace with a
//! real tmpfs. Each test re-runs itself under `unshare --mount` (see install_support).
// Linux only: unshare, mount(8), /proc/self/mountinfo and inotify.
#![cfg(target_os = "linux")]

mod common;
mod install_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use install_support::{assert_not_leaked, assert_ok, in_private_ns, mode, owner, text, Env};
use serde_json::json;

/// A tmpfs at `dir`, like $XDG_RUNTIME_DIR (we are root in a private mount namespace).
fn mount_tmpfs(dir: &Path) {
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0700", "tmpfs"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot mount a tmpfs on {}", dir.display());
}

fn mount_line(mp: &Path) -> String {
    let Ok(canon) = std::fs::canonicalize(mp) else {
        return String::new();
    };
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .rfind(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap()))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn modes_owners_nested_custom_and_copy() {
    if !in_private_ns("modes_owners_nested_custom_and_copy") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    let m = env.manifest(
        json!({
            "named": {"file": env.encrypt_age_cli("named", b"value-named"), "mode": "0440",
                      "owner": "daemon", "group": "nogroup"},
            "numeric": {"file": env.encrypt("numeric", b"value-numeric"), "owner": "1234",
                        "group": "5678"},
            "nested": {"file": env.encrypt("nested", b"value-nested"), "name": "a/b/c",
                       "mode": "u=r,g=r"},
            "linked": {"file": env.encrypt("linked", b"value-linked"), "path": etc.join("app/linked"),
                       "owner": "1234", "group": "5678", "mode": "0400"},
            "copied": {"file": env.encrypt("copied", b"value-copied"), "path": etc.join("copied"),
                       "symlink": false, "mode": "0640", "owner": "1234", "group": "5678"},
        }),
        json!({}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_not_leaked(&o, &["value-"]);

    // Mount: a tmpfs with the hardening options, mode 0751.
    let line = mount_line(&env.mp());
    assert!(line.contains(" - tmpfs "), "not a tmpfs: {line}");
    for opt in ["nodev", "nosuid", "noexec", "noswap"] {
        assert!(line.contains(opt), "{opt} missing: {line}");
    }
    assert_eq!(mode(&env.mp()), 0o751);

    let g = env.current();
    assert_eq!(g, env.mp().join("1"));
    assert_eq!(mode(&g), 0o751);
    let s = env.stable();
    assert_eq!(std::fs::read(s.join("named")).unwrap(), b"value-named");
    assert_eq!(mode(&g.join("named")), 0o440);
    assert_eq!(owner(&g.join("named")), (1, 65534)); // daemon:nogroup on Debian
    assert_eq!(owner(&g.join("numeric")), (1234, 5678));
    assert_eq!(mode(&g.join("numeric")), 0o400);
    assert_eq!(std::fs::read(s.join("a/b/c")).unwrap(), b"value-nested");
    // A symbolic mode, as agenix passed it to chmod.
    assert_eq!(mode(&g.join("a/b/c")), 0o440);
    assert_eq!(mode(&g.join("a")), 0o751);
    assert_eq!(mode(&g.join("a/b")), 0o751);
    assert_eq!(owner(&g.join("a/b/c")), (0, 0));

    // Custom path: a symlink to the stable path, owned like the secret.
    let link = etc.join("app/linked");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), s.join("linked"));
    assert_eq!(owner(&link), (1234, 5678));
    assert_eq!(std::fs::read(&link).unwrap(), b"value-linked");
    assert_eq!(mode(&etc.join("app")), 0o755);

    // Copy: a regular file with the secret's mode and owner.
    let copy = etc.join("copied");
    assert!(std::fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(std::fs::read(&copy).unwrap(), b"value-copied");
    assert_eq!(mode(&copy), 0o640);
    assert_eq!(owner(&copy), (1234, 5678));
    // No temp files left next to destinations.
    let names: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Second run: unchanged copy and link stay correct, a new generation.
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(env.current(), env.mp().join("2"));
    assert_eq!(std::fs::read(&copy).unwrap(), b"value-copied");
    assert_eq!(env.gens(), vec!["2"]);
}

#[test]
fn generations_pruning_and_atomic_swap() {
    if !in_private_ns("generations_pruning_and_atomic_swap") {
        return;
    }
    let env = Env::new();
    for round in 1..=4 {
        let v = format!("v{round}");
        let m = env.manifest(
            json!({"s": {"file": env.encrypt("s", v.as_bytes())}}),
            json!({"keepGenerations": 2}),
        );
        assert_ok(&env.install(&m, &[]));
        assert_eq!(std::fs::read(env.stable().join("s")).unwrap(), v.as_bytes());
    }
    assert_eq!(env.current(), env.mp().join("4"));
    assert_eq!(env.gens(), vec!["3", "4"]);
    assert_eq!(std::fs::read(env.mp().join("3/s")).unwrap(), b"v3");
    // The stable path is a symlink (swapped by rename, not rewritten in place).
    assert!(std::fs::symlink_metadata(env.stable())
        .unwrap()
        .file_type()
        .is_symlink());

    // Stale leftover of a crashed run (a generation newer than the current one) is replaced.
    std::fs::create_dir(env.mp().join("5")).unwrap();
    std::fs::write(env.mp().join("5/junk"), b"partial").unwrap();
    let m = env.manifest(json!({"s": {"file": env.encrypt("s", b"v5")}}), json!({}));
    assert_ok(&env.install(&m, &[]));
    assert_eq!(env.current(), env.mp().join("5"));
    assert!(!env.mp().join("5/junk").exists());
    assert_eq!(env.gens(), vec!["5"]);
}

#[test]
fn corrupted_secret_keeps_previous_value() {
    if !in_private_ns("corrupted_secret_keeps_previous_value") {
        return;
    }
    let env = Env::new();
    let m1 = env.manifest(
        json!({
            "a": {"file": env.encrypt("a", b"a-one")},
            "b": {"file": env.encrypt("b", b"b-one"), "mode": "0440", "group": "5678"},
            "c": {"file": env.encrypt("c", b"c-one")},
        }),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));

    // Round 2: a changes, b's file is corrupted, c's owner does not exist, d is new and
    // corrupted (no previous value).
    let a = env.encrypt("a", b"a-two");
    let b = env.encrypt("b", b"b-two");
    let mut data = std::fs::read(&b).unwrap();
    let n = data.len();
    data[n - 5] ^= 0x55;
    std::fs::write(&b, data).unwrap();
    let d = env.path().join("enc/d.age");
    std::fs::write(&d, b"this is not an age file\n").unwrap();
    let m2 = env.manifest(
        json!({
            "a": {"file": a},
            "b": {"file": b, "mode": "0440", "group": "5678"},
            "c": {"file": env.encrypt("c", b"c-two"), "owner": "no-such-user-s3cr3ts"},
            "d": {"file": d},
        }),
        json!({}),
    );
    let o = env.install(&m2, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_not_leaked(&o, &["-one", "-two"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secret b:") && err.contains("keeping the previous value"),
        "{err}"
    );
    assert!(err.contains("no-such-user-s3cr3ts"), "{err}");
    assert!(
        err.contains("secret d:") && err.contains("not installed"),
        "{err}"
    );

    assert_eq!(env.current(), env.mp().join("2"));
    let s = env.stable();
    assert_eq!(std::fs::read(s.join("a")).unwrap(), b"a-two");
    assert_eq!(std::fs::read(s.join("b")).unwrap(), b"b-one");
    assert_eq!(mode(&s.join("b")), 0o440);
    assert_eq!(owner(&s.join("b")), (0, 5678));
    assert_eq!(std::fs::read(s.join("c")).unwrap(), b"c-one");
    assert!(!s.join("d").exists());

    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false);
    let status = |n: &str| {
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("a"), "installed");
    assert_eq!(status("b"), "carried-over");
    assert_eq!(status("c"), "carried-over");
    assert_eq!(status("d"), "failed");
}

#[test]
fn fail_closed_aborts_before_switch() {
    if !in_private_ns("fail_closed_aborts_before_switch") {
        return;
    }
    let env = Env::new();
    let m1 = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-one")}, "b": {"file": env.encrypt("b", b"b-one")}}),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    let bad = env.path().join("enc/bad.age");
    std::fs::write(&bad, b"garbage").unwrap();
    let secrets = json!({"a": {"file": env.encrypt("a2", b"a-two")}, "b": {"file": bad}});
    for (extra, args) in [
        (json!({}), vec!["--fail-closed"]),
        (json!({"onFailure": "abort"}), vec![]),
    ] {
        let m2 = env.manifest(secrets.clone(), extra);
        let o = env.install(&m2, &args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("aborted"),
            "{}",
            text(&o)
        );
        assert_eq!(env.current(), env.mp().join("1"));
        assert_eq!(env.gens(), vec!["1"]);
        assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"a-one");
    }
}

#[test]
fn missing_and_empty_identities() {
    if !in_private_ns("missing_and_empty_identities") {
        return;
    }
    let env = Env::new();
    let empty = env.path().join("empty_key");
    std::fs::write(&empty, b"").unwrap();
    let missing = env.path().join("no_such_key");
    let secrets = json!({"a": {"file": env.encrypt("a", b"a-one")}});

    // Only unusable identities: an error, nothing mounted or created.
    let m = env.manifest(secrets.clone(), json!({"identityPaths": [missing, empty]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no usable identity"), "{err}");
    assert!(
        err.contains("no_such_key") && err.contains("empty_key"),
        "{err}"
    );
    assert!(!env.stable().exists());
    assert!(mount_line(env.path()).is_empty() && !env.mp().exists());

    // Skipped with warnings when a usable one remains.
    let m = env.manifest(
        secrets,
        json!({"identityPaths": [missing, empty, env.host_key()]}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: skipping identity") && err.contains("no_such_key"),
        "{err}"
    );
    assert!(
        err.contains("SHA256:"),
        "fingerprint of the key used is logged: {err}"
    );
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"a-one");
}

#[test]
fn enospc_on_tiny_tmpfs_keeps_previous_generation() {
    if !in_private_ns("enospc_on_tiny_tmpfs_keeps_previous_generation") {
        return;
    }
    let env = Env::new();
    std::fs::create_dir_all(env.mp()).unwrap();
    let st = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=64k,mode=0751,nodev,nosuid,noexec",
            "tmpfs",
        ])
        .arg(env.mp())
        .status()
        .unwrap();
    assert!(st.success());
    // A tmpfs the admin mounted is used only with filesystem = "none" (one the installer
    // did not mount is refused otherwise: see tests/install_isolation.rs).
    let m1 = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-one")}, "b": {"file": env.encrypt("b", b"b-one")}}),
        json!({"keepGenerations": 3, "filesystem": "none"}),
    );
    let o = env.install(&m1, &["--json"]);
    assert_ok(&o);
    // The tmpfs exactly at the mount point is used, not mounted over.
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["mount"], "none (existing directory)");
    assert!(
        mount_line(&env.mp()).contains("size=64k"),
        "{}",
        mount_line(&env.mp())
    );

    let big = vec![b'x'; 200 * 1024];
    let m2 = env.manifest(
        json!({"a": {"file": env.encrypt("a2", b"a-two")}, "big": {"file": env.encrypt("big", &big)}}),
        json!({"keepGenerations": 3, "filesystem": "none"}),
    );
    let o = env.install(&m2, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("No space left") || err.contains("no space"),
        "{err}"
    );
    assert!(err.contains("still points to"), "{err}");
    // Which space ran out: the tmpfs at the mount point, with its size.
    let full = format!(
        "no space left on the tmpfs mounted at {} (65536 bytes",
        env.mp().display()
    );
    assert!(err.contains(&full), "{err}");
    assert_eq!(env.current(), env.mp().join("1"));
    assert_eq!(env.gens(), vec!["1"]);
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"a-one");
    assert_eq!(std::fs::read(env.stable().join("b")).unwrap(), b"b-one");
}

#[test]
fn destination_directory_and_foreign_symlink() {
    if !in_private_ns("destination_directory_and_foreign_symlink") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    std::fs::create_dir_all(etc.join("isdir")).unwrap();
    std::fs::write(etc.join("isdir/keep"), b"keep me").unwrap();
    let victim = env.path().join("victim");
    std::fs::write(&victim, b"victim content").unwrap();
    std::os::unix::fs::symlink(&victim, etc.join("evil")).unwrap();
    std::os::unix::fs::symlink(&victim, etc.join("evilcopy")).unwrap();
    let m = env.manifest(
        json!({
            "d": {"file": env.encrypt("d", b"d-val"), "path": etc.join("isdir")},
            "l": {"file": env.encrypt("l", b"l-val"), "path": etc.join("evil")},
            "c": {"file": env.encrypt("c", b"c-val"), "path": etc.join("evilcopy"), "symlink": false},
            "ok": {"file": env.encrypt("ok", b"ok-val")},
        }),
        json!({}),
    );
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("isdir") && err.contains("directory"), "{err}");
    assert!(
        err.contains("replaced a symlink to") && err.contains("victim"),
        "{err}"
    );
    // The directory is untouched, the victim never written through.
    assert_eq!(std::fs::read(etc.join("isdir/keep")).unwrap(), b"keep me");
    assert_eq!(std::fs::read(&victim).unwrap(), b"victim content");
    assert_eq!(
        std::fs::read_link(etc.join("evil")).unwrap(),
        env.stable().join("l")
    );
    assert!(std::fs::symlink_metadata(etc.join("evilcopy"))
        .unwrap()
        .is_file());
    assert_eq!(std::fs::read(etc.join("evilcopy")).unwrap(), b"c-val");
    assert_eq!(mode(&etc.join("evilcopy")), 0o400);
    // Everything else is installed.
    assert_eq!(std::fs::read(env.stable().join("ok")).unwrap(), b"ok-val");
    assert_eq!(std::fs::read(env.stable().join("d")).unwrap(), b"d-val");
}

#[test]
fn check_validates_without_writing() {
    if !in_private_ns("check_validates_without_writing") {
        return;
    }
    let env = Env::new();
    let good = env.encrypt("good", b"x");
    let plain = env.path().join("enc/plain.age");
    std::fs::write(&plain, b"committed in clear\n").unwrap();
    let before = common::full_snapshot(env.path());
    let m = env.manifest(json!({"good": {"file": good}}), json!({}));
    let o = env.install(&m, &["--check"]);
    assert_ok(&o);
    for (secrets, needle) in [
        (json!({"p": {"file": plain}}), "not an age file"),
        (
            json!({"m": {"file": "/nix/store/0000-missing.age"}}),
            "missing.age",
        ),
        (
            json!({"x": {"file": good, "mode": "0999"}}),
            "neither an octal mode",
        ),
        (
            json!({"x": {"file": good, "name": "../etc/passwd"}}),
            "component",
        ),
        (
            json!({"x": {"file": good, "path": "/etc/shared"}, "y": {"file": good, "path": "/etc/shared"}}),
            "share the destination",
        ),
        (
            json!({"x": {"file": good, "restartUnits": ["a;reboot.service"]}}),
            "not a systemd unit",
        ),
        (json!({"x": {"file": good, "bogus": 1}}), "unknown field"),
    ] {
        let m = env.manifest(secrets, json!({}));
        let o = env.install(&m, &["--check"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{needle}: {}",
            text(&o)
        );
    }
    // Outside the store (build sandbox), a missing file is only a warning.
    let m = env.manifest(
        json!({"m": {"file": env.path().join("enc/elsewhere.age")}}),
        json!({}),
    );
    let o = env.install(&m, &["--check"]);
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning:"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(env.path().join("manifest.json")).unwrap();
    assert_eq!(common::full_snapshot(env.path()), before);
    assert!(!env.mp().exists() && !env.stable().exists());
}

#[test]
fn users_phase_then_main_phase() {
    if !in_private_ns("users_phase_then_main_phase") {
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
    if !in_private_ns("ramfs_and_user_mode") {
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
    if !in_private_ns("user_mode_leaves_the_users_dir_alone") {
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

/// kill -9 at random moments; the stable symlink must always name a complete generation.
#[test]
fn crash_kill9_never_leaves_partial_generation() {
    if !in_private_ns("crash_kill9_never_leaves_partial_generation") {
        return;
    }
    let env = Env::new();
    const N: usize = 150;
    let mut manifests = Vec::new();
    for (round, modestr) in [("A", "0400"), ("B", "0440")] {
        let mut secrets = serde_json::Map::new();
        for i in 0..N {
            let f = env.encrypt(&format!("{round}{i}"), format!("{round}-{i}").as_bytes());
            secrets.insert(
                format!("s{i}"),
                json!({"file": f, "name": format!("d{}/s{i}", i % 7), "mode": modestr}),
            );
        }
        let v = env.manifest_value(
            serde_json::Value::Object(secrets),
            json!({"keepGenerations": 2}),
        );
        let p = env.path().join(format!("m{round}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        manifests.push((round, modestr, p));
    }
    let verify = |ctx: &str| {
        let g = env.current();
        let round = std::fs::read(g.join("d0/s0")).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let (r, want_mode) = if round.starts_with(b"A") {
            ("A", 0o400)
        } else {
            ("B", 0o440)
        };
        for i in 0..N {
            let p = g.join(format!("d{}/s{i}", i % 7));
            let v = std::fs::read(&p).unwrap_or_else(|e| panic!("{ctx}: {}: {e}", p.display()));
            assert_eq!(v, format!("{r}-{i}").as_bytes(), "{ctx}: {}", p.display());
            assert_eq!(mode(&p), want_mode, "{ctx}: {}", p.display());
        }
    };
    // A complete first install, and the time one takes.
    let t = Instant::now();
    assert_ok(&env.install(&manifests[0].2, &[]));
    let full = t.elapsed();
    verify("initial");
    let bin = common::bin();
    let mut killed_midway = 0;
    let mut mid_generation = 0;
    for run in 0..50u32 {
        let (_, _, m) = &manifests[(run % 2) as usize];
        let delay =
            Duration::from_micros(rand::random::<u64>() % (full.as_micros() as u64 * 3 / 2 + 1));
        let mut child = std::process::Command::new(&bin)
            .args(["install", "--manifest"])
            .arg(m)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_midway += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        verify(&format!("after kill {run} at {delay:?}"));
        // A generation newer than the current one: killed while writing it.
        let cur: u64 = env
            .current()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        if env
            .gens()
            .iter()
            .any(|g| g.parse::<u64>().is_ok_and(|n| n > cur))
        {
            mid_generation += 1;
        }
    }
    eprintln!(
        "{killed_midway} of 50 runs were killed while running, {mid_generation} while writing \
         a generation (full run {full:?})"
    );
    assert!(
        killed_midway >= 10,
        "too few runs were interrupted: {killed_midway}"
    );
    assert!(
        mid_generation >= 1,
        "no run was killed while writing a generation"
    );
    // A normal run afterwards cleans up and succeeds.
    assert_ok(&env.install(&manifests[1].2, &[]));
    verify("final");
    assert!(env.gens().len() <= 2, "{:?}", env.gens());
}

/// A malformed placeholder with a multi-byte character right after it is a validation error
/// (exit 1, names the template), not a panic (exit 101), in --check and in install.
#[test]
fn malformed_placeholder_with_multibyte_char() {
    let env = Env::new();
    let content = format!("<SECRET:{}é", "a".repeat(15));
    let m = env.manifest(
        json!({"s": {"file": env.encrypt("s", b"v")}}),
        json!({"templates": {"t": {"content": content}}}),
    );
    for args in [&["--check"][..], &[][..]] {
        let o = env.install(&m, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("template \"t\"") && err.contains("malformed placeholder"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!env.mp().exists() && !env.stable().exists());
}

/// Removing the last neededForUsers secret removes it now: the users phase still runs while
/// the users symlink exists, switches to an empty generation, prunes the old one and asks for
/// the secret's restart units.
#[test]
fn removing_last_users_secret_takes_effect_now() {
    if !in_private_ns("removing_last_users_secret_takes_effect_now") {
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

/// A secret named like another's old temp file (`.a.new` next to `a`) installs fine, both
/// with their own values, on the first and on later runs.
#[test]
fn secret_named_like_a_temp_file() {
    if !in_private_ns("secret_named_like_a_temp_file") {
        return;
    }
    let env = Env::new();
    let mut secrets = serde_json::Map::new();
    for i in 0..20 {
        let a = format!("a{i}");
        let t = format!(".a{i}.new");
        secrets.insert(a.clone(), json!({"file": env.encrypt(&a, a.as_bytes())}));
        secrets.insert(
            t.clone(),
            json!({"file": env.encrypt(&format!("t{i}"), t.as_bytes())}),
        );
    }
    let m = env.manifest(serde_json::Value::Object(secrets), json!({}));
    for _ in 0..2 {
        let o = env.install(&m, &[]);
        assert_ok(&o);
        for i in 0..20 {
            for n in [format!("a{i}"), format!(".a{i}.new")] {
                let got = std::fs::read(env.stable().join(&n))
                    .unwrap_or_else(|e| panic!("{n}: {e}\n{}", text(&o)));
                assert_eq!(got, n.as_bytes(), "{n}");
            }
        }
    }
}

/// A symlink in a custom destination's directories (here `conf` -> the victim directory, as
/// a user owning /var/lib/app could plant) is never written through, in root and user mode:
/// the victim directory stays byte-for-byte as it was (no link, copy, temp file or cleanup
/// there), the secret reports an error naming the symlink, other secrets install.
#[test]
fn symlinked_destination_directory_is_not_followed() {
    if !in_private_ns("symlinked_destination_directory_is_not_followed") {
        return;
    }
    let env = Env::new();
    let victim = env.path().join("victim-etc");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("key"), b"victim key").unwrap();
    std::fs::write(victim.join("copy"), b"victim copy").unwrap();
    // Looks like our stale temp file: must not be cleaned up through the symlink either.
    std::fs::write(victim.join(".key.link-1-00"), b"not ours").unwrap();
    let app = env.path().join("var/lib/app");
    std::fs::create_dir_all(&app).unwrap();
    std::os::unix::fs::symlink(&victim, app.join("conf")).unwrap();
    let before = common::full_snapshot(&victim);

    let secrets = |base: &str| {
        json!({
            "linked": {"file": env.encrypt("linked", b"linked-val"),
                       "path": format!("{base}/var/lib/app/conf/key")},
            "copied": {"file": env.encrypt("copied", b"copied-val"), "symlink": false,
                       "path": format!("{base}/var/lib/app/conf/copy")},
            "deeper": {"file": env.encrypt("deeper", b"deeper-val"),
                       "path": format!("{base}/var/lib/app/conf/new/dir/x")},
            "ok": {"file": env.encrypt("ok", b"ok-val"),
                   "path": format!("{base}/var/lib/app/real/ok")},
        })
    };
    let check = |o: &std::process::Output, stable: &Path| {
        assert_eq!(o.status.code(), Some(1), "{}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        for n in ["linked", "copied", "deeper"] {
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("for {n}:")) && l.contains("conf is a symlink")),
                "{n}: {err}"
            );
        }
        assert_eq!(common::full_snapshot(&victim), before, "{err}");
        assert_eq!(std::fs::read(app.join("real/ok")).unwrap(), b"ok-val");
        // The secrets themselves are installed in the generation.
        assert_eq!(std::fs::read(stable.join("linked")).unwrap(), b"linked-val");
    };

    // Root mode.
    let m = env.manifest(secrets(env.path().to_str().unwrap()), json!({}));
    let o = env.install(&m, &[]);
    check(&o, &env.stable());

    // User mode ($XDG_RUNTIME_DIR expansion, no mount, no chown).
    std::fs::remove_dir_all(app.join("real")).unwrap();
    let xdg = runtime_dir(&env);
    let manifest = json!({
        "version": 1, "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "$XDG_RUNTIME_DIR/agenix.d",
        "identityPaths": [env.host_key()],
        "restartMode": "none",
        "secrets": secrets("$HOME"),
    });
    let o = install_as_user(&env, &xdg, &manifest)
        .env("HOME", env.path())
        .env_remove("NIXOS_ACTION")
        .output()
        .unwrap();
    check(&o, &xdg.join("agenix"));
}

/// Counts opens of files with inotify (IN_OPEN), to see how often the installer reads them.
struct OpenCounter {
    fd: i32,
    watches: Vec<(i32, std::path::PathBuf)>,
}

impl OpenCounter {
    fn new(files: &[&Path]) -> OpenCounter {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain syscalls with valid NUL-terminated paths.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0);
        let watches = files
            .iter()
            .map(|f| {
                let c = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
                let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_OPEN) };
                assert!(wd >= 0);
                (wd, f.to_path_buf())
            })
            .collect();
        OpenCounter { fd, watches }
    }

    /// Opens of each watched file (in the order given to `new`) since the last call.
    fn opens(&self) -> Vec<usize> {
        let mut n = vec![0; self.watches.len()];
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is writable for its length.
            let r = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if r <= 0 {
                break;
            }
            let mut off = 0;
            while off < r as usize {
                // SAFETY: the kernel writes whole inotify_event records.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
                if let Some(i) = self.watches.iter().position(|(w, _)| *w == ev.wd) {
                    if ev.mask & libc::IN_OPEN != 0 {
                        n[i] += 1;
                    }
                }
                off += std::mem::size_of::<libc::inotify_event>() + ev.len as usize;
            }
        }
        n
    }
}

impl Drop for OpenCounter {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

/// With `--phase all`, a neededForUsers secret used by a (main-phase) template is read and
/// decrypted once: the users phase hands its value on to the main phase.
#[test]
fn users_secret_in_template_is_decrypted_once() {
    if !in_private_ns("users_secret_in_template_is_decrypted_once") {
        return;
    }
    use secrets::install::template::placeholder;
    let env = Env::new();
    let pw = env.encrypt("pw", b"hash");
    let app = env.encrypt("app", b"app-val");
    let content = format!("pw={} app={}\n", placeholder("pw"), placeholder("app"));
    let m = env.manifest(
        json!({"pw": {"file": pw, "neededForUsers": true}, "app": {"file": app}}),
        json!({"templates": {"t": {"content": content}}}),
    );
    let counter = OpenCounter::new(&[&pw, &app]);
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(
        std::fs::read(env.stable().join("rendered/t")).unwrap(),
        b"pw=hash app=app-val\n"
    );
    assert_eq!(counter.opens(), [1, 1], "opens of pw, app\n{}", text(&o));
    // The main phase alone decrypts the users secret itself.
    let o = env.install(&m, &["--phase", "main"]);
    assert_ok(&o);
    assert_eq!(counter.opens(), [1, 1], "opens of pw, app\n{}", text(&o));
}

/// `--json`: one `identities` entry per key even when its path contains ", ", and a skipped
/// identity's warning is in `warnings` (and printed on stderr once).
#[test]
fn identities_and_skip_warnings_in_json() {
    if !in_private_ns("identities_and_skip_warnings_in_json") {
        return;
    }
    let env = Env::new();
    let dir = env.path().join("keys, rotated");
    std::fs::create_dir(&dir).unwrap();
    let key = dir.join("host, web1");
    std::fs::copy(env.host_key(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = env.path().join("no_such_key");
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-one")}}),
        json!({"identityPaths": [missing, key]}),
    );
    let o = env.install(&m, &["--json"]);
    assert_ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids = j["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{j}");
    let id = ids[0].as_str().unwrap();
    assert!(
        id.starts_with(key.to_str().unwrap()) && id.contains("SHA256:"),
        "{id}"
    );
    let warnings: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("skipping identity"))
        .collect();
    assert_eq!(warnings.len(), 1, "{j}");
    assert!(warnings[0].contains("no_such_key"), "{j}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("skipping identity").count(), 1, "{err}");
}

/// userMode with secretsMountPoint on a disk-backed filesystem: refused before anything is
/// written, unless the manifest says "allowDiskBacked": true (then a warning).
#[test]
fn user_mode_refuses_disk_backed_mount_point() {
    if !in_private_ns("user_mode_refuses_disk_backed_mount_point") {
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

/// A secret removed from the manifest takes its custom-path copy with it, but only while the
/// file there is still exactly what we wrote (bytes, owner, group, mode); an edited or
/// re-owned file stays.
#[test]
fn removed_secret_copy_is_removed_only_if_ours() {
    if !in_private_ns("removed_secret_copy_is_removed_only_if_ours") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    let copy = |n: &str| {
        json!({"file": env.encrypt(n, format!("{n}-val").as_bytes()), "symlink": false,
               "path": etc.join(n), "mode": "0440", "owner": "1234", "group": "5678"})
    };
    let m1 = env.manifest(
        json!({"gone": copy("gone"), "edited": copy("edited"), "chowned": copy("chowned"),
               "kept": copy("kept")}),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    assert_eq!(std::fs::read(etc.join("gone")).unwrap(), b"gone-val");
    // The admin changed two of the copies since.
    std::fs::write(etc.join("edited"), b"admin's own").unwrap();
    std::os::unix::fs::lchown(etc.join("chowned"), Some(0), Some(0)).unwrap();

    let m2 = env.manifest(json!({"kept": copy("kept")}), json!({}));
    let o = env.install(&m2, &[]);
    assert_ok(&o);
    assert!(!etc.join("gone").exists(), "{}", text(&o));
    assert_eq!(std::fs::read(etc.join("edited")).unwrap(), b"admin's own");
    assert_eq!(std::fs::read(etc.join("chowned")).unwrap(), b"chowned-val");
    assert_eq!(std::fs::read(etc.join("kept")).unwrap(), b"kept-val");
}

/// Activation must never wait for a passphrase, even when run from a terminal: a
/// passphrase-protected identity is skipped with a warning (user mode and a dry run, so no
/// root is needed; the terminal is real).
#[test]
fn passphrase_protected_identity_is_skipped_not_prompted() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = common::Repo::new();
    repo.json_rules(r#"{"db.age": {"publicKeys": ["carol"]}}"#);
    repo.encrypt("db.age", "v");
    let manifest = json!({
        "version": 1,
        "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "$XDG_RUNTIME_DIR/agenix.d",
        "identityPaths": [common::key("carol_rsa4096_pass")],
        "secrets": {"db": {"file": repo.path().join("db.age")}}
    });
    repo.write("m.json", manifest.to_string());
    let (code, prompts, out) = common::Pty::new(
        repo.path(),
        &["install", "--dry-run", "--manifest", "m.json"],
    )
    .answers(&["correct horse"])
    .env("XDG_RUNTIME_DIR", runtime.path())
    .run();
    assert_eq!(prompts, 0, "the installer asked for a passphrase:\n{out}");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("passphrase-protected"), "{out}");
}

#[test]
fn empty_manifest_is_a_no_op_then_removes_the_last_secret() {
    if !in_private_ns("empty_manifest_is_a_no_op_then_removes_the_last_secret") {
        return;
    }
    let env = Env::new();
    let run = |m: &Path| {
        let o = common::cmd()
            .arg("install")
            .arg("--manifest")
            .arg(m)
            .env_remove("NIXOS_ACTION")
            .output()
            .unwrap();
        assert_ok(&o);
        o
    };
    // A host that imports the module but has no secrets: nothing mounted, nothing created.
    let empty = env.manifest(json!({}), json!({}));
    let o = run(&empty);
    assert!(!env.mp().exists(), "{}", text(&o));
    assert!(mount_line(&env.mp()).is_empty());
    assert!(std::fs::symlink_metadata(env.stable()).is_err());
    // Its last secret removed: the secret is gone at once, not at reboot.
    let one = env.manifest(json!({"db": {"file": env.encrypt("db", b"v")}}), json!({}));
    run(&one);
    assert_eq!(std::fs::read(env.stable().join("db")).unwrap(), b"v");
    let empty = env.manifest(json!({}), json!({}));
    let o = run(&empty);
    assert!(!env.stable().join("db").exists(), "{}", text(&o));
    assert!(!env.mp().join("1").exists(), "old generation kept");
}

/// A 0700 tmpfs standing in for a user's $XDG_RUNTIME_DIR.
fn runtime_dir(env: &Env) -> std::path::PathBuf {
    let xdg = env.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    mount_tmpfs(&xdg);
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    xdg
}

/// `secrets install` of a userMode manifest with $XDG_RUNTIME_DIR set to `xdg`.
fn install_as_user(
    env: &Env,
    xdg: &std::path::Path,
    manifest: &serde_json::Value,
) -> assert_cmd::Command {
    let p = env.path().join("user.json");
    std::fs::write(&p, manifest.to_string()).unwrap();
    let mut c = common::cmd();
    c.args(["install", "--manifest"])
        .arg(&p)
        .env("XDG_RUNTIME_DIR", xdg);
    c
}

/// A well-formed identity for the stand-in plugin `age-plugin-testplug` (bech32 of
/// "test-only"), whose program the tests write themselves.
const TESTPLUG_IDENTITY: &str = "AGE-PLUGIN-TESTPLUG-1W3JHXAPDDAHXC7G0YLT0W\n";

/// `pluginPath` puts age plugins on the installer's $PATH (the NixOS option `age.plugins`):
/// without it a plugin identity is skipped, naming the missing plugin; with it the plugin runs.
#[test]
fn plugin_path_finds_age_plugins() {
    if !in_private_ns("plugin_path_finds_age_plugins") {
        return;
    }
    let env = Env::new();
    let bin = env.path().join("plugin pkg/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = env.path().join("plugin-ran");
    // A stand-in plugin: records how it was started, then fails (it speaks no protocol).
    common::script(
        &bin.join("age-plugin-testplug"),
        &format!("echo \"$@\" > '{}'\nexit 1", marker.display()),
    );
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, TESTPLUG_IDENTITY).unwrap();
    let secrets =
        json!({"a": {"file": env.encrypt_to("a", b"a-one", &[&common::pubkey("dave_age")])}});

    let m = env.manifest(secrets.clone(), json!({"identityPaths": [id]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("age-plugin-testplug"),
        "{}",
        text(&o)
    );
    assert!(!marker.exists());

    let m = env.manifest(secrets, json!({"identityPaths": [id], "pluginPath": [bin]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        ran.contains("--age-plugin=identity-v1"),
        "{ran:?}\n{}",
        text(&o)
    );

    // A ':' would split the entry in $PATH.
    let m = env.manifest(json!({}), json!({"pluginPath": ["/nix/store/a:b/bin"]}));
    let o = env.install(&m, &["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pluginPath"),
        "{}",
        text(&o)
    );
}

/// The same with a real plugin (common::age_plugin_dir): a secret encrypted by Go `age` to
/// the plugin's recipient is installed with the plugin identity found through pluginPath.
#[test]
fn plugin_identity_installs_with_a_real_plugin() {
    if !in_private_ns("plugin_identity_installs_with_a_real_plugin") || common::missing("age") {
        return;
    }
    let Some(dir) = common::age_plugin_dir() else {
        return;
    };
    let env = Env::new();
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, format!("{}\n", common::PLUGIN_IDENTITY)).unwrap();
    let mut age = std::process::Command::new("age");
    age.env("PATH", common::path_with(&dir))
        .args(["-r", common::PLUGIN_RECIPIENT]);
    let file = env.encrypt_with(age, "p", b"p-one");
    let m = env.manifest(
        json!({"p": {"file": file}}),
        json!({"identityPaths": [id], "pluginPath": [dir]}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(std::fs::read(env.stable().join("p")).unwrap(), b"p-one");
    assert_not_leaked(&o, &["p-one"]);
}

/// A plugin's question (here a PIN) is declined by the installer, never asked on the terminal,
/// even when activation runs from one. The stand-in plugin speaks the identity-v1 protocol far
/// enough to ask, records the answer, and gives up.
#[test]
fn plugin_questions_are_declined_not_asked() {
    if common::missing("python3") {
        return;
    }
    let env = Env::new();
    let bin = env.path().join("plugins");
    std::fs::create_dir_all(&bin).unwrap();
    let reply = env.path().join("plugin-reply");
    let plugin = bin.join("age-plugin-testplug");
    std::fs::write(
        &plugin,
        format!(
            r#"#!/usr/bin/env python3
import base64, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
while not inp.readline().startswith(b"-> done"):
    pass
inp.readline()
msg = base64.b64encode(b"Passphrase for the test plugin's PIN").rstrip(b"=")
out.write(b"-> request-secret\n" + msg + b"\n")
out.flush()
answer = inp.readline().strip()
inp.readline()
open({reply:?}, "wb").write(answer)
out.write(b"-> done\n\n")
out.flush()
"#,
            reply = reply.display().to_string()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, TESTPLUG_IDENTITY).unwrap();
    let m = env.manifest(
        json!({"a": {"file": env.encrypt_to("a", b"a-one", &[&common::pubkey("dave_age")])}}),
        json!({"identityPaths": [id], "pluginPath": [bin]}),
    );
    // On a terminal that would answer a "Passphrase for" prompt.
    let (code, prompts, out) = common::Pty::new(
        env.path(),
        &["install", "--manifest", m.to_str().unwrap(), "--dry-run"],
    )
    .run();
    assert_eq!(prompts, 0, "the installer asked on the terminal:\n{out}");
    assert_eq!(
        std::fs::read_to_string(&reply).unwrap_or_default(),
        "-> fail",
        "{out}"
    );
    assert_eq!(code, 1, "{out}");
}
