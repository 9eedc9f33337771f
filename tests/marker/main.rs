//! Plaintext containment: a random marker secret goes through the CLI (edit from stdin, edit in
//! a fake editor, decrypt to stdout and to a file, encrypt, agenix -e/-d, and failure paths: a
//! failing editor, a wrong key, an interrupted edit). After every step the marker must not be
//! in stderr, nor in stdout (except where printing the secret is the command's job), nor in any
//! file under the scratch directory (also HOME) or the temp base (XDG_RUNTIME_DIR, a fresh
//! directory on /dev/shm) other than the files the step is meant to write.
//!
//! Steps are rows of `steps()`. Rekey and check steps run like the others. Install steps
//! (root only) run a shell script under `unshare --mount --propagation private`: a tmpfs is
//! mounted on the scratch `run/` (which holds secretsDir, the mount point the installer mounts
//! its own tmpfs on, and secretsDirForUsers), the installer runs, and before the namespace
//! goes away the script lists the files below `run/` that hold a marker; those count as files
//! of the scratch dir, so the installed secret files must be listed in `intended`.
// Linux only: the temp base is on /dev/shm, and install steps use unshare.
#![cfg(target_os = "linux")]

#[path = "../common/mod.rs"]
mod common;

mod steps;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, files_with, key, placeholder, Repo};
use steps::steps;

/// The marker test's scratch world: a repo (also HOME), the temp base and the two markers.
struct Fixture {
    repo: Repo,
    /// XDG_RUNTIME_DIR: where edit puts the plaintext while the editor runs.
    run_dir: tempfile::TempDir,
    marker: String,
    marker2: String,
}

impl Fixture {
    fn new() -> Fixture {
        let repo = Repo::new();
        repo.json_rules(r#"{"db.age": {"publicKeys": ["alice"]}, "new.age": {"publicKeys": ["alice", "dave"], "armor": true}}"#);
        let run_dir = tempfile::tempdir_in("/dev/shm").unwrap();
        std::fs::set_permissions(run_dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(bin(), repo.path().join("agenix")).unwrap();
        let r = || {
            format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            )
        };
        Fixture {
            repo,
            run_dir,
            marker: format!("MARKER-{}", r()),
            marker2: format!("MARKER2-{}", r()),
        }
    }

    fn p(&self) -> &Path {
        self.repo.path()
    }

    fn command(&self, program: &Path, args: &[OsString]) -> Command {
        let mut c = common::command(program);
        c.args(args)
            .current_dir(self.p())
            .env("HOME", self.p())
            .env("XDG_RUNTIME_DIR", self.run_dir.path())
            .env("MARKER", &self.marker);
        c
    }

    /// Write an editor script and return its path.
    fn editor(&self, name: &str, body: &str) -> PathBuf {
        common::script(&self.p().join(name), body)
    }
}

fn alice() -> OsString {
    key("alice_ed25519").into_os_string()
}

/// How a step runs.
enum Run {
    /// The binary as `secrets`, stdin from a byte string (not a terminal).
    Stdin(Vec<u8>),
    /// Under `script`, so stdin is a terminal and edit runs $EDITOR; stdout and stderr arrive
    /// merged through the pseudo-terminal.
    Tty,
    /// Under `script`, interrupted with SIGINT once the editor has started.
    TtyInterrupt,
    /// `sh -c SCRIPT` in a private mount namespace with a tmpfs on `run/` (root only). The
    /// script sees $SECRETS (the binary); its stdout/stderr are the step's.
    Namespace(String),
}

/// Names of the lists the namespace script leaves: files below `run/` holding each marker.
const NS_FOUND: [&str; 2] = ["ns-found-1.list", "ns-found-2.list"];

/// How a step must end.
enum Ends {
    /// Exit 0.
    Ok,
    /// A non-zero exit with this fragment in stdout or stderr (the terminal's output, for a
    /// step under `script`): the failure the step is about, not another one on the way.
    Fails(&'static str),
}

struct Step {
    name: &'static str,
    /// Program name: "secrets" or "agenix" (a symlink to the binary).
    program: &'static str,
    args: fn(&Fixture) -> Vec<OsString>,
    /// Editor script body, when the step runs an editor (`$1` is the plaintext file).
    editor: Option<&'static str>,
    run: fn(&Fixture) -> Run,
    ends: Ends,
    /// stdout must contain the marker (decrypt to stdout); otherwise it must not.
    prints_secret: bool,
    /// Files (relative to the scratch dir) the step is meant to write with the plaintext.
    intended: &'static [&'static str],
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// Run `program args` under `script` so that stdin is a terminal.
fn tty_command(env: &Fixture, program: &Path, args: &[OsString]) -> Command {
    let mut line = shell_words::quote(&program.to_string_lossy()).into_owned();
    for a in args {
        line.push(' ');
        line.push_str(&shell_words::quote(&a.to_string_lossy()));
    }
    let mut c = env.command(Path::new("script"), &os(&["-qec", &line, "/dev/null"]));
    c.stdin(Stdio::null());
    c
}

fn run_step(env: &Fixture, step: &Step) -> Output {
    let program = match step.program {
        "agenix" => env.p().join("agenix"),
        _ => bin(),
    };
    let args = (step.args)(env);
    let run = (step.run)(env);
    let mut cmd = match &run {
        Run::Stdin(_) => env.command(&program, &args),
        Run::Tty | Run::TtyInterrupt => tty_command(env, &program, &args),
        Run::Namespace(body) => {
            let script = format!(
                r#"mount -t tmpfs -o mode=0755 tmpfs run || exit 91
(
{body}
)
rc=$?
grep -rlaF -e "$MARKER" run > {} 2>/dev/null
grep -rlaF -e "$MARKER2" run > {} 2>/dev/null
exit $rc"#,
                NS_FOUND[0], NS_FOUND[1]
            );
            std::fs::create_dir_all(env.p().join("run")).unwrap();
            let mut c = env.command(
                Path::new("unshare"),
                &os(&["--mount", "--propagation", "private", "sh", "-c", &script]),
            );
            c.env("SECRETS", bin()).env("MARKER2", &env.marker2);
            c
        }
    };
    if let Some(body) = step.editor {
        cmd.env("EDITOR", env.editor("editor.sh", body));
    }
    match run {
        Run::Stdin(input) => {
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
            child.wait_with_output().unwrap()
        }
        Run::Tty => cmd.output().unwrap(),
        Run::Namespace(_) => cmd.stdin(Stdio::null()).output().unwrap(),
        Run::TtyInterrupt => {
            let pid_file = env.p().join("editor.pid");
            let _ = std::fs::remove_file(&pid_file);
            let child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let pid = loop {
                if let Some(p) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                {
                    break p;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "editor never started"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            // The plaintext exists now, in a private directory under the temp base.
            let during = files_with(env.run_dir.path(), env.marker.as_bytes());
            assert_eq!(during.len(), 1, "plaintext file while editing: {during:?}");
            // SAFETY: signalling the secrets process the editor reported.
            unsafe { libc::kill(pid, libc::SIGINT) };
            child.wait_with_output().unwrap()
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn marker_never_leaks() {
    if common::missing("script") {
        return;
    }
    let env = Fixture::new();
    let mut problems = Vec::new();
    let mut install_ok = None;
    for step in steps() {
        let namespaced = matches!((step.run)(&env), Run::Namespace(_));
        if namespaced {
            let ok = *install_ok
                .get_or_insert_with(|| !common::not_root() && !common::missing("unshare"));
            if !ok {
                continue;
            }
        }
        let out = run_step(&env, &step);
        let mut p = Vec::new();
        match step.ends {
            Ends::Ok if !out.status.success() => {
                p.push(format!("exit {:?}, expected success", out.status.code()));
            }
            Ends::Fails(_) if out.status.success() => p.push("exit 0, expected a failure".into()),
            Ends::Fails(why) if !contains(&out.stdout, why) && !contains(&out.stderr, why) => {
                p.push(format!("failed, but not with {why:?}"));
            }
            _ => {}
        }
        for m in [&env.marker, &env.marker2] {
            if contains(&out.stderr, m) {
                p.push(format!("{m} in stderr"));
            }
            let in_stdout = contains(&out.stdout, m);
            if in_stdout && !(step.prints_secret && m == &env.marker) {
                p.push(format!("{m} in stdout"));
            }
            // Files inside the namespace's tmpfs, listed by the script before it went away.
            let idx = usize::from(m == &env.marker2);
            let in_ns: Vec<PathBuf> = std::fs::read_to_string(env.p().join(NS_FOUND[idx]))
                .unwrap_or_default()
                .lines()
                .map(|l| env.p().join(l))
                .collect();
            for dir in [env.p(), env.run_dir.path()] {
                for f in files_with(dir, m.as_bytes())
                    .into_iter()
                    .chain(in_ns.iter().filter(|_| dir == env.p()).cloned())
                {
                    let rel = f.strip_prefix(env.p()).ok();
                    if !rel.is_some_and(|r| step.intended.iter().any(|i| Path::new(i) == r)) {
                        p.push(format!("{m} in {}", f.display()));
                    }
                }
            }
        }
        if namespaced {
            // The install really happened: each intended file holds a marker.
            let found: Vec<String> = NS_FOUND
                .iter()
                .flat_map(|l| {
                    std::fs::read_to_string(env.p().join(l))
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            for i in step.intended {
                let on_disk = std::fs::read(env.p().join(i)).unwrap_or_default();
                if !found.iter().any(|f| f == i)
                    && !contains(&on_disk, &env.marker)
                    && !contains(&on_disk, &env.marker2)
                {
                    p.push(format!("{i} was not installed with the secret"));
                }
            }
        }
        if step.prints_secret && !contains(&out.stdout, &env.marker) {
            p.push("the secret was not printed".into());
        }
        // Nothing at all may be left in the temp base (private dirs are removed).
        let left: Vec<_> = std::fs::read_dir(env.run_dir.path())
            .unwrap()
            .flatten()
            .collect();
        if !left.is_empty() {
            p.push(format!("left in the temp base: {left:?}"));
        }
        for i in step.intended.iter().chain(&NS_FOUND) {
            let _ = std::fs::remove_file(env.p().join(i));
        }
        if !p.is_empty() {
            problems.push(format!(
                "{}: {}\n    stderr: {}",
                step.name,
                p.join("; "),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// decrypt -o creates the plaintext file 0600; edit's private directory was 0700 while it
/// existed (checked in the interrupt step above via the plaintext file's presence).
#[test]
fn decrypt_output_is_private() {
    let env = Fixture::new();
    let st = env
        .command(&bin(), &[OsString::from("encrypt"), "db.age".into()])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(&mut c.stdin.take().unwrap(), env.marker.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(st.success());
    let out = env
        .command(
            &bin(),
            &[
                "decrypt".into(),
                "db.age".into(),
                "-i".into(),
                alice(),
                "-o".into(),
                "o.txt".into(),
            ],
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(env.p().join("o.txt"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}
