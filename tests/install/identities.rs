//! Identities: missing, empty and passphrase-protected ones, the JSON report's warnings, and
//! age plugins.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::common;
use crate::install_support::{assert_not_leaked, assert_ok, in_private_ns, text, Env};
use crate::mount_line;

#[test]
fn missing_and_empty_identities() {
    if !in_private_ns("identities::missing_and_empty_identities") {
        return;
    }
    let env = Env::new();
    let empty = env.path().join("empty_key");
    std::fs::write(&empty, b"").unwrap();
    let missing = env.path().join("no_such_key");
    let secrets = json!({"a": {"file": env.encrypt("a", b"a-one")}});

    // Only unusable identities: an error, nothing mounted or created.
    let m = env.manifest(secrets.clone(), json!({"identityPaths": [missing, empty]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no usable identity"), "{err}");
    assert!(
        err.contains("no_such_key") && err.contains("empty_key"),
        "{err}"
    );
    assert!(!env.stable().exists());
    assert!(mount_line(env.path()).is_empty() && !env.mp().exists());

    // Skipped with warnings when a usable one remains.
    let m = env.manifest(
        secrets,
        json!({"identityPaths": [missing, empty, env.host_key()]}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: skipping identity") && err.contains("no_such_key"),
        "{err}"
    );
    assert!(
        err.contains("SHA256:"),
        "fingerprint of the key used is logged: {err}"
    );
    assert_eq!(std::fs::read(env.stable().join("a")).unwrap(), b"a-one");
}

/// `--json`: one `identities` entry per key even when its path contains ", ", and a skipped
/// identity's warning is in `warnings` (and printed on stderr once).
#[test]
fn identities_and_skip_warnings_in_json() {
    if !in_private_ns("identities::identities_and_skip_warnings_in_json") {
        return;
    }
    let env = Env::new();
    let dir = env.path().join("keys, rotated");
    std::fs::create_dir(&dir).unwrap();
    let key = dir.join("host, web1");
    std::fs::copy(env.host_key(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = env.path().join("no_such_key");
    let m = env.manifest(
        json!({"a": {"file": env.encrypt("a", b"a-one")}}),
        json!({"identityPaths": [missing, key]}),
    );
    let o = env.install(&m, &["--json"]);
    assert_ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids = j["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{j}");
    let id = ids[0].as_str().unwrap();
    assert!(
        id.starts_with(key.to_str().unwrap()) && id.contains("SHA256:"),
        "{id}"
    );
    let warnings: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("skipping identity"))
        .collect();
    assert_eq!(warnings.len(), 1, "{j}");
    assert!(warnings[0].contains("no_such_key"), "{j}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("skipping identity").count(), 1, "{err}");
}

/// Activation must never wait for a passphrase, even when run from a terminal: a
/// passphrase-protected identity is skipped with a warning (user mode and a dry run, so no
/// root is needed; the terminal is real).
#[test]
fn passphrase_protected_identity_is_skipped_not_prompted() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let repo = common::Repo::new();
    repo.json_rules(r#"{"db.age": {"publicKeys": ["carol"]}}"#);
    repo.encrypt("db.age", "v");
    let manifest = json!({
        "version": 1,
        "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "$XDG_RUNTIME_DIR/agenix.d",
        "identityPaths": [common::key("carol_rsa4096_pass")],
        "secrets": {"db": {"file": repo.path().join("db.age")}}
    });
    repo.write("m.json", manifest.to_string());
    let (code, prompts, out) = common::Pty::new(
        repo.path(),
        &["install", "--dry-run", "--manifest", "m.json"],
    )
    .answers(&["correct horse"])
    .env("XDG_RUNTIME_DIR", runtime.path())
    .run();
    assert_eq!(prompts, 0, "the installer asked for a passphrase:\n{out}");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("passphrase-protected"), "{out}");
}

/// A well-formed identity for the stand-in plugin `age-plugin-testplug` (bech32 of
/// "test-only"), whose program the tests write themselves.
const TESTPLUG_IDENTITY: &str = "AGE-PLUGIN-TESTPLUG-1W3JHXAPDDAHXC7G0YLT0W\n";

/// `pluginPath` puts age plugins on the installer's $PATH (the NixOS option `age.plugins`):
/// without it a plugin identity is skipped, naming the missing plugin; with it the plugin runs.
#[test]
fn plugin_path_finds_age_plugins() {
    if !in_private_ns("identities::plugin_path_finds_age_plugins") {
        return;
    }
    let env = Env::new();
    let bin = env.path().join("plugin pkg/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = env.path().join("plugin-ran");
    // A stand-in plugin: records how it was started, then fails (it speaks no protocol).
    common::script(
        &bin.join("age-plugin-testplug"),
        &format!("echo \"$@\" > '{}'\nexit 1", marker.display()),
    );
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, TESTPLUG_IDENTITY).unwrap();
    let secrets =
        json!({"a": {"file": env.encrypt_to("a", b"a-one", &[&common::pubkey("dave_age")])}});

    let m = env.manifest(secrets.clone(), json!({"identityPaths": [id]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("age-plugin-testplug"),
        "{}",
        text(&o)
    );
    assert!(!marker.exists());

    let m = env.manifest(secrets, json!({"identityPaths": [id], "pluginPath": [bin]}));
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        ran.contains("--age-plugin=identity-v1"),
        "{ran:?}\n{}",
        text(&o)
    );

    // A ':' would split the entry in $PATH.
    let m = env.manifest(json!({}), json!({"pluginPath": ["/nix/store/a:b/bin"]}));
    let o = env.install(&m, &["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pluginPath"),
        "{}",
        text(&o)
    );
}

/// The same with a real plugin (common::age_plugin_dir): a secret encrypted by Go `age` to
/// the plugin's recipient is installed with the plugin identity found through pluginPath.
#[test]
fn plugin_identity_installs_with_a_real_plugin() {
    if !in_private_ns("identities::plugin_identity_installs_with_a_real_plugin")
        || common::missing("age")
    {
        return;
    }
    let Some(dir) = common::age_plugin_dir() else {
        return;
    };
    let env = Env::new();
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, format!("{}\n", common::PLUGIN_IDENTITY)).unwrap();
    let mut age = std::process::Command::new("age");
    age.env("PATH", common::path_with(&dir))
        .args(["-r", common::PLUGIN_RECIPIENT]);
    let file = env.encrypt_with(age, "p", b"p-one");
    let m = env.manifest(
        json!({"p": {"file": file}}),
        json!({"identityPaths": [id], "pluginPath": [dir]}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(std::fs::read(env.stable().join("p")).unwrap(), b"p-one");
    assert_not_leaked(&o, &["p-one"]);
}

/// A plugin's question (here a PIN) is declined by the installer, never asked on the terminal,
/// even when activation runs from one. The stand-in plugin speaks the identity-v1 protocol far
/// enough to ask, records the answer, and gives up.
#[test]
fn plugin_questions_are_declined_not_asked() {
    if common::missing("python3") {
        return;
    }
    let env = Env::new();
    let bin = env.path().join("plugins");
    std::fs::create_dir_all(&bin).unwrap();
    let reply = env.path().join("plugin-reply");
    let plugin = bin.join("age-plugin-testplug");
    std::fs::write(
        &plugin,
        format!(
            r#"#!/usr/bin/env python3
import base64, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
while not inp.readline().startswith(b"-> done"):
    pass
inp.readline()
msg = base64.b64encode(b"Passphrase for the test plugin's PIN").rstrip(b"=")
out.write(b"-> request-secret\n" + msg + b"\n")
out.flush()
answer = inp.readline().strip()
inp.readline()
open({reply:?}, "wb").write(answer)
out.write(b"-> done\n\n")
out.flush()
"#,
            reply = reply.display().to_string()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, TESTPLUG_IDENTITY).unwrap();
    let m = env.manifest(
        json!({"a": {"file": env.encrypt_to("a", b"a-one", &[&common::pubkey("dave_age")])}}),
        json!({"identityPaths": [id], "pluginPath": [bin]}),
    );
    // On a terminal that would answer a "Passphrase for" prompt.
    let (code, prompts, out) = common::Pty::new(
        env.path(),
        &["install", "--manifest", m.to_str().unwrap(), "--dry-run"],
    )
    .run();
    assert_eq!(prompts, 0, "the installer asked on the terminal:\n{out}");
    assert_eq!(
        std::fs::read_to_string(&reply).unwrap_or_default(),
        "-> fail",
        "{out}"
    );
    assert_eq!(code, 1, "{out}");
}
