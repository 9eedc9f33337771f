//! The package (nix/package.nix: its source holds what the build and tests read) and the
//! flake's outputs for every system.

use std::process::Command;

use serde_json::{json, Value as Json};

use crate::{available, common, repo, strs};

/// nix/package.nix builds from a source that holds every tracked file the build and the tests
/// read (an earlier version left out testdata/ and fuzz/corpus, so the package's checkPhase
/// would have failed): the source filter keeps every file git tracks, and each directory on
/// its way, but the documents, the flake and CI; and it drops build output.
#[test]
fn package_source_has_what_the_build_and_tests_read() {
    need_nix!();
    let git = Command::new("git")
        .current_dir(repo())
        .args(["ls-files", "-z"])
        .output();
    // Inside the package's own build there is no git checkout: the source is the filtered
    // tree already, so there is nothing to compare.
    let tracked: Vec<String> = match git {
        Ok(g) if g.status.success() => String::from_utf8_lossy(&g.stdout)
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        _ => {
            // A skip, not a silent pass: CI (SECRETS_TEST_NO_SKIP=1) runs in a checkout.
            common::skip("not a git checkout: nothing to compare the package source with");
            return;
        }
    };
    // Every tracked file and every directory above it, as the filter sees them.
    let mut paths: std::collections::BTreeMap<String, &str> = Default::default();
    for f in &tracked {
        paths.insert(f.clone(), "regular");
        let mut d = std::path::Path::new(f).parent();
        while let Some(dir) = d.filter(|d| !d.as_os_str().is_empty()) {
            paths.insert(dir.display().to_string(), "directory");
            d = dir.parent();
        }
    }
    for (p, t) in [("target", "directory"), ("fuzz/target", "directory")] {
        paths.insert(p.into(), t);
    }
    let list: Vec<Json> = paths.iter().map(|(p, t)| json!([p, t])).collect();
    let expr = format!(
        r#"
      let
        lib = import <nixpkgs/lib>;
        args = import ./nix/package.nix {{
          inherit lib;
          stdenv = {{ buildPlatform.canExecute = _: true; hostPlatform = {{ }}; }};
          rustPlatform.buildRustPackage = a: a;
          installShellFiles = null;
          age = null;
          nix = null;
          path = "/nowhere";
        }};
        paths = builtins.fromJSON {list};
      in builtins.filter (p: args.passthru.sourceFilter (toString ./. + "/" + builtins.elemAt p 0) (builtins.elemAt p 1)) paths
    "#,
        list = Json::String(Json::Array(list).to_string())
    );
    let kept: Vec<(String, String)> =
        serde_json::from_value(common::nix_eval("the source filter", &["-E", &expr]))
            .expect("a JSON list of [path, type]");
    let kept: std::collections::BTreeSet<String> = kept.into_iter().map(|(p, _)| p).collect();
    let excluded = [
        "README.md",
        "SECURITY.md",
        "flake.nix",
        ".ci",
        ".gitignore",
        "target",
        "fuzz/target",
    ];
    // The filter is asked top-down: a path is in the source if it and every directory above
    // it pass.
    let in_source = |p: &str| {
        let mut cur = Some(std::path::Path::new(p));
        while let Some(c) = cur.filter(|c| !c.as_os_str().is_empty()) {
            if !kept.contains(&c.display().to_string()) {
                return false;
            }
            cur = c.parent();
        }
        true
    };
    for p in paths.keys() {
        let out_by_design = excluded
            .iter()
            .any(|e| p == e || p.starts_with(&format!("{e}/")));
        assert_eq!(
            in_source(p),
            !out_by_design,
            "package source and {p}: in it = {}",
            in_source(p)
        );
    }
    for must in [
        "testdata/keys/alice_ed25519",
        "fuzz/corpus",
        "nix/modules/nixos.nix",
        "src/main.rs",
    ] {
        assert!(in_source(must), "package source lacks {must}");
    }
}

/// flake.nix against a stub nixpkgs (nix/tests/flake-outputs.nix): every output the issue and
/// README list, for all four systems; the package's wiring; VM checks only on Linux, each with
/// its subtests, and the VM machine's configuration passes the real module's assertions with
/// a users-phase password secret (its install is tested in tests/nix_e2e.rs).
#[test]
fn flake_outputs_evaluate_for_every_system() {
    need_nix!();
    if !common::has_flake() {
        return;
    }
    let (v, stderr) = common::nix_eval_warnings(
        "the flake outputs",
        &["-E", "import ./nix/tests/flake-outputs.nix { }"],
    );
    let systems = [
        "aarch64-darwin",
        "aarch64-linux",
        "x86_64-darwin",
        "x86_64-linux",
    ];
    assert_eq!(v["systems"], json!(systems));
    for s in systems {
        assert_eq!(
            v["packages"][s],
            json!({"agenix": "secrets-0.1.0", "default": "secrets-0.1.0", "secrets": "secrets-0.1.0"})
        );
        // `nix run <flake>#agenix -- -e x.age` starts the agenix-speaking link.
        assert_eq!(
            v["mainPrograms"][s],
            json!({"agenix": "agenix", "default": "secrets", "secrets": "secrets"})
        );
        assert_eq!(
            v["devShells"][s]
                .as_str()
                .map(|p| p.starts_with("nixpkgs=")),
            Some(true)
        );
        assert!(v["formatter"][s].is_string(), "{s}: no formatter");
        let checks: Vec<&str> = strs(&v["checks"][s]);
        if s.ends_with("-linux") {
            assert_eq!(
                checks,
                [
                    "no-plaintext-in-closure",
                    "package",
                    "vm-activation-scripts",
                    "vm-sysusers",
                    "vm-userborn"
                ],
                "{s}"
            );
        } else {
            assert_eq!(checks, ["package"], "{s}");
        }
    }
    for (kind, file) in [
        ("nixosModules", "nix/modules/nixos.nix"),
        ("homeManagerModules", "nix/modules/home-manager.nix"),
        ("darwinModules", "nix/modules/darwin.nix"),
    ] {
        assert_eq!(
            v["modules"][kind],
            json!({"age": file, "default": file}),
            "{kind}"
        );
    }
    // The overlay gives `pkgs.agenix` too, as agenix's does.
    assert_eq!(
        v["overlay"],
        json!({"agenix": "agenix", "secrets": "secrets"})
    );
    assert_eq!(v["ageBinOverride"], json!("secrets-0.1.0"));
    assert!(
        stderr.contains("ageBin (/nix/store/x-rage/bin/rage) is ignored"),
        "no warning for an ignored ageBin: {stderr}"
    );
    let pkg = &v["package"];
    assert_eq!(pkg["cargoLock"], json!("Cargo.lock"));
    let post = pkg["postInstall"].as_str().unwrap_or("");
    for want in [
        "ln -s secrets $out/bin/agenix",
        "completions bash",
        "completions zsh",
        "completions fish",
        "installManPage",
    ] {
        assert!(post.contains(want), "postInstall lacks {want:?}: {post}");
    }
    assert!(strs(&pkg["nativeCheckInputs"])
        .iter()
        .any(|n| n.starts_with("age")));
    for (check, name) in [
        ("vm-activation-scripts", "secrets-scripts"),
        ("vm-sysusers", "secrets-sysusers"),
        ("vm-userborn", "secrets-userborn"),
    ] {
        let vm = &v["vm"][check];
        assert_eq!(vm["name"], json!(name));
        assert_eq!(vm["subtests"], json!(5), "{check}");
        assert_eq!(vm["failedAssertions"], json!([]), "{check}");
        assert_eq!(
            vm["manifest"]["secrets"]["alice-password"]["neededForUsers"],
            json!(true)
        );
        assert_eq!(
            vm["alicePasswordFile"],
            json!("/run/agenix-for-users/alice-password")
        );
    }
    let closure = v["closureCheck"].as_str().unwrap_or("");
    assert!(
        closure.contains("PLAINTEXT-MARKER") && closure.contains("agenix-manifest"),
        "{closure}"
    );
}
