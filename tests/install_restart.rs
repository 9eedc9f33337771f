//! `secrets install` (issue B): restart/reload units on change, templates, dry activation and
//! the build-time host key check. Root, private mount namespace, real tmpfs.
// Linux only: unshare and mount namespaces.
#![cfg(target_os = "linux")]

mod common;
mod install_support;

use std::path::{Path, PathBuf};

use common::full_snapshot;
use install_support::{assert_not_leaked, assert_ok, in_private_ns, text, Env};
use serde_json::{json, Value};

/// A stand-in `systemctl` on PATH that records its arguments, one call per line.
fn fake_systemctl(env: &Env) -> (PathBuf, PathBuf) {
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = env.path().join("systemctl.log");
    common::script(
        &bin.join("systemctl"),
        &format!("echo \"$*\" >> {}", log.display()),
    );
    (bin, log)
}

fn install_with(
    env: &Env,
    manifest: &Path,
    args: &[&str],
    vars: &[(&str, &Path)],
) -> std::process::Output {
    let (bin, _) = fake_systemctl(env);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = common::cmd();
    c.arg("install").arg("--manifest").arg(manifest).args(args);
    c.env("PATH", path).env_remove("NIXOS_ACTION");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Round 1 and round 2 of the change-kind scenario: content, mode, owner and group changes,
/// a new and a removed secret, and one unchanged secret.
fn change_rounds(env: &Env, restart_mode: &str) -> (PathBuf, PathBuf) {
    let unit = |n: &str| json!([format!("{n}.service")]);
    let r1 = json!({
        "content": {"file": env.encrypt("content1", b"c-one"), "restartUnits": unit("content")},
        "mode": {"file": env.encrypt("mode", b"m"), "mode": "0400", "restartUnits": unit("mode")},
        "owner": {"file": env.encrypt("owner", b"o"), "owner": "1001", "restartUnits": unit("owner")},
        "group": {"file": env.encrypt("group", b"g"), "group": "2001", "reloadUnits": unit("group")},
        "same": {"file": env.encrypt("same", b"s"), "restartUnits": unit("same"),
                 "reloadUnits": unit("same-reload")},
        "gone": {"file": env.encrypt("gone", b"x"), "restartUnits": unit("gone")},
    });
    let mut r2 = r1.clone();
    r2["content"]["file"] = json!(env.encrypt("content2", b"c-two"));
    r2["mode"]["mode"] = json!("0440");
    r2["owner"]["owner"] = json!("1002");
    r2["group"]["group"] = json!("2002");
    // Re-encrypted with the same plaintext: the ciphertext differs, the secret does not.
    r2["same"]["file"] = json!(env.encrypt("same2", b"s"));
    r2.as_object_mut().unwrap().remove("gone");
    r2["new"] = json!({"file": env.encrypt("new", b"n"), "restartUnits": unit("new")});
    let extra = json!({"restartMode": restart_mode});
    let m1 = env.path().join("m1.json");
    std::fs::write(&m1, env.manifest_value(r1, extra.clone()).to_string()).unwrap();
    let m2 = env.path().join("m2.json");
    std::fs::write(&m2, env.manifest_value(r2, extra).to_string()).unwrap();
    (m1, m2)
}

#[test]
fn each_change_kind_restarts_exactly_its_units_systemctl() {
    if !in_private_ns("each_change_kind_restarts_exactly_its_units_systemctl") {
        return;
    }
    let env = Env::new();
    let (_, log) = fake_systemctl(&env);
    let (m1, m2) = change_rounds(&env, "systemctl");
    let o = install_with(&env, &m1, &[], &[]);
    assert_ok(&o);
    assert!(
        read_lines(&log).is_empty(),
        "first install requests nothing: {:?}",
        read_lines(&log)
    );

    let o = install_with(&env, &m2, &[], &[]);
    assert_ok(&o);
    assert_not_leaked(&o, &["c-one", "c-two"]);
    assert_eq!(
        read_lines(&log),
        vec![
            "--no-block try-restart content.service gone.service mode.service new.service owner.service",
            "--no-block try-reload-or-restart group.service",
        ]
    );
    let err = String::from_utf8_lossy(&o.stderr);
    for line in [
        "modifying content (content)",
        "modifying mode (mode)",
        "modifying owner (owner)",
        "modifying group (group)",
        "adding new",
        "removing gone",
        "restarting content.service",
        "reloading group.service",
    ] {
        assert!(err.contains(line), "missing {line:?}:\n{err}");
    }
    assert!(
        !err.contains("same"),
        "unchanged secret must not be mentioned:\n{err}"
    );

    // Nothing changed: nothing requested.
    std::fs::remove_file(&log).unwrap();
    assert_ok(&install_with(&env, &m2, &[], &[]));
    assert!(read_lines(&log).is_empty(), "{:?}", read_lines(&log));
}

#[test]
fn each_change_kind_activation_list() {
    if !in_private_ns("each_change_kind_activation_list") {
        return;
    }
    let env = Env::new();
    let (_, log) = fake_systemctl(&env);
    let lists = env.path().join("nixos");
    let (m1, m2) = change_rounds(&env, "activation-list");
    let vars = [("SECRETS_ACTIVATION_LIST_DIR", lists.as_path())];
    assert_ok(&install_with(&env, &m1, &[], &vars));
    assert!(!lists.join("activation-restart-list").exists());
    assert_ok(&install_with(&env, &m2, &["--json"], &vars));
    assert_eq!(
        read_lines(&lists.join("activation-restart-list")),
        ["content", "gone", "mode", "new", "owner"].map(|u| format!("{u}.service"))
    );
    assert_eq!(
        read_lines(&lists.join("activation-reload-list")),
        ["group.service"]
    );
    assert!(
        read_lines(&log).is_empty(),
        "systemctl must not be called in list mode"
    );
}

#[test]
fn templates_render_binary_safe_and_restart() {
    if !in_private_ns("templates_render_binary_safe_and_restart") {
        return;
    }
    let env = Env::new();
    let (_, log) = fake_systemctl(&env);
    let ph = |a: &str| secrets::install::template::placeholder(a);
    let bin_value: &[u8] = b"\x00\xff\nbin\x01";
    let content = format!(
        "user=app\npass={}\nkey={}{}\n",
        ph("db"),
        ph("key"),
        ph("db")
    );
    let etc = env.path().join("etc");
    let secrets = |db: &[u8], dbname: &str| {
        json!({
            "db": {"file": env.encrypt(dbname, db)},
            "key": {"file": env.encrypt("key", bin_value)},
        })
    };
    let templates = |c: &str| {
        json!({"app.conf": {"content": c, "mode": "0440", "group": "3000",
                            "path": etc.join("app.conf"), "restartUnits": ["app.service"]}})
    };
    let write = |s: Value, t: Value, name: &str| {
        let p = env.path().join(name);
        let m = env.manifest_value(s, json!({"templates": t, "restartMode": "systemctl"}));
        std::fs::write(&p, m.to_string()).unwrap();
        p
    };
    let m1 = write(secrets(b"pw1", "db1"), templates(&content), "t1.json");
    let o = install_with(&env, &m1, &[], &[]);
    assert_ok(&o);
    assert_not_leaked(&o, &["pw1"]);
    let rendered = env.current().join("rendered/app.conf");
    let mut want = b"user=app\npass=pw1\nkey=".to_vec();
    want.extend_from_slice(bin_value);
    want.extend_from_slice(b"pw1\n");
    assert_eq!(std::fs::read(&rendered).unwrap(), want);
    assert_eq!(install_support::mode(&rendered), 0o440);
    assert_eq!(install_support::owner(&rendered), (0, 3000));
    assert_eq!(
        std::fs::read_link(etc.join("app.conf")).unwrap(),
        env.stable().join("rendered/app.conf")
    );
    // No temp files next to the rendered file.
    let names: Vec<_> = std::fs::read_dir(env.current().join("rendered"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(names.len(), 1);

    // A secret used by the template changes: the template changes, its unit restarts.
    let m2 = write(secrets(b"pw2", "db2"), templates(&content), "t2.json");
    assert_ok(&install_with(&env, &m2, &[], &[]));
    assert_eq!(read_lines(&log), vec!["--no-block try-restart app.service"]);
    assert!(std::fs::read(env.stable().join("rendered/app.conf"))
        .unwrap()
        .starts_with(b"user=app\npass=pw2\n"));

    // The secret cannot be decrypted: the template keeps its previous rendering (never a
    // partial file), exit 1, nothing restarted.
    std::fs::remove_file(&log).unwrap();
    let broken = env.path().join("enc/broken.age");
    std::fs::write(&broken, b"not age").unwrap();
    let mut s3 = secrets(b"pw3", "db3");
    s3["db"]["file"] = json!(broken);
    let m3 = write(
        s3,
        templates(&content.replace("user=app", "user=other")),
        "t3.json",
    );
    let o = install_with(&env, &m3, &[], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(std::fs::read(env.stable().join("rendered/app.conf"))
        .unwrap()
        .starts_with(b"user=app\npass=pw2\n"));
    assert!(read_lines(&log).is_empty());

    // Validation: unknown placeholder, no placeholder.
    for (c, needle) in [
        (format!("x={}", ph("nope")), "names no secret"),
        ("no placeholder here".to_string(), "no placeholder"),
    ] {
        let m = write(secrets(b"pw", "db4"), templates(&c), "bad.json");
        let o = install_with(&env, &m, &["--check"], &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn dry_run_changes_nothing() {
    if !in_private_ns("dry_run_changes_nothing") {
        return;
    }
    let env = Env::new();
    let (_, log) = fake_systemctl(&env);
    let (m1, m2) = change_rounds(&env, "systemctl");
    // Dry run before anything exists: nothing is created or mounted.
    let before = full_snapshot(env.path());
    let o = install_with(&env, &m1, &["--dry-run"], &[]);
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("would add content"),
        "{}",
        text(&o)
    );
    assert_eq!(full_snapshot(env.path()), before);

    assert_ok(&install_with(&env, &m1, &[], &[]));
    let before = full_snapshot(env.path());
    for (args, vars) in [
        (vec!["--dry-run", "--json"], vec![]),
        (vec![], vec![("NIXOS_ACTION", Path::new("dry-activate"))]),
    ] {
        let o = install_with(&env, &m2, &args, &vars);
        assert_ok(&o);
        assert_not_leaked(&o, &["c-one", "c-two"]);
        let err = String::from_utf8_lossy(&o.stderr);
        for line in [
            "would modify content (content)",
            "would modify owner (owner)",
            "would add new",
            "would remove gone",
            "would restart content.service",
            "would reload group.service",
        ] {
            assert!(err.contains(line), "missing {line:?}:\n{err}");
        }
        // Listing with modes, owners and contents is byte-for-byte the same.
        assert_eq!(full_snapshot(env.path()), before);
        assert!(read_lines(&log).is_empty(), "dry run restarted something");
    }
}

#[test]
fn host_check_catches_missing_stanza() {
    if !in_private_ns("host_check_catches_missing_stanza") {
        return;
    }
    let env = Env::new();
    let web1 = common::pubkey("web1_ed25519");
    let alice = common::pubkey("alice_ed25519");
    let dave = common::pubkey("dave_age");
    let both = env.encrypt_to("both", b"x", &[&web1, &alice]);
    let user_only = env.encrypt_to("db", b"x", &[&alice]);
    let x25519 = env.encrypt_to("x", b"x", &[&dave]);
    let host = json!({"hostPublicKeys": [web1]});
    let m = env.manifest(json!({"both": {"file": both}}), host.clone());
    assert_ok(&env.install(&m, &["--check"]));

    let m = env.manifest(
        json!({"both": {"file": both}, "db": {"file": user_only}}),
        host.clone(),
    );
    let o = env.install(&m, &["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("db.age is not encrypted to this host's key SHA256:"),
        "{err}"
    );
    assert!(err.contains("secrets rekey"), "{err}");

    let m = env.manifest(json!({"x": {"file": x25519}}), host);
    let o = env.install(&m, &["--check"]);
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot check"),
        "{}",
        text(&o)
    );
}
