//! `secrets edit` of a document: the editor gets its own name (`app.yaml`), and a document
//! that does not parse is never saved.

use std::path::Path;

use super::*;

/// From stdin (not a terminal): a broken document is refused, exit 1, the file untouched; a
/// valid one is saved; a rule's `format = "binary"` stores anything.
#[test]
fn stdin_refuses_a_broken_document_and_leaves_the_file() {
    let repo = repo();
    repo.encrypt("app.yaml.age", "db: {password: old}\n");
    let path = repo.path().join("app.yaml.age");
    let before = std::fs::read(&path).unwrap();
    for (file, broken, want) in [
        (
            "app.yaml.age",
            "db: [hunter2\n",
            "app.yaml.age: yaml document: not valid yaml: line ",
        ),
        (
            "app.json.age",
            "{\"a\": hunter2}",
            "app.json.age: json document: not valid json: line 1, column 7",
        ),
        (
            "app.env.age",
            "A=1\nA=hunter2\n",
            "app.env.age: dotenv document: not valid dotenv: line 2",
        ),
        (
            "app.ini.age",
            "[s]\nhunter2\n",
            "app.ini.age: ini document: not valid ini: line 2",
        ),
        ("doc.age", "a: 1\na: hunter2\n", "doc.age: yaml document: "),
    ] {
        let o = repo
            .cmd()
            .args(["edit", file, "-i"])
            .arg(key("alice_ed25519"))
            .write_stdin(broken)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(want), "{file}: {err}");
        assert!(
            err.contains(&format!("; {file} is unchanged")),
            "{file}: {err}"
        );
        assert!(!err.contains("hunter2"), "{file}: {err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!repo.path().join("app.json.age").exists());
    assert_eq!(whole(&repo, "app.yaml.age"), "db: {password: old}\n");

    repo.cmd()
        .args(["edit", "app.yaml.age", "-i"])
        .arg(key("alice_ed25519"))
        .write_stdin("db: {password: new}\n")
        .assert()
        .success();
    assert_eq!(whole(&repo, "app.yaml.age"), "db: {password: new}\n");
    // format = "binary" overrides the name; a name that says nothing is binary too.
    for file in ["raw.yaml.age", "blob.age"] {
        repo.cmd()
            .args(["edit", file, "-i"])
            .arg(key("alice_ed25519"))
            .write_stdin("db: [not yaml\n")
            .assert()
            .success();
        assert_eq!(whole(&repo, file), "db: [not yaml\n");
    }
}

/// A pty driver that runs `argv`, answering each "Open the editor again" question with the
/// next of PTY_REOPEN (comma-separated); prints the exit code, the number of questions, then
/// everything written to the terminal.
const DRIVER: &str = r#"
import os, pty, sys
answers = os.environ["PTY_REOPEN"].split(",")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
asked = 0
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    while out.count(b"Open the editor again") > asked:
        os.write(fd, answers[min(asked, len(answers) - 1)].encode() + b"\n")
        asked += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write("%d %d\n" % (os.waitstatus_to_exitcode(status) & 0xff, asked))
sys.stdout.write(out.decode(errors="replace"))
"#;

fn edit_on_tty(
    repo: &Repo,
    file: &str,
    editor: &Path,
    runtime: &Path,
    answers: &str,
) -> (i32, usize, String) {
    let alice = key("alice_ed25519");
    let o = common::command("python3")
        .args(["-c", DRIVER])
        .arg(common::bin())
        .args(["edit", file, "-i"])
        .arg(&alice)
        .current_dir(repo.path())
        .env("HOME", repo.path())
        .env("EDITOR", editor)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("PTY_REOPEN", answers)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let mut it = first.split(' ');
    let code = it.next().unwrap().parse().unwrap();
    let asked = it.next().unwrap().parse().unwrap();
    (code, asked, rest.to_string())
}

/// On a terminal: the editor gets `app.yaml` (in the private directory on the tmpfs), a broken
/// save is reported and the editor opened again on what was written; declined, nothing is
/// saved and no plaintext is left.
#[test]
fn tty_reopens_the_editor_on_a_broken_document() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = repo();
    repo.encrypt("app.yaml.age", "db: {password: old}\n");
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("editor-log");
    // First run: break the document; later runs: record what they were given, then fix it.
    let editor = common::script(
        &tools.path().join("editor"),
        &format!(
            "log='{log}'\n\
             if [ ! -e \"$log\" ]; then echo \"$1\" > \"$log\"; echo 'db: [broken' > \"$1\"; exit 0; fi\n\
             cat \"$1\" >> \"$log\"\n\
             echo 'db: {{password: fixed}}' > \"$1\"",
            log = log.display()
        ),
    );
    let (code, asked, out) = edit_on_tty(&repo, "app.yaml.age", &editor, runtime.path(), "");
    assert_eq!((code, asked), (0, 1), "{out}");
    assert!(
        out.contains("app.yaml.age: yaml document: not valid yaml: line "),
        "{out}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    let first = Path::new(log_text.lines().next().unwrap());
    assert_eq!(first.file_name().unwrap(), "app.yaml");
    assert!(first.starts_with(runtime.path()), "{log_text}");
    // The second run was given what the first one wrote.
    assert!(log_text.ends_with("db: [broken\n"), "{log_text}");
    assert_eq!(whole(&repo, "app.yaml.age"), "db: {password: fixed}\n");
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left behind"
    );

    // Declined: exit 1, the file as it was.
    std::fs::remove_file(&log).unwrap();
    let before = std::fs::read(repo.path().join("app.yaml.age")).unwrap();
    let (code, asked, out) = edit_on_tty(&repo, "app.yaml.age", &editor, runtime.path(), "n");
    assert_eq!((code, asked), (1, 1), "{out}");
    assert!(out.contains("app.yaml.age is unchanged"), "{out}");
    assert_eq!(
        std::fs::read(repo.path().join("app.yaml.age")).unwrap(),
        before
    );
    assert!(
        common::snapshot(runtime.path()).is_empty(),
        "plaintext left behind"
    );
}

/// `encrypt` refuses a document that does not parse, as `edit` does, whether the rule's format
/// or the name says it is one; `format = "binary"` stores anything under any name.
#[test]
fn encrypt_checks_a_document_as_edit_does() {
    let repo = repo();
    for file in ["app.yaml.age", "doc.age", "app.json.age"] {
        let o = repo
            .cmd()
            .args(["encrypt", file])
            .write_stdin("a: [unclosed\n")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.contains(&format!("{file} is unchanged"))
                && err.contains("set the rule's format to binary"),
            "{file}: {err}"
        );
        assert!(!err.contains("unclosed"), "{file}: {err}");
        assert!(!repo.path().join(file).exists(), "{file}");
    }
    repo.encrypt("raw.yaml.age", "a: [unclosed\n");
    let (code, out, err) = run(&repo, &["decrypt", "raw.yaml.age"]);
    assert_eq!((code, out.as_str()), (0, "a: [unclosed\n"), "{err}");
}
