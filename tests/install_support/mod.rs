//! Support for the installer tests: each test re-runs itself inside `unshare --mount` so the
//! tmpfs the installer mounts stays private, plus a scratch layout and a manifest builder.
#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

const IN_NS: &str = "SECRETS_TEST_IN_PRIVATE_NS";

/// True when the caller should run the test body now (we are root inside a private mount
/// namespace). Otherwise the test was run in a child `unshare --mount` process (and asserted
/// there) or skipped with a reason.
pub fn in_private_ns(test: &str) -> bool {
    if common::not_root() || common::missing("unshare") {
        return false;
    }
    if std::env::var_os(IN_NS).is_some_and(|v| v == "1") {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NS, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {test} in a private mount namespace ---\n{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "{test} failed in the private mount namespace"
    );
    // A filter that matched nothing also exits 0; make sure the test really ran.
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run in the namespace"
    );
    false
}

/// Scratch layout: <tmp>/run/{agenix,agenix.d,agenix-for-users}, <tmp>/enc/*.age, <tmp>/etc.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Lazily unmount whatever the test mounted so the temp dir can be removed.
        for _ in 0..4 {
            let ok = Command::new("umount")
                .arg("-l")
                .arg(self.mp())
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                break;
            }
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("secrets-install-test")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("enc")).unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn mp(&self) -> PathBuf {
        self.path().join("run/agenix.d")
    }
    pub fn stable(&self) -> PathBuf {
        self.path().join("run/agenix")
    }
    pub fn users(&self) -> PathBuf {
        self.path().join("run/agenix-for-users")
    }
    pub fn host_key(&self) -> PathBuf {
        common::key("web1_ed25519")
    }

    /// Encrypt `plain` to the host key (web1) with the library; returns the file path.
    pub fn encrypt(&self, name: &str, plain: &[u8]) -> PathBuf {
        self.encrypt_to(name, plain, &[&common::pubkey("web1_ed25519")])
    }

    pub fn encrypt_to(&self, name: &str, plain: &[u8], keys: &[&str]) -> PathBuf {
        let rs: Vec<_> = keys
            .iter()
            .map(|k| secrets::keys::Recipient::parse(k).unwrap())
            .collect();
        let c = secrets::crypto::encrypt(plain, &rs, false).unwrap();
        let p = self.path().join("enc").join(format!("{name}.age"));
        std::fs::write(&p, c).unwrap();
        p
    }

    /// Encrypt with the real `age` binary (interop).
    pub fn encrypt_age_cli(&self, name: &str, plain: &[u8]) -> PathBuf {
        let mut age = Command::new("age");
        age.arg("-R").arg(common::key("web1_ed25519.pub"));
        self.encrypt_with(age, name, plain)
    }

    /// Encrypt with `age`, an `age` command given its recipients.
    pub fn encrypt_with(&self, mut age: Command, name: &str, plain: &[u8]) -> PathBuf {
        use std::io::Write;
        let p = self.path().join("enc").join(format!("{name}.age"));
        let mut child = age
            .arg("-o")
            .arg(&p)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(plain).unwrap();
        assert!(child.wait().unwrap().success());
        p
    }

    /// The manifest with this env's directories and key; `extra` is merged at the top level.
    pub fn manifest_value(&self, secrets: Value, extra: Value) -> Value {
        common::manifest_value(self.path(), &self.host_key(), secrets, extra)
    }

    pub fn manifest(&self, secrets: Value, extra: Value) -> PathBuf {
        let p = self.path().join("manifest.json");
        let m = self.manifest_value(secrets, extra);
        std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        p
    }

    pub fn install(&self, manifest: &Path, args: &[&str]) -> Output {
        let mut c = common::cmd();
        c.arg("install").arg("--manifest").arg(manifest).args(args);
        c.env_remove("NIXOS_ACTION");
        c.output().unwrap()
    }

    /// The generation directory the stable symlink points to.
    pub fn current(&self) -> PathBuf {
        std::fs::read_link(self.stable()).unwrap()
    }

    pub fn gens(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.mp())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "install failed:\n{}", text(o));
}

/// Values must never show up in what the installer prints.
pub fn assert_not_leaked(o: &Output, values: &[&str]) {
    let all = text(o);
    for v in values {
        assert!(
            !all.contains(v),
            "value {v:?} leaked into the output:\n{all}"
        );
    }
}

pub fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

pub fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

/// mountinfo lines whose mount point is exactly `p`.
pub fn mounts_at(p: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter(|l| l.split(' ').nth(4) == Some(p.to_str().unwrap()))
        .map(str::to_string)
        .collect()
}
