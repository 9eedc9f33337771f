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
//! With SECRETS_NIX_EMIT_MANIFEST_DIR=DIR every evaluated case's manifest is
//! also written to DIR/<case>.json (for end-to-end runs of the installer).

mod common;

use std::path::PathBuf;
use std::process::Command;

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

const STORE: &str = "/nix/store/00000000000000000000000000000000";

fn install_cmd(phase: &str) -> String {
    format!(
        "{STORE}-secrets-0.1.0/bin/secrets install --manifest {STORE}-agenix-manifest-checked.json --phase {phase}"
    )
}

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
        "db": {"name": "db", "file": "/var/lib/test-secrets/db.age", "path": "/run/agenix/db",
               "mode": "0400", "owner": "postgres", "group": "postgres", "symlink": true,
               "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "custom": {"name": "custom", "file": "/var/lib/test-secrets/custom.age",
               "path": "/var/lib/app/token", "mode": "0440", "owner": "0", "group": "wheel",
               "symlink": true, "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "copied": {"name": "copied", "file": "/var/lib/test-secrets/copied.age",
               "path": "/etc/app/key", "mode": "0400", "owner": "0", "group": "0",
               "symlink": false, "neededForUsers": false, "restartUnits": [], "reloadUnits": []},
        "nested": {"name": "app/nested/conf", "file": "/var/lib/test-secrets/nested.age",
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
    // nothing installed before, the installer does nothing (tests/install.rs).
    let v = eval_case("nosecrets");
    assert_no_problems(&v);
    assert_eq!(
        v["activationScripts"]["agenix"].as_str(),
        Some(script_cmd("main").as_str())
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
            "agenix",
            "agenixChown",
        ],
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_deps(&v, "agenixInstall", &["specialfs", "agenixNewGeneration"]);
    assert_deps(
        &v,
        "agenix",
        &["specialfs", "agenixInstall", "users", "groups"],
    );
    assert_deps(&v, "agenixChown", &["agenix"]);
    let scripts = &v["activationScripts"];
    // Main phase in `agenix`; nothing for the users phase without password secrets.
    assert_eq!(
        scripts["agenix"].as_str(),
        Some(script_cmd("main").as_str())
    );
    assert_eq!(scripts["agenixInstall"].as_str(), Some(""));
    assert_eq!(scripts["agenixChown"].as_str(), Some(""));
    // One call of the binary for all secrets: no per-secret shell.
    let script = v["activationScript"].as_str().unwrap();
    assert_eq!(script.matches("bin/secrets install").count(), 1);
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
    let scripts = &v["activationScripts"];
    assert_eq!(
        scripts["agenixInstall"].as_str(),
        Some(script_cmd("users").as_str())
    );
    assert_eq!(
        scripts["agenix"].as_str(),
        Some(script_cmd("main").as_str())
    );
    let order = strs(&v["activationOrder"]);
    assert_order(
        &order,
        &["specialfs", "agenixInstall", "users", "groups", "agenix"],
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_deps(&v, "agenix", &["users", "groups"]);
    // Same order in the concatenated script.
    let script = v["activationScript"].as_str().unwrap();
    let users_phase = script.find(&script_cmd("users")).unwrap();
    let users_script = script.find("update-users-groups").unwrap();
    let main_phase = script.find(&script_cmd("main")).unwrap();
    assert!(
        users_phase < users_script && users_script < main_phase,
        "{script}"
    );
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
    assert_order(&strs(&v["activationOrder"]), &["agenixInstall", "users"]);
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
        "symlinkFalseDefaultPath",
        "age.secrets.a: symlink = false only makes sense with a custom path",
    );
    assert_rejected(
        "usersSecretNotRoot",
        "age.secrets.pw: neededForUsers secrets are installed before users exist and must be owned by root",
    );
    // agenix's documented password example: agenix installed every secret before `users`.
    assert_rejected(
        "passwordNotNeededForUsers",
        "users.users.ryantm.hashedPasswordFile is age.secrets.passwordfile-ryantm.path \
         (/run/agenix/passwordfile-ryantm), which is installed only after users are created, so \
         at boot the account would get no password: set \
         age.secrets.passwordfile-ryantm.neededForUsers = true",
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

#[test]
fn darwin_module_evaluates_to_a_launchd_daemon() {
    need_nix!();
    let v = eval_case("darwinPlain");
    assert_no_problems(&v);
    let m = &v["manifest"];
    assert_eq!(m["filesystem"].as_str(), Some("none"));
    assert_eq!(m["restartMode"].as_str(), Some("none"));
    assert_eq!(
        strs(&m["identityPaths"]),
        ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    );
    assert_eq!(m["secrets"]["db"]["owner"].as_str(), Some("_postgres"));
    let script = v["launchd"]["activate-agenix"].as_str().unwrap();
    let mount = script.find("hdiutil attach").expect("RAM disk");
    let install = script
        .find("bin/secrets install --manifest")
        .expect("installer call");
    assert!(mount < install, "{script}");
    assert!(
        !script.contains("[ -L"),
        "RAM disk made conditional: {script}"
    );

    assert_rejected(
        "darwinUsersSecret",
        "neededForUsers is not supported on nix-darwin",
    );
}

#[test]
fn darwin_without_secrets_still_runs_the_installer() {
    need_nix!();
    let v = eval_case("darwinNoSecrets");
    assert_no_problems(&v);
    assert_eq!(v["manifest"]["secrets"], json!({}));
    assert_eq!(v["manifest"]["templates"], json!({}));
    let script = v["launchd"]["activate-agenix"]
        .as_str()
        .expect("the launchd daemon is defined");
    let install = script
        .find(&format!(
            "{STORE}-secrets-0.1.0/bin/secrets install --manifest {STORE}-agenix-manifest-checked.json"
        ))
        .expect("installer call");
    // A RAM disk only while a previous generation is still linked (the installer then
    // switches to an empty one); a host that never had secrets gets none.
    let guard = script
        .find(r#"if [ -L "/run/agenix" ]; then"#)
        .expect("RAM disk guarded");
    let mount = script.find("hdiutil attach").expect("RAM disk");
    let fi = script[..install].rfind("fi\n").expect("guard closed");
    assert!(guard < mount && mount < fi, "{script}");
}

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
