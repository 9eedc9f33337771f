//! The CLI core end to end: rules discovery and validation, identities, edit / decrypt /
//! encrypt, interop with the Go `age` binary, and the agenix entry point.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{key, pubkey, Repo};
use predicates::prelude::*;

fn two_secrets(repo: &Repo) {
    repo.json_rules(
        r#"{"db.age": {"publicKeys": ["alice", "dave"]},
            "armored.age": {"publicKeys": ["alice", "bob"], "armor": true},
            "carol.age": {"publicKeys": ["carol", "alice"]},
            "nested/app.env.age": {"publicKeys": ["alice"]}}"#,
    );
}

fn set(repo: &Repo, file: &str, value: &str) {
    repo.cmd()
        .args(["edit", file])
        .write_stdin(value)
        .assert()
        .success();
}

fn get(repo: &Repo, file: &str, id: &str) -> String {
    let out = repo
        .cmd()
        .args(["decrypt", file, "-i"])
        .arg(key(id))
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

#[test]
fn edit_from_stdin_then_decrypt_with_each_recipient() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "hunter2");
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "hunter2");
    assert_eq!(get(&repo, "db.age", "dave_age.key"), "hunter2");
    // Not a recipient: a clear error naming the file, nothing on stdout.
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(key("bob_rsa3072"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("db.age")
                .and(predicate::str::contains("no identity can decrypt")),
        );
    // Nested names create their directory.
    set(&repo, "nested/app.env.age", "A=1\n");
    assert_eq!(get(&repo, "nested/app.env.age", "alice_ed25519"), "A=1\n");
}

#[test]
fn rsa_and_armor_follow_the_rule() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "armored.age", "pem please");
    let text = fs::read_to_string(repo.path().join("armored.age")).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert_eq!(get(&repo, "armored.age", "bob_rsa3072"), "pem please");
    set(&repo, "db.age", "bin");
    let bin = fs::read(repo.path().join("db.age")).unwrap();
    assert!(bin.starts_with(b"age-encryption.org/v1\n"));
}

#[test]
fn same_rule_by_dot_slash_plain_and_absolute_path() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "./db.age", "one");
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "one");
    let abs = repo.path().join("db.age");
    let out = repo
        .cmd()
        .arg("decrypt")
        .arg(&abs)
        .arg("-i")
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"one");
    // From another directory, with --rules and a path relative to that directory.
    let sub = repo.path().join("elsewhere");
    fs::create_dir(&sub).unwrap();
    let out = common::cmd()
        .current_dir(&sub)
        .args(["--rules", "../secrets.json", "decrypt", "../db.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"one");
}

#[test]
fn unchanged_content_is_not_reencrypted() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "same");
    let before = fs::read(repo.path().join("db.age")).unwrap();
    repo.cmd()
        .args(["edit", "db.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("same")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "wasn't changed, skipping re-encryption",
        ));
    assert_eq!(fs::read(repo.path().join("db.age")).unwrap(), before);
    // Empty stdin (a script run without input) never blanks a secret.
    repo.cmd()
        .args(["edit", "db.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to store an empty secret",
        ));
    assert_eq!(fs::read(repo.path().join("db.age")).unwrap(), before);
}

#[test]
fn decrypt_to_file_is_0600_and_missing_things_fail() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "v");
    repo.cmd()
        .args(["decrypt", "db.age", "-o", "out.txt", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stdout("");
    let p = repo.path().join("out.txt");
    assert_eq!(fs::read(&p).unwrap(), b"v");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    repo.cmd()
        .args(["decrypt", "carol.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist yet"));
    repo.cmd()
        .args(["decrypt", "nope.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rule for this file"));
}

#[test]
fn encrypt_rotates_without_reading_the_old_value() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "old");
    // No identity at all: encrypt still works.
    repo.cmd()
        .args(["encrypt", "db.age"])
        .write_stdin("new")
        .assert()
        .success();
    assert_eq!(get(&repo, "db.age", "dave_age.key"), "new");
    repo.write("plain.txt", "from file");
    repo.cmd()
        .args(["encrypt", "db.age", "--input", "plain.txt"])
        .assert()
        .success();
    assert_eq!(get(&repo, "db.age", "alice_ed25519"), "from file");
}

#[test]
fn identity_sources_and_default_key_footgun() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "x");
    // SECRETS_IDENTITY for CI.
    repo.cmd()
        .args(["decrypt", "db.age"])
        .env("SECRETS_IDENTITY", key("alice_ed25519"))
        .assert()
        .success()
        .stdout("x");
    // Defaults: a broken ~/.ssh/id_rsa is skipped with a warning, id_ed25519 still works.
    let ssh = repo.path().join(".ssh");
    fs::create_dir(&ssh).unwrap();
    fs::copy(key("alice_ed25519"), ssh.join("id_ed25519")).unwrap();
    fs::write(
        ssh.join("id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n",
    )
    .unwrap();
    repo.cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .success()
        .stdout("x")
        .stderr(
            predicate::str::contains("warning: skipping identity")
                .and(predicate::str::contains("id_rsa")),
        );
    // Repeatable -i: the second one matches.
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(key("bob_rsa3072"))
        .arg("-i")
        .arg(key("dave_age.key"))
        .assert()
        .success()
        .stdout("x");
    // An explicit bad identity is an error naming it.
    repo.cmd()
        .args(["decrypt", "db.age", "-i", "missing-key"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing-key"));
    // No identity anywhere.
    fs::remove_dir_all(&ssh).unwrap();
    repo.cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no identity to decrypt with"));
}

#[test]
fn rules_discovery() {
    let repo = Repo::new();
    two_secrets(&repo);
    repo.write("secrets.nix", "{}");
    repo.cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "both secrets.nix and secrets.json",
        ));
    // RULES picks one (agenix's variable).
    repo.cmd()
        .env("RULES", "secrets.json")
        .args(["encrypt", "db.age"])
        .write_stdin("r")
        .assert()
        .success();
    let empty = Repo::new();
    empty
        .cmd()
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rules file"));
}

#[test]
fn json_rules_validation_names_secret_and_fix() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"secrets": {"a.age": {"publicKeys": ["alice"], "armour": true}}}"#,
            "unknown field `armour`",
        ),
        (
            r#"{"secrets": {"a.age": {"publicKeys": []}}}"#,
            "\"a.age\" has no recipients",
        ),
        (
            r#"{"keys": {"k": "ssh-ed25519 AAAA"}, "secrets": {}}"#,
            "key \"k\"",
        ),
        (
            r#"{"groups": {"g": ["h"], "h": ["g"]}, "secrets": {"a.age": {"publicKeys": ["g"]}}}"#,
            "group cycle",
        ),
        (
            r#"{"secrets": {"../a.age": {"publicKeys": ["age1x"]}}}"#,
            "outside the rules file's directory",
        ),
        (
            r#"{"keys": {"a": "x", "a": "y"}, "secrets": {}}"#,
            "duplicate entry \"a\"",
        ),
        (
            r#"{"secrets": {"a.age": {"publicKeys": ["nobody"]}}}"#,
            "\"nobody\" is not a defined key or group",
        ),
    ];
    for (json, expect) in cases {
        let repo = Repo::new();
        repo.write("secrets.json", json);
        let before = repo.snapshot();
        repo.cmd()
            .args(["encrypt", "a.age"])
            .write_stdin("x")
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains("secrets.json").and(predicate::str::contains(*expect)),
            );
        assert_eq!(repo.snapshot(), before, "nothing written for {json}");
    }
}

#[test]
fn recipients_key_types() {
    let repo = Repo::new();
    // RSA 1024 is refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    if common::missing("ssh-keygen") {
        return;
    }
    let k = dir.path().join("small");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"])
        .arg(&k)
        .status()
        .unwrap();
    let small = fs::read_to_string(k.with_extension("pub")).unwrap();
    repo.write(
        "secrets.json",
        format!(
            r#"{{"secrets": {{"a.age": {{"publicKeys": ["{}"]}}}}}}"#,
            small.trim()
        ),
    );
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("1024 bits").and(predicate::str::contains("too weak")));
    // A plugin recipient whose plugin is not installed: the error names the plugin.
    repo.write(
        "secrets.json",
        r#"{"secrets": {"a.age": {"publicKeys": ["age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t"]}}}"#,
    );
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("age-plugin-yubikey"));
    assert!(!repo.path().join("a.age").exists());
}

#[test]
fn nix_rules_with_space_and_quote_in_path() {
    if common::missing("nix-instantiate") {
        return;
    }
    let repo = Repo::new();
    let dir = repo.path().join("my \"fleet\" ${x}");
    fs::create_dir(&dir).unwrap();
    let keys = dir.join("keys.nix");
    fs::write(
        &keys,
        format!(
            "{{ alice = \"{}\"; dave = \"{}\"; }}",
            pubkey("alice_ed25519"),
            pubkey("dave_age")
        ),
    )
    .unwrap();
    fs::write(
        dir.join("secrets.nix"),
        r#"let k = import ./keys.nix; in {
  "db.age".publicKeys = [ k.alice k.dave ];
  "./tls.pem.age" = { publicKeys = [ k.alice ]; armor = true; };
}"#,
    )
    .unwrap();
    let mut c = common::cmd();
    c.current_dir(&dir)
        .args(["edit", "tls.pem.age"])
        .write_stdin("cert")
        .assert()
        .success();
    assert!(fs::read_to_string(dir.join("tls.pem.age"))
        .unwrap()
        .starts_with("-----BEGIN AGE"));
    // --rules with the odd path, from elsewhere, absolute file argument.
    common::cmd()
        .arg("--rules")
        .arg(dir.join("secrets.nix"))
        .arg("encrypt")
        .arg(dir.join("db.age"))
        .write_stdin("v")
        .assert()
        .success();
    let out = common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "./db.age", "-i"])
        .arg(key("dave_age.key"))
        .assert()
        .success();
    assert_eq!(out.get_output().stdout, b"v");
    // A Nix evaluation error is reported with Nix's message.
    fs::write(dir.join("secrets.nix"), "{ broken = ; }").unwrap();
    common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("could not evaluate"));
    // Unknown attribute in a rule.
    fs::write(
        dir.join("secrets.nix"),
        r#"{ "db.age" = { publicKeys = []; owner = "x"; }; }"#,
    )
    .unwrap();
    common::cmd()
        .current_dir(&dir)
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown field `owner`"));
}

#[test]
fn nix_missing_suggests_json() {
    let repo = Repo::new();
    repo.write("secrets.nix", "{}");
    repo.cmd()
        .env("PATH", "/nonexistent")
        .args(["decrypt", "db.age"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("nix-instantiate was not found")
                .and(predicate::str::contains("secrets.json")),
        );
}

#[test]
fn interop_with_go_age_both_ways() {
    if common::missing("age") {
        return;
    }
    let repo = Repo::new();
    two_secrets(&repo);
    for (file, armor) in [("db.age", false), ("armored.age", true)] {
        set(&repo, file, "interop ✓\n");
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(key("alice_ed25519"))
            .arg(repo.path().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age -d {file} (armor {armor}): {out:?}"
        );
        assert_eq!(out.stdout, "interop ✓\n".as_bytes());
    }
    // Files written by `age -R` (binary and armored) decrypt with secrets.
    let recips = repo.write(
        "recips.txt",
        format!(
            "{}\n{}\n{}\n",
            pubkey("alice_ed25519"),
            pubkey("bob_rsa3072"),
            pubkey("dave_age")
        ),
    );
    for (file, armor) in [("db.age", false), ("armored.age", true)] {
        let mut c = std::process::Command::new("age");
        c.arg("-R")
            .arg(&recips)
            .arg("-o")
            .arg(repo.path().join(file));
        if armor {
            c.arg("-a");
        }
        c.stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"from go").unwrap();
        assert!(child.wait().unwrap().success());
        for id in ["alice_ed25519", "bob_rsa3072", "dave_age.key"] {
            assert_eq!(get(&repo, file, id), "from go", "{file} with {id}");
        }
    }
}

/// A fake editor: a script that records its arguments and edits the file as told.
fn editor(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    common::script(
        &dir.join(name),
        &format!("printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/editor-args\"\n{body}"),
    )
}

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
fn passphrase_asked_once_and_only_when_needed() {
    if common::missing("python3") {
        return;
    }
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "carol.age", "rsa4096 secret");
    set(&repo, "db.age", "not for carol");
    let carol = key("carol_rsa4096_pass");
    let carol = carol.to_str().unwrap();
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    let run = |args: &[&str], answers: &[&str]| common::run_in_pty(repo.path(), args, answers);
    let (code, prompts, out) = run(&["decrypt", "carol.age", "-i", carol], &["correct horse"]);
    assert_eq!((code, prompts), (0, 1), "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // db.age has no stanza for carol: her key is never unlocked, alice decrypts.
    let (code, prompts, out) = run(
        &["decrypt", "db.age", "-i", carol, "-i", alice],
        &["correct horse"],
    );
    assert_eq!((code, prompts), (0, 0), "{out}");
    // A typo gets another try.
    let (code, prompts, out) = run(
        &["decrypt", "carol.age", "-i", carol],
        &["wrong", "correct horse"],
    );
    assert_eq!((code, prompts), (0, 2), "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // Three wrong answers: a clear error.
    let (code, prompts, out) = run(&["decrypt", "carol.age", "-i", carol], &["wrong"]);
    assert_eq!((code, prompts), (1, 3), "{out}");
    assert!(out.contains("wrong passphrase for"), "{out}");
    // A key that cannot be unlocked does not hide another key that can open the file.
    let (code, _, out) = run(
        &["decrypt", "carol.age", "-i", carol, "-i", alice],
        &["wrong"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rsa4096 secret"), "{out}");
    // Without a terminal the prompt cannot happen: a clear error, not a hang.
    repo.cmd()
        .args(["decrypt", "carol.age", "-i", carol])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot ask for the passphrase"));
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

#[test]
fn agenix_entry_point() {
    let repo = Repo::new();
    two_secrets(&repo);
    let dir = tempfile::tempdir().unwrap();
    let agenix = dir.path().join("agenix");
    std::os::unix::fs::symlink(common::bin(), &agenix).unwrap();
    let run_with = |mut c: assert_cmd::Command, args: &[&str], stdin: &str| {
        c.current_dir(repo.path())
            .env("HOME", repo.path())
            .env("RULES", "./secrets.json")
            .args(args)
            .write_stdin(stdin.to_string())
            .assert()
    };
    let run = |args: &[&str], stdin: &str| run_with(assert_cmd::Command::new(&agenix), args, stdin);
    run(&["-e", "db.age"], "via agenix").success();
    let alice = key("alice_ed25519");
    run(&["-d", "db.age", "-i", alice.to_str().unwrap()], "")
        .success()
        .stdout("via agenix");
    run(
        &["--decrypt", "db.age", "--identity", alice.to_str().unwrap()],
        "",
    )
    .success()
    .stdout("via agenix");
    // On a terminal, `agenix -e` opens $EDITOR, as agenix does, even when $VISUAL is set.
    if !common::missing("python3") {
        let tools = tempfile::tempdir().unwrap();
        let good = editor(tools.path(), "good", "echo edited > \"$1\"");
        let visual = editor(tools.path(), "visual", "exit 7");
        let (code, _, out) = common::Pty::program(
            repo.path(),
            &agenix,
            &["-e", "db.age", "-i", alice.to_str().unwrap()],
        )
        .env("RULES", "./secrets.json")
        .env("EDITOR", &good)
        .env("VISUAL", &visual)
        .run();
        assert_eq!(code, 0, "{out}");
        run(&["-d", "db.age", "-i", alice.to_str().unwrap()], "")
            .success()
            .stdout("edited\n");
    }
    run(&["-h"], "")
        .success()
        .stdout(predicate::str::contains("-e, --edit FILE"));
    run(&[], "")
        .code(1)
        .stdout(predicate::str::contains("agenix -e FILE"));
    run(&["--bogus"], "").code(1);
    run(&["-e"], "")
        .code(1)
        .stdout(predicate::str::contains("no FILE specified"));
    run(&["-d", "missing.age", "-i", alice.to_str().unwrap()], "")
        .code(1)
        .stderr(predicate::str::contains("no rule"));

    // Started as `secrets` (what `nix run <flake> -- -e x.age` does), agenix's flags work too.
    let secrets = |args: &[&str], stdin: &str| run_with(common::cmd(), args, stdin);
    secrets(
        &["-i", alice.to_str().unwrap(), "-e", "db.age"],
        "via secrets -e",
    )
    .success();
    secrets(&["-d", "db.age", "-i", alice.to_str().unwrap()], "")
        .success()
        .stdout("via secrets -e");
    secrets(&["-r", "-i", alice.to_str().unwrap()], "")
        .success()
        .stderr(predicate::str::contains("rekeying"));
    // A subcommand keeps our own command line: -e is no option of `decrypt`.
    secrets(&["decrypt", "-e", "db.age"], "").code(2);
}

#[test]
fn help_version_schema_and_usage_errors() {
    common::cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:").and(predicate::str::contains("Exit codes")));
    common::cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("secrets "));
    common::cmd().arg("frobnicate").assert().code(2);
    let out = common::cmd().arg("schema").assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["required"][0], "secrets");
}

/// A private key file with trailing blank lines and spaces (as an editor may leave) is read as
/// the age tool reads it: the fingerprint is found and the file decrypts.
#[test]
fn key_file_with_trailing_whitespace_decrypts() {
    let repo = Repo::new();
    two_secrets(&repo);
    set(&repo, "db.age", "whitespace-tolerant");
    let mut text = std::fs::read(key("alice_ed25519")).unwrap();
    text.extend_from_slice(b"\n\n   \n\t\n");
    let padded = repo.write("alice_padded", text);
    std::fs::set_permissions(&padded, std::fs::Permissions::from_mode(0o600)).unwrap();
    repo.cmd()
        .args(["decrypt", "db.age", "-i"])
        .arg(&padded)
        .assert()
        .success()
        .stdout("whitespace-tolerant");
}

/// A real age plugin (see common::age_plugin_dir): a secret encrypted to a plugin recipient
/// and an SSH key decrypts with the plugin identity, and Go `age` opens it with the same
/// plugin; without the plugin on PATH the error names it.
#[test]
fn plugin_recipient_and_identity_round_trip() {
    if common::missing("age") {
        return;
    }
    let Some(dir) = common::age_plugin_dir() else {
        return;
    };
    let path = common::path_with(&dir);
    let repo = Repo::new();
    repo.json_rules(&format!(
        r#"{{"p.age": {{"publicKeys": ["{}", "alice"]}}}}"#,
        common::PLUGIN_RECIPIENT
    ));
    let id = repo.write("plugin.key", format!("{}\n", common::PLUGIN_IDENTITY));
    repo.cmd()
        .env("PATH", &path)
        .args(["encrypt", "p.age"])
        .write_stdin("via a plugin")
        .assert()
        .success();
    let header = std::fs::read(repo.path().join("p.age")).unwrap();
    assert!(
        String::from_utf8_lossy(&header).contains("-> unencrypted "),
        "no plugin stanza"
    );
    repo.cmd()
        .env("PATH", &path)
        .args(["decrypt", "p.age", "-i"])
        .arg(&id)
        .assert()
        .success()
        .stdout("via a plugin");
    let out = std::process::Command::new("age")
        .env("PATH", &path)
        .arg("-d")
        .arg("-i")
        .arg(&id)
        .arg(repo.path().join("p.age"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"via a plugin");
    // The SSH recipient still opens it without any plugin.
    repo.cmd()
        .args(["decrypt", "p.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stdout("via a plugin");
    repo.cmd()
        .args(["decrypt", "p.age", "-i"])
        .arg(&id)
        .assert()
        .failure()
        .stderr(predicate::str::contains("age-plugin-unencrypted"));
}
