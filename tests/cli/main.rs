//! The CLI core end to end: rules discovery and validation, identities, edit / decrypt /
//! encrypt, interop with the Go `age` binary, and the agenix entry point.

#[path = "../common/mod.rs"]
mod common;

mod advice;
mod entry_points;
mod flags;
mod identities;
mod roundtrip;
mod rules;
#[cfg(target_os = "linux")] // every item in it is Linux-only (/dev/shm, unshare)
mod tty_edit;
#[cfg(target_os = "linux")] // /dev/shm and the pty driver
mod written;

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

/// A fake editor: a script that records its arguments and edits the file as told.
fn editor(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    common::script(
        &dir.join(name),
        &format!("printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/editor-args\"\n{body}"),
    )
}
