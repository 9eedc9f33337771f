//! The nix-darwin module: a launchd daemon.

use serde_json::json;

use crate::{assert_no_problems, assert_rejected, available, eval_case, strs, STORE};

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
