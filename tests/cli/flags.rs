//! A flag is accepted only where it acts: which commands take `--rules` and `-i` is read from
//! clap's own `Command` and compared with the table of where each does something; everywhere
//! else it is a usage error (exit 2), after the command's name and before it, and completions
//! do not offer it.

use clap::CommandFactory;
use secrets::cmd::Cli;

use super::*;

/// Where each acts: (command, reads the rules, decrypts or reads my keys). A new command must
/// be added here (the first test fails until it is).
const TABLE: &[(&str, bool, bool)] = &[
    ("edit", true, true),
    ("decrypt", true, true),
    ("encrypt", true, false),
    ("rekey", true, true),
    ("check", true, false),
    ("list", true, true),
    ("generate", true, true),
    ("install", false, false),
    ("schema", false, false),
    ("completions", false, false),
    ("man", false, false),
];

/// The arguments a command needs besides the flag under test, so that only the flag can be
/// what is wrong.
fn required(name: &str) -> &'static [&'static str] {
    match name {
        "edit" | "decrypt" | "encrypt" => &["db.age"],
        "install" => &["--manifest", "m.json"],
        "completions" => &["bash"],
        _ => &[],
    }
}

fn commands() -> Vec<clap::Command> {
    let mut cli = Cli::command();
    cli.build();
    cli.get_subcommands()
        .filter(|c| c.get_name() != "help")
        .cloned()
        .collect()
}

fn has(cmd: &clap::Command, long: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_long() == Some(long))
}

#[test]
fn each_command_declares_exactly_the_flags_that_act_there() {
    let cmds = commands();
    let mut names: Vec<&str> = cmds.iter().map(|c| c.get_name()).collect();
    names.sort();
    let mut table: Vec<&str> = TABLE.iter().map(|t| t.0).collect();
    table.sort();
    assert_eq!(names, table, "a command is missing from TABLE (or gone)");
    for (name, rules, ids) in TABLE {
        let cmd = cmds.iter().find(|c| c.get_name() == *name).unwrap();
        assert_eq!(has(cmd, "rules"), *rules, "{name} --rules");
        assert_eq!(has(cmd, "identity"), *ids, "{name} -i/--identity");
        let short_i = cmd.get_arguments().any(|a| a.get_short() == Some('i'));
        assert_eq!(short_i, *ids, "{name} -i");
    }
}

#[test]
fn a_flag_that_would_do_nothing_is_a_usage_error() {
    let repo = Repo::new();
    for (name, rules, ids) in TABLE {
        let refused = [
            (!rules, "--rules", "secrets.json"),
            (!ids, "-i", "key"),
            (!ids, "--identity", "key"),
        ];
        for (_, flag, value) in refused.iter().filter(|r| r.0) {
            // After the command's name: clap's own error.
            let out = repo
                .cmd()
                .arg(name)
                .args(required(name))
                .args([flag, value])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {flag}: {err}");
            assert!(
                err.contains(&format!("unexpected argument '{flag}'")),
                "{name} {flag}: {err}"
            );
            // Before it: the same exit code, saying which commands use it.
            let out = repo
                .cmd()
                .args([flag, value, name])
                .args(required(name))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {name}: {err}");
            let takers: Vec<&str> = TABLE
                .iter()
                .filter(|t| if *flag == "--rules" { t.1 } else { t.2 })
                .map(|t| t.0)
                .collect();
            assert!(
                err.contains(&format!("`secrets {name}` takes no"))
                    && err.contains(&takers.join(", ")),
                "{flag} {name}: {err}"
            );
            assert!(out.stdout.is_empty(), "{flag} {name} did something");
        }
    }
}

#[test]
fn before_the_command_name_they_reach_the_commands_that_use_them() {
    let repo = Repo::new();
    repo.write(
        "rules/secrets.json",
        format!(
            r#"{{"keys": {{"alice": "{}"}}, "secrets": {{"db.age": {{"publicKeys": ["alice"]}}}}}}"#,
            pubkey("alice_ed25519")
        ),
    );
    repo.cmd()
        .args(["--rules", "rules/secrets.json", "encrypt", "rules/db.age"])
        .write_stdin("v")
        .assert()
        .success();
    repo.cmd()
        .args(["--rules", "rules/secrets.json", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok: 1 file(s)"));
    // -i before and after the name: both keys are tried.
    repo.cmd()
        .arg("-i")
        .arg(key("web1_ed25519"))
        .args([
            "decrypt",
            "--rules",
            "rules/secrets.json",
            "rules/db.age",
            "-i",
        ])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .stdout("v");
    repo.cmd()
        .args(["--rules", "rules/secrets.json", "--rules", "x", "check"])
        .assert()
        .code(2);
    repo.cmd()
        .args(["--rules", "rules/secrets.json", "check", "--rules", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--rules is given twice"));
}

#[test]
fn completions_offer_only_what_acts() {
    let out = common::cmd()
        .args(["completions", "fish"])
        .output()
        .unwrap();
    let fish = String::from_utf8(out.stdout).unwrap();
    for (name, rules, ids) in TABLE {
        let offers = |long: &str| {
            fish.lines().any(|l| {
                l.contains(&format!("__fish_secrets_using_subcommand {name}\""))
                    && l.contains(&format!("-l {long} "))
            })
        };
        assert_eq!(offers("rules"), *rules, "fish offers --rules for {name}");
        assert_eq!(
            offers("identity"),
            *ids,
            "fish offers --identity for {name}"
        );
    }
    // PowerShell: no list item with a trailing space (clap_complete's way to tell -V from -v).
    let out = common::cmd()
        .args(["completions", "powershell"])
        .output()
        .unwrap();
    let ps = String::from_utf8(out.stdout).unwrap();
    assert!(!ps.contains(" ',"), "a list item ends in a space");
    assert!(
        ps.contains("[CompletionResult]::new('-V', '-V (--version)',"),
        "{ps}"
    );
    assert!(ps.contains("[CompletionResult]::new('-v', '-v',"));
}
