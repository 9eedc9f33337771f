//! Structured secrets (#18) on the command line: `decrypt FILE --key K` prints one value of a
//! JSON, YAML, dotenv or INI document (format from the rule, the file name, or `--format`);
//! `edit` gives the editor the document's own name and refuses to save one that does not parse
//! (on a terminal it offers to reopen the editor; otherwise the file is left untouched).

#[path = "../common/mod.rs"]
mod common;

mod decrypt;
#[cfg(target_os = "linux")] // /dev/shm as the RAM-backed XDG_RUNTIME_DIR, a pty
mod edit;

use common::{key, Repo};

/// Rules for one document per format, one whose rule sets its format, and a plain blob.
fn repo() -> Repo {
    let repo = Repo::new();
    repo.json_rules(
        r#"{"app.yaml.age": {"publicKeys": ["alice"]},
            "app.json.age": {"publicKeys": ["alice"]},
            "app.env.age": {"publicKeys": ["alice"]},
            "app.ini.age": {"publicKeys": ["alice"]},
            "doc.age": {"publicKeys": ["alice"], "format": "yaml"},
            "raw.yaml.age": {"publicKeys": ["alice"], "format": "binary"},
            "blob.age": {"publicKeys": ["alice"]}}"#,
    );
    repo
}

/// `secrets ARGS -i alice`: exit code, stdout, stderr.
fn run(repo: &Repo, args: &[&str]) -> (i32, String, String) {
    let o = repo
        .cmd()
        .args(args)
        .arg("-i")
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The plaintext of FILE, whole.
fn whole(repo: &Repo, file: &str) -> String {
    let (code, out, err) = run(repo, &["decrypt", file]);
    assert_eq!(code, 0, "{err}");
    out
}
