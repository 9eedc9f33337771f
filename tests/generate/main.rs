//! `secrets generate`: every kind checked with the real tools (Go `age` decrypts each result,
//! `ssh-keygen -y` derives the .pub), generation with no identity and an empty HOME, --force
//! (refused without a terminal, asked on one, --yes), --dry-run, one failing generator among
//! others, command generators with dependencies (private tmpfs directory, nothing in argv or
//! environment), secrets.nix rules, and `check` on a missing .pub.

#[path = "../common/mod.rs"]
mod common;

mod command;
mod force;
mod kinds;
mod public;
mod runs;

use std::path::{Path, PathBuf};

use common::{key, pubkey, Repo};

/// A scratch repo whose rules are `secrets` (a JSON object of rules, alice's key known as
/// `alice`), and an empty HOME beside it: no identity anywhere.
struct Fixture {
    repo: Repo,
    home: tempfile::TempDir,
    /// `$XDG_RUNTIME_DIR` for the runs: a directory on /dev/shm (a tmpfs).
    runtime: Option<tempfile::TempDir>,
}

impl Fixture {
    fn new(secrets: &str) -> Fixture {
        let repo = Repo::new();
        repo.json_rules(secrets);
        Fixture {
            repo,
            home: tempfile::tempdir().unwrap(),
            runtime: None,
        }
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    /// `secrets generate ARGS` with no identity: HOME empty, SECRETS_IDENTITY unset.
    fn generate(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = self.repo.cmd();
        c.env("HOME", self.home.path()).arg("generate").args(args);
        match &self.runtime {
            Some(r) => c.env("XDG_RUNTIME_DIR", r.path()),
            None => c.env_remove("XDG_RUNTIME_DIR"),
        };
        c
    }

    /// Decrypt `name` with the real `age` and alice's key.
    fn age_decrypt(&self, name: &str) -> Vec<u8> {
        age_decrypt(&self.path().join(name), &key("alice_ed25519"))
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    fn home_is_empty(&self) -> bool {
        std::fs::read_dir(self.home.path())
            .unwrap()
            .next()
            .is_none()
    }
}

fn age_decrypt(file: &Path, identity: &Path) -> Vec<u8> {
    let out = common::command("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A rule for alice (and dave's age1 key, so that the lock file, which these tests read, is
/// created) with the generator given as JSON.
fn rule(name: &str, generator: &str) -> String {
    format!(r#""{name}": {{"publicKeys": ["alice", "dave"], "generator": {generator}}}"#)
}

fn rules(entries: &[String]) -> String {
    format!("{{{}}}", entries.join(", "))
}

/// The lock file's entries, by file name.
fn lock_entries(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("secrets.lock.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["files"].as_object().unwrap().keys().cloned().collect()
}

fn write_key(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn alice() -> String {
    pubkey("alice_ed25519")
}
