//! `secrets install` against the people it installs for (security findings 5–8): a secret's
//! owner filling space, an old owner reading a retained generation, two installers at once,
//! a symlink above the mount point, and a tmpfs somebody else mounted there; and (review
//! findings A–D) a directory on the way that somebody else may change, a previous generation
//! left open, the install lock itself. Every attack is carried out for real: root in a
//! private mount namespace (see install_support), the unprivileged side as uid 65534 through
//! setpriv.
// Linux only: unshare, mount(8), setpriv and /proc/self/mountinfo.
#![cfg(target_os = "linux")]

#[path = "../common/mod.rs"]
mod common;
#[path = "../install_support/mod.rs"]
mod install_support;

mod generations;
mod lock;
mod mount_point;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::full_snapshot;
use install_support::{assert_ok, in_private_ns, mode, mounts_at, text, Env};
use serde_json::json;

const NOBODY: &str = "65534";

/// Run `script` with sh as uid/gid 65534 and no supplementary groups.
fn as_nobody(script: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg(script)
        .output()
        .unwrap()
}

/// The test's private directory is root 0700; uid 65534 must be able to get to the secrets.
fn open_to_others(env: &Env) {
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}
