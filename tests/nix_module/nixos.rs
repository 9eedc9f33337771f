//! The NixOS module: the manifest, activation scripts in agenix's order, systemd units
//! (sysusers, userborn, nixos-init), the users phase, and the assertions and warnings for bad
//! or suspicious configurations.

use serde_json::{json, Value as Json};

use crate::{
    assert_deps, assert_no_problems, assert_order, assert_rejected, available, eval_case,
    install_cmd, script_cmd, strs, DEFERRED, STORE,
};

#[test]
fn plain_agenix_config_emits_the_spec_manifest() {
    need_nix!();
    let v = eval_case("plain");
    assert_no_problems(&v);
    let expected = serde_json::from_str::<Json>(
        r#"{
      "version": 1,
      "secretsDir": "/run/agenix",
      "secretsMountPoint": "/run/agenix.d",
      "secretsDirForUsers": "/run/agenix-for-users",
      "filesystem": "tmpfs",
      "keepGenerations": 1,
      "onFailure": "keep-previous",
      "identityPaths": ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"],
      "userMode": false,
      "restartMode": "systemctl",
      "hostPublicKeys": [],
      "secrets": {
        "db": {"option": "age.secrets.db", "name": "db", "file": "/var/lib/test-secrets/db.age", "path": "/run/agenix/db",
               "mode": "0400", "owner": "postgres", "group": "postgres", "symlink": true,
               "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "custom": {"option": "age.secrets.custom", "name": "custom", "file": "/var/lib/test-secrets/custom.age",
               "path": "/var/lib/app/token", "mode": "0440", "owner": "0", "group": "wheel",
               "symlink": true, "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "copied": {"option": "age.secrets.copied", "name": "copied", "file": "/var/lib/test-secrets/copied.age",
               "path": "/etc/app/key", "mode": "0400", "owner": "0", "group": "0",
               "symlink": false, "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "nested": {"option": "age.secrets.nested", "name": "app/nested/conf", "file": "/var/lib/test-secrets/nested.age",
               "path": "/run/agenix/app/nested/conf", "mode": "0400", "owner": "0", "group": "0",
               "symlink": true, "neededForUsers": false, "restartUnits": [], "reloadUnits": []}
      },
      "templates": {}
    }"#,
    )
    .unwrap();
    assert_eq!(v["manifest"], expected);
}

#[test]
fn host_without_secrets_still_runs_the_installer() {
    need_nix!();
    // So a host whose last secret was removed loses it now, not at the next reboot; with
    // nothing installed before, the installer does nothing (tests/install/generations.rs).
    let v = eval_case("nosecrets");
    assert_no_problems(&v);
    assert_eq!(
        v["activationScripts"]["agenixInstall"].as_str(),
        Some(script_cmd(DEFERRED).as_str())
    );
    assert_eq!(
        v["activationScripts"]["agenixChown"].as_str(),
        Some(script_cmd("owners").as_str())
    );
    assert_eq!(v["manifest"]["secrets"], json!({}));
}

#[test]
fn plain_config_uses_activation_scripts_in_agenix_order() {
    need_nix!();
    let v = eval_case("plain");
    let order = strs(&v["activationOrder"]);
    assert_order(
        &order,
        &[
            "specialfs",
            "agenixNewGeneration",
            "agenixInstall",
            "users",
            "groups",
            "agenixChown",
            "agenix",
        ],
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_deps(&v, "agenixInstall", &["specialfs", "agenixNewGeneration"]);
    assert_deps(&v, "agenixChown", &["agenixInstall", "users", "groups"]);
    assert_deps(&v, "agenix", &["agenixChown"]);
    let scripts = &v["activationScripts"];
    // Every secret before `users` (root's), owners once users and groups exist.
    assert_eq!(
        scripts["agenixInstall"].as_str(),
        Some(script_cmd(DEFERRED).as_str())
    );
    assert_eq!(
        scripts["agenixChown"].as_str(),
        Some(script_cmd("owners").as_str())
    );
    assert_eq!(scripts["agenix"].as_str(), Some(""));
    // One call of the binary for all secrets: no per-secret shell.
    let script = v["activationScript"].as_str().unwrap();
    assert_eq!(script.matches("bin/secrets install").count(), 2);
    assert!(
        !script.contains("db.age"),
        "per-secret logic in shell:\n{script}"
    );
    assert_eq!(v["units"], json!({}));
}

#[test]
fn manifest_is_checked_at_build_time_and_the_checked_file_is_installed() {
    need_nix!();
    let v = eval_case("plain");
    let check = v["checkCommand"].as_str().expect("check derivation");
    assert!(
        check.contains(&format!(
            "{STORE}-secrets-0.1.0/bin/secrets install --check --manifest {STORE}-agenix-manifest.json"
        )),
        "{check}"
    );
    assert!(check.contains("cp "), "{check}");
    assert_eq!(
        v["manifestFile"].as_str(),
        Some(format!("{STORE}-agenix-manifest-checked.json").as_str())
    );
}

#[test]
fn renamed_ssh_key_paths_still_work() {
    need_nix!();
    let v = eval_case("legacy");
    assert_eq!(
        strs(&v["manifest"]["identityPaths"]),
        ["/etc/ssh/legacy_key"]
    );
    let warnings = strs(&v["warnings"]);
    assert!(
        warnings.iter().any(|w| w.contains("age.sshKeyPaths")),
        "{warnings:?}"
    );
}

#[test]
fn restart_units_and_installer_settings() {
    need_nix!();
    let v = eval_case("restart");
    assert_no_problems(&v);
    let m = &v["manifest"];
    let tls = &m["secrets"]["tls"];
    assert_eq!(strs(&tls["restartUnits"]), ["nginx.service"]);
    assert_eq!(
        strs(&tls["reloadUnits"]),
        ["haproxy.service", "caddy.service"]
    );
    // NixOS 26.05 deprecated the activation lists: systemctl from the activation script.
    assert_eq!(m["restartMode"].as_str(), Some("systemctl"));
    assert_eq!(m["onFailure"].as_str(), Some("abort"));
    assert_eq!(m["keepGenerations"], json!(3));
    assert_eq!(m["filesystem"].as_str(), Some("ramfs"));
    assert_eq!(strs(&m["hostPublicKeys"]), ["ssh-ed25519 AAAAtest host"]);
    assert_eq!(strs(&m["identityPaths"]), ["/persist/ssh/key"]);
    // age.plugins: each package's bin directory, for the installer's $PATH.
    assert_eq!(strs(&m["pluginPath"]), [format!("{STORE}-age-1.2.1/bin")]);
    // Without plugins the manifest has no such field.
    assert!(eval_case("plain")["manifest"].get("pluginPath").is_none());
}

#[test]
fn template_uses_the_spec_placeholder() {
    need_nix!();
    let v = eval_case("templates");
    assert_no_problems(&v);
    // sha256("db-password"), computed outside Nix.
    let ph =
        "<SECRET:47facce23a4e378e2db6678d49886c2c01fb69ec0fba65258571f9c19c06eb7f:PLACEHOLDER>";
    assert_eq!(v["placeholder"]["db-password"].as_str(), Some(ph));
    let t = &v["manifest"]["templates"]["app.env"];
    assert_eq!(
        t["content"].as_str(),
        Some(format!("DB_USER=app\nDB_PASSWORD={ph}\n").as_str())
    );
    assert_eq!(t["name"].as_str(), Some("app.env"));
    assert_eq!(t["path"].as_str(), Some("/run/agenix/rendered/app.env"));
    assert_eq!(t["owner"].as_str(), Some("app"));
    assert_eq!(
        t["group"].as_str(),
        Some("appgroup"),
        "group follows users.users.<owner>.group"
    );
    assert_eq!(t["mode"].as_str(), Some("0400"));
    assert_eq!(t["symlink"], json!(true));
    assert_eq!(strs(&t["restartUnits"]), ["app.service"]);
    assert_eq!(strs(&t["reloadUnits"]), Vec::<&str>::new());
}

#[test]
fn password_secret_is_installed_before_users_with_activation_scripts() {
    need_nix!();
    let v = eval_case("password");
    assert_no_problems(&v);
    let pw = &v["manifest"]["secrets"]["alice-password"];
    assert_eq!(pw["neededForUsers"], json!(true));
    assert_eq!(
        pw["path"].as_str(),
        Some("/run/agenix-for-users/alice-password")
    );
    assert_eq!(
        v["users"]["alice"]["hashedPasswordFile"].as_str(),
        Some("/run/agenix-for-users/alice-password")
    );
    assert_eq!(
        v["manifest"]["secrets"]["other"]["neededForUsers"],
        json!(false)
    );
    // The users phase and the main phase in one call before `users`; owners after.
    let scripts = &v["activationScripts"];
    assert_eq!(
        scripts["agenixInstall"].as_str(),
        Some(script_cmd(DEFERRED).as_str())
    );
    assert_eq!(
        scripts["agenixChown"].as_str(),
        Some(script_cmd("owners").as_str())
    );
    let order = strs(&v["activationOrder"]);
    assert_order(
        &order,
        &[
            "specialfs",
            "agenixInstall",
            "users",
            "groups",
            "agenixChown",
            "agenix",
        ],
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_deps(&v, "agenixChown", &["users", "groups"]);
    // Same order in the concatenated script.
    let script = v["activationScript"].as_str().unwrap();
    let install = script.find(&script_cmd(DEFERRED)).unwrap();
    let users_script = script.find("update-users-groups").unwrap();
    let owners = script.find(&script_cmd("owners")).unwrap();
    assert!(install < users_script && users_script < owners, "{script}");
    assert_eq!(v["units"], json!({}));
}

#[test]
fn sysusers_uses_units_around_systemd_sysusers() {
    need_nix!();
    let v = eval_case("sysusers");
    // Includes NixOS's own check that activationScripts.users stays "".
    assert_no_problems(&v);
    assert_eq!(v["activationScripts"]["users"].as_str(), Some(""));
    assert_eq!(strs(&v["activationDeps"]["users"]), Vec::<&str>::new());
    assert_eq!(v["activationScripts"]["agenix"].as_str(), Some(""));
    assert_eq!(v["activationScripts"]["agenixInstall"].as_str(), Some(""));
    assert_eq!(v["manifest"]["restartMode"].as_str(), Some("systemctl"));

    let manifest = format!("{STORE}-agenix-manifest-checked.json");
    let users = &v["units"]["agenix-install-users"];
    assert_eq!(
        users["serviceConfig"]["ExecStart"].as_str(),
        Some(install_cmd("users").as_str())
    );
    let before = strs(&users["before"]);
    for u in [
        "systemd-sysusers.service",
        "userborn.service",
        "sysinit.target",
    ] {
        assert!(
            before.contains(&u),
            "users phase not before {u}: {before:?}"
        );
    }
    assert_eq!(users["unitConfig"]["DefaultDependencies"], json!(false));
    // Before systemd-sysusers it runs before local mounts; waiting for one would be a cycle.
    assert!(
        users["unitConfig"].get("RequiresMountsFor").is_none(),
        "{users}"
    );
    assert_eq!(strs(&users["restartTriggers"]), [manifest.as_str()]);

    let main = &v["units"]["agenix-install-secrets"];
    assert_eq!(
        main["serviceConfig"]["ExecStart"].as_str(),
        Some(install_cmd("main").as_str())
    );
    assert_eq!(main["serviceConfig"]["Type"].as_str(), Some("oneshot"));
    let after = strs(&main["after"]);
    for u in [
        "systemd-sysusers.service",
        "userborn.service",
        "agenix-install-users.service",
    ] {
        assert!(after.contains(&u), "main phase not after {u}: {after:?}");
    }
    assert!(strs(&main["before"]).contains(&"sysinit.target"));
    assert!(strs(&main["wantedBy"]).contains(&"sysinit.target"));
    assert!(strs(&main["requiredBy"]).contains(&"sysinit-reactivation.target"));
    assert_eq!(strs(&main["restartTriggers"]), [manifest.as_str()]);
    assert_eq!(main["unitConfig"]["DefaultDependencies"], json!(false));
    assert_eq!(
        strs(&main["unitConfig"]["RequiresMountsFor"]),
        ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"]
    );
}

#[test]
fn userborn_without_password_secrets_has_only_the_main_unit() {
    need_nix!();
    let v = eval_case("userborn");
    assert_no_problems(&v);
    let units = v["units"].as_object().expect("a JSON object");
    assert_eq!(units.keys().collect::<Vec<_>>(), ["agenix-install-secrets"]);
    let main = &v["units"]["agenix-install-secrets"];
    assert!(strs(&main["after"]).contains(&"userborn.service"));
    // The main unit waits for the identity's file system.
    assert_eq!(
        strs(&main["unitConfig"]["RequiresMountsFor"]),
        ["/persist/ssh/ssh_host_ed25519_key"]
    );
}

#[test]
fn nixos_init_installs_with_units() {
    need_nix!();
    let v = eval_case("nixosInit");
    assert_no_problems(&v);
    assert_eq!(v["activationScripts"]["agenix"].as_str(), Some(""));
    assert_eq!(
        v["units"]["agenix-install-secrets"]["serviceConfig"]["ExecStart"].as_str(),
        Some(install_cmd("main").as_str())
    );
}

#[test]
fn systemd_mode_with_scripted_users_keeps_the_users_phase_in_activation() {
    need_nix!();
    let v = eval_case("systemdScripted");
    assert_no_problems(&v);
    let scripts = &v["activationScripts"];
    assert_eq!(
        scripts["agenixInstall"].as_str(),
        Some(script_cmd("users").as_str())
    );
    assert_eq!(scripts["agenix"].as_str(), Some(""));
    assert_eq!(scripts["agenixChown"].as_str(), Some(""));
    assert_order(
        &strs(&v["activationOrder"]),
        &["agenixInstall", "users", "groups", "agenixChown", "agenix"],
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    let units = v["units"].as_object().expect("a JSON object");
    assert_eq!(units.keys().collect::<Vec<_>>(), ["agenix-install-secrets"]);
    assert_eq!(
        v["units"]["agenix-install-secrets"]["serviceConfig"]["ExecStart"].as_str(),
        Some(install_cmd("main").as_str())
    );
    assert_eq!(v["manifest"]["restartMode"].as_str(), Some("systemctl"));
}

#[test]
fn bad_configs_are_rejected_with_clear_messages() {
    need_nix!();
    assert_rejected("noIdentity", "age.identityPaths must be set");
    assert_rejected(
        "usersSecretNotRoot",
        "age.secrets.pw: neededForUsers secrets are installed before users exist and must be owned by root",
    );
    assert_rejected("identityPathLiteral", "is a Nix path literal");
    assert_rejected("identityInStore", "is in the Nix store");
    assert_rejected(
        "templateWithoutPlaceholder",
        "age.templates.t: content contains no placeholder",
    );
    assert_rejected(
        "templateUnknownPlaceholder",
        "<SECRET:ffa63583dfa6706b87d284b86b0d693a161e4840aad2c5cf6b5d27c3b9621f7d:PLACEHOLDER>",
    );
    assert_rejected(
        "activationWithSysusers",
        "age.installationMode = \"activation\" cannot be combined with systemd.sysusers",
    );
    assert_rejected(
        "activationWithNixosInit",
        "installs nothing with system.nixos-init.enable",
    );
    assert_rejected(
        "activationListFromUnit",
        "the restarts would happen at the next switch",
    );
}

#[test]
fn suspicious_configs_warn() {
    need_nix!();
    let v = eval_case("plaintextFile");
    assert_eq!(v["failedAssertions"], json!([]));
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("does not end in .age"), "{w:?}");

    let v = eval_case("ageBinSet");
    assert_eq!(v["failedAssertions"], json!([]));
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("age.ageBin is set but unused"), "{w:?}");
    assert!(w[0].contains("age.plugins"), "{w:?}");
}
