//! `install --check` reports every mistake of a manifest in one run, each on its own line and
//! counted, naming the module option (`age.secrets.db.mode`) when the manifest carries it
//! (`"option"`) and the manifest item (`secret "db"`) when not; an install names the option
//! of a secret that fails too.

use serde_json::{json, Value};

use crate::common;
use crate::install_support::{in_private_ns, text, Env};

/// A manifest with one mistake of each kind, eight in all, and the line each must give.
fn many_mistakes(env: &Env) -> (Value, Vec<String>) {
    let good = env.encrypt("good", b"good value");
    // Encrypted to alice only, not to the host (web1).
    let other = env.encrypt_to("other", b"other value", &[&common::pubkey("alice_ed25519")]);
    let plain = env.path().join("enc/plain.age");
    std::fs::write(&plain, b"committed in clear\n").unwrap();
    let secrets = json!({
        "db": {"option": "age.secrets.db", "file": other, "mode": "0999"},
        "plain": {"option": "age.secrets.plain", "file": plain},
        "web": {"option": "age.secrets.web", "file": good, "restartUnits": ["nginx"]},
        "pw": {"option": "age.secrets.pw", "file": good, "neededForUsers": true, "owner": "alice"},
        "a": {"option": "age.secrets.a", "file": good, "path": "/etc/shared"},
        "b": {"option": "age.secrets.b", "file": good, "path": "/etc/shared"},
        "legacy": {"file": good, "mode": "4755"},
    });
    let templates = json!({
        "app.env": {
            "option": "age.templates.\"app.env\"",
            "name": "../app.env",
            "content": format!("X={}\n", common::placeholder("web")),
        }
    });
    let host = std::fs::read_to_string(common::key("web1_ed25519.pub")).unwrap();
    let m = env.manifest_value(
        secrets,
        json!({"templates": templates, "hostPublicKeys": [host.trim()]}),
    );
    let lines = [
        "error: age.secrets.db.mode: mode \"0999\" is neither an octal mode",
        "error: age.secrets.db.file: other.age is not encrypted to this host's key SHA256:",
        "error: age.secrets.plain.file: ",
        "error: age.secrets.web.restartUnits: \"nginx\" is not a systemd unit name",
        "error: age.secrets.pw.neededForUsers: neededForUsers secrets are installed before users",
        "error: age.secrets.a and age.secrets.b share the destination /etc/shared",
        "error: secret \"legacy\": mode \"4755\" has setuid/setgid/sticky bits",
        "error: age.templates.\"app.env\".name: name \"../app.env\" has an empty, `.` or `..` \
         component",
    ];
    (m, lines.iter().map(|s| s.to_string()).collect())
}

fn write(env: &Env, m: &Value) -> std::path::PathBuf {
    let p = env.path().join("manifest.json");
    std::fs::write(&p, serde_json::to_vec_pretty(m).unwrap()).unwrap();
    p
}

/// Each expected line starts exactly one of the error lines, and there are no others.
fn assert_errors(stderr: &str, want: &[String]) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    for w in want {
        let n = errors.iter().filter(|l| l.starts_with(w.as_str())).count();
        assert_eq!(n, 1, "{w:?} must start one error line:\n{stderr}");
    }
    assert_eq!(errors.len(), want.len(), "{stderr}");
}

#[test]
fn check_reports_every_error_in_one_run_each_naming_its_option() {
    let env = Env::new();
    let (m, want) = many_mistakes(&env);
    let p = write(&env, &m);
    let o = env.install(&p, &["--check"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_errors(&err, &want);
    // The non-age file: what is wrong with it, after its option.
    let plain = err
        .lines()
        .find(|l| l.starts_with("error: age.secrets.plain.file: "))
        .unwrap();
    assert!(plain.contains("plain.age"), "{plain}");
    assert!(
        err.contains(&format!(
            "manifest {} is invalid: 8 error(s), each on a line above",
            p.display()
        )),
        "{err}"
    );
    assert!(err.contains("secrets install: 8 problem(s)"), "{err}");
    // Nothing written.
    assert!(!env.mp().exists() && !env.stable().exists());

    // --json: the same errors, in the summary.
    let o = env.install(&p, &["--check", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], json!(false));
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 8, "{v}");
    assert!(errors.iter().any(|e| e
        .as_str()
        .unwrap()
        .starts_with("age.secrets.web.restartUnits: ")));
}

/// Without the check, an invalid manifest stops the install before anything is touched, and
/// its error lists every mistake, one a line.
#[test]
fn install_of_an_invalid_manifest_lists_every_error() {
    let env = Env::new();
    let (m, want) = many_mistakes(&env);
    let p = write(&env, &m);
    let o = env.install(&p, &["--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // The file checks are --check's; the other six are the manifest's.
    let manifest_errors: Vec<&String> = want.iter().filter(|w| !w.contains(".file: ")).collect();
    assert_eq!(manifest_errors.len(), 6);
    assert!(
        err.starts_with(&format!("error: manifest {}: 6 errors:\n", p.display())),
        "{err}"
    );
    for w in manifest_errors {
        let line = format!("\n  {}", w.strip_prefix("error: ").unwrap());
        assert!(err.contains(&line), "{line:?} missing:\n{err}");
    }
    assert!(!err.contains(".file: "), "{err}");
}

/// `option` is the one field added; older manifests without it read as before; a bad option
/// is refused, never shown as it is.
#[test]
fn option_field_is_optional_checked_and_the_only_new_one() {
    let env = Env::new();
    let good = env.encrypt("good", b"x");
    let run = |secret: Value| {
        let m = env.manifest_value(json!({"db": secret}), json!({}));
        let o = env.install(&write(&env, &m), &["--check"]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Valid with or without it.
    for s in [
        json!({"file": good, "option": "age.secrets.db"}),
        json!({"file": good}),
    ] {
        let (code, err) = run(s);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("is valid: 1 secret(s)"), "{err}");
    }
    // Without it, the item as before.
    let (_, err) = run(json!({"file": good, "mode": "0999"}));
    assert!(err.contains("error: secret \"db\": mode \"0999\""), "{err}");
    for (s, needle) in [
        (
            json!({"file": good, "options": "age.secrets.db"}),
            "unknown field `options`",
        ),
        (
            json!({"file": good, "option": 1}),
            "secrets.\"db\": invalid type",
        ),
        (
            json!({"file": good, "option": ""}),
            "secret \"db\": \"option\" is empty",
        ),
        (
            json!({"file": good, "option": "age.secrets.d\u{202E}b", "mode": "0999"}),
            "secret \"db\" option \"age.secrets.d\\u{202E}b\" contains U+202E",
        ),
    ] {
        let (code, err) = run(s);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
        assert!(!err.contains('\u{202E}'), "{err}");
    }
}

/// A secret that fails at activation is named by its option too (what the user greps their
/// configuration for).
#[test]
fn failed_install_names_the_option() {
    if !in_private_ns("check::failed_install_names_the_option") {
        return;
    }
    let env = Env::new();
    let good = env.encrypt("good", b"good value");
    let other = env.encrypt_to("other", b"other value", &[&common::pubkey("alice_ed25519")]);
    let m = env.manifest_value(
        json!({
            "db": {"option": "age.secrets.db", "file": other},
            "ok": {"option": "age.secrets.ok", "file": good},
        }),
        json!({}),
    );
    let o = env.install(&write(&env, &m), &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: secret db (age.secrets.db): ")),
        "{err}"
    );
    assert_eq!(
        std::fs::read(env.stable().join("ok")).unwrap(),
        b"good value"
    );
}
