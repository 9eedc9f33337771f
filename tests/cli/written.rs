//! edit and encrypt say what they wrote, in one line on stderr, when stderr is a terminal (or
//! with -v); a script gets silence.

use super::*;

fn repo() -> Repo {
    let repo = Repo::new();
    repo.json_rules(
        r#"{"db.age": {"publicKeys": ["alice", "web1"]},
            "armored.age": {"publicKeys": ["alice"], "armor": true}}"#,
    );
    repo.write("plain.txt", "secret\n");
    repo
}

#[test]
fn silent_when_not_a_terminal() {
    let repo = repo();
    repo.cmd()
        .args(["encrypt", "db.age"])
        .write_stdin("v")
        .assert()
        .success()
        .stderr("");
    repo.cmd()
        .args(["edit", "db.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("w")
        .assert()
        .success()
        .stderr("");
    // -v says it anyway (after the rules file it used).
    repo.cmd()
        .args(["encrypt", "-v", "armored.age"])
        .write_stdin("v")
        .assert()
        .success()
        .stderr(predicates::str::ends_with(
            "secrets.json (found looking from ".to_string()
                + &std::fs::canonicalize(repo.path())
                    .unwrap()
                    .display()
                    .to_string()
                + " upward)\nwrote armored.age: encrypted to 1 recipient(s), ASCII-armored\n",
        ));
}

#[test]
fn one_line_on_a_terminal() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = repo();
    let (code, _, out) =
        common::Pty::new(repo.path(), &["encrypt", "db.age", "--input", "plain.txt"]).run();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.replace('\r', ""),
        "wrote db.age: encrypted to 2 recipient(s), binary\n"
    );
    let (code, _, out) = common::Pty::new(
        repo.path(),
        &["encrypt", "armored.age", "--input", "plain.txt"],
    )
    .run();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("wrote armored.age: encrypted to 1 recipient(s), ASCII-armored"),
        "{out}"
    );
    // edit with an editor on the terminal.
    let ed = editor(repo.path(), "ed.sh", "printf changed > \"$1\"");
    let alice = key("alice_ed25519");
    let (code, _, out) = common::Pty::new(
        repo.path(),
        &["edit", "db.age", "-i", alice.to_str().unwrap()],
    )
    .env("EDITOR", &ed)
    .env("XDG_RUNTIME_DIR", runtime.path())
    .run();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("wrote db.age: encrypted to 2 recipient(s), binary"),
        "{out}"
    );
    assert_eq!(get(&repo, "db.age", "web1_ed25519"), "changed");
    // Unchanged: no write, so no such line.
    let keep = editor(repo.path(), "keep.sh", "true");
    let (code, _, out) = common::Pty::new(
        repo.path(),
        &["edit", "db.age", "-i", alice.to_str().unwrap()],
    )
    .env("EDITOR", &keep)
    .env("XDG_RUNTIME_DIR", runtime.path())
    .run();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("wrote"), "{out}");
    assert!(out.contains("wasn't changed"), "{out}");
}
