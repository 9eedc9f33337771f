//! `secrets install` (issue A): the real binary as root in a private mount namespace with a
//! real tmpfs. Each test re-runs itself under `unshare --mount` (see install_support), by its
//! full name (`files::modes_owners_nested_custom_and_copy`). The tests are grouped by concern:
//! files (what an install writes), generations (the switch and what survives a failure),
//! phases (the users phase and user mode), owners (agenix's order: every secret before users,
//! owners after), identities (including age plugins) and structured (values taken by key out
//! of JSON, YAML, dotenv and INI documents).
// Linux only: unshare, mount(8), /proc/self/mountinfo and inotify.
#![cfg(target_os = "linux")]

#[path = "../common/mod.rs"]
mod common;
#[path = "../install_support/mod.rs"]
mod install_support;

mod check;
mod files;
mod generations;
mod identities;
mod owners;
mod phases;
mod structured;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use install_support::Env;

/// A tmpfs at `dir`, like $XDG_RUNTIME_DIR (we are root in a private mount namespace).
fn mount_tmpfs(dir: &Path) {
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0700", "tmpfs"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot mount a tmpfs on {}", dir.display());
}

fn mount_line(mp: &Path) -> String {
    let Ok(canon) = std::fs::canonicalize(mp) else {
        return String::new();
    };
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .rfind(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap()))
        .unwrap_or_default()
        .to_string()
}

/// A 0700 tmpfs standing in for a user's $XDG_RUNTIME_DIR.
fn runtime_dir(env: &Env) -> std::path::PathBuf {
    let xdg = env.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    mount_tmpfs(&xdg);
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    xdg
}

/// `secrets install` of a userMode manifest with $XDG_RUNTIME_DIR set to `xdg`.
fn install_as_user(
    env: &Env,
    xdg: &std::path::Path,
    manifest: &serde_json::Value,
) -> assert_cmd::Command {
    let p = env.path().join("user.json");
    std::fs::write(&p, manifest.to_string()).unwrap();
    let mut c = common::cmd();
    c.args(["install", "--manifest"])
        .arg(&p)
        .env("XDG_RUNTIME_DIR", xdg);
    c
}
