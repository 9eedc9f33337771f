//! Structured secrets (#18) in the modules: `age.secrets.<n>.format` (an enum: an unknown
//! format fails evaluation), `.key`, and `age.defaultFile` (every secret's `file` unless it sets
//! its own), carried into the manifest on NixOS, home-manager and nix-darwin; a manifest
//! without them is what it always was.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::{assert_no_problems, available, repo, strs};

/// `case` (custom, hmCustom, darwinCustom) of nix/tests/eval.nix with `module` as the
/// configuration: nix-instantiate's exit status, stdout parsed (Null on failure), stderr.
fn eval_module(dir: &Path, case: &str, module: &str) -> (bool, serde_json::Value, String) {
    let file = dir.join(format!("{case}.nix"));
    std::fs::write(&file, module).unwrap();
    let out = Command::new("nix-instantiate")
        .current_dir(repo())
        .args([
            "--eval",
            "--strict",
            "--json",
            "nix/tests/eval.nix",
            "--arg",
        ])
        .arg("module")
        .arg(&file)
        .args(["-A", case])
        .output()
        .expect("run nix-instantiate");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SECRETS: &str = r#"
    age.defaultFile = "/var/lib/test-secrets/app.yaml.age";
    age.secrets.db = { format = "yaml"; key = "db.password"; };
    age.secrets.api = { format = "yaml"; key = "services[0].token"; mode = "0440"; };
    age.secrets.token = { file = "/var/lib/test-secrets/app.env.age"; format = "dotenv"; key = "TOKEN"; };
    age.secrets.whole = { format = "json"; file = "/var/lib/test-secrets/app.json.age"; };
    age.secrets.plain.file = "/var/lib/test-secrets/plain.age";
"#;

/// format, key and defaultFile reach the manifest on every platform; secrets without them
/// have no `format` or `key` field at all (older installers read the manifest unchanged).
#[test]
fn format_key_and_default_file_reach_the_manifest() {
    need_nix!();
    let dir = tempfile::tempdir().unwrap();
    for (case, extra) in [
        (
            "custom",
            "age.identityPaths = [ \"/etc/ssh/ssh_host_ed25519_key\" ];",
        ),
        ("hmCustom", ""),
        ("darwinCustom", ""),
    ] {
        let (ok, v, err) = eval_module(dir.path(), case, &format!("{{ {extra} {SECRETS} }}"));
        assert!(ok, "{case}: {err}");
        assert_no_problems(&v);
        let s = &v["manifest"]["secrets"];
        let doc = "/var/lib/test-secrets/app.yaml.age";
        assert_eq!(s["db"]["file"], json!(doc), "{case}");
        assert_eq!(s["db"]["format"], json!("yaml"), "{case}");
        assert_eq!(s["db"]["key"], json!("db.password"), "{case}");
        assert_eq!(s["api"]["file"], json!(doc), "{case}");
        assert_eq!(s["api"]["key"], json!("services[0].token"), "{case}");
        assert_eq!(s["api"]["mode"], json!("0440"), "{case}");
        assert_eq!(
            s["token"]["file"],
            json!("/var/lib/test-secrets/app.env.age"),
            "{case}"
        );
        assert_eq!(s["token"]["format"], json!("dotenv"), "{case}");
        assert_eq!(s["token"]["key"], json!("TOKEN"), "{case}");
        assert_eq!(s["whole"]["format"], json!("json"), "{case}");
        assert!(s["whole"].get("key").is_none(), "{case}: {}", s["whole"]);
        for field in ["format", "key"] {
            assert!(s["plain"].get(field).is_none(), "{case}: {}", s["plain"]);
        }
    }
}

/// Without age.defaultFile a secret still needs its own `file` (the error names the option).
#[test]
fn without_default_file_a_secret_needs_a_file() {
    need_nix!();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = eval_module(
        dir.path(),
        "hmCustom",
        r#"{ age.secrets.db = { format = "yaml"; key = "db.password"; }; }"#,
    );
    assert!(!ok, "evaluated without a file");
    assert!(err.contains("age.secrets.db.file"), "{err}");
}

/// An unknown format fails evaluation by its type, naming the option and the formats.
#[test]
fn unknown_format_fails_evaluation() {
    need_nix!();
    let dir = tempfile::tempdir().unwrap();
    for case in ["custom", "hmCustom", "darwinCustom"] {
        let (ok, _, err) = eval_module(
            dir.path(),
            case,
            r#"{ age.secrets.db = { file = "/var/lib/test-secrets/app.toml.age"; format = "toml"; key = "db"; }; }"#,
        );
        assert!(!ok, "{case}: an unknown format evaluated");
        assert!(
            err.contains("age.secrets.db.format") && err.contains("\"toml\""),
            "{case}: {err}"
        );
        assert!(err.contains("\"dotenv\""), "{case}: {err}");
    }
}

/// A key on a binary secret (format left out) is refused at evaluation, as the installer
/// would refuse it at activation.
#[test]
fn key_without_format_is_an_assertion() {
    need_nix!();
    let dir = tempfile::tempdir().unwrap();
    let (ok, v, err) = eval_module(
        dir.path(),
        "hmCustom",
        r#"{ age.secrets.db = { file = "/var/lib/test-secrets/app.yaml.age"; key = "db.password"; }; }"#,
    );
    assert!(ok, "{err}");
    let failed = strs(&v["failedAssertions"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("age.secrets.db.key = \"db.password\": a binary secret is the whole file and takes no key; set age.secrets.db.format"),
        "{}",
        failed[0]
    );
}
