//! `nix flake check --no-build` on the project's flake, with the `nix` on PATH (Debian's Nix 2.8
//! in CI), against a stub nixpkgs flake: nixpkgs' real lib and the fake package set of
//! nix/tests/stub-nixpkgs/. Nothing is built or fetched: the store is a private one in a
//! temporary directory, substituters and the flake registry are off, HOME and the XDG
//! directories are temporary, and as root the run has no network at all (`unshare --net`).
//!
//! Needs `nix` and `<nixpkgs/lib>` (skips of kind `nixpkgs` without it, as the module tests).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies `from` into `to` (created), files, directories and symlinks as they are, leaving
/// out the top-level entries `skip` says.
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if skip(&src) {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst, &|_| false);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Where `<nixpkgs/lib>` is (common::nixpkgs_lib() said it resolves).
fn nixpkgs_lib_dir() -> PathBuf {
    let out = Command::new("nix-instantiate")
        .args(["--find-file", "nixpkgs/lib"])
        .output()
        .expect("run nix-instantiate");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// The stub nixpkgs flake and a copy of this source tree (without build output, VCS data,
    /// result links or .direnv), each under a temporary directory.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let stub = dir.path().join("stub-nixpkgs");
        std::fs::create_dir_all(&stub).unwrap();
        let tests = repo().join("nix/tests");
        for (from, to) in [
            ("stub-nixpkgs/flake.nix", "flake.nix"),
            ("stub-nixpkgs/pkgs.nix", "pkgs.nix"),
            ("stub-pkgs.nix", "stub-pkgs.nix"),
        ] {
            std::fs::copy(tests.join(from), stub.join(to)).unwrap();
        }
        copy_tree(&nixpkgs_lib_dir(), &stub.join("lib"), &|_| false);
        let root = repo();
        copy_tree(&root, &dir.path().join("source"), &|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            ["target", ".git", ".direnv", "fuzz/target"].contains(&rel.as_str())
                || rel.starts_with("result")
        });
        for d in ["home", "conf", "store"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Fixture { dir }
    }

    fn source(&self) -> PathBuf {
        self.dir.path().join("source")
    }

    /// `nix flake check --no-build` of the copied source with nixpkgs overridden by the stub.
    fn flake_check(&self) -> Output {
        let t = self.dir.path();
        let home = t.join("home");
        let offline = common::is_root() && common::have("unshare");
        let mut c = if offline {
            let mut c = Command::new("unshare");
            c.args(["--net", "--", "nix"]);
            c
        } else {
            Command::new("nix")
        };
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            // No nix.conf of the machine's: only the options below.
            .env("NIX_CONF_DIR", t.join("conf"))
            .args([
                "--extra-experimental-features",
                "nix-command flakes",
                "flake",
                "check",
                "--no-build",
                "--offline",
                "--no-write-lock-file",
                "--option",
                "substituters",
                "",
                "--option",
                "flake-registry",
                "",
            ])
            // A private store: the sources it copies never reach /nix/store.
            .arg("--store")
            .arg(t.join("store"))
            .arg("--override-input")
            .arg("nixpkgs")
            .arg(format!("path:{}", t.join("stub-nixpkgs").display()))
            .arg(format!("path:{}", self.source().display()));
        c.output().expect("run nix flake check")
    }
}

fn available() -> bool {
    !common::missing("nix") && common::nixpkgs_lib() && common::has_flake()
}

/// The flake passes Nix's own checks of every output on every system: modules are modules
/// (Nix 2.8 said "module must be a function or an attribute set" of the bare paths), the
/// overlay an overlay, packages, checks, shells and formatters derivations.
#[test]
fn flake_check_passes_against_a_stub_nixpkgs() {
    if !available() {
        return;
    }
    let f = Fixture::new();
    let out = f.flake_check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nix flake check --no-build failed:\n{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");
    // It did evaluate the flake, with the stub as nixpkgs.
    assert!(stderr.contains("stub-nixpkgs"), "{stderr}");
}

/// The check above can fail: with the NixOS module exported as a bare path again (as before),
/// the same run fails with Nix 2.8's message.
#[test]
fn flake_check_rejects_a_module_exported_as_a_path() {
    if !available() {
        return;
    }
    let f = Fixture::new();
    let flake = f.source().join("flake.nix");
    let text = std::fs::read_to_string(&flake).unwrap();
    let wrapped = r#"nixosModule = flakeModule "nixosModules" ./nix/modules/nixos.nix;"#;
    assert!(
        text.contains(wrapped),
        "flake.nix no longer has `{wrapped}`: update this test"
    );
    std::fs::write(
        &flake,
        text.replace(wrapped, "nixosModule = ./nix/modules/nixos.nix;"),
    )
    .unwrap();
    let out = f.flake_check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bare-path module passed:\n{stderr}"
    );
    assert!(
        stderr.contains("module must be a function or an attribute set"),
        "{stderr}"
    );
}
