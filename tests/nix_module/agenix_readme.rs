//! agenix's documented NixOS configurations, unchanged (issue 14, items 1 and 2): they
//! evaluate without a failed assertion and give agenix's activation-script order
//! (agenixNewGeneration -> agenixInstall -> users, groups -> agenixChown -> agenix). A
//! password file from an ordinary secret works in activation mode and is still refused,
//! saying why and the fix, where users exist before the main phase runs.

use serde_json::json;

use crate::{
    assert_deps, assert_order, assert_rejected, available, eval_case, script_cmd, strs, DEFERRED,
};

#[test]
fn agenix_readme_configuration_evaluates_in_agenix_order() {
    need_nix!();
    let v = eval_case("agenixReadme");
    assert_eq!(v["failedAssertions"], json!([]), "assertions failed");
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
    // The declared graph, not only the order a topological sort happened to give.
    assert_deps(&v, "agenixNewGeneration", &["specialfs"]);
    assert_deps(&v, "agenixInstall", &["specialfs", "agenixNewGeneration"]);
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_deps(&v, "agenixChown", &["users", "groups"]);
    assert_deps(&v, "agenix", &["agenixChown"]);
    let scripts = &v["activationScripts"];
    assert_eq!(
        scripts["agenixInstall"].as_str(),
        Some(script_cmd(DEFERRED).as_str())
    );
    assert_eq!(
        scripts["agenixChown"].as_str(),
        Some(script_cmd("owners").as_str())
    );
    assert_eq!(scripts["agenix"].as_str(), Some(""));

    // The password file is the ordinary secret's path, under the custom secretsDir.
    let m = &v["manifest"];
    assert_eq!(
        v["users"]["user1"]["hashedPasswordFile"].as_str(),
        Some("/run/keys/agenix/secret1")
    );
    assert_eq!(m["secrets"]["secret1"]["neededForUsers"], json!(false));
    assert_eq!(m["secretsDir"].as_str(), Some("/run/keys/agenix"));
    assert_eq!(m["secretsMountPoint"].as_str(), Some("/run/keys/agenix.d"));
    assert_eq!(
        strs(&m["identityPaths"]),
        ["/var/lib/persistent/ssh_host_ed25519_key"]
    );
    let tokens = &m["secrets"]["nixAccessTokens"];
    assert_eq!(
        (
            tokens["mode"].as_str(),
            tokens["owner"].as_str(),
            tokens["group"].as_str()
        ),
        (Some("770"), Some("nixbld1"), Some("nixbld"))
    );
    let monitrc = &m["secrets"]["monitrc"];
    assert_eq!(monitrc["path"].as_str(), Some("/etc/monitrc"));
    assert_eq!(monitrc["symlink"], json!(false));
    assert_eq!(
        m["secrets"]["renamed"]["path"].as_str(),
        Some("/run/keys/agenix/renamed.txt")
    );
    assert_eq!(
        m["secrets"]["linked"]["path"].as_str(),
        Some("/var/lib/app/token")
    );

    // symlink = false with the default path: accepted, with one warning that says why it
    // has no effect (and not for monitrc, whose copy at /etc/monitrc is real).
    let in_place = &m["secrets"]["inPlace"];
    assert_eq!(in_place["path"].as_str(), Some("/run/keys/agenix/inPlace"));
    assert_eq!(in_place["symlink"], json!(false));
    let w = strs(&v["warnings"]);
    assert_eq!(w.len(), 1, "{w:?}");
    for needle in [
        "age.secrets.inPlace.symlink = false has no effect with the default path \
         (/run/keys/agenix/inPlace)",
        "reached through /run/keys/agenix",
        "Remove symlink = false, or set age.secrets.inPlace.path outside /run/keys/agenix",
    ] {
        assert!(w[0].contains(needle), "{:?} lacks {needle:?}", w[0]);
    }
}

#[test]
fn agenix_password_example_is_accepted_in_activation_mode() {
    need_nix!();
    let v = eval_case("passwordNotNeededForUsers");
    assert_eq!(v["failedAssertions"], json!([]), "assertions failed");
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(
        v["users"]["ryantm"]["hashedPasswordFile"].as_str(),
        Some("/run/agenix/passwordfile-ryantm")
    );
    assert_deps(&v, "users", &["agenixInstall"]);
    assert_eq!(
        v["activationScripts"]["agenixInstall"].as_str(),
        Some(script_cmd(DEFERRED).as_str())
    );
}

#[test]
fn password_file_from_an_ordinary_secret_is_refused_where_users_come_first() {
    need_nix!();
    // Scripted users, units for the main phase: `users` reads the file before the unit runs.
    assert_rejected(
        "passwordSystemdScripted",
        "users.users.alice.hashedPasswordFile is age.secrets.pw.path (/run/agenix/pw), which \
         with age.installationMode = \"systemd\" is installed by the agenix-install-secrets \
         unit, after the `users` activation script has read it, so at boot the account would \
         get no password: set age.secrets.pw.neededForUsers = true (its path then moves to \
         /run/agenix-for-users/pw), or use age.installationMode = \"activation\".",
    );
    // systemd-sysusers: activation mode is no way out there.
    let v = eval_case("passwordSysusers");
    let failed = strs(&v["failedAssertions"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains(
            "installed by the agenix-install-secrets unit after systemd-sysusers/userborn has \
             created the accounts, so at boot the account would get no password: set \
             age.secrets.pw.neededForUsers = true"
        ),
        "{}",
        failed[0]
    );
    assert!(!failed[0].contains("activation\""), "{}", failed[0]);
    assert_rejected(
        "passwordTemplateSystemd",
        "users.users.alice.hashedPasswordFile is age.templates.hash.path \
         (/run/agenix/rendered/hash), which with age.installationMode = \"systemd\" is \
         installed by the agenix-install-secrets unit",
    );
}
