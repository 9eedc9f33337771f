//! The home-manager module: a user service in user mode, the build-time check, the runtime
//! directory and disk-backed mount points.

use serde_json::json;

use crate::{assert_no_problems, available, eval_case, hm_install_cmd, strs, STORE};

#[test]
fn home_manager_agenix_config_runs_a_user_service_in_user_mode() {
    need_nix!();
    let v = eval_case("hmAgenix");
    assert_eq!(v["failedAssertions"], json!([]));
    // agenix's age.package (the age binary) is ignored with a warning.
    let w = strs(&v["warnings"]);
    assert!(w.len() == 1 && w[0].contains("age.package = age"), "{w:?}");
    let m = &v["manifest"];
    assert_eq!(m["userMode"], json!(true));
    assert_eq!(m["restartMode"].as_str(), Some("systemctl"));
    assert_eq!(m["secretsDir"].as_str(), Some("${XDG_RUNTIME_DIR}/agenix"));
    assert_eq!(
        m["secretsMountPoint"].as_str(),
        Some("${XDG_RUNTIME_DIR}/agenix.d")
    );
    assert_eq!(
        strs(&m["identityPaths"]),
        ["/home/alice/.ssh/id_ed25519", "/home/alice/.ssh/id_rsa"]
    );
    // No owner/group in user mode.
    let token = m["secrets"]["token"].as_object().expect("a JSON object");
    assert!(!token.contains_key("owner") && !token.contains_key("group"));
    // Never used, but it must be the user's: the manifest default is the system's
    // /run/agenix-for-users, which a user's run would otherwise try to switch.
    assert_eq!(
        m["secretsDirForUsers"].as_str(),
        Some("${XDG_RUNTIME_DIR}/agenix-for-users")
    );
    assert_eq!(
        v["secretPaths"]["token"].as_str(),
        Some("${XDG_RUNTIME_DIR}/agenix/token")
    );
    assert_eq!(
        v["secretPaths"]["gpg"].as_str(),
        Some("/home/alice/.gnupg/key")
    );
    assert_eq!(m["secrets"]["gpg"]["symlink"], json!(false));
    assert_eq!(strs(&m["secrets"]["api"]["restartUnits"]), ["sync.service"]);

    let unit = &v["userUnits"]["agenix"];
    let manifest = format!("{STORE}-agenix-home-manifest-checked.json");
    assert_eq!(
        unit["ExecStart"].as_str(),
        Some(format!("{STORE}-secrets-0.1.0/bin/secrets install --manifest {manifest}").as_str())
    );
    assert_eq!(strs(&unit["RestartTriggers"]), [manifest.as_str()]);
    assert_eq!(unit["Type"].as_str(), Some("oneshot"));
    assert_eq!(strs(&unit["WantedBy"]), ["default.target"]);
    assert_eq!(v["launchd"], json!({}));
}

#[test]
fn home_manager_build_time_check_gets_a_runtime_dir_and_home() {
    need_nix!();
    // The default paths start with ${XDG_RUNTIME_DIR}, which a Nix build does not set; the
    // installer refuses to expand an unset variable (tests/nix_e2e.rs runs the check).
    let v = eval_case("hmAgenix");
    let check = v["checkCommand"].as_str().expect("check derivation");
    assert!(
        check.contains(&format!(
            "{STORE}-secrets-0.1.0/bin/secrets install --check --manifest {STORE}-agenix-home-manifest.json"
        )),
        "{check}"
    );
    assert_eq!(
        v["manifestFile"].as_str(),
        Some(format!("{STORE}-agenix-home-manifest-checked.json").as_str())
    );
    let env = &v["checkEnv"];
    let xdg = env["XDG_RUNTIME_DIR"]
        .as_str()
        .expect("XDG_RUNTIME_DIR set");
    assert!(xdg.starts_with('/'), "{xdg}");
    assert_eq!(env["HOME"].as_str(), Some("/home/alice"));
}

#[test]
fn home_manager_without_secrets_still_runs_the_installer() {
    need_nix!();
    // So a user whose last secret was removed loses its plaintext at the next switch; for a
    // user who never had any the installer does nothing (tests/nix_e2e.rs runs both).
    let v = eval_case("hmNoSecrets");
    assert_no_problems(&v);
    assert_eq!(v["manifest"]["secrets"], json!({}));
    assert_eq!(v["manifest"]["templates"], json!({}));
    assert_eq!(v["manifest"]["userMode"], json!(true));
    let unit = &v["userUnits"]["agenix"];
    assert_eq!(unit["ExecStart"].as_str(), Some(hm_install_cmd().as_str()));
    assert_eq!(
        strs(&unit["RestartTriggers"]),
        [format!("{STORE}-agenix-home-manifest-checked.json").as_str()]
    );
    assert_eq!(strs(&unit["WantedBy"]), ["default.target"]);

    // macOS: the launchd agent instead of the user service.
    let v = eval_case("hmDarwinNoSecrets");
    assert_no_problems(&v);
    assert_eq!(v["manifest"]["secrets"], json!({}));
    assert_eq!(v["manifest"]["restartMode"].as_str(), Some("none"));
    assert_eq!(v["userUnits"], json!({}));
    assert_eq!(
        v["launchd"]["activate-agenix"].as_str(),
        Some(format!("{STORE}-agenix-home-install").as_str())
    );
}

#[test]
fn home_manager_allow_disk_backed_reaches_the_manifest_only_when_set() {
    need_nix!();
    let v = eval_case("hmAllowDiskBacked");
    assert_no_problems(&v);
    let m = &v["manifest"];
    assert_eq!(m["allowDiskBacked"], json!(true));
    assert_eq!(
        m["secretsMountPoint"].as_str(),
        Some("$HOME/.local/state/agenix.d")
    );
    // On macOS the default is true: its default paths are on disk, as with agenix.
    let m = eval_case("hmDarwinNoSecrets")["manifest"].clone();
    assert_eq!(m["allowDiskBacked"], json!(true), "{m}");
    // The Linux default (false) writes nothing: the installer's own default is to refuse. Nor
    // do the system modules, which have no such option.
    for case in ["hmAgenix", "hmNoSecrets", "darwinPlain", "plain"] {
        let m = eval_case(case)["manifest"].clone();
        assert!(
            !m.as_object()
                .expect("a JSON object")
                .contains_key("allowDiskBacked"),
            "{case}: {m}"
        );
    }
}

#[test]
fn home_manager_warns_of_a_mount_point_the_installer_would_refuse() {
    need_nix!();
    let v = eval_case("hmMountPointOnDisk");
    assert_eq!(v["failedAssertions"], json!([]));
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("$HOME/.agenix.d is not under $XDG_RUNTIME_DIR")
            && w[0].contains("age.allowDiskBacked = true"),
        "{w:?}"
    );
    // Not with allowDiskBacked, nor for the defaults or a literal runtime directory.
    for case in ["hmAllowDiskBacked", "hmNoSecrets", "hmLiteralRuntimeDir"] {
        assert_eq!(eval_case(case)["warnings"], json!([]), "{case}");
    }
}

#[test]
fn home_manager_runtime_dir_makes_paths_literal() {
    need_nix!();
    let v = eval_case("hmLiteralRuntimeDir");
    assert_no_problems(&v);
    assert_eq!(
        v["secretPaths"]["token"].as_str(),
        Some("/run/user/1000/agenix/token")
    );
    assert_eq!(
        v["manifest"]["secretsDir"].as_str(),
        Some("/run/user/1000/agenix")
    );
    assert_eq!(
        v["manifest"]["secretsDirForUsers"].as_str(),
        Some("/run/user/1000/agenix-for-users")
    );
}
