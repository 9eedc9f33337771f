//! `secrets edit` with a real editor on a terminal: no plaintext left behind (also after
//! SIGINT), and a disk-backed temp directory refused unless allowed.

use super::*;

/// Run `secrets edit` with stdin on a pseudo-terminal (so the editor path is taken).
#[cfg(target_os = "linux")] // used by the Linux-only editor tests only
fn edit_on_tty(repo: &Repo, file: &str, editor_cmd: &str, runtime: &Path) -> (i32, String) {
    let alice = key("alice_ed25519");
    let (code, _, out) =
        common::Pty::new(repo.path(), &["edit", file, "-i", alice.to_str().unwrap()])
            .env("EDITOR", editor_cmd)
            .env("XDG_RUNTIME_DIR", runtime)
            .run();
    (code, out)
}

#[test]
#[cfg(target_os = "linux")] // /dev/shm as the RAM-backed XDG_RUNTIME_DIR
fn edit_with_editor_keeps_no_plaintext() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "nested/app.env.age", "A=1\n");
    let tools = tempfile::tempdir().unwrap();
    // Quoting in EDITOR works: the path has a space.
    let ed = editor(tools.path(), "my editor", "echo 'B=2' >> \"$1\"");
    let (code, out) = edit_on_tty(
        &repo,
        "nested/app.env.age",
        &format!("'{}'", ed.display()),
        runtime.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        get(&repo, "nested/app.env.age", "alice_ed25519"),
        "A=1\nB=2\n"
    );
    // The editor saw a file named with the inner extension, in a 0700 dir on the tmpfs.
    let args = fs::read_to_string(tools.path().join("editor-args")).unwrap();
    let edited = Path::new(args.trim());
    assert_eq!(edited.file_name().unwrap(), "app.env");
    assert!(edited.starts_with(runtime.path()), "{args}");
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left behind"
    );

    // Editor failure: original kept, nothing left.
    let before = fs::read(repo.path().join("nested/app.env.age")).unwrap();
    let bad = editor(tools.path(), "bad", "echo junk >> \"$1\"; exit 3");
    let (code, out) = edit_on_tty(
        &repo,
        "nested/app.env.age",
        &bad.display().to_string(),
        runtime.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(
        fs::read(repo.path().join("nested/app.env.age")).unwrap(),
        before
    );
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left after failure"
    );

    // vim gets swap/undo/backup/viminfo disabled.
    let vim = editor(tools.path(), "vim", "true");
    let (code, out) = edit_on_tty(
        &repo,
        "nested/app.env.age",
        &vim.display().to_string(),
        runtime.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wasn't changed"), "{out}");
    let args = fs::read_to_string(tools.path().join("editor-args")).unwrap();
    for flag in ["-n", "-i\nNONE", "noundofile", "nobackup", "noswapfile"] {
        assert!(args.contains(flag), "vim args lack {flag}: {args}");
    }
}

#[test]
#[cfg(target_os = "linux")] // /dev/shm as the RAM-backed XDG_RUNTIME_DIR
fn sigint_during_edit_removes_plaintext() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "keep me");
    let before = fs::read(repo.path().join("db.age")).unwrap();
    let tools = tempfile::tempdir().unwrap();
    // The editor announces itself, then waits; the driver sends Ctrl-C through the terminal.
    let ed = editor(
        tools.path(),
        "slow",
        "echo EDITING; echo changed >> \"$1\"; sleep 30",
    );
    let alice = key("alice_ed25519");
    let (code, _, text) = common::Pty::new(
        repo.path(),
        &["edit", "db.age", "-i", alice.to_str().unwrap()],
    )
    .env("EDITOR", &ed)
    .env("XDG_RUNTIME_DIR", runtime.path())
    .interrupt_after("EDITING")
    .run();
    assert_eq!(code, 130, "{text}");
    assert!(text.contains("interrupted"), "{text}");
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left after SIGINT"
    );
    assert_eq!(fs::read(repo.path().join("db.age")).unwrap(), before);
}

#[test]
#[cfg(target_os = "linux")] // unshare and a bind mount over /dev/shm
fn disk_backed_temp_is_refused_unless_allowed() {
    if common::not_root() || common::missing("unshare") || common::missing("script") {
        return;
    }
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "v");
    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // Hide /dev/shm behind a disk directory in a private mount namespace.
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind '{}' /dev/shm && exec \"$@\"",
            disk.path().display()
        ))
        .arg("sh")
        .arg("script")
        .args(["-qec"])
        .arg(format!(
            "'{}' edit db.age -i '{}'",
            common::bin().display(),
            key("alice_ed25519").display()
        ))
        .arg("/dev/null")
        .current_dir(repo.path())
        .env("HOME", repo.path())
        .env("XDG_RUNTIME_DIR", disk.path())
        .env("EDITOR", "true")
        .env_remove("RULES")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("--allow-disk-tmp"), "{text}");
}
