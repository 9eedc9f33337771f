//! Benchmark (not a test): how close a full rekey comes to its cryptographic floor. 1000
//! secrets (BENCH_FILES) to ssh-ed25519 x2 + X25519, on a tmpfs (/dev/shm) when there is one.
//! The floor: in this one process, on all cores, only the cryptography of the same rekey
//! (decrypt every file's header and payload with the same identity and encrypt it again to
//! the same recipients, in memory; no process start, no rules, no file I/O). Then `secrets
//! rekey --force` (rules in secrets.json: no Nix evaluation), runs alternating with the
//! floor's, and the ratio of their medians. With BENCH_RAGENIX=/path/to/ragenix, ragenix's
//! `-r` and `secrets rekey --force` with the same rules in secrets.nix (both evaluate them
//! with Nix) alternate too, and their ratio is printed.
//!
//!   cargo bench --bench floor

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use secrets::keys::{Identities, Origin, Recipient};

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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A scratch directory on a tmpfs when there is one (the issue's condition), else in $TMPDIR.
fn scratch() -> (tempfile::TempDir, &'static str) {
    match tempfile::Builder::new()
        .prefix("secrets-floor")
        .tempdir_in("/dev/shm")
    {
        Ok(d) => (d, "tmpfs (/dev/shm)"),
        Err(_) => (tempfile::tempdir().unwrap(), "$TMPDIR (no /dev/shm)"),
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rounds = 5;
    let cores = secrets::par::cores();
    let (tmp, fs) = scratch();
    let dir = tmp.path();
    println!(
        "floor benchmark: {n} secrets, ssh-ed25519 x2 + X25519, {cores} core(s), {fs}; load \
         average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    let names: Vec<String> = (0..n).map(|i| format!("s/secret{i:04}.age")).collect();
    std::fs::create_dir_all(dir.join("s")).unwrap();
    let who = ["alice_ed25519", "web1_ed25519", "dave_age"];
    let recipients: Vec<Recipient> = who
        .iter()
        .map(|k| Recipient::parse(&pubkey(k)).unwrap())
        .collect();
    secrets::par::par_map(&names, 0, |name| {
        let plain = format!("password-for-{name}-{}\n", "x".repeat(40));
        let c = secrets::crypto::encrypt(plain.as_bytes(), &recipients, false).unwrap();
        std::fs::write(dir.join(name), c).unwrap();
    });
    write_rules(dir, &names, &who);
    let identity = keys().join("alice_ed25519");
    let ids = Identities::load(std::slice::from_ref(&identity), Origin::Explicit).unwrap();
    let ragenix = std::env::var_os("BENCH_RAGENIX").map(PathBuf::from);

    let mut floor = Vec::new();
    let mut full = Vec::new();
    let mut rag = Vec::new();
    let mut nix = Vec::new();
    for _ in 0..rounds {
        // The floor's input is read before its clock starts: only the cryptography is timed.
        let data: Vec<Vec<u8>> = names
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        let t = Instant::now();
        let out = secrets::par::par_map(&data, cores, |c| {
            let plain = secrets::crypto::decrypt(c, &ids).unwrap();
            secrets::crypto::encrypt(&plain, &recipients, false).unwrap()
        });
        floor.push(t.elapsed());
        assert_eq!(out.len(), n);

        full.push(rekey(dir, "secrets.json", &identity, n));

        if let Some(r) = &ragenix {
            nix.push(rekey(dir, "secrets.nix", &identity, n));
            let t = Instant::now();
            let o = Command::new(r)
                .args(["-r", "--rules", "./secrets.nix", "-i"])
                .arg(&identity)
                .current_dir(dir)
                .output()
                .unwrap();
            rag.push(t.elapsed());
            assert!(
                o.status.success(),
                "ragenix: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let (floor, full) = (median(floor), median(full));
    println!(
        "  crypto floor, in process (median of {rounds}) {:>10}",
        ms(floor)
    );
    println!(
        "  secrets rekey --force (median of {rounds})     {:>10}",
        ms(full)
    );
    println!(
        "  ratio full rekey / floor: {:.2}x (goal: at most 1.5x)",
        full.as_secs_f64() / floor.as_secs_f64()
    );
    if !rag.is_empty() {
        let (rag, nix) = (median(rag), median(nix));
        println!(
            "  secrets rekey --force, secrets.nix            {:>10}",
            ms(nix)
        );
        println!(
            "  ragenix -r, secrets.nix (median of {rounds})   {:>10}",
            ms(rag)
        );
        println!(
            "  ratio ragenix / secrets rekey (both secrets.nix): {:.2}x (goal: at least 3x)",
            rag.as_secs_f64() / nix.as_secs_f64()
        );
    }
}

/// `secrets rekey --force` with these rules; its wall time.
fn rekey(dir: &Path, rules: &str, identity: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let o = secrets_cmd(dir)
        .args(["rekey", "--force", "--rules", rules, "-i"])
        .arg(identity)
        .output()
        .unwrap();
    let took = t.elapsed();
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && msg.contains(&format!("rekeyed {n} file(s)")),
        "{msg}"
    );
    took
}

fn secrets_cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("HOME", dir)
        .env_remove("RULES")
        .env_remove("SECRETS_IDENTITY");
    c
}

/// secrets.nix (read by both secrets and ragenix) with the files' rules.
fn write_rules(dir: &Path, names: &[String], who: &[&str]) {
    let mut nix = String::from("let\n");
    for (i, k) in who.iter().enumerate() {
        nix.push_str(&format!("  k{i} = \"{}\";\n", pubkey(k)));
    }
    nix.push_str("  all = [");
    for i in 0..who.len() {
        nix.push_str(&format!(" k{i}"));
    }
    nix.push_str(" ];\nin {\n");
    for name in names {
        nix.push_str(&format!("  \"{name}\".publicKeys = all;\n"));
    }
    nix.push_str("}\n");
    std::fs::write(dir.join("secrets.nix"), nix).unwrap();
    let secrets: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| (n.clone(), serde_json::json!({ "publicKeys": who })))
        .collect();
    let keys: serde_json::Map<String, serde_json::Value> = who
        .iter()
        .map(|k| (k.to_string(), pubkey(k).into()))
        .collect();
    let json = serde_json::json!({ "keys": keys, "secrets": secrets });
    std::fs::write(dir.join("secrets.json"), json.to_string()).unwrap();
}
