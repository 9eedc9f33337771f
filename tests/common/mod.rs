//! Shared test support: the binary, test keys, scratch dirs, and skips that CI turns into
//! failures (`SECRETS_TEST_NO_SKIP=1`), so a missing tool can never pass silently there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_secrets"))
}

/// The developer's own rules, keys and editor: kept out of every run of the binary in tests.
pub const DEV_ENV: [&str; 4] = ["RULES", "SECRETS_IDENTITY", "VISUAL", "EDITOR"];

/// The binary, for assertions (`assert_cmd`), without `DEV_ENV`.
pub fn cmd() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(bin());
    for v in DEV_ENV {
        c.env_remove(v);
    }
    c
}

/// `program` (the binary, or a wrapper that runs it) without `DEV_ENV`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    for v in DEV_ENV {
        c.env_remove(v);
    }
    c
}

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

pub fn key(name: &str) -> PathBuf {
    testdata().join("keys").join(name)
}

pub fn pubkey(name: &str) -> String {
    std::fs::read_to_string(key(&format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

/// Print why a test is skipped, or fail when CI demands that nothing is skipped
/// (`SECRETS_TEST_NO_SKIP=1`). Returns true when the caller should return early.
pub fn skip(reason: &str) -> bool {
    skip_kind("", reason)
}

/// Like `skip`, for a skip of a named kind that `SECRETS_TEST_ALLOW_SKIP=kind1,kind2` may permit
/// even under `SECRETS_TEST_NO_SKIP=1` (for a dependency no package registry provides).
pub fn skip_kind(kind: &str, reason: &str) -> bool {
    use std::io::Write;
    let allowed = !kind.is_empty()
        && std::env::var("SECRETS_TEST_ALLOW_SKIP")
            .unwrap_or_default()
            .split(',')
            .any(|k| k.trim() == kind);
    if !allowed && std::env::var_os("SECRETS_TEST_NO_SKIP").is_some_and(|v| v == "1") {
        panic!("required by SECRETS_TEST_NO_SKIP=1 but unavailable: {reason}");
    }
    // Straight to fd 2: the test harness captures eprintln!, and a skip must show in CI logs.
    let tag = if kind.is_empty() {
        String::new()
    } else {
        format!("[{kind}]")
    };
    // One write, so the line is not torn apart by the harness's own output.
    let line = format!("SKIP{tag}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    true
}

/// True when `<nixpkgs/lib>` resolves (module evaluation tests need it); otherwise reports a
/// skip of kind `nixpkgs`, the one dependency no package registry provides (CI may allow it
/// with `SECRETS_TEST_ALLOW_SKIP=nixpkgs`). nix-instantiate itself is required like any tool.
pub fn nixpkgs_lib() -> bool {
    if missing("nix-instantiate") {
        return false;
    }
    let out = Command::new("nix-instantiate")
        .args(["--find-file", "nixpkgs/lib"])
        .output()
        .expect("run nix-instantiate");
    out.status.success()
        || !skip_kind(
            "nixpkgs",
            &format!(
                "<nixpkgs/lib> not found (set NIX_PATH=nixpkgs=<nixpkgs or nixpkgs.lib checkout>): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when this source tree has flake.nix; otherwise reports a skip. The Nix package's
/// source leaves the flake out (editing it must not rebuild the package), and its
/// `cargo test` runs without it.
pub fn has_flake() -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flake.nix")
        .exists()
        || !skip("flake.nix is not in this source tree (the Nix package's source leaves it out)")
}

/// A real age plugin, for the plugin code paths: `age-plugin-unencrypted`, the example plugin
/// of the `age-plugin` crate (crates.io), built once per target dir with `cargo install`. It
/// speaks the plugin protocol for recipients and identities but puts file keys in its stanzas
/// unencrypted, and any of its identities opens any of its stanzas: test use only. Its
/// recipient is `age1unencrypted1k5fr0r` (other data after the `1` is accepted too), its
/// identity `AGE-PLUGIN-UNENCRYPTED-1CR7ZD5`. Returns the directory holding the program, or
/// None after a skip when cargo or the registry is unreachable.
pub fn age_plugin_dir() -> Option<PathBuf> {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("age-plugin-0.7.0");
    let bin = root.join("bin");
    if bin.join("age-plugin-unencrypted").is_file() {
        return Some(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "install",
            "--quiet",
            "--locked",
            "age-plugin",
            "--version",
            "=0.7.0",
            "--example",
            "age-plugin-unencrypted",
            "--root",
        ])
        .arg(&root)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => {
            skip(&format!(
                "cargo install age-plugin (example age-plugin-unencrypted) failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            None
        }
        Err(e) => {
            skip(&format!("cannot run cargo to build an age plugin: {e}"));
            None
        }
    }
}

/// $PATH with `dir` in front, for a child that must find a plugin there.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap()
}

pub const PLUGIN_RECIPIENT: &str = "age1unencrypted1k5fr0r";
pub const PLUGIN_IDENTITY: &str = "AGE-PLUGIN-UNENCRYPTED-1CR7ZD5";

/// Write an executable `/bin/sh` script with `body` at `path` (stand-in programs); returns it.
pub fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Where `tool` is on this process's PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// True (after printing/failing) when `tool` is missing.
pub fn missing(tool: &str) -> bool {
    !have(tool) && skip(&format!("`{tool}` is not installed"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// True (after printing/failing) when not root.
pub fn not_root() -> bool {
    !is_root() && skip("needs root (mounts, chown)")
}

/// Run the binary on a pseudo-terminal (passphrases are read from /dev/tty) in `dir` with
/// HOME=`dir`, answering each `Passphrase for` prompt with the next of `answers` (the last one
/// repeats). Returns (exit code, number of prompts, terminal transcript). Needs python3.
pub fn run_in_pty(dir: &Path, args: &[&str], answers: &[&str]) -> (i32, usize, String) {
    Pty::new(dir, args).answers(answers).run()
}

/// A run of the binary on a pseudo-terminal, for what needs a terminal: passphrase prompts,
/// the editor path of `edit`, Ctrl-C.
pub struct Pty {
    cmd: Command,
    answers: Vec<String>,
    interrupt_after: String,
}

impl Pty {
    pub fn new(dir: &Path, args: &[&str]) -> Pty {
        Pty::program(dir, &bin(), args)
    }

    /// Another program (e.g. a link named `agenix` to the binary).
    pub fn program(dir: &Path, program: &Path, args: &[&str]) -> Pty {
        let mut cmd = command("python3");
        cmd.arg("-c")
            .arg(PTY_DRIVER)
            .current_dir(dir)
            .env("HOME", dir);
        let mut pty = Pty {
            cmd,
            answers: vec![String::new()],
            interrupt_after: String::new(),
        };
        pty.cmd.arg(program).args(args);
        pty
    }

    pub fn answers(mut self, answers: &[&str]) -> Pty {
        self.answers = answers.iter().map(|a| a.to_string()).collect();
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Pty {
        self.cmd.env(key, value);
        self
    }

    /// Type Ctrl-C once `text` has appeared on the terminal.
    pub fn interrupt_after(mut self, text: &str) -> Pty {
        self.interrupt_after = text.to_string();
        self
    }

    pub fn run(mut self) -> (i32, usize, String) {
        let out = self
            .cmd
            .env("PTY_ANSWERS", self.answers.join("\x1f"))
            .env("PTY_INTERRUPT_AFTER", &self.interrupt_after)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let mut it = first.split(' ');
        let code = it.next().unwrap().parse().unwrap();
        let prompts = it.next().unwrap().parse().unwrap();
        (code, prompts, rest.to_string())
    }
}

const PTY_DRIVER: &str = r#"
import os, pty, sys, time
answers = [a.encode() + b"\n" for a in os.environ["PTY_ANSWERS"].split("\x1f")]
interrupt = os.environ["PTY_INTERRUPT_AFTER"].encode()
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
prompts = 0
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    while out.count(b"Passphrase for") > prompts:
        os.write(fd, answers[min(prompts, len(answers) - 1)])
        prompts += 1
    if interrupt and interrupt in out:
        interrupt = b""
        time.sleep(0.3)
        os.write(fd, b"\x03")
_, status = os.waitpid(pid, 0)
sys.stdout.write("%d %d\n" % (os.waitstatus_to_exitcode(status) & 0xff, prompts))
sys.stdout.write(out.decode(errors="replace"))
"#;

/// A scratch directory on /dev/shm (a tmpfs), as `$XDG_RUNTIME_DIR` would be; None (after a
/// skip) when there is none.
pub fn shm_dir() -> Option<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("secrets-test-")
        .tempdir_in("/dev/shm")
        .ok();
    if dir.is_none() {
        skip("/dev/shm is not available");
    }
    dir
}

/// What a run of the binary on a terminal with a RAM-backed temp base needs: python3 (the
/// `Pty` driver) and a directory on /dev/shm, returned; None after a skip.
pub fn pty_runtime() -> Option<tempfile::TempDir> {
    if missing("python3") {
        return None;
    }
    shm_dir()
}

/// A scratch directory with a rules file; dropped at the end of the test.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        Repo {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `secrets.json` with the test keys named alice, web1, bob, carol, dave.
    pub fn json_rules(&self, secrets: &str) -> PathBuf {
        let rules = format!(
            r#"{{"keys": {{"alice": "{}", "web1": "{}", "bob": "{}", "carol": "{}", "dave": "{}"}},
  "secrets": {secrets}}}"#,
            pubkey("alice_ed25519"),
            pubkey("web1_ed25519"),
            pubkey("bob_rsa3072"),
            pubkey("carol_rsa4096_pass"),
            pubkey("dave_age"),
        );
        self.write("secrets.json", rules)
    }

    /// `secrets encrypt FILE` with `value` on stdin, under this directory's rules; must succeed.
    pub fn encrypt(&self, file: &str, value: &str) {
        self.cmd()
            .args(["encrypt", file])
            .write_stdin(value)
            .assert()
            .success();
    }

    /// A command running in this directory.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = cmd();
        c.current_dir(self.path()).env("HOME", self.path());
        c
    }

    /// Snapshot of every file below the directory: path, mode and content.
    pub fn snapshot(&self) -> Vec<(String, u32, Vec<u8>)> {
        snapshot(self.path())
    }
}

/// One entry of a tree walk: its path, its path relative to the walk's root, and its own
/// metadata (links are not followed).
pub struct Entry {
    pub path: PathBuf,
    pub rel: String,
    pub meta: std::fs::Metadata,
}

/// Every entry below `dir` (not `dir` itself), sorted by relative path; the one tree walker of
/// the tests. Directories that cannot be read (a FIFO, a mode-000 directory) are not entered.
pub fn walk(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push(Entry { path, rel, meta });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// Snapshot of every entry below `dir`: path, mode and content (a link's target; nothing for
/// a directory, FIFO, socket or device, whose mode says what it is).
pub fn snapshot(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<_> = walk(dir)
        .into_iter()
        .map(|e| {
            if e.meta.file_type().is_symlink() {
                let t = std::fs::read_link(&e.path).unwrap();
                (e.rel, 0o120000, t.display().to_string().into_bytes())
            } else if e.meta.is_file() {
                let content = std::fs::read(&e.path).unwrap_or_default();
                (e.rel, e.meta.mode(), content)
            } else {
                // Reading a FIFO, socket or device could block.
                (e.rel, e.meta.mode(), Vec::new())
            }
        })
        .collect();
    out.sort();
    out
}

/// Every entry below `dir` with type, mode, owner, group and content (or link target).
pub fn full_snapshot(dir: &Path) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<_> = walk(dir)
        .into_iter()
        .map(|e| {
            let content = if e.meta.file_type().is_symlink() {
                std::fs::read_link(&e.path)
                    .unwrap()
                    .display()
                    .to_string()
                    .into_bytes()
            } else if e.meta.is_file() {
                std::fs::read(&e.path).unwrap()
            } else {
                Vec::new()
            };
            let m = &e.meta;
            (e.rel, m.mode(), m.uid(), m.gid(), content)
        })
        .collect();
    out.sort();
    out
}

/// Regular files below `dir` whose content contains `needle`.
pub fn files_with(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|e| e.meta.is_file())
        .filter(|e| {
            let data = std::fs::read(&e.path).unwrap_or_default();
            data.windows(needle.len()).any(|w| w == needle)
        })
        .map(|e| e.path)
        .collect()
}

/// A FIFO at `p`.
pub fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o666) },
        0,
        "mkfifo {}",
        p.display()
    );
}

/// An install manifest (version 1) whose directories are below `root` (`run/agenix`,
/// `run/agenix.d`, `run/agenix-for-users`), with `identity` as its one identity, no restarts and
/// `secrets`; the top-level fields of `extra` are put over these. The one manifest builder of
/// the tests.
pub fn manifest_value(
    root: &Path,
    identity: &Path,
    secrets: serde_json::Value,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut m = serde_json::json!({
        "version": 1,
        "secretsDir": root.join("run/agenix"),
        "secretsMountPoint": root.join("run/agenix.d"),
        "secretsDirForUsers": root.join("run/agenix-for-users"),
        "identityPaths": [identity],
        "restartMode": "none",
        "secrets": secrets,
    });
    if let serde_json::Value::Object(e) = extra {
        for (k, v) in e {
            m[k] = v;
        }
    }
    m
}

/// The placeholder for secret attribute `attr`, as the NixOS module writes it.
pub fn placeholder(attr: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(attr.as_bytes());
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("<SECRET:{hex}:PLACEHOLDER>")
}

/// `nix-instantiate --eval --strict --json ARGS` in the source tree, parsed; panics with
/// nix-instantiate's stderr when the evaluation fails (`what` says which one).
pub fn nix_eval<S: AsRef<std::ffi::OsStr>>(what: &str, args: &[S]) -> serde_json::Value {
    nix_eval_warnings(what, args).0
}

/// `nix_eval`, with what nix-instantiate said on stderr (warnings, traces).
pub fn nix_eval_warnings<S: AsRef<std::ffi::OsStr>>(
    what: &str,
    args: &[S],
) -> (serde_json::Value, String) {
    let out = Command::new("nix-instantiate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--eval", "--strict", "--json"])
        .args(args)
        .output()
        .expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "evaluating {what} failed:\n{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let v =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON for {what}: {e}\n{text}"));
    (v, stderr)
}

/// A real JSON Schema validator (python3's jsonschema), for tests that check our schemas and
/// the documents they describe. None when python3 or its jsonschema module is missing (a skip,
/// a failure under SECRETS_TEST_NO_SKIP).
#[allow(dead_code)] // not every test binary validates JSON
pub fn json_schema_validator() -> Option<JsonSchemaValidator> {
    if missing("python3") {
        return None;
    }
    let have = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !have && skip("python3's jsonschema module is not installed") {
        return None;
    }
    Some(JsonSchemaValidator)
}

#[allow(dead_code)]
pub struct JsonSchemaValidator;

#[allow(dead_code)]
impl JsonSchemaValidator {
    /// Whether `instance` is valid against `schema` (itself checked as a schema first); Err
    /// carries the validator's complaint.
    pub fn validate(&self, schema: &str, instance: &str) -> Result<(), String> {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 s = json.loads(sys.argv[1]); i = json.load(sys.stdin)\n\
                 jsonschema.validators.validator_for(s).check_schema(s)\n\
                 jsonschema.validate(i, s)",
                schema,
            ])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(instance.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}
