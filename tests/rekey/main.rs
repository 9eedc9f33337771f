//! `secrets rekey`: drift detection per recipient type, byte-identical unchanged files, failures
//! that do not stop the run, dry runs, agenix -r, one passphrase prompt, secrets.nix.

#[path = "../common/mod.rs"]
mod common;

mod drift;
mod lock;
mod runs;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{key, pubkey, Repo};

const PAYLOAD: &[u8] = b"s3cret payload\n";

/// A scratch repo whose secrets.json also knows `eve`, a second X25519 key made per test,
/// and `plug`/`plug2`, two recipients of a real age plugin (with_plugin only).
struct Fleet {
    repo: Repo,
    eve_pub: String,
    eve_key: PathBuf,
    /// PATH with the plugin's directory in front (with_plugin), for every child.
    plugin_path: Option<std::ffi::OsString>,
}

/// `plug2`: the test plugin's recipient with other data (it accepts any).
const PLUGIN_RECIPIENT_2: &str = "age1unencrypted1wdjkxmmwvsverzwh"; // data "second"

impl Fleet {
    fn new() -> Fleet {
        let repo = Repo::new();
        let eve = age::x25519::Identity::generate();
        let eve_pub = eve.to_public().to_string();
        use age::secrecy::ExposeSecret;
        let eve_key = repo.write("eve.key", format!("{}\n", eve.to_string().expose_secret()));
        Fleet {
            repo,
            eve_pub,
            eve_key,
            plugin_path: None,
        }
    }

    /// A fleet whose commands find the test plugin (None after a skip).
    fn with_plugin() -> Option<Fleet> {
        let dir = common::age_plugin_dir()?;
        let mut f = Fleet::new();
        f.plugin_path = Some(common::path_with(&dir));
        f.repo
            .write("plugin.key", format!("{}\n", common::PLUGIN_IDENTITY));
        Some(f)
    }

    /// `secrets` in this fleet's directory (with the plugin on PATH when there is one).
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.repo.cmd();
        if let Some(p) = &self.plugin_path {
            c.env("PATH", p);
        }
        c
    }

    /// Go `age`, likewise.
    fn age(&self) -> Command {
        let mut c = Command::new("age");
        if let Some(p) = &self.plugin_path {
            c.env("PATH", p);
        }
        c
    }

    /// Decrypt with the real Go `age`: the plaintext, or age's stderr.
    fn age_decrypt(&self, key: &Path, file: &Path) -> Result<Vec<u8>, String> {
        age_decrypt_with(self.age(), key, file)
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    fn pub_of(&self, name: &str) -> String {
        match name {
            "alice" => pubkey("alice_ed25519"),
            "web1" => pubkey("web1_ed25519"),
            "bob" => pubkey("bob_rsa3072"),
            "carol" => pubkey("carol_rsa4096_pass"),
            "dave" => pubkey("dave_age"),
            "eve" => self.eve_pub.clone(),
            "plug" => common::PLUGIN_RECIPIENT.to_string(),
            "plug2" => PLUGIN_RECIPIENT_2.to_string(),
            _ => panic!("unknown key {name}"),
        }
    }

    fn key_of(&self, name: &str) -> Option<PathBuf> {
        match name {
            "alice" => Some(key("alice_ed25519")),
            "web1" => Some(key("web1_ed25519")),
            "bob" => Some(key("bob_rsa3072")),
            "dave" => Some(key("dave_age.key")),
            "eve" => Some(self.eve_key.clone()),
            // The test plugin's identity opens the stanzas of plug and plug2 alike.
            "plug" if self.plugin_path.is_some() => Some(self.path().join("plugin.key")),
            _ => None, // carol needs a passphrase
        }
    }

    /// secrets.json with every test key named and `secrets` as the rule list:
    /// `(file, [key names], armor)`.
    fn rules(&self, secrets: &[(&str, &[&str], bool)]) {
        let keys: serde_json::Map<String, serde_json::Value> = [
            "alice", "web1", "bob", "carol", "dave", "eve", "plug", "plug2",
        ]
        .iter()
        .map(|n| (n.to_string(), self.pub_of(n).into()))
        .collect();
        let rules: serde_json::Map<String, serde_json::Value> = secrets
            .iter()
            .map(|(f, ks, armor)| {
                (
                    f.to_string(),
                    serde_json::json!({"publicKeys": ks, "armor": armor}),
                )
            })
            .collect();
        let doc = serde_json::json!({"keys": keys, "secrets": rules});
        self.repo.write("secrets.json", doc.to_string());
    }

    /// Encrypt with the real Go `age` (as agenix would): no lock entry is written.
    fn age_encrypt(&self, file: &str, to: &[&str], armor: bool) {
        let mut c = self.age();
        if armor {
            c.arg("-a");
        }
        for k in to {
            c.arg("-r").arg(self.pub_of(k));
        }
        c.arg("-o").arg(self.path().join(file));
        run_with_stdin(c, PAYLOAD);
    }

    /// Encrypt with `secrets encrypt` under the current rules (writes the lock entry).
    fn secrets_encrypt(&self, file: &str) {
        self.cmd()
            .args(["encrypt", file])
            .write_stdin(PAYLOAD)
            .assert()
            .success();
    }

    /// All usable test identities as `-i` arguments.
    fn all_ids(&self) -> Vec<String> {
        ["alice", "web1", "bob", "dave", "eve", "plug"]
            .iter()
            .filter(|n| self.key_of(n).is_some())
            .flat_map(|n| {
                [
                    "-i".to_string(),
                    self.key_of(n).unwrap().display().to_string(),
                ]
            })
            .collect()
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path().join(file)).unwrap()
    }

    fn check_json(&self) -> (i32, serde_json::Value) {
        let out = self.cmd().args(["check", "--json"]).output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check --json printed invalid JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap(), v)
    }
}

fn run_with_stdin(mut c: Command, input: &[u8]) {
    use std::io::Write;
    let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "{c:?} failed");
}

/// Decrypt with the real Go `age`: the plaintext, or age's stderr.
fn age_decrypt(key: &Path, file: &Path) -> Result<Vec<u8>, String> {
    age_decrypt_with(Command::new("age"), key, file)
}

fn age_decrypt_with(mut age: Command, key: &Path, file: &Path) -> Result<Vec<u8>, String> {
    let out = age.arg("-d").arg("-i").arg(key).arg(file).output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Go `age`'s refusal when the key opens no stanza of the file.
const AGE_NO_MATCH: &str = "no identity matched any of the recipients";

/// `age` refused the file because the key is not among its recipients; any other failure (a
/// missing key file, a damaged file) is not what the caller means to show.
fn assert_age_refuses(r: Result<Vec<u8>, String>, what: &str) {
    match r {
        Ok(_) => panic!("{what}: age decrypted it"),
        Err(e) => assert!(
            e.contains(AGE_NO_MATCH),
            "{what}: age failed for another reason: {e}"
        ),
    }
}

impl Fleet {
    fn snapshot_all(&self) -> Vec<(String, u32, Vec<u8>)> {
        self.repo.snapshot()
    }
}
