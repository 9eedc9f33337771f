//! The lock file and the rules directory's write guard: a broken lock is never overwritten,
//! and what another writer does while a rekey runs (a lock entry, a rewritten file) survives.

use super::*;

#[test]
fn a_broken_lock_file_is_never_overwritten() {
    let f = fleet_a_alice_dave_b_dave();
    // A merge left conflict markers in the lock.
    let lock = f.path().join("secrets.lock.json");
    let broken = format!(
        "<<<<<<< ours\n{}=======\n",
        std::fs::read_to_string(&lock).unwrap()
    );
    std::fs::write(&lock, &broken).unwrap();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let out = f
        .repo
        .cmd()
        .args(["rekey", "a.age", "-i"])
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("left unchanged"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), broken);
}

/// rekey changes the lock file under the rules directory's write guard (an flock) and re-reads
/// it there: an entry another process recorded while the rekey ran (here: written while the
/// test holds the flock, after the rekey staged its file) is kept, and the rekey's own entries
/// land.
#[test]
fn rekey_keeps_lock_entries_recorded_meanwhile() {
    let f = fleet_a_alice_dave_b_dave();
    let lock_path = f.path().join("secrets.lock.json");
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let (guard, child) = rekey_a_waiting_for_the_guard(&f);
    // Another process records an entry meanwhile (as `secrets edit` would, under the flock).
    let mut during = before.clone();
    during["files"]["other.age"] = before["files"]["b.age"].clone();
    std::fs::write(&lock_path, serde_json::to_string_pretty(&during).unwrap()).unwrap();
    drop(guard);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    assert_eq!(
        after["files"]["other.age"], during["files"]["other.age"],
        "the entry recorded during the rekey was dropped: {after}"
    );
    assert_ne!(
        after["files"]["a.age"], before["files"]["a.age"],
        "the rekey's own entry is missing: {after}"
    );
    assert_eq!(after["files"]["b.age"], before["files"]["b.age"]);
}

/// a.age to alice and dave, b.age to dave, both written by `secrets` (so both have lock
/// entries).
fn fleet_a_alice_dave_b_dave() -> Fleet {
    let f = Fleet::new();
    f.rules(&[
        ("a.age", &["alice", "dave"], false),
        ("b.age", &["dave"], false),
    ]);
    f.secrets_encrypt("a.age");
    f.secrets_encrypt("b.age");
    f
}

/// A file written by someone else after rekey read it (here while the test holds the rules
/// directory's write guard, after rekey staged its replacement) is not overwritten: rekey
/// reports it, leaves the other writer's bytes and removes its staged file.
#[test]
fn rekey_never_overwrites_a_file_changed_meanwhile() {
    let f = fleet_a_alice_dave_b_dave();
    f.rules(&[("a.age", &["alice"], false), ("b.age", &["dave"], false)]);
    let (guard, child) = rekey_a_waiting_for_the_guard(&f);
    // Another writer replaces a.age (any bytes will do: they must survive).
    let theirs = b"written by someone else meanwhile".to_vec();
    std::fs::write(f.path().join("a.age"), &theirs).unwrap();
    drop(guard);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a.age: the file changed while it was being rekeyed"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(f.path().join("a.age")).unwrap(), theirs);
    assert!(!a_is_staged(&f), "the staged replacement was left behind");
}

/// rekey's staged replacement of a.age exists (it is written before the commit).
fn a_is_staged(f: &Fleet) -> bool {
    std::fs::read_dir(f.path()).unwrap().any(|e| {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        n.starts_with(".a.age.") && n.ends_with(".tmp")
    })
}

/// Take the rules directory's flock, start `secrets rekey a.age` and return once it has staged
/// its new a.age: it is then waiting for the flock (released by dropping the returned file).
fn rekey_a_waiting_for_the_guard(f: &Fleet) -> (std::fs::File, std::process::Child) {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(f.path()).unwrap();
    // SAFETY: flock on a descriptor we own; closing it releases the lock.
    assert_eq!(unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) }, 0);
    let child = common::command(common::bin())
        .current_dir(f.path())
        .env("HOME", f.path())
        .args(["rekey", "a.age", "-i"])
        .arg(key("alice_ed25519"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !a_is_staged(f) {
        assert!(t.elapsed().as_secs() < 60, "rekey never staged a.age");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (dir, child)
}
