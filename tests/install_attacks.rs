//! `secrets install` against another, unprivileged user who may write to a custom path's
//! directory, and against files there (or at an identity path) that are not what they seem: a
//! hard link renamed over the temporary symlink while the installer chowns it, a FIFO, a huge
//! sparse file, /dev/zero. Each test runs as root in a private mount namespace (see
//! install_support); the attacker is uid 65534 (`nobody`), a re-run of this test binary under
//! `setpriv`.
// Linux only: unshare, setpriv, inotify, /proc.
#![cfg(target_os = "linux")]

mod common;
mod install_support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use install_support::{in_private_ns, Env};
use serde_json::json;

/// The attacker: `nobody`, who owns the application directory the custom path is in.
const NOBODY: u32 = 65534;

/// Environment variables that turn this test binary into the attacker (see `attacker`).
const ATTACK_DIR: &str = "SECRETS_TEST_ATTACK_DIR";
const ATTACK_VICTIM: &str = "SECRETS_TEST_ATTACK_VICTIM";
const ATTACK_PREFIX: &str = "SECRETS_TEST_ATTACK_PREFIX";

/// A finished (or stopped) installer run.
struct Run {
    /// None: killed at the deadline or over the memory cap (see `why`).
    code: Option<i32>,
    why: Option<String>,
    out: String,
    peak_rss_kib: i64,
    took: Duration,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit {:?} {} after {:?}, peak RSS {} KiB\n{}",
            self.code,
            self.why.as_deref().unwrap_or(""),
            self.took,
            self.peak_rss_kib,
            self.out
        )
    }
}

/// Memory above which a run is stopped: a secret installer reading a few small files never
/// comes near it, one reading /dev/zero or an 8 GiB file to its end passes it within a second.
const RSS_CAP_KIB: i64 = 512 * 1024;

/// Run `secrets install --manifest m` with a deadline and a memory cap, so an installer that
/// blocks on a FIFO or reads without end fails the test instead of hanging it or exhausting
/// the machine's memory.
fn install_bounded(env: &Env, m: &Path, deadline: Duration) -> Run {
    let log = |n: &str| std::fs::File::create(env.path().join(n)).unwrap();
    let start = Instant::now();
    // Reaped below with wait4, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = common::command(common::bin())
        .arg("install")
        .arg("--manifest")
        .arg(m)
        .env_remove("NIXOS_ACTION")
        .stdin(Stdio::null())
        .stdout(log("run.out"))
        .stderr(log("run.err"))
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut why = None;
    let (code, peak) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child; valid out-parameters.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            if code.is_none() && why.is_none() {
                why = Some(format!("(killed by signal {})", libc::WTERMSIG(status)));
            }
            break (code, ru.ru_maxrss);
        }
        assert_eq!(r, 0, "wait4: {}", std::io::Error::last_os_error());
        let rss = vm_rss_kib(pid);
        if why.is_none() && start.elapsed() > deadline {
            why = Some(format!("(did not finish within {deadline:?}: killed)"));
            let _ = child.kill();
        } else if why.is_none() && rss > RSS_CAP_KIB {
            why = Some(format!("(memory grew past {RSS_CAP_KIB} KiB: killed)"));
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |n: &str| std::fs::read_to_string(env.path().join(n)).unwrap_or_default();
    Run {
        code: if why.is_some() { None } else { code },
        why,
        out: format!("stdout:\n{}\nstderr:\n{}", read("run.out"), read("run.err")),
        peak_rss_kib: peak,
        took: start.elapsed(),
    }
}

fn vm_rss_kib(pid: libc::pid_t) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The scratch layout made reachable for `nobody` (Env's temp dir is 0700), with a
/// directory `app` owned by nobody, as a service's state directory would be.
fn env_with_app_dir() -> (Env, PathBuf) {
    let env = Env::new();
    std::fs::set_permissions(env.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let app = env.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::os::unix::fs::chown(&app, Some(NOBODY), Some(NOBODY)).unwrap();
    (env, app)
}

/// Start `nobody` running `attacker` against `dir`; returns once its inotify watch is set.
fn start_attacker(dir: &Path, victim: &Path, prefix: &str) -> Child {
    let ready = dir.join(".attacker-ready");
    let child = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(std::env::current_exe().unwrap())
        .args([
            "attacker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ATTACK_DIR, dir)
        .env(ATTACK_VICTIM, victim)
        .env(ATTACK_PREFIX, prefix)
        .env_remove("SECRETS_TEST_IN_PRIVATE_NS")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the attacker did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// Not a test on its own (hence ignored, so that it does not count as a pass): the attacker's
/// side of `hard_link_race_never_chowns_another_file`, which runs it as `nobody` with
/// `--ignored`. Whenever a name with the installer's temp prefix appears in the directory, a
/// hard link to the victim (made ahead of time, so that only one rename is left to do) is
/// renamed over it.
#[test]
#[ignore = "the attacker side of hard_link_race_never_chowns_another_file, run by it"]
fn attacker() {
    let (Some(dir), Some(victim), Some(prefix)) = (
        std::env::var_os(ATTACK_DIR),
        std::env::var_os(ATTACK_VICTIM),
        std::env::var_os(ATTACK_PREFIX),
    ) else {
        panic!("run by hard_link_race_never_chowns_another_file, which sets {ATTACK_DIR}");
    };
    let dir = PathBuf::from(dir);
    // SAFETY: plain syscall.
    let ino = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(ino >= 0);
    let cdir = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid descriptor and path.
    let wd = unsafe { libc::inotify_add_watch(ino, cdir.as_ptr(), libc::IN_CREATE) };
    assert!(
        wd >= 0,
        "inotify_add_watch: {}",
        std::io::Error::last_os_error()
    );
    let mut n = 0u64;
    let mut spare = || {
        n += 1;
        let p = dir.join(format!(".spare-{n}"));
        std::fs::hard_link(&victim, &p).expect("hard link to the victim");
        CString::new(p.as_os_str().as_bytes()).unwrap()
    };
    let mut ready = spare();
    std::fs::write(dir.join(".attacker-ready"), b"").unwrap();
    let mut buf = vec![0u64; 8192];
    loop {
        // SAFETY: buf is writable for its size in bytes.
        let len = unsafe { libc::read(ino, buf.as_mut_ptr().cast(), buf.len() * 8) };
        if len <= 0 {
            continue;
        }
        // SAFETY: the kernel wrote `len` bytes of events.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len as usize) };
        let mut at = 0;
        while at + 16 <= bytes.len() {
            let name_len = u32::from_ne_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
            let name = &bytes[at + 16..at + 16 + name_len];
            at += 16 + name_len;
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name.starts_with(prefix.as_bytes()) {
                let mut target = dir.as_os_str().as_bytes().to_vec();
                target.push(b'/');
                target.extend_from_slice(name);
                let target = CString::new(target).unwrap();
                // SAFETY: valid NUL-terminated paths.
                if unsafe { libc::rename(ready.as_ptr(), target.as_ptr()) } == 0 {
                    ready = spare();
                }
            }
        }
    }
}

/// Issue finding 2: root chowns the temporary symlink it made at a custom path; `nobody`, who
/// may write to that directory, races it by renaming a hard link to a victim file over the
/// temporary name the moment it appears (inotify). The victim must never change owner.
///
/// With fs.protected_hardlinks=1 (this machine's setting, left alone: it is global) the
/// attacker may hard-link only files it may read and write, so the victim is a root-owned
/// 0666 file; with protected_hardlinks=0 it could be any file on the filesystem (/etc/shadow).
/// The secret's owner is the attacker itself, so winning would hand it a root-owned file.
#[test]
fn hard_link_race_never_chowns_another_file() {
    if !in_private_ns("hard_link_race_never_chowns_another_file") || common::missing("setpriv") {
        return;
    }
    let rounds: usize = std::env::var("SECRETS_TEST_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RACE_ROUNDS);
    let (env, app) = env_with_app_dir();
    let victim = env.path().join("victim");
    std::fs::write(&victim, b"root's file").unwrap();
    std::fs::set_permissions(&victim, PermissionsExt::from_mode(0o666)).unwrap();
    let m = env.manifest(
        json!({"key": {"file": env.encrypt("key", b"key-val"), "path": app.join("key"),
                       "owner": NOBODY.to_string(), "group": NOBODY.to_string()}}),
        json!({}),
    );
    let mut attacker = start_attacker(&app, &victim, ".key.link-");
    let (mut caught, mut done) = (0, 0);
    let mut result = Ok(());
    for round in 1..=rounds {
        done = round;
        let r = install_bounded(&env, &m, Duration::from_secs(60));
        if r.code.is_none() {
            result = Err(format!("round {round}: {}", r.describe()));
            break;
        }
        if r.out.contains("replaced by something else") {
            caught += 1;
        }
        let v = std::fs::metadata(&victim).unwrap();
        if (v.uid(), v.gid()) != (0, 0) {
            result = Err(format!(
                "round {round}: the victim is now owned by {}:{}\n{}",
                v.uid(),
                v.gid(),
                r.describe()
            ));
            break;
        }
    }
    let _ = attacker.kill();
    let _ = attacker.wait();
    eprintln!(
        "{done} of {rounds} rounds; the installer noticed a swapped temporary link in {caught}"
    );
    result.unwrap();
    // Evidence that the attack ran: the attacker won the race window in some rounds (about a
    // third of them here) and the installer refused the swapped link.
    if caught == 0 {
        common::skip("the attacker never won the race, so this run proved nothing");
    }
}

/// Installs per race test. Measured against the unfixed installer on a 2-core machine: the
/// victim was chowned in all 17 trials, in round 2 to 36 (median 10); this is 8 times the
/// worst. Against the fixed one the attacker wins the window in about a third of the rounds.
const RACE_ROUNDS: usize = 300;

/// Leftover temp names in a sticky, world-writable directory that belong to someone else are
/// not ours to clean up: root removes only its own (owned by it, or by the secret's owner to
/// whom it may already have been given; a symlink or regular file with one link).
#[test]
fn stale_temp_cleanup_spares_other_users_files() {
    if !in_private_ns("stale_temp_cleanup_spares_other_users_files") {
        return;
    }
    let (env, _) = env_with_app_dir();
    let shared = env.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, PermissionsExt::from_mode(0o1777)).unwrap();
    let theirs = [
        ".key.link-1-0000000000000000",
        ".key.copy-1-0000000000000000",
    ];
    for n in theirs {
        std::fs::write(shared.join(n), b"nobody's").unwrap();
        std::os::unix::fs::lchown(shared.join(n), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    // A stale temp link of ours, as a killed run leaves it: removed.
    let ours = shared.join(".key.link-2-0000000000000000");
    std::os::unix::fs::symlink("/nowhere", &ours).unwrap();
    let m = env.manifest(
        json!({"key": {"file": env.encrypt("key", b"key-val"), "path": shared.join("key")}}),
        json!({}),
    );
    let r = install_bounded(&env, &m, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.describe());
    for n in theirs {
        assert_eq!(
            std::fs::read(shared.join(n)).ok().as_deref(),
            Some(&b"nobody's"[..]),
            "{n} was removed\n{}",
            r.describe()
        );
    }
    assert!(
        std::fs::symlink_metadata(&ours).is_err(),
        "{}",
        r.describe()
    );

    // Once the secret is given to 65534 ("owner"), a temp of its name owned by 65534 may be
    // one we made and chowned to them before being killed: it is removed like ours, and so
    // are the files above, which are now indistinguishable from such a temp. A third user's
    // is kept, and so is the owner's file with a second name (a temp of ours never has one).
    let third = shared.join(".key.copy-3-0000000000000000");
    std::fs::write(&third, b"65533's").unwrap();
    std::os::unix::fs::lchown(&third, Some(65533), Some(65533)).unwrap();
    let linked = shared.join(".key.link-4-0000000000000000");
    std::fs::write(&linked, b"nobody's, linked").unwrap();
    std::os::unix::fs::lchown(&linked, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::hard_link(&linked, shared.join("other-name")).unwrap();
    let m = env.manifest(
        json!({"key": {"file": env.encrypt("key", b"key-val"), "path": shared.join("key"),
                       "owner": NOBODY.to_string()}}),
        json!({}),
    );
    let r = install_bounded(&env, &m, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.describe());
    for n in theirs {
        assert!(
            std::fs::symlink_metadata(shared.join(n)).is_err(),
            "{n} (the owner's) was kept\n{}",
            r.describe()
        );
    }
    assert_eq!(
        std::fs::read(&third).unwrap(),
        b"65533's",
        "{}",
        r.describe()
    );
    assert_eq!(
        std::fs::read(&linked).unwrap(),
        b"nobody's, linked",
        "{}",
        r.describe()
    );
}

/// Issue finding 4: a FIFO at a copy destination. Installing over it replaces it; removing
/// the secret afterwards (which reads the file there to see whether it is still our copy) must
/// not open it blocking: the run finishes promptly and leaves the FIFO alone.
#[test]
fn fifo_at_copy_destination_does_not_hang() {
    if !in_private_ns("fifo_at_copy_destination_does_not_hang") {
        return;
    }
    let (env, app) = env_with_app_dir();
    let dest = app.join("copy");
    let copy = json!({"copy": {"file": env.encrypt("copy", b"copy-val"), "path": &dest,
                               "symlink": false}});
    // (One manifest file: each `manifest` call rewrites it.)
    let with = env.manifest(copy.clone(), json!({}));
    let r = install_bounded(&env, &with, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.describe());
    std::fs::remove_file(&dest).unwrap();
    common::mkfifo(&dest);
    let without = env.manifest(json!({}), json!({}));
    let r = install_bounded(&env, &without, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert!(is_fifo(&dest), "the FIFO (not our copy) was removed");
    // Installing the copy again replaces the FIFO, also without opening it.
    let with = env.manifest(copy, json!({}));
    let r = install_bounded(&env, &with, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert!(!is_fifo(&dest), "{}", r.describe());
    assert_eq!(std::fs::read(&dest).unwrap(), b"copy-val");
}

/// Issue finding 4: an 8 GiB sparse file put at a copy destination is not read to see whether
/// it is still our copy (its size alone says it is not): the run stays small and leaves it.
#[test]
fn huge_file_at_copy_destination_is_not_read() {
    if !in_private_ns("huge_file_at_copy_destination_is_not_read") {
        return;
    }
    let (env, app) = env_with_app_dir();
    let dest = app.join("copy");
    let copy = json!({"copy": {"file": env.encrypt("copy", b"copy-val"), "path": &dest,
                               "symlink": false}});
    let r = install_bounded(
        &env,
        &env.manifest(copy, json!({})),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.describe());
    std::fs::remove_file(&dest).unwrap();
    let f = std::fs::File::create(&dest).unwrap();
    f.set_len(8 << 30).unwrap();
    drop(f);
    let r = install_bounded(
        &env,
        &env.manifest(json!({}), json!({})),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert!(r.peak_rss_kib < 128 * 1024, "{}", r.describe());
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 8 << 30);
}

/// Issue finding 4 for identity paths: a FIFO, /dev/zero and a symlink to /dev/zero among the
/// identity paths are skipped with a warning naming them (not waited on, not read without
/// end), and the usable key still decrypts.
#[test]
fn fifo_and_dev_zero_identity_paths_are_skipped() {
    if !in_private_ns("fifo_and_dev_zero_identity_paths_are_skipped") {
        return;
    }
    let env = Env::new();
    let fifo = env.path().join("fifo-key");
    common::mkfifo(&fifo);
    let zero_link = env.path().join("zero-key");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
    let secrets = json!({"s": {"file": env.encrypt("s", b"s-val")}});
    for bad in [PathBuf::from("/dev/zero"), zero_link, fifo] {
        let ids = json!({"identityPaths": [&bad, env.host_key()]});
        let r = install_bounded(
            &env,
            &env.manifest(secrets.clone(), ids),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{}: {}", bad.display(), r.describe());
        assert!(
            r.out
                .contains(&format!("skipping identity {}", bad.display()))
                && r.out.contains("not a regular file"),
            "{}",
            r.describe()
        );
        assert!(r.peak_rss_kib < 128 * 1024, "{}", r.describe());
        assert_eq!(std::fs::read(env.stable().join("s")).unwrap(), b"s-val");
    }
}

fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}
