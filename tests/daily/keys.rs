//! Item 1: one bad key gives one error naming the key, what is wrong and the fix, and who uses
//! it; groups and secrets that refer to it are not reported again; no debug values; the count
//! says what was printed.

use super::*;

/// alice's key with one base64 character changed so that it is no point on the curve.
fn altered_alice() -> String {
    let a = pubkey("alice_ed25519");
    let mut chars: Vec<char> = a.chars().collect();
    chars[45] = if chars[45] == 'B' { 'C' } else { 'B' };
    chars.into_iter().collect()
}

struct Row {
    what: &'static str,
    key: String,
    /// Said about the key (besides its name and who uses it).
    expect: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    let alice = pubkey("alice_ed25519");
    let alice_blob = alice.split_whitespace().nth(1).unwrap().to_string();
    let dave = pubkey("dave_age");
    let private = read(&key("alice_ed25519"));
    let age_secret = read(&key("dave_age.key"))
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    let mut bad_dave: Vec<char> = dave.chars().collect();
    bad_dave[40] = if bad_dave[40] == 'q' { 'p' } else { 'q' };
    vec![
        Row {
            what: "one character changed",
            key: altered_alice(),
            expect: &[
                "not a valid public key",
                "point on the curve",
                "copied",
                ".pub file",
            ],
        },
        Row {
            what: "truncated",
            key: alice[..50].to_string(),
            expect: &["not a whole ssh-ed25519 key", "cut short", ".pub file"],
        },
        Row {
            what: "ECDSA",
            key: pubkey("bad/ecdsa"),
            expect: &[
                "ecdsa-sha2-nistp256 keys are not supported by age",
                "ssh-ed25519",
            ],
        },
        Row {
            what: "RSA too small",
            key: pubkey("bad/rsa1024"),
            expect: &["1024 bits", "too weak", "ssh-ed25519"],
        },
        Row {
            what: "RSA too large",
            key: pubkey("bad/rsa8192"),
            expect: &["8192 bits", "cannot encrypt to RSA keys over 4096 bits"],
        },
        Row {
            what: "an SSH private key pasted",
            key: private,
            expect: &["private key, not a public one", "ssh-keygen -y -f KEY"],
        },
        Row {
            what: "an age private key pasted",
            key: age_secret,
            expect: &["private key, not a public one", "age-keygen -y"],
        },
        Row {
            what: "age1 key with a bad checksum",
            key: bad_dave.into_iter().collect(),
            expect: &["invalid age recipient", "checksum", "age-keygen -y"],
        },
        Row {
            what: "the type says ssh-rsa, the data is ed25519",
            key: format!("ssh-rsa {alice_blob}"),
            expect: &["says ssh-rsa", "of type ssh-ed25519", "unchanged"],
        },
        Row {
            what: "the type without the key",
            key: "ssh-ed25519".into(),
            expect: &["not a whole ssh-ed25519 key", "incomplete or damaged"],
        },
        Row {
            what: "two keys in one entry",
            key: format!("{alice} {}", pubkey("web1_ed25519")),
            expect: &["two keys in one entry", "its own entry"],
        },
        Row {
            what: "a FIDO key",
            key: "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t".into(),
            expect: &["hardware security key", "age plugin"],
        },
        Row {
            what: "a weak (small-order) key",
            key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                .into(),
            expect: &["weak key", "ssh-keyscan"],
        },
        Row {
            what: "empty",
            key: String::new(),
            expect: &["empty public key", "write the key itself"],
        },
        Row {
            what: "not a key at all",
            key: "laptop-key".into(),
            expect: &["not a public key", "expected `ssh-ed25519 AAAA…`"],
        },
    ]
}

#[test]
fn each_key_problem_is_one_error_naming_the_key_its_users_and_the_fix() {
    for row in rows() {
        let repo = Repo::new();
        quickstart(&repo, &row.key);
        let rules = std::fs::canonicalize(repo.path().join("secrets.json")).unwrap();
        let ctx = format!("row `{}`", row.what);

        // check: one problem line, under the file's name once, then a count that matches.
        let out = run(repo.cmd().arg("check"));
        assert_eq!(out.code, 1, "{ctx}: {out}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{ctx}: one problem and the summary: {out}");
        let line = lines[0];
        let prefix = format!("{}: key \"alice\": ", rules.display());
        assert!(line.starts_with(&prefix), "{ctx}: {out}");
        assert_eq!(line.matches("secrets.json").count(), 1, "{ctx}: {out}");
        for e in row.expect {
            assert!(line.contains(e), "{ctx}: `{e}` missing: {out}");
        }
        assert!(
            line.contains(
                "used by group \"admins\" and secrets \"api-token.age\", \"db-password.age\""
            ),
            "{ctx}: {out}"
        );
        for never in ["neither a key nor a group", "not a defined key"] {
            assert!(!out.stdout.contains(never), "{ctx}: {out}");
        }
        assert_no_debug(&out.stdout);
        // The rules did not load: the summary says no file was looked at (not "in 0 file(s)").
        assert_eq!(
            lines[1], "1 problem(s) found in the rules file; no file was checked",
            "{ctx}: {out}"
        );
        // Never a private key's material in a message.
        if row.key.contains("PRIVATE") || row.key.starts_with("AGE-SECRET") {
            let secret_line = row.key.lines().nth(1).unwrap_or(&row.key);
            assert!(!out.stdout.contains(secret_line), "{ctx}: {out}");
        }

        // The JSON report: the same single problem, its file once (not in the message).
        let out = run(repo.cmd().args(["check", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let problems = v["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{ctx}: {out}");
        assert_eq!(problems[0]["kind"], "rules", "{ctx}");
        assert_eq!(problems[0]["file"], rules.display().to_string(), "{ctx}");
        let msg = problems[0]["message"].as_str().unwrap();
        assert!(msg.starts_with("key \"alice\": "), "{ctx}: {msg}");

        // A command: the same one error, nothing written.
        let out = run(repo
            .cmd()
            .args(["encrypt", "db-password.age"])
            .write_stdin("x"));
        assert_eq!(out.code, 1, "{ctx}: {out}");
        assert_eq!(out.stderr.matches("alice").count(), 1, "{ctx}: {out}");
        assert!(out.stderr.contains("key \"alice\""), "{ctx}: {out}");
        assert_no_debug(&out.stderr);
        assert!(!repo.path().join("db-password.age").exists(), "{ctx}");
    }
}

/// Two independent problems: two lines, and the count says two.
#[test]
fn the_count_matches_the_lines_printed() {
    let repo = Repo::new();
    let rules = serde_json::json!({
        "keys": {"alice": altered_alice(), "web1": pubkey("web1_ed25519")},
        "groups": {"admins": ["alice", "mallory"]},
        "secrets": {"db.age": {"publicKeys": ["admins"]}, "unused.age": {"publicKeys": ["web1"]}}
    });
    repo.write("secrets.json", rules.to_string());
    let out = run(repo.cmd().arg("check"));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].contains("group \"admins\": \"mallory\" is neither"),
        "{out}"
    );
    assert!(lines[1].contains("key \"alice\""), "{out}");
    assert!(
        lines[1].contains("used by group \"admins\" and secret \"db.age\""),
        "{out}"
    );
    assert!(lines[2].starts_with("2 problem(s) found"), "{out}");
}

/// A key no secret uses is still an error (secrets.json is strict), and says so.
#[test]
fn an_unused_bad_key_says_nobody_uses_it() {
    let repo = Repo::new();
    let rules = serde_json::json!({
        "keys": {"old": pubkey("bad/ecdsa"), "web1": pubkey("web1_ed25519")},
        "secrets": {"db.age": {"publicKeys": ["web1"]}}
    });
    repo.write("secrets.json", rules.to_string());
    let out = run(repo.cmd().arg("check"));
    assert!(
        out.stdout.contains("key \"old\": ecdsa-sha2-nistp256"),
        "{out}"
    );
    assert!(out.stdout.contains("(no secret uses it)"), "{out}");
}

/// secrets.nix: the key is written in the rule; that rule alone cannot be used, with the same
/// words and no debug value.
#[test]
fn a_bad_key_in_secrets_nix_breaks_its_rule_only_with_a_plain_message() {
    if common::missing("nix-instantiate") {
        return;
    }
    let repo = Repo::new();
    repo.write(
        "secrets.nix",
        format!(
            "{{ \"a.age\".publicKeys = [ \"{}\" ]; \"b.age\".publicKeys = [ \"{}\" ]; }}",
            altered_alice(),
            pubkey("web1_ed25519")
        ),
    );
    let out = run(repo.cmd().arg("check"));
    assert!(out.stdout.contains("secret \"a.age\""), "{out}");
    assert!(out.stdout.contains("not a valid public key"), "{out}");
    assert!(out.stdout.contains("1 rule(s) cannot be used"), "{out}");
    assert_no_debug(&out.stdout);
    repo.encrypt("b.age", "fine");
}
