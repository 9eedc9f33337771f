//! The manifest names each item's option (`"option": "age.secrets.db"`), on NixOS,
//! home-manager and nix-darwin, quoted as Nix shows it where the attribute name needs it; the
//! installer's `--check` then names the option in every message about the item.

use serde_json::{json, Value as Json};

use crate::{available, eval_case};

fn option_of<'a>(m: &'a Json, section: &str, attr: &str) -> Option<&'a str> {
    m[section][attr]["option"].as_str()
}

#[test]
fn nixos_manifest_carries_each_items_option_path() {
    need_nix!();
    let m = &eval_case("plain")["manifest"];
    for attr in ["db", "custom", "copied", "nested"] {
        let want = format!("age.secrets.{attr}");
        assert_eq!(option_of(m, "secrets", attr), Some(want.as_str()), "{attr}");
    }
    // A name Nix would quote is quoted as Nix's own messages quote it.
    let m = &eval_case("templates")["manifest"];
    assert_eq!(
        option_of(m, "secrets", "db-password"),
        Some("age.secrets.db-password")
    );
    assert_eq!(
        option_of(m, "templates", "app.env"),
        Some("age.templates.\"app.env\"")
    );
}

#[test]
fn home_manager_and_darwin_manifests_carry_the_option_path() {
    need_nix!();
    let m = &eval_case("hmAgenix")["manifest"];
    for attr in ["token", "gpg", "api"] {
        let want = format!("age.secrets.{attr}");
        assert_eq!(option_of(m, "secrets", attr), Some(want.as_str()), "{attr}");
    }
    let m = &eval_case("darwinPlain")["manifest"];
    assert_eq!(option_of(m, "secrets", "db"), Some("age.secrets.db"));
}

/// The module's manifest, three mistakes put in, through the real `install --check`: every
/// one reported in one run, counted, each naming its option (what the build log shows).
#[test]
fn check_of_the_modules_manifest_names_the_options() {
    need_nix!();
    let mut m = eval_case("templates")["manifest"].clone();
    m["secrets"]["db-password"]["mode"] = json!("0999");
    m["secrets"]["db-password"]["file"] =
        json!("/nix/store/00000000000000000000000000000000-gone.age");
    m["templates"]["app.env"]["restartUnits"] = json!(["app"]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    std::fs::write(&p, m.to_string()).unwrap();
    let out = crate::common::cmd()
        .args(["install", "--check", "--manifest"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 3, "{err}");
    for needle in [
        "error: age.secrets.db-password.mode: mode \"0999\"",
        "error: age.secrets.db-password.file: cannot read /nix/store/",
        "error: age.templates.\"app.env\".restartUnits: \"app\" is not a systemd unit name",
        "is invalid: 3 error(s)",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
    }
    assert!(!err.contains("secret \""), "{err}");
}
