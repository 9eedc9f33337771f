//! Daily use (issue 15): one error per bad key, message prefixes, rules found from anywhere,
//! decrypt without rules, "did you mean" for rule names, and when the lock file is created.
//! Every test asserts what the messages say, not only exit codes.

#[path = "../common/mod.rs"]
mod common;

mod decrypt;
mod discovery;
mod keys;
mod lock;
mod prefixes;
mod typos;

use std::path::Path;

use common::{key, pubkey, Repo};

/// The rules a new user writes in the Quickstart: alice (through the group admins) and web1.
fn quickstart(repo: &Repo, alice: &str) {
    let rules = serde_json::json!({
        "keys": {"alice": alice, "web1": pubkey("web1_ed25519")},
        "groups": {"admins": ["alice"]},
        "secrets": {
            "db-password.age": {"publicKeys": ["admins", "web1"]},
            "api-token.age": {"publicKeys": ["alice"]},
        }
    });
    repo.write("secrets.json", rules.to_string());
}

/// stdout and stderr of a finished command, as text.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(c: &mut assert_cmd::Command) -> Out {
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// No Rust debug value in a message a user sees.
fn assert_no_debug(text: &str) {
    for bad in ["Unsupported(", "Some(", "None", "Err(", "Ok(", "{ ", "\\\""] {
        assert!(!text.contains(bad), "debug formatting `{bad}` in:\n{text}");
    }
}

/// alice's private key file, for decrypting.
fn alice_key() -> std::path::PathBuf {
    key("alice_ed25519")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}
