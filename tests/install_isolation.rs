//! `secrets install` against the people it installs for (security findings 5–8): a secret's
//! owner filling space, an old owner reading a retained generation, two installers at once,
//! a symlink above the mount point, and a tmpfs somebody else mounted there. Every attack is
//! carried out for real: root in a private mount namespace (see install_support), the
//! unprivileged side as uid 65534 through setpriv.
// Linux only: unshare, mount(8), setpriv and /proc/self/mountinfo.
#![cfg(target_os = "linux")]

mod common;
mod install_support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use common::full_snapshot;
use install_support::{assert_ok, in_private_ns, mode, mounts_at, text, Env};
use serde_json::json;

const NOBODY: &str = "65534";

/// Run `script` with sh as uid/gid 65534 and no supplementary groups.
fn as_nobody(script: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg(script)
        .output()
        .unwrap()
}

/// The test's private directory is root 0700; uid 65534 must be able to get to the secrets.
fn open_to_others(env: &Env) {
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}

#[test]
fn owner_filling_their_secret_does_not_block_the_next_install() {
    if !in_private_ns("owner_filling_their_secret_does_not_block_the_next_install")
        || common::missing("setpriv")
    {
        return;
    }
    let env = Env::new();
    open_to_others(&env);
    let m1 = env.manifest(
        json!({
            "mine": {"file": env.encrypt("mine", b"nobody-value"), "owner": NOBODY},
            "db": {"file": env.encrypt("db", b"db-one")},
        }),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    // The generation holding the secret is a tmpfs of its own, sealed to what it holds: the
    // owner's writes below are real and must stop at ENOSPC (64 MiB written would
    // mean no limit, as when every generation shared the mount point's tmpfs).
    let mine = env.stable().join("mine");
    let fill = as_nobody(&format!(
        "chmod u+w {0} && dd if=/dev/zero of={0} bs=64k count=1024 oflag=append conv=notrunc",
        mine.display()
    ));
    let err = String::from_utf8_lossy(&fill.stderr);
    assert!(
        err.contains("No space left on device"),
        "the owner's fill did not run into a limit:\n{}",
        text(&fill)
    );

    // Another secret's rotation (and a new one) still installs.
    let m2 = env.manifest(
        json!({
            "mine": {"file": env.encrypt("mine", b"nobody-value"), "owner": NOBODY},
            "db": {"file": env.encrypt("db2", b"db-two")},
            "api": {"file": env.encrypt("api", b"api-one")},
        }),
        json!({}),
    );
    let o = env.install(&m2, &[]);
    assert_ok(&o);
    assert_eq!(std::fs::read(env.stable().join("db")).unwrap(), b"db-two");
    assert_eq!(std::fs::read(env.stable().join("api")).unwrap(), b"api-one");
    // The new generation is closed again: the owner cannot grow it either.
    let again = as_nobody(&format!(
        "chmod u+w {0} && dd if=/dev/zero of={0} bs=64k count=16 oflag=append conv=notrunc",
        mine.display()
    ));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("No space left on device"),
        "{}",
        text(&again)
    );
}

#[test]
fn retained_generation_is_closed_to_the_previous_owner() {
    if !in_private_ns("retained_generation_is_closed_to_the_previous_owner")
        || common::missing("setpriv")
    {
        return;
    }
    let env = Env::new();
    open_to_others(&env);
    // neededForUsers secrets are root's: that one is readable by all, then root-only.
    let secrets = |owner: &str, with_gone: bool| {
        let pw_mode = if owner == NOBODY { "0444" } else { "0400" };
        let mut s = json!({
            "moved": {"file": env.encrypt("moved", b"moved-value"), "owner": owner},
            "pw": {"file": env.encrypt("pw", b"pw-value"), "mode": pw_mode,
                   "neededForUsers": true},
        });
        if with_gone {
            s["gone"] = json!({"file": env.encrypt("gone", b"gone-value"), "owner": NOBODY});
        }
        s
    };
    let m1 = env.manifest(secrets(NOBODY, true), json!({"keepGenerations": 2}));
    assert_ok(&env.install(&m1, &[]));
    let old = env.mp().join("1");
    let old_users = env.mp().join("users.1");
    // Before: the owner reads their secrets (the test can tell a refusal from a mistake).
    for p in [old.join("moved"), old.join("gone"), old_users.join("pw")] {
        let o = as_nobody(&format!("cat {}", p.display()));
        assert!(o.status.success(), "{}: {}", p.display(), text(&o));
    }

    // Owner changed to root (and pw made root-only), one secret removed; one older
    // generation of each phase kept.
    let m2 = env.manifest(secrets("root", false), json!({"keepGenerations": 2}));
    assert_ok(&env.install(&m2, &[]));
    assert!(old.is_dir() && old_users.is_dir(), "{:?}", env.gens());
    for p in [old.join("moved"), old.join("gone"), old_users.join("pw")] {
        let o = as_nobody(&format!("cat {}", p.display()));
        assert!(
            !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
            "the previous owner still reads {}: {}",
            p.display(),
            text(&o)
        );
    }
    for g in [&old, &old_users] {
        assert_eq!(mode(g), 0o700, "{}", g.display());
        assert_eq!(install_support::owner(g), (0, 0), "{}", g.display());
    }
    // The current generations are open as before.
    assert_eq!(mode(&env.mp().join("2")), 0o751);
    assert_eq!(mode(&env.mp().join("users.2")), 0o751);
}

/// How many rounds of two simultaneous first installs.
const RACE_ROUNDS: usize = 100;
/// Mounts made beside the test's (see below).
const MOUNT_PADDING: usize = 1000;

#[test]
fn concurrent_first_installs_mount_once_and_number_in_turn() {
    if !in_private_ns("concurrent_first_installs_mount_once_and_number_in_turn") {
        return;
    }
    // Many mounts, as on a host running containers: reading /proc/self/mountinfo (which an
    // installer does between finding nothing mounted and mounting) takes a while, so the
    // rounds meet the race on an unfixed installer whatever the machine's load.
    let pad = tempfile::Builder::new()
        .prefix("secrets-pad")
        .tempdir()
        .unwrap();
    sh(&format!(
        "for i in $(seq {MOUNT_PADDING}); do mkdir {0}/$i && mount -t tmpfs -o size=4k pad {0}/$i; done",
        pad.path().display()
    ));
    let mut bad = Vec::new();
    for round in 0..RACE_ROUNDS {
        let env = Env::new();
        let m = env.manifest(
            json!({
                "a": {"file": env.encrypt("a", b"a-value")},
                "b": {"file": env.encrypt("b", b"b-value")},
            }),
            json!({"keepGenerations": 5}),
        );
        let spawn = || {
            Command::new(common::bin())
                .arg("install")
                .arg("--manifest")
                .arg(&m)
                .env_remove("NIXOS_ACTION")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (p1, p2) = (spawn(), spawn());
        let (o1, o2) = (
            p1.wait_with_output().unwrap(),
            p2.wait_with_output().unwrap(),
        );
        let mounts = mounts_at(&env.mp()).len();
        let gens = env.gens();
        let current = std::fs::read_link(env.stable()).unwrap_or_default();
        let fine = o1.status.success()
            && o2.status.success()
            && mounts == 1
            && gens == ["1", "2"]
            && current == env.mp().join("2")
            && std::fs::read(env.stable().join("a")).ok().as_deref() == Some(&b"a-value"[..])
            && current.join(".secrets-install.json").is_file();
        if !fine {
            bad.push(format!(
                "round {round}: {mounts} mount(s) at the mount point, generations {gens:?}, \
                 current {}\n{}\n{}",
                current.display(),
                String::from_utf8_lossy(&o1.stderr),
                String::from_utf8_lossy(&o2.stderr)
            ));
        }
    }
    sh(&format!("umount -l {}/*", pad.path().display()));
    assert!(
        bad.is_empty(),
        "{} of {RACE_ROUNDS} rounds went wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn symlink_above_the_mount_point_is_refused() {
    if !in_private_ns("symlink_above_the_mount_point_is_refused") {
        return;
    }
    let env = Env::new();
    let real = env.path().join("elsewhere");
    std::fs::create_dir(&real).unwrap();
    // run -> elsewhere: the mount point run/agenix.d would land in elsewhere/agenix.d.
    std::os::unix::fs::symlink(&real, env.path().join("run")).unwrap();
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-value")}}),
        json!({}),
    );
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let run = env.path().join("run");
    assert!(
        err.contains(&format!("{} is a symlink", run.display())),
        "the error names the symlink: {err}"
    );
    assert_eq!(
        std::fs::read_dir(&real).unwrap().count(),
        0,
        "something was created through the symlink"
    );
    assert!(mounts_at(&real.join("agenix.d")).is_empty());
}

#[test]
fn tmpfs_somebody_else_mounted_is_refused_and_left_alone() {
    if !in_private_ns("tmpfs_somebody_else_mounted_is_refused_and_left_alone") {
        return;
    }
    let env = Env::new();
    let mp = env.mp();
    std::fs::create_dir_all(&mp).unwrap();
    sh(&format!(
        "mount -t tmpfs -o mode=0755,size=1m tmpfs {}",
        mp.to_str().unwrap()
    ));
    for d in ["1", "2", "users.3"] {
        std::fs::create_dir(mp.join(d)).unwrap();
        std::fs::write(mp.join(d).join("data"), format!("kept {d}")).unwrap();
    }
    std::fs::write(mp.join("7"), b"a numbered file").unwrap();
    let before = full_snapshot(&mp);
    let m = env.manifest(
        json!({
            "a": {"file": env.encrypt("a", b"a-value")},
            "u": {"file": env.encrypt("u", b"u-value"), "neededForUsers": true},
        }),
        json!({"keepGenerations": 1}),
    );
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "that the installer did not mount",
        "umount",
        "\"filesystem\": \"none\"",
    ] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }
    assert_eq!(mode(&mp), 0o755, "re-permissioned");
    assert_eq!(full_snapshot(&mp), before, "entries changed");
    assert_eq!(mounts_at(&mp).len(), 1, "mounted over");
    assert!(std::fs::symlink_metadata(env.stable()).is_err());
}

/// A tmpfs mounted by a version that named its mounts "tmpfs" and kept its generations as
/// plain directories is still ours when a stable symlink names one of its generations: an
/// upgrade in the middle of a boot carries on.
#[test]
fn tmpfs_of_an_earlier_version_is_carried_on() {
    if !in_private_ns("tmpfs_of_an_earlier_version_is_carried_on") {
        return;
    }
    let env = Env::new();
    let mp = env.mp();
    std::fs::create_dir_all(&mp).unwrap();
    sh(&format!(
        "mount -t tmpfs -o mode=0751,noswap,nodev,nosuid,noexec tmpfs {}",
        mp.to_str().unwrap()
    ));
    // Generation 1 written the old way: a plain directory on that tmpfs.
    let secrets = |v: &[u8]| json!({"a": {"file": env.encrypt("a", v)}});
    let m = env.manifest(secrets(b"one"), json!({"filesystem": "none"}));
    assert_ok(&env.install(&m, &[]));
    let m = env.manifest(secrets(b"two"), json!({}));
    let o = env.install(&m, &["--json"]);
    assert_ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["mount"], "tmpfs (existing)");
    assert_eq!(env.gens(), ["2"]);
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"two");
    assert_eq!(mounts_at(&mp).len(), 1);
    // The new generation is a tmpfs of its own.
    assert_eq!(mounts_at(&mp.join("2")).len(), 1);
}

/// Since Linux 6.6 a tmpfs charges `user.*` extended attributes to its inode budget, not to
/// its size: a generation sealed by size alone let its owner pin memory (RAM/8 per
/// generation) with setxattr on their own file. Sealed by inodes too, it takes nothing.
#[test]
fn owner_cannot_pin_memory_with_xattrs_in_a_sealed_generation() {
    if !in_private_ns("owner_cannot_pin_memory_with_xattrs_in_a_sealed_generation")
        || common::missing("setpriv")
        || common::missing("python3")
    {
        return;
    }
    let env = Env::new();
    open_to_others(&env);
    let m = env.manifest(
        json!({"mine": {"file": env.encrypt("mine", b"nobody-value"), "owner": NOBODY}}),
        json!({}),
    );
    assert_ok(&env.install(&m, &[]));
    let mine = env.stable().join("mine");
    // Up to 64 MiB in 64 KiB values; stops at the first refusal (ENOSPC, or EOPNOTSUPP on
    // kernels whose tmpfs has no user xattrs) and prints how much was stored.
    let script = format!(
        "chmod u+w {0} && python3 -c '
import os, sys
n = 0
try:
    for i in range(1024):
        os.setxattr(sys.argv[1], \"user.x%d\" % i, b\"x\" * 65536)
        n += 65536
except OSError as e:
    print(\"stopped:\", e.strerror)
print(\"pinned\", n)
' {0}",
        mine.display()
    );
    let o = as_nobody(&script);
    let out = String::from_utf8_lossy(&o.stdout);
    let pinned: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("pinned "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count from the owner's script:\n{}", text(&o)));
    assert!(
        pinned < 1 << 20,
        "the owner stored {pinned} bytes of xattrs in a sealed generation:\n{}",
        text(&o)
    );
}
