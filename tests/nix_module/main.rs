//! Evaluation tests of the NixOS, home-manager and nix-darwin modules (nix/modules/).
//!
//! Each test evaluates one configuration from nix/tests/eval.nix with
//! `nix-instantiate --eval --strict --json` (module + its stub in nix/tests/*-stub.nix,
//! only nixpkgs' `lib` needed) and checks the emitted manifest, activation
//! scripts, systemd units, launchd jobs and assertion/warning messages.
//!
//! Needs `nix-instantiate` and `<nixpkgs/lib>` on NIX_PATH (a nixpkgs or a
//! nixpkgs.lib checkout: `NIX_PATH=nixpkgs=/path/to/checkout`). Without them
//! the tests print `SKIP: <reason>` and pass, unless SECRETS_TEST_NO_SKIP=1.
//!
//! The tests are in a module per Nix module (nixos, home_manager, darwin), and packaging for
//! nix/package.nix and flake.nix; the harness below is theirs.
//!
//! With SECRETS_NIX_EMIT_MANIFEST_DIR=DIR every evaluated case's manifest is
//! also written to DIR/<case>.json (for end-to-end runs of the installer).

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;

use serde_json::{json, Value as Json};

// ---------------------------------------------------------------- harness

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn available() -> bool {
    common::nixpkgs_lib()
}

/// Evaluates `case` of nix/tests/eval.nix and returns its fields.
fn eval_case(case: &str) -> Json {
    let v = common::nix_eval(&format!("case {case}"), &["nix/tests/eval.nix", "-A", case]);
    if let Ok(dir) = std::env::var("SECRETS_NIX_EMIT_MANIFEST_DIR") {
        std::fs::create_dir_all(&dir).expect("create manifest dir");
        let path = PathBuf::from(dir).join(format!("{case}.json"));
        std::fs::write(&path, v["manifest"].to_string()).expect("write manifest");
    }
    v
}

macro_rules! need_nix {
    () => {
        if !available() {
            return;
        }
    };
}

fn strs(v: &Json) -> Vec<&str> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|x| x.as_str().unwrap_or_else(|| panic!("not a string: {x}")))
        .collect()
}

fn pos(list: &[&str], item: &str) -> usize {
    list.iter()
        .position(|x| *x == item)
        .unwrap_or_else(|| panic!("{item} missing from {list:?}"))
}

/// Asserts that the names appear in this order in `list`.
fn assert_order(list: &[&str], names: &[&str]) {
    for w in names.windows(2) {
        assert!(
            pos(list, w[0]) < pos(list, w[1]),
            "{} must come before {} in {list:?}",
            w[0],
            w[1]
        );
    }
}

/// `script`'s declared dependencies include all of `deps`.
fn assert_deps(v: &Json, script: &str, deps: &[&str]) {
    let have = strs(&v["activationDeps"][script]);
    for d in deps {
        assert!(
            have.contains(d),
            "activation script {script} lacks dep {d}: {have:?}"
        );
    }
}

fn assert_no_problems(v: &Json) {
    assert_eq!(v["failedAssertions"], json!([]), "assertions failed");
    assert_eq!(v["warnings"], json!([]), "unexpected warnings");
}

/// The configuration must trip exactly one assertion containing `needle`.
fn assert_rejected(case: &str, needle: &str) {
    let v = eval_case(case);
    let failed = strs(&v["failedAssertions"]);
    assert_eq!(
        failed.len(),
        1,
        "{case}: expected one failed assertion, got {failed:?}"
    );
    assert!(
        failed[0].contains(needle),
        "{case}: message {:?} lacks {needle:?}",
        failed[0]
    );
}

/// Evaluates `case.field` expecting the evaluation to FAIL; returns nix-instantiate's stderr
/// (the error and any `trace:` lines).
fn eval_error(case: &str, field: &str) -> String {
    let out = std::process::Command::new("nix-instantiate")
        .current_dir(repo())
        .args(["--eval", "--strict", "--json", "nix/tests/eval.nix", "-A"])
        .arg(format!("{case}.{field}"))
        .output()
        .expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{case}.{field} evaluated, but must fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Every failed assertion of `case`, which must be exactly `expected` (in any order).
fn assert_rejected_all(case: &str, expected: &[&str]) {
    let v = eval_case(case);
    let mut failed = strs(&v["failedAssertions"]);
    failed.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(failed, want, "{case}: failed assertions");
}

const STORE: &str = "/nix/store/00000000000000000000000000000000";

fn install_cmd(phase: &str) -> String {
    format!(
        "{STORE}-secrets-0.1.0/bin/secrets install --manifest {STORE}-agenix-manifest-checked.json --phase {phase}"
    )
}

/// What agenixInstall runs in activation mode: both phases, owners left for agenixChown.
const DEFERRED: &str = "all --defer-owners";

/// What an activation script runs: with systemd on PATH, for systemctl restarts.
fn script_cmd(phase: &str) -> String {
    format!(
        "PATH=\"$PATH:{STORE}-systemd-258/bin\" {}",
        install_cmd(phase)
    )
}

/// What the home-manager service runs.
fn hm_install_cmd() -> String {
    format!(
        "{STORE}-secrets-0.1.0/bin/secrets install --manifest {STORE}-agenix-home-manifest-checked.json"
    )
}

// ---------------------------------------------------------------- tests
// After the harness, so the modules see `need_nix!`.

mod agenix_readme;
mod darwin;
mod home_manager;
mod nixos;
mod option_paths;
mod packaging;
mod readme_options;
mod structured;
mod stub_fidelity;
mod validation;
