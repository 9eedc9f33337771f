//! The command lines themselves: the agenix entry point, --help, --version, schema and usage
//! errors.

use super::*;

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
