//! Benchmark (not a test): 1000 secrets to 3 recipients. Prints, from one run: full rekey,
//! no-op rekey, check, forced rekey, and the same full rekey done the agenix way (one `age -d`
//! and one `age -e` process per file), with the ratio. Run: `cargo bench --bench rekey`.
//! Env: BENCH_FILES (default 1000), BENCH_AGENIX_FILES (default: all) to shorten the slow part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use secrets::keys::Recipient;

const BIN: &str = env!("CARGO_BIN_EXE_secrets");

fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys")
}

fn pubkey(name: &str) -> String {
    std::fs::read_to_string(keys().join(format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

fn secrets(dir: &Path, args: &[&str]) -> (Duration, String) {
    let t = Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("RULES")
        .env_remove("SECRETS_IDENTITY")
        .output()
        .unwrap();
    let d = t.elapsed();
    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(
        out.status.success(),
        "secrets {args:?} failed: {msg}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (d, msg)
}

/// CPU time (user + system) used so far by finished child processes: unlike wall time, it
/// does not depend on how busy the machine is.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rules_json(names: &[String], with: &[&str]) -> String {
    let secrets: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| (n.clone(), serde_json::json!({ "publicKeys": with })))
        .collect();
    serde_json::json!({
        "keys": {
            "alice": pubkey("alice_ed25519"),
            "bob": pubkey("bob_rsa3072"),
            "dave": pubkey("dave_age"),
            "web1": pubkey("web1_ed25519"),
        },
        "secrets": secrets,
    })
    .to_string()
}

fn env_num(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    // `cargo bench` passes --bench; arguments are ignored.
    let n = env_num("BENCH_FILES").unwrap_or(1000);
    let cores = secrets::par::cores();
    println!("rekey benchmark: {n} secrets, 3 recipients each, {cores} core(s); load average at start: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?"));
    // A typical NixOS fleet: ssh-ed25519 user and host keys plus an age key.
    let a = run(
        "ssh-ed25519 x2 + X25519",
        n,
        &["alice", "web1", "bob"],
        &["alice", "web1", "dave"],
        env_num("BENCH_AGENIX_FILES").unwrap_or(n),
    );
    // With an RSA key: the age crate's RSA-OAEP is far slower than Go's, so show it too.
    run(
        "ssh-ed25519 + ssh-rsa 3072 + X25519",
        n,
        &["alice", "bob", "web1"],
        &["alice", "bob", "dave"],
        env_num("BENCH_AGENIX_FILES_RSA").unwrap_or(n / 4),
    );
    if let (Some((full, agenix)), Some(eval)) = (a, nix_eval(n)) {
        // What `agenix -r` really does per file: the two age processes plus two evaluations of
        // secrets.nix. Shown for context; the target ratio above excludes the evaluations.
        let real = agenix + eval.mul_f64(2.0 * n as f64);
        println!(
            "  agenix -r incl. its 2 secrets.nix evals per file (first mix): {} = {:.0}x full rekey",
            ms(real),
            real.as_secs_f64() / full.as_secs_f64()
        );
    }
}

fn pub_named(name: &str) -> String {
    pubkey(match name {
        "alice" => "alice_ed25519",
        "web1" => "web1_ed25519",
        "bob" => "bob_rsa3072",
        "dave" => "dave_age",
        other => panic!("{other}"),
    })
}

/// Files start encrypted to `old`; the rules then say `new` (same size), so every file drifts.
/// Returns (full rekey, agenix way) when `age` is installed.
fn run(
    label: &str,
    n: usize,
    old: &[&str],
    new: &[&str],
    agenix_files: usize,
) -> Option<(Duration, Duration)> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let names: Vec<String> = (0..n).map(|i| format!("s/secret{i:04}.age")).collect();
    std::fs::create_dir_all(dir.join("s")).unwrap();

    // Setup (not measured).
    let old_r: Vec<Recipient> = old
        .iter()
        .map(|k| Recipient::parse(&pub_named(k)).unwrap())
        .collect();
    secrets::par::par_map(&names, 0, |name| {
        let plain = format!("password-for-{name}-{}\n", "x".repeat(40));
        let c = secrets::crypto::encrypt(plain.as_bytes(), &old_r, false).unwrap();
        std::fs::write(dir.join(name), c).unwrap();
    });
    std::fs::write(dir.join("secrets.json"), rules_json(&names, new)).unwrap();
    // The setup's writes (and a preceding build's) are flushed now, not by the rekey's
    // durability barrier (syncfs), which would otherwise be charged for them.
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    let alice = keys().join("alice_ed25519").display().to_string();
    println!("{label}:");

    let cpu0 = children_cpu();
    let (full, msg) = secrets(dir, &["rekey", "-i", &alice]);
    let full_cpu = children_cpu() - cpu0;
    assert!(msg.contains(&format!("rekeyed {n} file(s)")), "{msg}");
    let noop: Vec<Duration> = (0..7)
        .map(|_| {
            let (d, msg) = secrets(dir, &["rekey"]);
            assert!(msg.contains("rekeyed 0 file(s)"), "{msg}");
            d
        })
        .collect();
    let check: Vec<Duration> = (0..7).map(|_| secrets(dir, &["check"]).0).collect();
    let (forced, _) = secrets(dir, &["rekey", "--force", "-i", &alice]);

    println!(
        "  full rekey (all drifted)  {:>10}   (CPU {})",
        ms(full),
        ms(full_cpu)
    );
    println!("  forced rekey              {:>10}", ms(forced));
    println!("  no-op rekey (median of 7) {:>10}", ms(median(noop)));
    println!("  check (median of 7)       {:>10}", ms(median(check)));

    // The agenix way: per file, decrypt with one `age` process to a temp file, encrypt with
    // another (agenix additionally evaluates secrets.nix twice per file; not counted here).
    let have_age = Command::new("age").arg("--version").output().is_ok();
    if have_age {
        let m = agenix_files.clamp(1, n);
        let recips: Vec<String> = new.iter().map(|k| pub_named(k)).collect();
        let t = Instant::now();
        let cpu0 = children_cpu();
        for name in &names[..m] {
            let file = dir.join(name);
            let plain = dir.join("plain.tmp");
            let ok = Command::new("age")
                .args(["-d", "-i", &alice, "-o"])
                .arg(&plain)
                .arg(&file)
                .status()
                .unwrap()
                .success();
            assert!(ok, "age -d {name}");
            let mut enc = Command::new("age");
            for r in &recips {
                enc.arg("-r").arg(r);
            }
            let ok = enc
                .arg("-o")
                .arg(&file)
                .arg(&plain)
                .status()
                .unwrap()
                .success();
            assert!(ok, "age -e {name}");
            std::fs::remove_file(&plain).unwrap();
        }
        let agenix = t.elapsed().mul_f64(n as f64 / m as f64);
        let agenix_cpu = (children_cpu() - cpu0).mul_f64(n as f64 / m as f64);
        println!(
            "  agenix way (2 age processes per file{}) {:>10}   (CPU {})",
            if m < n {
                format!(", {m} files extrapolated")
            } else {
                String::new()
            },
            ms(agenix),
            ms(agenix_cpu)
        );
        println!(
            "  ratio agenix way / full rekey: {:.1}x wall, {:.1}x CPU",
            agenix.as_secs_f64() / full.as_secs_f64(),
            agenix_cpu.as_secs_f64() / full_cpu.as_secs_f64()
        );
        Some((full, agenix))
    } else {
        println!("  agenix way: skipped (`age` not installed)");
        None
    }
}

/// secrets.nix evaluation, once (the cost nix adds to every command).
fn nix_eval(n: usize) -> Option<Duration> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let names: Vec<String> = (0..n).map(|i| format!("s/secret{i:04}.age")).collect();
    let have_nix = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok();
    if have_nix {
        let mut nix = String::from("let\n");
        nix.push_str(&format!(
            "  alice = \"{}\";\n  bob = \"{}\";\n  dave = \"{}\";\nin {{\n",
            pubkey("alice_ed25519"),
            pubkey("bob_rsa3072"),
            pubkey("dave_age")
        ));
        for name in &names {
            nix.push_str(&format!("  \"{name}\".publicKeys = [ alice bob dave ];\n"));
        }
        nix.push_str("}\n");
        let nixdir = dir.join("nix");
        std::fs::create_dir_all(&nixdir).unwrap();
        std::fs::write(nixdir.join("secrets.nix"), nix).unwrap();
        let t = Instant::now();
        let st = Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json"])
            .arg(nixdir.join("secrets.nix"))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        println!(
            "  secrets.nix eval ({n} rules, nix-instantiate, once per secrets run) {:>10}",
            ms(t.elapsed())
        );
        // agenix evaluates one rule's publicKeys per call, twice per file.
        let one: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let st = Command::new("nix-instantiate")
                    .args(["--eval", "--json", "-E"])
                    .arg(format!(
                        "(let rules = import {}; in rules.\"{}\".publicKeys)",
                        nixdir.join("secrets.nix").display(),
                        names[0]
                    ))
                    .stdout(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
                t.elapsed()
            })
            .collect();
        let one = median(one);
        println!(
            "  one agenix-style rule lookup (median of 5)            {:>10}",
            ms(one)
        );
        Some(one)
    } else {
        None
    }
}
