//! Two installers at once, and the install lock itself: owned by another user, open to
//! others, or a custom path placed on it.

use super::*;

/// How many rounds of two simultaneous first installs.
const RACE_ROUNDS: usize = 100;
/// Mounts made beside the test's (see below).
const MOUNT_PADDING: usize = 1000;

#[test]
fn concurrent_first_installs_mount_once_and_number_in_turn() {
    if !in_private_ns("lock::concurrent_first_installs_mount_once_and_number_in_turn") {
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

/// The install lock must be root's and closed to others: one that is not (somebody made it
/// first, or it was loosened) is refused before anything is mounted, with the fix.
#[test]
fn install_lock_of_another_user_or_open_to_others_is_refused() {
    if !in_private_ns("lock::install_lock_of_another_user_or_open_to_others_is_refused") {
        return;
    }
    let env = Env::new();
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-value")}}),
        json!({}),
    );
    let lock = env.path().join("run/.agenix.d.lock");
    std::fs::create_dir_all(env.path().join("run")).unwrap();
    for (uid, m_lock, says) in [
        (0, 0o644, "uid 0 and mode 644"),
        (65534, 0o600, "uid 65534"),
    ] {
        std::fs::write(&lock, b"").unwrap();
        std::os::unix::fs::chown(&lock, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(m_lock)).unwrap();
        let o = env.install(&m, &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        for want in [
            &format!("{} is not the installer's lock file", lock.display())[..],
            says,
            "Remove it and run again",
        ] {
            assert!(err.contains(want), "{want:?} missing from: {err}");
        }
        assert!(mounts_at(&env.mp()).is_empty());
        assert!(std::fs::symlink_metadata(env.stable()).is_err());
        std::fs::remove_file(&lock).unwrap();
    }
    // What the error says to do works.
    assert_ok(&env.install(&m, &[]));
}

/// Review finding C: a custom path that is the install lock (`<parent>/.<name>.lock` of the
/// mount point) would replace it with a file of the secret's owner, and every later install
/// would refuse to run. Refused when the manifest is checked.
#[test]
fn custom_path_at_the_install_lock_is_refused() {
    let env = Env::new();
    let lock = env.path().join("run/.agenix.d.lock");
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-value"), "path": lock, "symlink": false}}),
        json!({}),
    );
    let o = env.install(&m, &["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        &format!("secret \"a\": path {} is the install lock", lock.display())[..],
        "Choose another path",
    ] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }
}
