//! Plaintext containment: a random marker secret goes through the CLI (edit from stdin, edit in
//! a fake editor, decrypt to stdout and to a file, encrypt, agenix -e/-d, and failure paths: a
//! failing editor, a wrong key, an interrupted edit). After every step the marker must not be
//! in stderr, nor in stdout (except where printing the secret is the command's job), nor in any
//! file under the scratch directory (also HOME) or the temp base (XDG_RUNTIME_DIR, a fresh
//! directory on /dev/shm) other than the files the step is meant to write.
//!
//! Steps are rows of `steps()`; install/rekey steps can be added the same way.

mod common;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, key, Repo};

struct Env {
    repo: Repo,
    /// XDG_RUNTIME_DIR: where edit puts the plaintext while the editor runs.
    run_dir: tempfile::TempDir,
    marker: String,
    marker2: String,
}

impl Env {
    fn new() -> Env {
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
        Env {
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
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(self.p())
            .env("HOME", self.p())
            .env("XDG_RUNTIME_DIR", self.run_dir.path())
            .env("MARKER", &self.marker)
            .env_remove("RULES")
            .env_remove("SECRETS_IDENTITY")
            .env_remove("VISUAL")
            .env_remove("EDITOR");
        c
    }

    /// Write an editor script and return its path.
    fn editor(&self, name: &str, body: &str) -> PathBuf {
        let p = self.p().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
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
}

struct Step {
    name: &'static str,
    /// Program name: "secrets" or "agenix" (a symlink to the binary).
    program: &'static str,
    args: fn(&Env) -> Vec<OsString>,
    /// Editor script body, when the step runs an editor (`$1` is the plaintext file).
    editor: Option<&'static str>,
    run: fn(&Env) -> Run,
    success: bool,
    /// stdout must contain the marker (decrypt to stdout); otherwise it must not.
    prints_secret: bool,
    /// Files (relative to the scratch dir) the step is meant to write with the plaintext.
    intended: &'static [&'static str],
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "edit from stdin creates db.age",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            success: true,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "decrypt to stdout",
            program: "secrets",
            args: |_| vec!["decrypt".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            success: true,
            prints_secret: true,
            intended: &[],
        },
        Step {
            name: "decrypt -o",
            program: "secrets",
            args: |_| {
                let mut v = vec!["decrypt".into(), "db.age".into(), "-i".into(), alice()];
                v.extend(os(&["-o", "out/plain.txt"]));
                v
            },
            editor: None,
            run: |e| {
                std::fs::create_dir_all(e.p().join("out")).unwrap();
                Run::Stdin(Vec::new())
            },
            success: true,
            prints_secret: false,
            intended: &["out/plain.txt"],
        },
        Step {
            name: "edit in an editor that appends a line",
            program: "secrets",
            args: |_| {
                vec![
                    "-v".into(),
                    "edit".into(),
                    "db.age".into(),
                    "-i".into(),
                    alice(),
                ]
            },
            editor: Some(r#"grep -q "$MARKER" "$1" || exit 9; echo appended >> "$1""#),
            run: |_| Run::Tty,
            success: true,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit with an editor that fails",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            editor: Some(r#"echo more >> "$1"; exit 3"#),
            run: |_| Run::Tty,
            success: false,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit interrupted by SIGINT",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            // Tell the test which process to interrupt (our parent: secrets), then wait.
            editor: Some(r#"echo $PPID > "$HOME/editor.pid"; sleep 30"#),
            run: |_| Run::TtyInterrupt,
            success: false,
            prints_secret: false,
            intended: &["editor.pid"],
        },
        Step {
            name: "decrypt with the wrong key",
            program: "secrets",
            args: |_| {
                vec![
                    "decrypt".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("bob_rsa3072").into_os_string(),
                ]
            },
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            success: false,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit from stdin when the old value cannot be decrypted",
            program: "secrets",
            args: |_| {
                vec![
                    "edit".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("web1_ed25519").into_os_string(),
                ]
            },
            editor: None,
            run: |e| Run::Stdin(e.marker2.clone().into_bytes()),
            success: false,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "encrypt from stdin (armored, two recipients)",
            program: "secrets",
            args: |_| os(&["-v", "encrypt", "new.age"]),
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            success: true,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "encrypt --input",
            program: "secrets",
            args: |_| os(&["encrypt", "new.age", "--input", "input.txt"]),
            editor: None,
            run: |e| {
                std::fs::write(e.p().join("input.txt"), &e.marker).unwrap();
                Run::Stdin(Vec::new())
            },
            success: true,
            prints_secret: false,
            intended: &["input.txt"],
        },
        Step {
            name: "agenix -e from stdin",
            program: "agenix",
            args: |_| vec!["-e".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            success: true,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "agenix -d",
            program: "agenix",
            args: |_| vec!["-d".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            success: true,
            prints_secret: true,
            intended: &[],
        },
        Step {
            name: "agenix -d with the wrong key",
            program: "agenix",
            args: |_| {
                vec![
                    "-d".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("dave_age.key").into_os_string(),
                ]
            },
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            success: false,
            prints_secret: false,
            intended: &[],
        },
    ]
}

/// Run `program args` under `script` so that stdin is a terminal.
fn tty_command(env: &Env, program: &Path, args: &[OsString]) -> Command {
    let mut line = shell_words::quote(&program.to_string_lossy()).into_owned();
    for a in args {
        line.push(' ');
        line.push_str(&shell_words::quote(&a.to_string_lossy()));
    }
    let mut c = env.command(Path::new("script"), &os(&["-qec", &line, "/dev/null"]));
    c.stdin(Stdio::null());
    c
}

fn run_step(env: &Env, step: &Step) -> Output {
    let program = match step.program {
        "agenix" => env.p().join("agenix"),
        _ => bin(),
    };
    let args = (step.args)(env);
    let run = (step.run)(env);
    let mut cmd = match run {
        Run::Stdin(_) => env.command(&program, &args),
        Run::Tty | Run::TtyInterrupt => tty_command(env, &program, &args),
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

/// Files below `dir` whose content contains `needle`.
fn files_with(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let data = std::fs::read(&p).unwrap_or_default();
                if data.windows(needle.len()).any(|w| w == needle) {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn marker_never_leaks() {
    if common::missing("script") {
        return;
    }
    let env = Env::new();
    let mut problems = Vec::new();
    for step in steps() {
        let out = run_step(&env, &step);
        let mut p = Vec::new();
        if out.status.success() != step.success {
            p.push(format!(
                "exit {:?}, expected success={}",
                out.status.code(),
                step.success
            ));
        }
        for m in [&env.marker, &env.marker2] {
            if contains(&out.stderr, m) {
                p.push(format!("{m} in stderr"));
            }
            let in_stdout = contains(&out.stdout, m);
            if in_stdout && !(step.prints_secret && m == &env.marker) {
                p.push(format!("{m} in stdout"));
            }
            for dir in [env.p(), env.run_dir.path()] {
                for f in files_with(dir, m.as_bytes()) {
                    let rel = f.strip_prefix(env.p()).ok();
                    if !rel.is_some_and(|r| step.intended.iter().any(|i| Path::new(i) == r)) {
                        p.push(format!("{m} in {}", f.display()));
                    }
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
        for i in step.intended {
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
    let env = Env::new();
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
