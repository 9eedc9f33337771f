//! The command kind: dependencies' plaintext in a private directory on a tmpfs, never in the
//! command's arguments or environment, gone afterwards; identities only for dependencies that
//! already exist; refused where no RAM-backed directory exists.

use super::*;

/// A script (in the rules directory, named `./derive.sh` in the rule) that records where it
/// ran and what it was given into `report` (outside the private directory), then prints
/// `admin:` and the dependency `pw`.
#[cfg(target_os = "linux")] // /proc, GNU stat
fn derive_script(f: &Fixture) -> PathBuf {
    let report = f.path().join("report.txt");
    let p = common::script(
        &f.path().join("derive.sh"),
        &format!(
            r#"set -e
{{ pwd; stat -f -c %T .; stat -c %a .; ls; echo ARGV; tr '\0' ' ' < /proc/$$/cmdline; echo; echo ENV; env; }} > '{}'
printf 'admin:%s\n' "$(cat pw)"
"#,
            report.display()
        ),
    );
    assert!(p.exists());
    report
}

/// A dependency made in the same run is handed over without any identity (HOME empty): the
/// command reads it from its working directory, a fresh 0700 directory on the tmpfs of
/// $XDG_RUNTIME_DIR, which is gone afterwards; the value is in neither its argv nor its
/// environment.
#[cfg(target_os = "linux")]
#[test]
fn command_with_a_dependency_made_in_the_same_run() {
    if common::missing("age") {
        return;
    }
    let Some(runtime) = common::shm_dir() else {
        return;
    };
    let mut f = Fixture::new(&rules(&[
        rule("pw.age", r#""alnum""#),
        rule(
            "htpasswd.age",
            r#"{"kind": "command", "command": ["./derive.sh", "--flag"], "dependencies": ["./pw.age"]}"#,
        ),
    ]));
    let report = derive_script(&f);
    f.runtime = Some(runtime);
    let out = f
        .generate(&["--allow-commands"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("htpasswd.age: running `./derive.sh --flag` from the rules, given pw.age"),
        "{stderr}"
    );
    let pw = f.age_decrypt("pw.age");
    let derived = f.age_decrypt("htpasswd.age");
    assert_eq!(derived, [b"admin:".as_slice(), &pw, b"\n"].concat());

    let report = std::fs::read_to_string(report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    let runtime = f.runtime.as_ref().unwrap().path();
    let cwd = Path::new(lines[0]);
    assert_eq!(cwd.parent(), Some(runtime), "{report}");
    assert_eq!(lines[1], "tmpfs", "{report}");
    assert_eq!(lines[2], "700", "{report}");
    assert_eq!(lines[3], "pw", "{report}");
    let pw = std::str::from_utf8(&pw).unwrap();
    assert!(
        !report.contains(pw),
        "the plaintext reached argv or the environment:\n{report}"
    );
    assert!(report.contains("derive.sh --flag"), "{report}");
    assert!(!cwd.exists(), "the private directory is still there");
    assert!(std::fs::read_dir(runtime).unwrap().next().is_none());
    assert!(f.home_is_empty());
}

/// A dependency that exists already is decrypted, which needs an identity: without one the
/// command generator fails saying so (and the others are made); with -i it is made.
#[test]
fn command_with_an_existing_dependency_needs_an_identity() {
    if common::missing("age") {
        return;
    }
    let Some(runtime) = common::shm_dir() else {
        return;
    };
    let mut f = Fixture::new(&rules(&[
        r#""db.age": {"publicKeys": ["alice"]}"#.to_string(),
        rule(
            "db-url.age",
            r#"{"kind": "command", "command": ["sh", "-c", "printf 'postgres://app:%s@db/app' \"$(cat db)\""], "dependencies": ["db.age"]}"#,
        ),
        rule("other.age", r#""hex""#),
    ]));
    f.runtime = Some(runtime);
    f.repo.encrypt("db.age", "hunter2");
    let out = f
        .generate(&["--allow-commands"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("  - db-url.age: reading dependency db.age of db-url.age needs an identity: no identity to decrypt with"),
        "{stderr}"
    );
    assert!(f.path().join("other.age").exists());
    assert!(!f.path().join("db-url.age").exists());

    f.generate(&["--allow-commands", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(
        f.age_decrypt("db-url.age"),
        b"postgres://app:hunter2@db/app"
    );
}

/// A dependency that does not exist (and is not being made) or has no rule fails that
/// generator with the fix; a cycle fails both of its members.
#[test]
fn missing_dependencies_and_cycles() {
    let f = Fixture::new(&rules(&[
        r#""manual.age": {"publicKeys": ["alice"]}"#.to_string(),
        rule(
            "a.age",
            r#"{"kind": "command", "command": ["cat", "manual"], "dependencies": ["manual.age"]}"#,
        ),
        rule(
            "b.age",
            r#"{"kind": "command", "command": ["cat", "x"], "dependencies": ["nowhere.age"]}"#,
        ),
        rule(
            "c.age",
            r#"{"kind": "command", "command": ["cat", "d"], "dependencies": ["d.age"]}"#,
        ),
        rule(
            "d.age",
            r#"{"kind": "command", "command": ["cat", "c"], "dependencies": ["c.age"]}"#,
        ),
    ]));
    let out = f
        .generate(&["--allow-commands"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generated 0 file(s); 4 failed:"),
        "{stderr}"
    );
    assert!(stderr.contains("a.age: dependency manual.age does not exist; set it with `secrets edit manual.age` first"), "{stderr}");
    assert!(
        stderr.contains("b.age: dependency \"nowhere.age\" has no rule in"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c.age: its dependencies form a cycle"),
        "{stderr}"
    );
    assert!(
        stderr.contains("d.age: its dependencies form a cycle"),
        "{stderr}"
    );
}

/// With no RAM-backed directory ($XDG_RUNTIME_DIR on a disk, a disk bind-mounted over
/// /dev/shm in a private mount namespace) the command generator is refused with the reason,
/// and the dependency's plaintext is nowhere on disk.
#[cfg(target_os = "linux")]
#[test]
fn no_ram_backed_directory_is_refused() {
    if common::not_root() || common::missing("unshare") || common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("pw.age", r#""alnum""#),
        rule(
            "copy.age",
            r#"{"kind": "command", "command": ["cat", "pw"], "dependencies": ["pw.age"]}"#,
        ),
    ]));
    let disk = tempfile::tempdir().unwrap();
    let fake_shm = tempfile::tempdir().unwrap();
    let out = common::command("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" /dev/shm && cd "$2" && exec "$3" generate --allow-commands"#)
        .arg("sh")
        .arg(fake_shm.path())
        .arg(f.path())
        .arg(common::bin())
        .env("HOME", f.home.path())
        .env("XDG_RUNTIME_DIR", disk.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "copy.age: dependencies: no RAM-backed directory for their plaintext (tried {}, /dev/shm)",
            disk.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("a command generator never puts plaintext on a disk"),
        "{stderr}"
    );
    assert!(!f.path().join("copy.age").exists());
    let pw = f.age_decrypt("pw.age");
    for d in [disk.path(), fake_shm.path(), f.path()] {
        assert!(
            common::files_with(d, &pw).is_empty(),
            "plaintext under {}",
            d.display()
        );
    }
}

/// Ctrl-C while the command runs (SIGINT to the whole process group, as a terminal sends it):
/// the command stops, the dependencies' plaintext is wiped and removed before `secrets`
/// exits (130), and nothing is written for that rule; the run stops there.
#[test]
fn ctrl_c_during_a_command_removes_the_plaintext() {
    use std::os::unix::process::CommandExt;
    if common::missing("age") {
        return;
    }
    let Some(runtime) = common::shm_dir() else {
        return;
    };
    let f = Fixture::new(&rules(&[
        rule("pw.age", r#""alnum""#),
        rule(
            "slow.age",
            r#"{"kind": "command", "command": ["sh", "-c", "touch ../started-marker; sleep 30"], "dependencies": ["pw.age"]}"#,
        ),
    ]));
    // The marker lands next to the private directory, in the runtime directory: "../".
    let marker = runtime.path().join("started-marker");
    let child = common::command(common::bin())
        .args(["generate", "--allow-commands"])
        .current_dir(f.path())
        .env("HOME", f.home.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(start.elapsed().as_secs() < 20, "the command never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::remove_file(&marker).unwrap();
    let during: Vec<_> = std::fs::read_dir(runtime.path()).unwrap().collect();
    assert_eq!(
        during.len(),
        1,
        "the private directory exists while the command runs"
    );
    // SAFETY: signalling the process group of a child we started.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("slow.age: interrupted by signal 2 while `sh -c 'touch ../started-marker; sleep 30'` ran; the dependencies' plaintext was removed"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(runtime.path()).unwrap().next().is_none(),
        "plaintext left in the runtime directory"
    );
    assert!(f.path().join("pw.age").exists() && !f.path().join("slow.age").exists());
}

/// Without --allow-commands no command from the rules runs (SECURITY.md: the rules of a pull
/// request are untrusted): each command generator is a failure naming the file, the command
/// and the fix, nothing is decrypted or staged for it, the other generators still run, the
/// exit code is 1; --dry-run lists them as needing the flag; --force does not rotate them.
/// With the flag they run.
#[test]
fn commands_run_only_with_allow_commands() {
    if common::missing("age") {
        return;
    }
    let Some(runtime) = common::shm_dir() else {
        return;
    };
    let mut f = Fixture::new("{}");
    let ran = f.path().join("ran");
    let ran_dep = f.path().join("ran-dep");
    f.repo.json_rules(&rules(&[
        rule("pw.age", r#""alnum""#),
        rule(
            "plain.age",
            &format!(
                r#"{{"kind": "command", "command": ["sh", "-c", "touch '{}'; echo made"]}}"#,
                ran.display()
            ),
        ),
        rule(
            "derived.age",
            &format!(
                r#"{{"kind": "command", "command": ["sh", "-c", "touch '{}'; cat pw"], "dependencies": ["pw.age"]}}"#,
                ran_dep.display()
            ),
        ),
        rule("z-other.age", r#""hex""#),
    ]));
    f.runtime = Some(runtime);
    let rules_file = f.path().join("secrets.json");
    let rules_file = rules_file.canonicalize().unwrap_or(rules_file);
    let failure = |name: &str, shown: &str| {
        format!(
            "  - {name}: not generated: its generator runs the command `{shown}` from the \
             rules{}, and commands run only with --allow-commands; review the command in {}, \
             then pass --allow-commands",
            if name == "derived.age" {
                ", given pw.age"
            } else {
                ""
            },
            rules_file.display()
        )
    };
    let plain_shown = format!("sh -c 'touch '\\''{}'\\''; echo made'", ran.display());
    let derived_shown = format!("sh -c 'touch '\\''{}'\\''; cat pw'", ran_dep.display());

    // --dry-run lists them as needing the flag, runs nothing, and fails like the run would.
    let out = f
        .generate(&["--dry-run"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "would create plain.age (command `{plain_shown}`) only with --allow-commands"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("would create pw.age (alnum"), "{stdout}");

    let out = f.generate(&[]).assert().code(1).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generated 2 file(s); 2 failed:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&failure("plain.age", &plain_shown)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&failure("derived.age", &derived_shown)),
        "{stderr}"
    );
    assert!(!stderr.contains("running `"), "{stderr}");
    assert!(
        !ran.exists() && !ran_dep.exists(),
        "a command from the rules ran"
    );
    assert!(!f.path().join("plain.age").exists() && !f.path().join("derived.age").exists());
    assert!(f.path().join("pw.age").exists() && f.path().join("z-other.age").exists());
    let runtime = f.runtime.as_ref().unwrap().path();
    assert!(std::fs::read_dir(runtime).unwrap().next().is_none());

    // With the flag they run; pw.age exists now, so reading it needs an identity.
    f.generate(&["--allow-commands", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert!(ran.exists() && ran_dep.exists());
    assert_eq!(f.age_decrypt("plain.age"), b"made\n");
    assert_eq!(f.age_decrypt("derived.age"), f.age_decrypt("pw.age"));

    // --force does not rotate a command generator's file without the flag either.
    std::fs::remove_file(&ran).unwrap();
    let before = std::fs::read(f.path().join("plain.age")).unwrap();
    let out = f
        .generate(&["--force", "--yes", "plain.age"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&failure("plain.age", &plain_shown)),
        "{stderr}"
    );
    assert!(!ran.exists());
    assert_eq!(std::fs::read(f.path().join("plain.age")).unwrap(), before);
}
