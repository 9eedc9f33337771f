//! Constant memory: a 256 MiB secret (made by the real `age`) through decrypt (stdout and -o),
//! check, rekey, encrypt (from stdin) and the installer (a plain secret, two generations), each
//! run as a child process whose peak RSS the kernel reports (wait4's ru_maxrss) and which must
//! stay within 64 MiB whatever the file's size. And nothing half-written: decrypt -o of a file
//! whose last chunk is damaged leaves no output file, and rekey of it leaves the file as it
//! was. Values held whole (edit's old and new value, a document given to encrypt) are bounded
//! by SECRETS_MAX_VALUE, with an error that says how to raise it.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// The bound of the issue: peak RSS of any streamed command, whatever the file size.
const MAX_RSS: u64 = 64 << 20;

/// Size of the big secret: four times the bound, so holding it whole could not pass.
const BIG: u64 = 256 << 20;

/// The plaintext: a block of a prime length repeated, so a misplaced chunk shows.
fn block() -> Vec<u8> {
    (0..65_521u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Check that `r` yields exactly `len` bytes of the pattern; returns how many it yielded.
fn check_pattern(mut r: impl Read, len: u64) -> u64 {
    let b = block();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, byte) in buf[..n].iter().enumerate() {
            let pos = at + i as u64;
            if *byte != b[(pos % b.len() as u64) as usize] {
                panic!("byte {pos} differs from the plaintext");
            }
        }
        at += n as u64;
    }
    assert!(at <= len, "{at} bytes where {len} were expected");
    at
}

/// Encrypt `len` bytes of the pattern to alice with the real `age`, streamed through a pipe.
fn age_encrypt(out: &Path, len: u64) {
    age_encrypt_to("alice_ed25519", out, len)
}

/// `age_encrypt` to the test key `key_name`.
fn age_encrypt_to(key_name: &str, out: &Path, len: u64) {
    let mut child = Command::new("age")
        .arg("-R")
        .arg(key(&format!("{key_name}.pub")))
        .arg("-o")
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    write_pattern(child.stdin.take().unwrap(), len);
    assert!(child.wait().unwrap().success());
}

/// The real `age` decrypts `file` with alice's key to exactly `len` bytes of the pattern.
fn assert_age_decrypts_to_pattern(file: &Path, len: u64) {
    let mut age = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key("alice_ed25519"))
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let n = check_pattern(age.stdout.take().unwrap(), len);
    assert!(age.wait().unwrap().success(), "age -d {}", file.display());
    assert_eq!(n, len);
}

/// Write `len` bytes of the pattern to `w`, stopping early if the reader is gone.
fn write_pattern(mut w: impl Write, len: u64) {
    let b = block();
    let mut left = len;
    while left > 0 {
        let n = left.min(b.len() as u64) as usize;
        if w.write_all(&b[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
}

/// Run `secrets ARGS` in `dir`, with stdout read by `on_stdout` while it runs; returns the
/// exit status, stderr and the child's peak RSS in bytes as the kernel counted it.
fn run_measured<T: Send + 'static>(
    dir: &Path,
    args: &[&str],
    on_stdout: impl FnOnce(std::process::ChildStdout) -> T + Send + 'static,
) -> (i32, String, u64, T) {
    run_measured_fed(dir, args, None, on_stdout)
}

/// `run_measured` with `stdin_len` bytes of the pattern on stdin (None: no stdin).
fn run_measured_fed<T: Send + 'static>(
    dir: &Path,
    args: &[&str],
    stdin_len: Option<u64>,
    on_stdout: impl FnOnce(std::process::ChildStdout) -> T + Send + 'static,
) -> (i32, String, u64, T) {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("RULES")
        .env_remove("SECRETS_IDENTITY");
    measure(cmd, stdin_len, on_stdout)
}

/// Run `cmd` as `run_measured_fed` does; the peak RSS is the largest of it and the children
/// it waited for.
// The child is reaped by wait4 (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure<T: Send + 'static>(
    mut cmd: Command,
    stdin_len: Option<u64>,
    on_stdout: impl FnOnce(std::process::ChildStdout) -> T + Send + 'static,
) -> (i32, String, u64, T) {
    let mut child = cmd
        .stdin(if stdin_len.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder = child.stdin.take().map(|w| {
        let len = stdin_len.unwrap_or(0);
        std::thread::spawn(move || write_pattern(w, len))
    });
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || on_stdout(stdout));
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, writing into the two locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    if let Some(f) = feeder {
        f.join().unwrap();
    }
    // Linux reports ru_maxrss in KiB.
    let rss = usage.ru_maxrss as u64 * 1024;
    (code, err.join().unwrap(), rss, out.join().unwrap())
}

fn discard(mut r: std::process::ChildStdout) -> u64 {
    std::io::copy(&mut r, &mut std::io::sink()).unwrap()
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
}

/// A child is forked from this process: the memory this process holds when it forks counts
/// into the child's peak (until the exec), so this process must stay small itself (it never
/// holds the big file), or every child would look big.
fn assert_test_process_small() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(
        kib * 1024 < MAX_RSS / 2,
        "the test process itself holds {}: the children's figures would include it",
        mib(kib * 1024)
    );
}

fn assert_small(what: &str, rss: u64) {
    assert_test_process_small();
    eprintln!("{what}: peak RSS {}", mib(rss));
    assert!(
        rss <= MAX_RSS,
        "{what}: peak RSS {} exceeds {} for a {} file",
        mib(rss),
        mib(MAX_RSS),
        mib(BIG)
    );
}

fn repo_with(file: &str) -> Repo {
    let repo = Repo::new();
    repo.json_rules(&format!(r#"{{"{file}": {{"publicKeys": ["alice"]}}}}"#));
    repo
}

/// Files in `dir` besides `keep` (a temp file left behind would show here).
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

#[test]
fn big_file_in_constant_memory() {
    if missing("age") {
        return;
    }
    let repo = repo_with("big.age");
    let dir = repo.path();
    age_encrypt(&dir.join("big.age"), BIG);
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();

    let (code, err, rss, n) = run_measured(dir, &["decrypt", "big.age", "-i", alice], |r| {
        check_pattern(r, BIG)
    });
    assert_eq!((code, n), (0, BIG), "decrypt to stdout: {err}");
    assert_small("decrypt to stdout", rss);

    let (code, err, rss, _) = run_measured(
        dir,
        &["decrypt", "big.age", "-i", alice, "-o", "out.txt"],
        discard,
    );
    assert_eq!(code, 0, "decrypt -o: {err}");
    assert_small("decrypt -o", rss);
    let f = std::fs::File::open(dir.join("out.txt")).unwrap();
    assert_eq!(check_pattern(f, BIG), BIG);
    std::fs::remove_file(dir.join("out.txt")).unwrap();

    let (code, err, rss, out) = run_measured(dir, &["check"], |mut r| {
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        s
    });
    assert_eq!(code, 0, "check: {out}{err}");
    assert!(out.contains("ok: 1 file(s) match the rules"), "{out}");
    assert_small("check", rss);

    let (code, err, rss, _) = run_measured(dir, &["rekey", "--force", "-i", alice], discard);
    assert_eq!(code, 0, "rekey: {err}");
    assert!(err.contains("rekeyed 1 file(s)"), "{err}");
    assert_small("rekey", rss);
    assert_eq!(
        others(dir, &["big.age", "secrets.json", "secrets.lock.json"]),
        Vec::<String>::new()
    );
    // A new encryption of the same plaintext, which `age` itself decrypts.
    assert_age_decrypts_to_pattern(&dir.join("big.age"), BIG);
}

/// `encrypt` from stdin streams too: a 256 MiB plaintext piped in, encrypted in constant memory,
/// which `age` decrypts to the same bytes. A structured document is held whole instead (to be
/// checked), so it is bounded by SECRETS_MAX_VALUE.
#[test]
fn encrypt_from_stdin_in_constant_memory() {
    if missing("age") {
        return;
    }
    // An X25519 recipient too, so the file gets a lock entry (its digest made from the stream).
    let repo = Repo::new();
    repo.json_rules(r#"{"new.age": {"publicKeys": ["alice", "dave"]}}"#);
    let dir = repo.path();
    let (code, err, rss, _) = run_measured_fed(dir, &["encrypt", "new.age"], Some(BIG), discard);
    assert_eq!(code, 0, "encrypt: {err}");
    assert_small("encrypt from stdin", rss);
    assert_eq!(
        others(dir, &["new.age", "secrets.json", "secrets.lock.json"]),
        Vec::<String>::new()
    );
    assert_age_decrypts_to_pattern(&dir.join("new.age"), BIG);
    // The lock entry matches the file's bytes: otherwise check calls the X25519 recipient
    // unverified and fails.
    let lock = std::fs::read_to_string(dir.join("secrets.lock.json")).unwrap();
    assert!(lock.contains("new.age"), "{lock}");
    repo.cmd().arg("check").assert().success();
}

/// The installation of a plain secret streams it into its file: a 256 MiB secret installed at
/// activation (as root, in a private mount namespace, onto the installer's own tmpfs), then
/// installed again as the next generation (compared with the previous one as a stream), within
/// the bound; the installed file holds the exact plaintext.
#[test]
fn install_of_a_big_secret_in_constant_memory() {
    if missing("age") || not_root() || missing("unshare") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = root.join("big.age");
    age_encrypt_to("web1_ed25519", &file, BIG);
    let manifest = manifest_value(
        root,
        &key("web1_ed25519"),
        serde_json::json!({ "big": { "file": file } }),
        serde_json::json!({}),
    );
    let m = root.join("manifest.json");
    std::fs::write(&m, manifest.to_string()).unwrap();
    // Both runs and the read-back in one private namespace: its mounts go with it.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(
            "\"$BIN\" install --manifest \"$M\" >&2; \"$BIN\" install --manifest \"$M\" >&2; \
             cat \"$R/run/agenix/big\"",
        )
        .env("BIN", bin())
        .env("M", &m)
        .env("R", root)
        .env_remove("NIXOS_ACTION");
    let (code, err, rss, n) = measure(cmd, None, |r| check_pattern(r, BIG));
    assert_eq!((code, n), (0, BIG), "install: {err}");
    assert_small("install twice (and cat)", rss);
}

/// A file of five chunks whose last chunk is damaged (one bit of its tag flipped).
fn damaged_repo() -> Option<(Repo, Vec<u8>)> {
    if missing("age") {
        return None;
    }
    let repo = repo_with("db.age");
    let p = repo.path().join("db.age");
    age_encrypt(&p, 4 * 65_536 + 1000);
    let mut data = std::fs::read(&p).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    std::fs::write(&p, &data).unwrap();
    Some((repo, data))
}

#[test]
fn decrypt_of_a_damaged_last_chunk_leaves_no_output_file() {
    let Some((repo, _)) = damaged_repo() else {
        return;
    };
    let alice = key("alice_ed25519");
    let out = repo
        .cmd()
        .args(["decrypt", "db.age", "-o", "out.txt", "-i"])
        .arg(&alice)
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("db.age") && err.contains("the encrypted payload is damaged"),
        "{err}"
    );
    assert_eq!(
        others(repo.path(), &["db.age", "secrets.json"]),
        Vec::<String>::new()
    );

    // An existing output file is left as it was.
    repo.write("out.txt", "before");
    repo.cmd()
        .args(["decrypt", "db.age", "-o", "out.txt", "-i"])
        .arg(&alice)
        .assert()
        .failure();
    assert_eq!(
        std::fs::read(repo.path().join("out.txt")).unwrap(),
        b"before"
    );

    // On stdout, like `age -d`: the chunks that authenticated before the damaged one were
    // written when the error comes (documented); the exit code says it failed.
    let out = repo
        .cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(&alice)
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("the encrypted payload is damaged"));
    assert_eq!(
        out.stdout.len(),
        4 * 65_536,
        "the four intact chunks, not the damaged one"
    );
    assert_eq!(check_pattern(&out.stdout[..], 4 * 65_536), 4 * 65_536);
}

#[test]
fn rekey_of_a_damaged_file_leaves_it_untouched() {
    let Some((repo, data)) = damaged_repo() else {
        return;
    };
    let out = repo
        .cmd()
        .args(["rekey", "--force", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 file(s) could not be rekeyed")
            && err.contains("db.age: the encrypted payload is damaged"),
        "{err}"
    );
    assert_eq!(std::fs::read(repo.path().join("db.age")).unwrap(), data);
    assert_eq!(
        others(repo.path(), &["db.age", "secrets.json"]),
        Vec::<String>::new()
    );
}

/// A value held whole is bounded by SECRETS_MAX_VALUE: `edit` of a file whose value is over
/// it fails before anything is asked, naming the file, the limit and the variable, and leaves
/// the file as it was; with the limit raised the same edit goes through. `decrypt` streams
/// and is not bounded.
#[test]
fn edit_over_the_value_limit_names_the_file_the_limit_and_the_fix() {
    let repo = Repo::new();
    repo.json_rules(r#"{"big.age": {"publicKeys": ["alice"]}}"#);
    let value = "v".repeat(3000);
    repo.encrypt("big.age", &value);
    let before = std::fs::read(repo.path().join("big.age")).unwrap();
    let edit = |limit: &str| {
        let mut c = repo.cmd();
        c.args(["edit", "big.age", "-i"])
            .arg(key("alice_ed25519"))
            .env("SECRETS_MAX_VALUE", limit)
            .write_stdin("new value\n");
        c.assert()
    };
    let out = edit("1K").failure().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("big.age: the decrypted value is larger than 1024 bytes")
            && err.contains("raise it with SECRETS_MAX_VALUE, e.g. SECRETS_MAX_VALUE=1G"),
        "{err}"
    );
    assert!(!err.contains(&value), "{err}");
    assert_eq!(std::fs::read(repo.path().join("big.age")).unwrap(), before);
    // decrypt streams: no limit.
    let out = repo
        .cmd()
        .args(["decrypt", "big.age", "-i"])
        .arg(key("alice_ed25519"))
        .env("SECRETS_MAX_VALUE", "1K")
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, value.as_bytes());
    edit("4K").success();
    let out = repo
        .cmd()
        .args(["decrypt", "big.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"new value\n");
}

/// New content held whole is bounded too: edit's stdin and the editor's file (compared with
/// the old value), and a structured document given to encrypt (checked before it is stored).
/// Over SECRETS_MAX_VALUE each fails naming the file, what was too large and the variable,
/// and writes nothing; a plain secret given to encrypt streams and has no limit.
#[test]
fn new_content_over_the_value_limit_is_refused() {
    let repo = Repo::new();
    repo.json_rules(
        r#"{"plain.age": {"publicKeys": ["alice"]}, "doc.json.age": {"publicKeys": ["alice"]}}"#,
    );
    let big = format!("{{\"token\": \"{}\"}}", "t".repeat(2000));
    let run = |args: &[&str], stdin: &str| {
        let mut c = repo.cmd();
        c.args(args)
            .env("SECRETS_MAX_VALUE", "1K")
            .write_stdin(stdin);
        c.output().unwrap()
    };
    let cases: [(&[&str], &str); 2] = [
        (
            &["edit", "plain.age"],
            "plain.age: the new content on stdin is larger than 1024 bytes",
        ),
        (
            &["encrypt", "doc.json.age"],
            "doc.json.age: the document on stdin is larger than 1024 bytes",
        ),
    ];
    for (args, want) in cases {
        let o = run(args, &big);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(want) && err.contains("SECRETS_MAX_VALUE=1G"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("tttt"), "{args:?}: {err}");
        assert_eq!(others(repo.path(), &[]), ["secrets.json"], "{args:?}");
    }
    // A document that does not parse is refused by encrypt as by edit.
    let o = run(&["encrypt", "doc.json.age"], "{\"token\": ");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("doc.json.age: ") && err.contains("doc.json.age is unchanged"),
        "{err}"
    );
    assert_eq!(others(repo.path(), &[]), ["secrets.json"]);
    // A document can never be larger than 16 MiB: raising SECRETS_MAX_VALUE cannot help, and
    // the error does not say it would.
    // Written in pieces: this process stays small (see `assert_test_process_small`).
    let scratch = tempfile::tempdir().unwrap();
    let huge = scratch.path().join("huge.json");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&huge).unwrap());
        f.write_all(b"{\"a\": \"").unwrap();
        let mib = vec![b't'; 1 << 20];
        for _ in 0..17 {
            f.write_all(&mib).unwrap();
        }
        f.write_all(b"\"}").unwrap();
    }
    let o = repo
        .cmd()
        .args(["encrypt", "doc.json.age", "--input"])
        .arg(&huge)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "doc.json.age: the document in {} is larger than 16 MiB, the most a structured \
             document may be",
            huge.display()
        )) && !err.contains("SECRETS_MAX_VALUE")
            && !err.contains("ttt"),
        "{err}"
    );
    assert_eq!(others(repo.path(), &[]), ["secrets.json"]);
    // Streamed: no limit.
    let o = run(&["encrypt", "plain.age"], &big);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = repo
        .cmd()
        .args(["decrypt", "plain.age", "-i"])
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    assert_eq!(o.stdout, big.as_bytes());
    // Within the limit, the document goes through.
    let o = repo
        .cmd()
        .args(["encrypt", "doc.json.age"])
        .env("SECRETS_MAX_VALUE", "4K")
        .write_stdin(big.as_str())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The editor's file, on a terminal.
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let before = std::fs::read(repo.path().join("plain.age")).unwrap();
    let tools = tempfile::tempdir().unwrap();
    let ed = common::script(
        &tools.path().join("ed"),
        "head -c 3000 /dev/zero | tr '\\0' t > \"$1\"",
    );
    let alice = key("alice_ed25519");
    let (code, _, out) = common::Pty::new(
        repo.path(),
        &["edit", "plain.age", "-i", alice.to_str().unwrap()],
    )
    .env("EDITOR", &ed)
    .env("XDG_RUNTIME_DIR", runtime.path())
    .env("SECRETS_MAX_VALUE", "2100")
    .run();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the edited file is larger than 2100 bytes")
            && out.contains("SECRETS_MAX_VALUE=1G")
            && out.contains("plain.age is unchanged"),
        "{out}"
    );
    assert!(!out.contains("tttt"), "{out}");
    assert_eq!(
        std::fs::read(repo.path().join("plain.age")).unwrap(),
        before
    );
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left behind"
    );
}
