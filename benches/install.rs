//! Benchmark: install 1000 secrets (BENCH_INSTALL_FILES) with `secrets install` vs. the agenix
//! way (a generated shell script: one `age -d` process plus mkdir/chmod/mv/chown per secret, a
//! generation directory and a symlink swap), measured in one run. Needs root, `unshare` and
//! `age`; runs itself inside a private mount namespace. The shell script takes about 10 ms a
//! secret, so above 2000 secrets it runs only with BENCH_INSTALL_AGENIX=1. Goal: 10,000
//! secrets within 1 s.
//!
//!   cargo bench --bench install
//!   BENCH_INSTALL_FILES=10000 cargo bench --bench install

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const IN_NS: &str = "SECRETS_BENCH_IN_PRIVATE_NS";

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP install benchmark: needs root (mounts a tmpfs)");
        return;
    }
    for tool in ["unshare", "age", "bash"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null")])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            println!("SKIP install benchmark: `{tool}` is not installed");
            return;
        }
    }
    if std::env::var_os(IN_NS).is_none() {
        let st = Command::new("unshare")
            .args(["--mount", "--propagation", "private"])
            .arg(std::env::current_exe().unwrap())
            .env(IN_NS, "1")
            .status()
            .unwrap();
        std::process::exit(st.code().unwrap_or(1));
    }
    run();
}

fn run() {
    let n: usize = std::env::var("BENCH_INSTALL_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let with_agenix = n <= 2000 || std::env::var_os("BENCH_INSTALL_AGENIX").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let identity = root.join("testdata/keys/web1_ed25519");
    let pubkey = std::fs::read_to_string(root.join("testdata/keys/web1_ed25519.pub")).unwrap();
    let recipient = secrets::keys::Recipient::parse(&pubkey).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("secrets-bench")
        .tempdir()
        .unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("enc")).unwrap();

    let mut secrets = serde_json::Map::new();
    let mut script = String::new();
    let amp = d.join("agenix/run/agenix.d");
    let asd = d.join("agenix/run/agenix");
    writeln!(
        script,
        "set -eu\nmp={mp}\nsd={sd}\nid={id}\nmkdir -p \"$mp\"\n\
         grep -q \"$mp ramfs\" /proc/mounts || mount -t ramfs none \"$mp\" -o nodev,nosuid,mode=0751\n\
         if [ -L \"$sd\" ]; then gen=$(basename \"$(readlink \"$sd\")\"); else gen=0; fi\n\
         gen=$((gen + 1))\nmkdir -p \"$mp/$gen\"\nchmod 0751 \"$mp/$gen\"",
        mp = amp.display(),
        sd = asd.display(),
        id = identity.display()
    )
    .unwrap();
    for i in 0..n {
        let value: [u8; 24] = rand::random();
        let c = secrets::crypto::encrypt(&value, std::slice::from_ref(&recipient), false).unwrap();
        let f = d.join(format!("enc/s{i}.age"));
        std::fs::write(&f, c).unwrap();
        let name = format!("app{}/s{i}", i % 10);
        secrets.insert(
            format!("s{i}"),
            serde_json::json!({"file": f, "name": name}),
        );
        writeln!(
            script,
            "p=\"$mp/$gen/{name}\"\nmkdir -p \"$(dirname \"$p\")\"\n\
             (umask u=r,g=,o=; age --decrypt -i \"$id\" -o \"$p.tmp\" {f})\n\
             chmod 0400 \"$p.tmp\"\nmv -f \"$p.tmp\" \"$p\"\nchown 0:0 \"$p\"",
            f = f.display()
        )
        .unwrap();
    }
    writeln!(script, "ln -sfT \"$mp/$gen\" \"$sd\"").unwrap();
    let script_path = d.join("agenix.sh");
    std::fs::write(&script_path, script).unwrap();

    let manifest = serde_json::json!({
        "version": 1,
        "secretsDir": d.join("ours/run/agenix"),
        "secretsMountPoint": d.join("ours/run/agenix.d"),
        "secretsDirForUsers": d.join("ours/run/agenix-for-users"),
        "identityPaths": [identity],
        "restartMode": "none",
        "secrets": secrets,
    });
    let mpath = d.join("manifest.json");
    std::fs::write(&mpath, manifest.to_string()).unwrap();

    // Wall time, plus CPU time (user + system) of the child and its children: on a shared,
    // loaded machine the CPU figure shows the work done independently of waiting for a core.
    let time = |cmd: &mut Command| -> (Duration, Duration) {
        let c0 = children_cpu();
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let el = t.elapsed();
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (el, children_cpu() - c0)
    };
    let ours = || {
        time(
            Command::new(env!("CARGO_BIN_EXE_secrets"))
                .args(["install", "--manifest"])
                .arg(&mpath),
        )
    };
    // Ours first (cold: mounts the tmpfs, first generation), then further generations with
    // change detection against the previous one; the machine may be shared, so the median of
    // those is compared too.
    let ours_first = ours();
    let mut next: Vec<(Duration, Duration)> = (0..5).map(|_| ours()).collect();
    next.sort();
    let ours_second = next[next.len() / 2];
    let agenix = with_agenix.then(|| time(Command::new("bash").arg(&script_path)));

    // Sanity: every secret is installed (and, with the script, both installed the same).
    let ours_dir = d.join("ours/run/agenix");
    let installed = (0..10)
        .map(|a| std::fs::read_dir(ours_dir.join(format!("app{a}"))).map_or(0, |d| d.count()))
        .sum::<usize>();
    assert_eq!(installed, n, "secrets installed");
    for i in [0, n / 2, n - 1] {
        let name = format!("app{}/s{i}", i % 10);
        let o = std::fs::read(ours_dir.join(&name)).unwrap();
        assert_eq!(o.len(), 24, "{name}");
        if with_agenix {
            assert_eq!(std::fs::read(asd.join(&name)).unwrap(), o, "{name}");
        }
    }
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    println!(
        "install {n} secrets (ssh-ed25519), measured in one run (wall / CPU); load average at \
         start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    if let Some((w, c)) = agenix {
        println!(
            "  {:<40} {:9.1} ms {:9.1} ms cpu",
            "agenix-style shell script",
            ms(w),
            ms(c)
        );
    }
    let row = |what: &str, (w, c): (Duration, Duration)| {
        let vs = agenix.map_or(String::new(), |(aw, ac)| {
            format!(
                "   {:5.0}x faster wall {:5.0}x less cpu",
                ms(aw) / ms(w),
                ms(ac) / ms(c)
            )
        });
        println!("  {what:<40} {:9.1} ms {:9.1} ms cpu{vs}", ms(w), ms(c));
    };
    row("secrets install (first, mounts)", ours_first);
    row("secrets install (next gen, median of 5)", ours_second);
    let mounted = [
        Some(d.join("ours/run/agenix.d")),
        with_agenix.then_some(amp),
    ];
    for mp in mounted.into_iter().flatten() {
        let _ = Command::new("umount").arg("-l").arg(mp).status();
    }
}

/// CPU time (user + system) used so far by waited-for children.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills a local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
