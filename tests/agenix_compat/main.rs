//! agenix and ragenix, as their users know them, against the `agenix` and `ragenix` entries of
//! this binary. Each test restates one documented behaviour of those tools (agenix's script,
//! README and package check; ragenix's manual) in our own words and data, or one deliberate
//! difference (README, "agenix compatibility"). Files are made and read back with the real
//! `age` binary where that proves interop.
//!
//! The example repository is our own: a secrets.nix (agenix's format, evaluated by the real
//! nix-instantiate) with two keys of testdata/keys as "user" (alice, whose key is the default
//! ~/.ssh/id_ed25519) and "host" (web1), a file with a leading hyphen and an armored one.

#[path = "../common/mod.rs"]
mod common;

mod example;
mod messages;
mod ragenix;
mod rules_elsewhere;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{key, pubkey};

/// The example repository's files, their plaintexts, and to whom they are encrypted.
pub const GREETING: &[u8] = b"hello from the example\n";
pub const USER_ONLY: &[u8] = b"user only\n";
pub const DASHED: &[u8] = b"a name with a leading hyphen\n";
pub const PEM: &[u8] = b"armored\n";

/// A home with the user's key as the default identity, a repository, and links named
/// `agenix` and `ragenix` to the binary.
pub struct Example {
    tmp: tempfile::TempDir,
    /// Where the rules and the files are (the repository itself, or `secrets/` in it).
    pub rules_dir: PathBuf,
    /// What names in the rules are prefixed with ("" or "secrets/", agenix's layout with
    /// RULES elsewhere).
    pub prefix: &'static str,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Example {
    /// None (after a skip) when nix-instantiate or age is missing.
    pub fn new() -> Option<Example> {
        Self::with_layout("", "")
    }

    /// The repository with secrets.nix in `subdir` (e.g. "secrets/") and its names prefixed
    /// with `prefix`: ("secrets/", "secrets/") is agenix's RULES-elsewhere layout.
    pub fn with_layout(subdir: &str, prefix: &'static str) -> Option<Example> {
        if common::missing("nix-instantiate") || common::missing("age") {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let ex = Example {
            rules_dir: tmp.path().join("repo").join(subdir),
            tmp,
            prefix,
        };
        std::fs::create_dir_all(ex.home().join(".ssh")).unwrap();
        std::fs::create_dir_all(&ex.rules_dir).unwrap();
        std::fs::create_dir_all(ex.tmp.path().join("bin")).unwrap();
        for tool in ["agenix", "ragenix"] {
            std::os::unix::fs::symlink(common::bin(), ex.tool(tool)).unwrap();
        }
        ex.install_key("alice_ed25519", "id_ed25519");
        ex.write_rules("");
        ex.age_encrypt("greeting.age", &["alice", "web1"], false, GREETING);
        ex.age_encrypt("user-only.age", &["alice"], false, USER_ONLY);
        ex.age_encrypt("-dashed.age", &["alice", "web1"], false, DASHED);
        ex.age_encrypt("pem.age", &["alice"], true, PEM);
        Some(ex)
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    pub fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.tmp.path().join("bin").join(name)
    }

    /// A scratch directory outside the repository (editor scripts, other keys).
    pub fn scratch(&self) -> PathBuf {
        let p = self.tmp.path().join("scratch");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Copy a test key into ~/.ssh under `as_name`.
    pub fn install_key(&self, name: &str, as_name: &str) {
        use std::os::unix::fs::PermissionsExt;
        let dst = self.home().join(".ssh").join(as_name);
        std::fs::copy(key(name), &dst).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// secrets.nix with the example's rules plus `extra` (more attributes, Nix syntax).
    pub fn write_rules(&self, extra: &str) {
        let p = self.prefix;
        let text = format!(
            r#"let
  user = "{user}";
  host = "{host}";
  other = "{other}";
in
{{
  "{p}greeting.age".publicKeys = [ user host ];
  "{p}user-only.age".publicKeys = [ user ];
  "{p}-dashed.age".publicKeys = [ user host ];
  "{p}pem.age" = {{
    publicKeys = [ user ];
    armor = true;
  }};
  "{p}not-yet.age".publicKeys = [ user host ];
{extra}
}}
"#,
            user = pubkey("alice_ed25519"),
            host = pubkey("web1_ed25519"),
            other = pubkey("bob_rsa3072"),
        );
        std::fs::write(self.rules_dir.join("secrets.nix"), text).unwrap();
    }

    /// The file a rule names, as agenix places it: its name from the repository root.
    pub fn file(&self, name: &str) -> PathBuf {
        self.repo().join(self.prefix).join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap()
    }

    /// Encrypt with the real `age` to the given test keys' public keys.
    pub fn age_encrypt(&self, name: &str, keys: &[&str], armor: bool, plain: &[u8]) {
        let mut c = Command::new("age");
        c.arg("-e");
        if armor {
            c.arg("-a");
        }
        for k in keys {
            c.args(["-R", key(&format!("{}.pub", key_file(k))).to_str().unwrap()]);
        }
        c.arg("-o").arg(self.file(name));
        let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(plain).unwrap();
        assert!(child.wait().unwrap().success(), "age -e {name}");
    }

    /// Decrypt with the real `age` and a test key.
    pub fn age_decrypt(&self, name: &str, with: &str) -> Result<Vec<u8>, String> {
        let out = Command::new("age")
            .args(["-d", "-i"])
            .arg(key(key_file(with)))
            .arg(self.file(name))
            .output()
            .unwrap();
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Run `tool` (agenix, ragenix) in the repository with this home, the given environment
    /// (RULES, EDITOR, …) and stdin (None: /dev/null).
    pub fn run(
        &self,
        tool: &str,
        env: &[(&str, &str)],
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Out {
        self.run_in(&self.repo(), tool, env, args, stdin)
    }

    pub fn run_in(
        &self,
        dir: &Path,
        tool: &str,
        env: &[(&str, &str)],
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Out {
        let mut c = common::command(self.tool(tool));
        c.current_dir(dir).env("HOME", self.home()).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(data) = stdin {
            // A child that fails before reading its input (a usage error) closes the pipe.
            if let Err(e) = child.stdin.take().unwrap().write_all(data) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run `tool` on a terminal (the editor path); None (after a skip) without python3.
    pub fn run_tty(&self, tool: &str, env: &[(&str, &str)], args: &[&str]) -> Option<Out> {
        if common::missing("python3") {
            return None;
        }
        let mut pty =
            common::Pty::program(&self.repo(), &self.tool(tool), args).env("HOME", self.home());
        for (k, v) in env {
            pty = pty.env(k, v);
        }
        let (code, _, text) = pty.run();
        Some(Out {
            code,
            stdout: String::new(),
            stderr: text,
        })
    }

    /// An editor script in the scratch directory; returns its path as a string.
    pub fn editor(&self, name: &str, body: &str) -> String {
        let p = common::script(&self.scratch().join(name), body);
        p.to_str().unwrap().to_string()
    }

    /// Every file in the repository (where a run may write), with its content, sorted.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = common::walk(&self.repo())
            .into_iter()
            .filter(|e| e.meta.is_file())
            .map(|e| (e.rel.clone(), std::fs::read(&e.path).unwrap()))
            .collect();
        out.sort();
        out
    }
}

/// The test key behind a role name.
fn key_file(role: &str) -> &str {
    match role {
        "alice" => "alice_ed25519",
        "web1" => "web1_ed25519",
        "bob" => "bob_rsa3072",
        other => other,
    }
}

/// The names of the files in a snapshot.
pub fn names(snap: &[(String, Vec<u8>)]) -> Vec<&str> {
    snap.iter().map(|(n, _)| n.as_str()).collect()
}
