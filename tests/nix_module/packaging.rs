//! The package (nix/package.nix: its source file set, its meta and install steps), default.nix
//! for non-flake users, and the flake's outputs for every system (evaluated against a stub
//! nixpkgs; tests/nix_flake.rs runs `nix flake check` itself).

use std::process::Command;

use serde_json::{json, Value as Json};

use crate::{available, common, repo, strs};

/// `nix/package.nix`'s source file set in the tree at `root`, as paths relative to it
/// (`lib.fileset.toList`: what a build would hash), with or without the test suite.
fn source_files(root: &std::path::Path, do_check: bool) -> Vec<String> {
    let expr = format!(
        r#"
      let
        # lib.fileset reads file types with builtins.readFileType (Nix 2.14); on older Nix,
        # the readDir fallback nixpkgs' lib itself used before it required Nix 2.18.
        lib = (import <nixpkgs/lib>).extend (final: prev: {{
          filesystem = prev.filesystem // {{
            pathType = builtins.readFileType or (p: (builtins.readDir (dirOf p)).${{baseNameOf p}});
          }};
        }});
        root = {root};
        args = import (root + "/nix/package.nix") {{
          inherit lib;
          stdenv = {{ buildPlatform.canExecute = _: true; hostPlatform = {{ }}; }};
          rustPlatform.buildRustPackage = a: a;
          installShellFiles = null;
          age = null;
          nix = null;
          path = "/nowhere";
          doCheck = {do_check};
        }};
      in map (p: lib.removePrefix (toString root + "/") (toString p))
        (lib.fileset.toList args.passthru.sourceFiles)
    "#,
        root = root.display()
    );
    let v = common::nix_eval("the package's source file set", &["-E", &expr]);
    let mut files: Vec<String> = serde_json::from_value(v).expect("a JSON list of paths");
    files.sort();
    files
}

/// The package's source is taken by inclusion (lib.fileset): the manifest, the lock file,
/// src/ and the benches the manifest declares; with doCheck, also what `cargo test` reads.
/// Build output, .direnv/, result links, documents, the flake and editor files are never in
/// it, also not inside the directories taken.
#[test]
fn package_source_is_exactly_what_the_build_reads() {
    need_nix!();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let real = repo();
    let put = |rel: &str, content: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    };
    // The real manifest and package expression; everything else a stand-in.
    put(
        "Cargo.toml",
        &std::fs::read(real.join("Cargo.toml")).unwrap(),
    );
    put(
        "nix/package.nix",
        &std::fs::read(real.join("nix/package.nix")).unwrap(),
    );
    for f in [
        "Cargo.lock",
        "src/main.rs",
        "src/cmd/edit.rs",
        "benches/install.rs",
        "tests/cli.rs",
        "testdata/keys/alice",
        "nix/modules/nixos.nix",
        "fuzz/corpus/rules/seed",
        "fuzz/common/check.rs",
        // Never source:
        "src/main.rs~",
        "src/.main.rs.swp",
        "src/cmd/.edit.rs.swo",
        "src/#main.rs#",
        "src/.DS_Store",
        "tests/.cli.rs.swp",
        "nix/modules/nixos.nix~",
        ".direnv/flake-profile",
        "target/debug/secrets",
        "fuzz/target/debug/x",
        "fuzz/fuzz_targets/rules.rs",
        "README.md",
        "SECURITY.md",
        "LICENSE",
        "flake.nix",
        "flake.lock",
        "default.nix",
        ".ci/run",
        ".envrc",
    ] {
        put(f, b"x");
    }
    // Emacs's lock file and `nix build`'s result links are symlinks.
    std::os::unix::fs::symlink("root@host.1:1", root.join("src/.#main.rs")).unwrap();
    std::os::unix::fs::symlink("/nix/store/x-secrets-man", root.join("result-man")).unwrap();
    std::os::unix::fs::symlink("/nix/store/x-secrets", root.join("result")).unwrap();

    let build = [
        "Cargo.lock",
        "Cargo.toml",
        "benches/install.rs",
        "src/cmd/edit.rs",
        "src/main.rs",
    ];
    assert_eq!(source_files(root, false), build);
    let mut with_tests: Vec<&str> = build.to_vec();
    with_tests.extend([
        "fuzz/common/check.rs",
        "fuzz/corpus/rules/seed",
        "nix/modules/nixos.nix",
        "nix/package.nix",
        "testdata/keys/alice",
        "tests/cli.rs",
    ]);
    with_tests.sort();
    assert_eq!(source_files(root, true), with_tests);
}

/// In this checkout: every tracked file the build (and, with doCheck, the tests) read is in
/// the source, nothing outside those directories is. `SECRETS_LIST_PACKAGE_SOURCE=1` prints
/// the set.
#[test]
fn package_source_in_this_tree() {
    need_nix!();
    let git = Command::new("git")
        .current_dir(repo())
        .args(["ls-files", "-z"])
        .output();
    // Inside the package's own build there is no git checkout (and no flake): nothing to
    // compare with.
    let tracked: Vec<String> = match git {
        Ok(g) if g.status.success() => String::from_utf8_lossy(&g.stdout)
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        _ => {
            common::skip("not a git checkout: nothing to compare the package source with");
            return;
        }
    };
    let build = ["Cargo.toml", "Cargo.lock", "src/", "benches/"];
    let check = [
        "tests/",
        "testdata/",
        "nix/",
        "fuzz/corpus/",
        "fuzz/common/",
    ];
    for (do_check, dirs) in [
        (false, build.to_vec()),
        (true, [&build[..], &check[..]].concat()),
    ] {
        let listed = source_files(&repo(), do_check);
        if std::env::var_os("SECRETS_LIST_PACKAGE_SOURCE").is_some() {
            eprintln!("doCheck = {do_check}: {} files", listed.len());
            for f in &listed {
                eprintln!("  {f}");
            }
        }
        let under = |f: &str| dirs.iter().any(|d| f == *d || f.starts_with(d));
        for f in &listed {
            assert!(
                under(f),
                "doCheck = {do_check}: {f} is in the package source but outside {dirs:?}"
            );
        }
        for f in tracked.iter().filter(|f| under(f)) {
            assert!(
                listed.contains(f),
                "doCheck = {do_check}: tracked {f} is missing from the package source"
            );
        }
        assert!(listed.iter().any(|f| f == "src/main.rs"));
    }
}

/// default.nix, for configurations without flakes: the module sets need neither nixpkgs nor
/// `pkgs`; the packages evaluate with the given pkgs, skip the test suite, and start the
/// entry their name says.
#[test]
fn default_nix_for_non_flake_users() {
    need_nix!();
    if !std::path::Path::new(&repo()).join("default.nix").exists() {
        common::skip(
            "default.nix is not in this source tree (the Nix package's source leaves it out)",
        );
        return;
    }
    // No <nixpkgs> at all, and a `pkgs` that fails when read.
    let out = Command::new("nix-instantiate")
        .current_dir(repo())
        .env_remove("NIX_PATH")
        .args(["--eval", "--strict", "--json", "-E"])
        .arg(
            r#"let s = import ./default.nix { pkgs = throw "pkgs read"; };
                   plain = import ./default.nix { };
               in builtins.mapAttrs (_: builtins.mapAttrs (_: m: baseNameOf (toString m))) {
                 inherit (s) nixosModules darwinModules;
                 inherit (plain) homeManagerModules;
               }"#,
        )
        .output()
        .expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "default.nix's modules need nixpkgs: {stderr}"
    );
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    for (set, file) in [
        ("nixosModules", "nixos.nix"),
        ("darwinModules", "darwin.nix"),
        ("homeManagerModules", "home-manager.nix"),
    ] {
        assert_eq!(v[set], json!({"age": file, "default": file}), "{set}");
    }
    // The packages, with the stub package set; and a module from it evaluates.
    let v = common::nix_eval(
        "default.nix with stub pkgs",
        &[
            "-E",
            r#"let
                 lib = import <nixpkgs/lib>;
                 pkgs = import ./nix/tests/stub-nixpkgs/pkgs.nix {
                   inherit lib;
                   system = "x86_64-linux";
                   base = import ./nix/tests/stub-pkgs.nix { };
                 };
                 s = import ./default.nix { inherit pkgs; };
                 config = (lib.evalModules {
                   modules = [ ./nix/tests/nixos-stub.nix s.nixosModules.default ];
                 }).config;
               in {
                 packages = lib.mapAttrs (_: p: { inherit (p) name doCheck; inherit (p.meta) mainProgram; })
                   { inherit (s) secrets default agenix ragenix; };
                 modulePackage = config.age.package.name;
               }"#,
        ],
    );
    for (attr, program) in [
        ("secrets", "secrets"),
        ("default", "secrets"),
        ("agenix", "agenix"),
        ("ragenix", "ragenix"),
    ] {
        assert_eq!(
            v["packages"][attr],
            json!({"name": "secrets-0.1.0", "doCheck": false, "mainProgram": program}),
            "{attr}"
        );
    }
    assert_eq!(v["modulePackage"], json!("secrets-0.1.0"));
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
            json!({"agenix": "secrets-0.1.0", "default": "secrets-0.1.0", "ragenix": "secrets-0.1.0", "secrets": "secrets-0.1.0"})
        );
        // `nix run <flake>#agenix -- -e x.age` starts the agenix-speaking link.
        assert_eq!(
            v["mainPrograms"][s],
            json!({"agenix": "agenix", "default": "secrets", "ragenix": "ragenix", "secrets": "secrets"})
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
                    "installed",
                    "no-plaintext-in-closure",
                    "package",
                    "vm-activation-scripts",
                    "vm-sysusers",
                    "vm-userborn"
                ],
                "{s}"
            );
        } else {
            assert_eq!(checks, ["installed", "package"], "{s}");
        }
    }
    // The modules are values (Nix 2.8's `flake check` rejects paths), each defaulting
    // age.package to the flake's build for the stub's system; the configuration's own setting
    // wins; on a system the flake lacks, the module's own default (the stub's pkgs.secrets).
    for (kind, system) in [
        ("nixos", "x86_64-linux"),
        ("homeManager", "x86_64-linux"),
        ("darwin", "aarch64-darwin"),
    ] {
        let m = &v["modules"][kind];
        assert_eq!(m["kinds"], json!(["age", "default"]), "{kind}");
        assert_eq!(
            m["default"],
            json!({"name": "secrets-0.1.0", "system": system, "flakeBuild": true}),
            "{kind}: age.package by default"
        );
        assert_eq!(
            m["userSetting"],
            json!({"name": "secrets-9.9.9", "system": null, "flakeBuild": false}),
            "{kind}: a configuration's age.package"
        );
        assert_eq!(
            m["foreignSystem"],
            json!({"name": "secrets-0.1.0", "system": null, "flakeBuild": false}),
            "{kind}: age.package on a system the flake lacks"
        );
    }
    // The overlay gives `pkgs.agenix` and `pkgs.ragenix` too, as those flakes' overlays do.
    assert_eq!(
        v["overlay"],
        json!({"agenix": "agenix", "ragenix": "ragenix", "secrets": "secrets"})
    );
    assert_eq!(v["ageBinOverride"], json!("secrets-0.1.0"));
    assert!(
        stderr.contains("ageBin (/nix/store/x-rage/bin/rage) is ignored"),
        "no warning for an ignored ageBin: {stderr}"
    );
    let pkg = &v["package"];
    assert_eq!(pkg["cargoLock"], json!("Cargo.lock"));
    assert_eq!(pkg["license"]["spdxId"], json!("MIT"));
    assert!(pkg["description"]
        .as_str()
        .is_some_and(|d| d.contains("agenix drop-in")));
    let platforms = strs(&pkg["platforms"]);
    for p in systems {
        assert!(platforms.contains(&p), "meta.platforms lacks {p}");
    }
    let post = pkg["postInstall"].as_str().unwrap_or("");
    for want in [
        "ln -s secrets $out/bin/agenix",
        "ln -s secrets $out/bin/ragenix",
        "completions bash",
        "completions zsh",
        "completions fish",
        "secrets man --out-dir man",
        "installManPage man/*",
    ] {
        assert!(post.contains(want), "postInstall lacks {want:?}: {post}");
    }
    // The packages skip the test suite (and so need neither age nor nix); the flake's
    // `package` check runs it.
    assert_eq!(pkg["doCheck"], json!(false));
    assert_eq!(pkg["nativeCheckInputs"], json!(null));
    assert_eq!(pkg["checked"]["doCheck"], json!(true));
    assert!(strs(&pkg["checked"]["nativeCheckInputs"])
        .iter()
        .any(|n| n.starts_with("age")));
    // The `installed` check: a local build that runs the agenix entry's help.
    let installed = &v["installedCheck"];
    assert_eq!(installed["preferLocalBuild"], json!(true));
    let cmd = installed["buildCommand"].as_str().unwrap_or("");
    assert!(
        cmd.contains("-secrets-0.1.0/bin/agenix --help") && cmd.contains("/bin/ragenix"),
        "{cmd}"
    );
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
        // The VM imports the flake's module, so it runs the flake's build.
        assert_eq!(vm["packageIsFlakes"], json!(true), "{check}");
    }
    let closure = v["closureCheck"].as_str().unwrap_or("");
    assert!(
        closure.contains("PLAINTEXT-MARKER") && closure.contains("agenix-manifest"),
        "{closure}"
    );
}
