//! The NixOS test stub (nix/tests/nixos-stub.nix) rejects what NixOS rejects, so a module
//! test cannot pass on a configuration that would fail on a real system (issue 16, item 1).
//! Each case here was accepted by the earlier, permissive stub: a user that is neither a
//! normal nor a system user, without a group or with an undeclared one, a normal user with
//! systemd-sysusers, nixos-init with the scripted users setup, a unit name without a type, a
//! `Type` systemd does not know, an option NixOS does not have. And the module's fallback
//! package (no `secrets` in pkgs) is evaluated.

use serde_json::json;

use crate::{assert_no_problems, assert_rejected_all, available, eval_case, eval_error};

#[test]
fn users_as_nixos_checks_them() {
    need_nix!();
    assert_rejected_all(
        "stubUserKindUnset",
        &["Exactly one of users.users.svc.isSystemUser and users.users.svc.isNormalUser must be set."],
    );
    assert_rejected_all("stubUserGroupUnset", &["users.users.svc.group is unset."]);
    assert_rejected_all(
        "stubUserGroupUndeclared",
        &["The following users have a primary group that is undefined: svc"],
    );
    assert_rejected_all(
        "stubSysusersNormalUser",
        &["alice is a normal user. systemd-sysusers doesn't create normal users, only system users."],
    );
}

#[test]
fn nixos_init_needs_what_nixos_requires() {
    need_nix!();
    // What the earlier test of nixos-init tested: scripted users, no systemd initrd, no
    // /etc overlay. NixOS refuses it.
    assert_rejected_all(
        "nixosInitScriptedUsers",
        &[
            "nixos-init can only be used with boot.initrd.systemd.enable",
            "nixos-init can only be used with system.etc.overlay.enable",
            "nixos-init can only be used with services.userborn.enable or systemd.sysusers.enable",
        ],
    );
    // The corrected configuration is accepted.
    assert_no_problems(&eval_case("nixosInit"));
}

#[test]
fn unit_options_are_typed_as_in_nixos() {
    need_nix!();
    let e = eval_error("stubBadUnitName", "allValues");
    assert!(
        e.contains("systemd.services.app.after") && e.contains("\"network\""),
        "{e}"
    );
    let e = eval_error("stubBadServiceType", "allValues");
    assert!(e.contains("systemd.services.app.serviceConfig"), "{e}");
    assert!(
        e.contains("[Service] Type = one-shot is not one of"),
        "checkService's reason: {e}"
    );
    let e = eval_error("stubUnknownUnitOption", "allValues");
    assert!(
        e.contains("systemd.services.app.wantedby") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn the_module_own_units_pass_the_strict_types() {
    need_nix!();
    // Every unit the module defines, forced through NixOS's unit option types.
    for case in ["sysusers", "userborn", "nixosInit", "systemdScripted"] {
        assert_eq!(eval_case(case)["allValues"], json!(true), "{case}");
    }
}

#[test]
fn default_package_is_built_from_the_repository() {
    need_nix!();
    // No overlay (pkgs has no `secrets`): age.package is callPackage of nix/package.nix.
    let v = eval_case("defaultPackage");
    assert_no_problems(&v);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        v["package"],
        json!({"name": format!("secrets-{version}"), "doCheck": false, "mainProgram": "secrets"})
    );
    assert!(
        v["checkCommand"]
            .as_str()
            .unwrap()
            .contains(&format!("-secrets-{version}/bin/secrets install --check")),
        "{}",
        v["checkCommand"]
    );
}
