//! What the owner of a secret, or a previous owner, can do to the generations: fill their
//! secret, read a retained generation, keep one open, plant the stable link, pin memory with
//! xattrs (security finding 5-6, review finding B).

use super::*;

#[test]
fn owner_filling_their_secret_does_not_block_the_next_install() {
    if !in_private_ns("generations::owner_filling_their_secret_does_not_block_the_next_install")
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
    if !in_private_ns("generations::retained_generation_is_closed_to_the_previous_owner")
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

/// Review finding B: a generation that stayed open because a run was killed between the
/// switch and closing off the previous generation (simulated here by reopening it as it was
/// while current) is closed by the next run, even one that aborts before its own switch.
#[test]
fn generation_left_open_is_closed_by_the_next_run() {
    if !in_private_ns("generations::generation_left_open_is_closed_by_the_next_run")
        || common::missing("setpriv")
    {
        return;
    }
    let env = Env::new();
    open_to_others(&env);
    let mine = |v: &[u8]| json!({"file": env.encrypt("mine", v), "owner": NOBODY});
    let keep = json!({"keepGenerations": 3});
    assert_ok(&env.install(
        &env.manifest(json!({"mine": mine(b"one")}), keep.clone()),
        &[],
    ));
    assert_ok(&env.install(
        &env.manifest(json!({"mine": mine(b"two")}), keep.clone()),
        &[],
    ));
    let old = env.mp().join("1");
    assert_eq!(mode(&old), 0o700);
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o751)).unwrap();
    let cat = || as_nobody(&format!("cat {}", old.join("mine").display()));
    assert!(cat().status.success(), "{}", text(&cat()));

    // The next run fails closed (a secret nobody can decrypt) and switches nothing.
    let bad = env.encrypt_to("bad", b"x", &[&common::pubkey("alice_ed25519")]);
    let m3 = env.manifest(
        json!({"mine": mine(b"three"), "bad": {"file": bad}}),
        keep.clone(),
    );
    let o = env.install(&m3, &["--fail-closed"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(env.current(), env.mp().join("2"));
    assert_eq!(mode(&old), 0o700, "{:?}", env.gens());
    assert_eq!(install_support::owner(&old), (0, 0));
    let o = cat();
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "the previous owner still reads the old generation: {}",
        text(&o)
    );
}

/// Review finding B: closing off the previous generation at the switch is part of the
/// install: when it fails (here: the old generation's tmpfs made immutable) the run says so
/// and exits 1 instead of warning and succeeding.
#[test]
fn failure_to_close_the_previous_generation_fails_the_run() {
    if !in_private_ns("generations::failure_to_close_the_previous_generation_fails_the_run")
        || (common::missing("chattr") && common::skip("chattr is not installed"))
    {
        return;
    }
    let env = Env::new();
    let keep = json!({"keepGenerations": 2});
    let a = |v: &[u8]| json!({"a": {"file": env.encrypt("a", v)}});
    assert_ok(&env.install(&env.manifest(a(b"one"), keep.clone()), &[]));
    let old = env.mp().join("1");
    sh(&format!("chattr +i {}", old.display()));
    let o = env.install(&env.manifest(a(b"two"), keep.clone()), &[]);
    sh(&format!("chattr -i {}", old.display()));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "cannot close off old generation {}",
            old.display()
        )),
        "{err}"
    );
    // The new generation is installed all the same.
    assert_eq!(env.current(), env.mp().join("2"));
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"two");
}

/// Review finding A, the stable link: its directory may be sticky and writable by all (like
/// /tmp, or a fresh tmpfs on /run), where anybody may make the link before the first install.
/// Taken for the current generation, its target's files would be carried over as the secrets
/// that fail to decrypt, with the attacker's owner. Refused instead.
#[test]
fn stable_link_somebody_else_made_is_not_taken_for_the_current_generation() {
    if !in_private_ns(
        "generations::stable_link_somebody_else_made_is_not_taken_for_the_current_generation",
    ) {
        return;
    }
    let env = Env::new();
    let run = env.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let evil = env.path().join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::write(evil.join("a"), b"attacker-value").unwrap();
    for p in [&evil, &evil.join("a")] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    std::os::unix::fs::symlink(&evil, env.stable()).unwrap();
    std::os::unix::fs::lchown(env.stable(), Some(65534), Some(65534)).unwrap();
    // A secret this host cannot decrypt: its previous value would be kept.
    let a = env.encrypt_to("a", b"x", &[&common::pubkey("alice_ed25519")]);
    let m = env.manifest(json!({"a": {"file": a}}), json!({}));
    let o = env.install(&m, &[]);
    let leaked = std::fs::read_dir(env.mp())
        .into_iter()
        .flatten()
        .flatten()
        .any(|g| std::fs::read(g.path().join("a")).is_ok_and(|v| v == b"attacker-value"));
    assert!(
        !leaked,
        "the attacker's file was installed as the secret:\n{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} is a symlink owned by uid 65534",
            env.stable().display()
        )),
        "{err}"
    );
}

/// Since Linux 6.6 a tmpfs charges `user.*` extended attributes to its inode budget, not to
/// its size: a generation sealed by size alone let its owner pin memory (RAM/8 per
/// generation) with setxattr on their own file. Sealed by inodes too, it takes nothing.
#[test]
fn owner_cannot_pin_memory_with_xattrs_in_a_sealed_generation() {
    if !in_private_ns("generations::owner_cannot_pin_memory_with_xattrs_in_a_sealed_generation")
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
