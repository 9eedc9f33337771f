//! Generations: the atomic switch, pruning, and keeping the previous generation when a
//! secret is bad, the disk is full, the installer is killed, or `--check` only validates.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common;
use crate::install_support::{assert_not_leaked, assert_ok, in_private_ns, mode, owner, text, Env};
use crate::mount_line;

#[test]
fn generations_pruning_and_atomic_swap() {
    if !in_private_ns("generations::generations_pruning_and_atomic_swap") {
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
    if !in_private_ns("generations::corrupted_secret_keeps_previous_value") {
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
    if !in_private_ns("generations::fail_closed_aborts_before_switch") {
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
fn enospc_on_tiny_tmpfs_keeps_previous_generation() {
    if !in_private_ns("generations::enospc_on_tiny_tmpfs_keeps_previous_generation") {
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
    // did not mount is refused otherwise: see tests/install_isolation/mount_point.rs).
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
fn check_validates_without_writing() {
    if !in_private_ns("generations::check_validates_without_writing") {
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

/// kill -9 at random moments; the stable symlink must always name a complete generation.
#[test]
fn crash_kill9_never_leaves_partial_generation() {
    if !in_private_ns("generations::crash_kill9_never_leaves_partial_generation") {
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

#[test]
fn empty_manifest_is_a_no_op_then_removes_the_last_secret() {
    if !in_private_ns("generations::empty_manifest_is_a_no_op_then_removes_the_last_secret") {
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

/// A plain secret is decrypted straight into its file, chunk by chunk: a file damaged in its
/// last chunk fails after earlier chunks were written, and the item still keeps its previous
/// value (the partly written file is removed); an intact multi-chunk value installs whole, and
/// the streamed comparison with the previous file tells a changed value from the same one.
#[test]
fn streamed_secret_damaged_past_its_first_chunk_keeps_previous_value() {
    if !in_private_ns(
        "generations::streamed_secret_damaged_past_its_first_chunk_keeps_previous_value",
    ) {
        return;
    }
    let env = Env::new();
    let value = |tag: u8| -> Vec<u8> { (0..300_000u32).map(|i| (i % 251) as u8 ^ tag).collect() };
    let one = value(1);
    let m1 = env.manifest(
        json!({"big": {"file": env.encrypt("big", &one)}}),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    assert_eq!(std::fs::read(env.stable().join("big")).unwrap(), one);

    let item = |o: &std::process::Output| -> serde_json::Value {
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        j["items"].as_array().unwrap()[0].clone()
    };
    // The same value again: unchanged, though encrypted anew.
    let m = env.manifest(
        json!({"big": {"file": env.encrypt("big", &one)}}),
        json!({}),
    );
    let o = env.install(&m, &["--json"]);
    assert_ok(&o);
    assert_eq!(item(&o)["change"], "unchanged", "{}", text(&o));
    // One byte differs in the last chunk: modified.
    let mut two = one.clone();
    two[299_999] ^= 0xff;
    let m = env.manifest(
        json!({"big": {"file": env.encrypt("big", &two)}}),
        json!({}),
    );
    let o = env.install(&m, &["--json"]);
    assert_ok(&o);
    assert_eq!(item(&o)["change"], "modified", "{}", text(&o));
    assert_eq!(std::fs::read(env.stable().join("big")).unwrap(), two);

    // Damaged in the last of its five chunks: four were written before the error.
    let p = env.encrypt("big", &value(3));
    let mut data = std::fs::read(&p).unwrap();
    let n = data.len();
    data[n - 1] ^= 1;
    std::fs::write(&p, data).unwrap();
    let m = env.manifest(json!({"big": {"file": p}}), json!({}));
    let o = env.install(&m, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secret big:")
            && err.contains("the encrypted payload is damaged")
            && err.contains("keeping the previous value"),
        "{err}"
    );
    assert_eq!(item(&o)["status"], "carried-over");
    assert_eq!(std::fs::read(env.stable().join("big")).unwrap(), two);
}
