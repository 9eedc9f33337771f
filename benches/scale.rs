//! Benchmark (not a test): repositories of 1,000, 10,000 and 100,000 secrets (BENCH_SIZES,
//! comma-separated), each to ssh-ed25519 + X25519 and recorded in secrets.lock.json, on a tmpfs
//! (/dev/shm) when there is one, with the same rules in secrets.json and, written as agenix
//! users write it, in secrets.nix (BENCH_RULES=json or nix for one; nix needs nix-instantiate).
//! For `check`, a no-op `rekey` (every file matches) and `list`: wall time (median of 3), the
//! cost per file, and the peak RSS the kernel reports (wait4; with secrets.nix the larger of
//! `secrets` and nix-instantiate). Goals: 100,000 files within 1.5 s and 256 MiB, cost linear.
//!
//!   cargo bench --bench scale
//!
//! BENCH_KEEP=1 keeps each repository (its path is printed) for profiling.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrets::keys::Recipient;
use secrets::lockfile::{entry_for, LockFile};

const BIN: &str = env!("CARGO_BIN_EXE_secrets");

fn pubkey(name: &str) -> String {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
    std::fs::read_to_string(keys.join(format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

fn main() {
    // A child's peak RSS includes what its parent held when it was spawned (the kernel
    // carries the old address space's high-water mark across exec), so the repositories are
    // made by a child of this process, which stays small itself.
    if let Ok(job) = std::env::var("BENCH_SCALE_SETUP") {
        let (n, dir) = job.split_once(':').unwrap();
        setup(Path::new(dir), n.parse().unwrap());
        return;
    }
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let base: PathBuf = if Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    println!(
        "scale benchmark: {} core(s), files in {}; load average at start: {}",
        secrets::par::cores(),
        base.display(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    let formats: Vec<String> = std::env::var("BENCH_RULES")
        .unwrap_or_else(|_| "json,nix".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|f| {
            let ok = f != "nix" || nix_instantiate();
            if !ok {
                println!("secrets.nix not measured: nix-instantiate is not on PATH");
            }
            ok
        })
        .collect();
    println!(
        "{:>8}  {:<13} {:<8} {:>8} {:>9} {:>9}",
        "files", "rules", "command", "time", "per file", "peak RSS"
    );
    for n in sizes {
        let tmp = tempfile::Builder::new()
            .prefix("secrets-scale")
            .tempdir_in(&base)
            .unwrap();
        let made = Command::new(std::env::current_exe().unwrap())
            .env("BENCH_SCALE_SETUP", format!("{n}:{}", tmp.path().display()))
            .status()
            .unwrap();
        assert!(made.success(), "setting up {n} files failed");
        if std::env::var_os("BENCH_KEEP").is_some() {
            // For profiling: the repository stays (delete it by hand).
            println!("{n:>8}  kept in {}", tmp.path().display());
        }
        let commands: [(&str, &[&str], &str); 3] = [
            ("check", &["check"], "ok:"),
            ("rekey", &["rekey"], "rekeyed 0 file(s)"),
            ("list", &["list"], "secret000000.age"),
        ];
        for format in &formats {
            let rules = format!("secrets.{format}");
            for (what, args, expect) in commands {
                let args: Vec<&str> = ["--rules", &rules].iter().chain(args).copied().collect();
                let (took, rss) = measure(tmp.path(), &args, expect);
                println!(
                    "{n:>8}  {rules:<13} {what:<8} {:>8} {:>9} {:>9}",
                    format!("{:.0} ms", took.as_secs_f64() * 1e3),
                    format!("{:.1} µs", took.as_secs_f64() * 1e6 / n as f64),
                    format!("{:.0} MiB", rss as f64 / (1 << 20) as f64),
                );
            }
        }
        if std::env::var_os("BENCH_KEEP").is_some() {
            let _ = tmp.keep();
        }
    }
    // Part of every figure above (see the start of main): it must be small.
    let own = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "?".into());
    println!("(the benchmark's own peak RSS, a floor under each figure: {own})");
}

/// `n` secrets of one small ciphertext each (the same bytes: the cost measured is per file,
/// not per encryption), 100 to a directory, with their rules and lock entries.
fn setup(dir: &Path, n: usize) {
    let who = ["alice_ed25519", "dave_age"];
    let recipients: Vec<Recipient> = who
        .iter()
        .map(|k| Recipient::parse(&pubkey(k)).unwrap())
        .collect();
    let cipher = secrets::crypto::encrypt(
        b"a password of some forty bytes, say....\n",
        &recipients,
        false,
    )
    .unwrap();
    let mut lock = LockFile {
        path: secrets::lockfile::path_in(dir),
        ..LockFile::default()
    };
    let mut rules = serde_json::Map::new();
    for i in 0..n {
        let name = format!("d{:04}/secret{i:06}.age", i / 100);
        if i % 100 == 0 {
            std::fs::create_dir_all(dir.join(format!("d{:04}", i / 100))).unwrap();
        }
        std::fs::write(dir.join(&name), &cipher).unwrap();
        lock.files
            .insert(name.clone(), entry_for(&cipher, &recipients));
        rules.insert(name, serde_json::json!({ "publicKeys": who }));
    }
    let keys: serde_json::Map<String, serde_json::Value> = who
        .iter()
        .map(|k| (k.to_string(), pubkey(k).into()))
        .collect();
    // The same rules as agenix users write them: keys bound once, a list shared by the rules.
    let mut nix = String::from("let\n");
    for (name, key) in &keys {
        nix.push_str(&format!("  {name} = \"{}\";\n", key.as_str().unwrap()));
    }
    nix.push_str(&format!("  users = [ {} ];\nin {{\n", who.join(" ")));
    for name in rules.keys() {
        nix.push_str(&format!("  \"{name}\".publicKeys = users;\n"));
    }
    nix.push_str("}\n");
    std::fs::write(dir.join("secrets.nix"), nix).unwrap();
    let json = serde_json::json!({ "keys": keys, "secrets": rules });
    std::fs::write(dir.join("secrets.json"), json.to_string()).unwrap();
    std::fs::write(&lock.path, lock.render()).unwrap();
}

fn nix_instantiate() -> bool {
    Command::new("nix-instantiate")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Median wall time of 3 runs, and the largest peak RSS among them.
fn measure(dir: &Path, args: &[&str], expect: &str) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env_remove("RULES")
            .env_remove("SECRETS_IDENTITY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (out, rss) = wait_measured(child);
        times.push(t.elapsed());
        peak = peak.max(rss);
        assert!(out.contains(expect), "secrets {args:?}: {out}");
    }
    times.sort();
    (times[1], peak)
}

/// Wait for `child`, returning its stdout and stderr together and its peak RSS (bytes).
// The child is reaped by wait4 (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn wait_measured(mut child: std::process::Child) -> (String, u64) {
    use std::io::Read;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        so.read_to_string(&mut s).unwrap();
        s
    });
    let mut err = String::new();
    se.read_to_string(&mut err).unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, writing into the two locals.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    // KiB on Linux, bytes on macOS.
    let rss = if cfg!(target_os = "macos") {
        usage.ru_maxrss as u64
    } else {
        usage.ru_maxrss as u64 * 1024
    };
    (t.join().unwrap() + &err, rss)
}
