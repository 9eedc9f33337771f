//! Structured secrets (#18) in the installer: values taken by key out of JSON, YAML, dotenv and
//! INI documents; a missing key or a broken document fails that secret only (its previous value
//! kept); hostile YAML refused in bounded time and memory; each document decrypted once.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common;
use crate::install_support::{assert_not_leaked, assert_ok, in_private_ns, text, Env};

const YAML: &str = "\
db:
  password: \"p@ss: 'quoted' # not a comment\"
  user: app
servers:
  - host: a.example
    token: tök€n-ü
  - host: b.example
cert: |
  -----BEGIN-----
  line two
a.b: dotted
port: 0644
nested: {x: [1.50, yes]}
";

const JSON: &str =
    r#"{"api": {"keys": ["k0", "k1"], "token": "line1\nline2 \"q\" \u00e9"}, "n": 1.50}"#;

const DOTENV: &str = "\
# comment
export DB_PASSWORD='single # kept'
API=\"two\\nlines \\\"q\\\"\"
MULTI=\"a
b\"
PLAIN=bare value # comment
UNI=ñandú
";

const INI: &str = "\
top = outside
[database]
password = \" padded \"
user = app ; not a comment
[database.primary]
host = db1
";

fn read(env: &Env, name: &str) -> String {
    String::from_utf8(std::fs::read(env.stable().join(name)).unwrap()).unwrap()
}

/// Every format, with nested keys, list positions, quoted, escaped and multi-line values,
/// Unicode, a key with a dot in it, numbers as written, a mapping as canonical JSON, a whole
/// document checked to parse, and a template that uses values taken by key.
#[test]
fn values_by_key_in_every_format() {
    if !in_private_ns("structured::values_by_key_in_every_format") {
        return;
    }
    let env = Env::new();
    let y = env.encrypt("app.yaml", YAML.as_bytes());
    let j = env.encrypt("app.json", JSON.as_bytes());
    let d = env.encrypt("app.env", DOTENV.as_bytes());
    let i = env.encrypt("app.ini", INI.as_bytes());
    let secrets = json!({
        "y-pass": {"file": y, "format": "yaml", "key": "db.password"},
        "y-token": {"file": y, "format": "yaml", "key": "servers[0].token"},
        "y-host": {"file": y, "format": "yaml", "key": "servers[1].host"},
        "y-cert": {"file": y, "format": "yaml", "key": "cert"},
        "y-dot": {"file": y, "format": "yaml", "key": "a\\.b"},
        "y-port": {"file": y, "format": "yaml", "key": "port"},
        "y-nested": {"file": y, "format": "yaml", "key": "nested"},
        "y-whole": {"file": y, "format": "yaml"},
        "j-key": {"file": j, "format": "json", "key": "api.keys[1]"},
        "j-token": {"file": j, "format": "json", "key": "api.token"},
        "j-n": {"file": j, "format": "json", "key": "n"},
        "d-pass": {"file": d, "format": "dotenv", "key": "DB_PASSWORD"},
        "d-api": {"file": d, "format": "dotenv", "key": "API"},
        "d-multi": {"file": d, "format": "dotenv", "key": "MULTI"},
        "d-plain": {"file": d, "format": "dotenv", "key": "PLAIN"},
        "d-uni": {"file": d, "format": "dotenv", "key": "UNI"},
        "i-top": {"file": i, "format": "ini", "key": "top"},
        "i-pass": {"file": i, "format": "ini", "key": "database.password"},
        "i-user": {"file": i, "format": "ini", "key": "database.user"},
        "i-host": {"file": i, "format": "ini", "key": "database\\.primary.host"},
        "binary": {"file": env.encrypt("bin", b"\x00raw\xff")},
    });
    let content = format!(
        "user={} pass={} token={}\n",
        common::placeholder("y-token"),
        common::placeholder("d-pass"),
        common::placeholder("i-pass"),
    );
    let m = env.manifest(
        secrets,
        json!({"templates": {"app.conf": {"content": content}}}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    let want = [
        ("y-pass", "p@ss: 'quoted' # not a comment"),
        ("y-token", "tök€n-ü"),
        ("y-host", "b.example"),
        ("y-cert", "-----BEGIN-----\nline two\n"),
        ("y-dot", "dotted"),
        ("y-port", "0644"),
        ("y-nested", r#"{"x":[1.50,"yes"]}"#),
        ("y-whole", YAML),
        ("j-key", "k1"),
        ("j-token", "line1\nline2 \"q\" é"),
        ("j-n", "1.50"),
        ("d-pass", "single # kept"),
        ("d-api", "two\nlines \"q\""),
        ("d-multi", "a\nb"),
        ("d-plain", "bare value"),
        ("d-uni", "ñandú"),
        ("i-top", "outside"),
        ("i-pass", " padded "),
        ("i-user", "app ; not a comment"),
        ("i-host", "db1"),
    ];
    for (name, value) in want {
        assert_eq!(read(&env, name), value, "secret {name}");
    }
    assert_eq!(
        std::fs::read(env.stable().join("binary")).unwrap(),
        b"\x00raw\xff"
    );
    assert_eq!(
        read(&env, "rendered/app.conf"),
        "user=tök€n-ü pass=single # kept token= padded \n"
    );
    assert_not_leaked(&o, &["tök€n", "single # kept", "padded", "p@ss"]);
}

/// A key that is not in the document, and a document that does not parse, fail those secrets
/// only: their previous values stay, the other secrets (from the same document too) install,
/// and the messages name the file, format and key but no value.
#[test]
fn missing_key_and_broken_document_fail_that_secret_only() {
    if !in_private_ns("structured::missing_key_and_broken_document_fail_that_secret_only") {
        return;
    }
    let env = Env::new();
    let install = |yaml: &str, dotenv: &str, key: &str, plain: &[u8]| {
        let y = env.encrypt("app.yaml", yaml.as_bytes());
        let d = env.encrypt("app.env", dotenv.as_bytes());
        let m = env.manifest(
            json!({
                "a": {"file": y, "format": "yaml", "key": key},
                "b": {"file": y, "format": "yaml", "key": "db.user"},
                "c": {"file": d, "format": "dotenv", "key": "TOKEN"},
                "plain": {"file": env.encrypt("plain", plain)},
            }),
            json!({}),
        );
        env.install(&m, &[])
    };
    let o = install(
        "db: {password: hunter2-old, user: app-old}\n",
        "TOKEN=tok-old\n",
        "db.password",
        b"plain-old",
    );
    assert_ok(&o);
    assert_eq!(read(&env, "a"), "hunter2-old");

    // `a`'s key is gone from the new document; the dotenv document is broken.
    let o = install(
        "db: {pass: hunter2-new, user: app-new}\n",
        "TOKEN=\"tok-new-S3CRET\nOTHER=1\n",
        "db.password",
        b"plain-new",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let y = env.path().join("enc/app.yaml.age");
    let d = env.path().join("enc/app.env.age");
    assert!(
        err.contains(&format!(
            "secret a: {}: yaml key `db.password`: not found",
            y.display()
        )) && err.contains("keeping the previous value"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "secret c: {}: dotenv key `TOKEN`: not valid dotenv: line ",
            d.display()
        )),
        "{err}"
    );
    assert_eq!(read(&env, "a"), "hunter2-old");
    assert_eq!(read(&env, "c"), "tok-old");
    assert_eq!(read(&env, "b"), "app-new");
    assert_eq!(read(&env, "plain"), "plain-new");
    assert_not_leaked(&o, &["hunter2", "S3CRET", "tok-new", "app-new"]);
}

/// A billion-laughs document and a deeply nested one are refused (that secret fails, the other
/// installs) in bounded time, and in bounded memory: the installer runs with 2 GiB of address
/// space, a small part of what either document would take expanded.
#[test]
fn hostile_yaml_is_refused_in_bounded_time_and_memory() {
    if !in_private_ns("structured::hostile_yaml_is_refused_in_bounded_time_and_memory") {
        return;
    }
    let env = Env::new();
    // Ten levels of ten aliases each: 10^10 values expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for l in 1..=10 {
        let p = l - 1;
        bomb.push_str(&format!(
            "a{l}: &a{l} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("password: hunter2\n");
    // Past our depth limit (128) but within the parser's own (255 flow brackets).
    let deep = format!("{}hunter2{}\n", "[".repeat(200), "]".repeat(200));
    let block_deep: String = (0..5000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let m = env.manifest(
        json!({
            "bomb": {"file": env.encrypt("bomb", bomb.as_bytes()), "format": "yaml", "key": "a10"},
            "bomb-other": {"file": env.encrypt("bomb", bomb.as_bytes()), "format": "yaml", "key": "password"},
            "deep": {"file": env.encrypt("deep", deep.as_bytes()), "format": "yaml", "key": "[0]"},
            "block": {"file": env.encrypt("block", block_deep.as_bytes()), "format": "yaml", "key": "k"},
            "fine": {"file": env.encrypt("fine", b"ok"), },
        }),
        json!({}),
    );
    let start = Instant::now();
    let o = common::command("sh")
        .args(["-c", "ulimit -v 2097152 && exec \"$0\" \"$@\""])
        .arg(common::bin())
        .args(["install", "--manifest"])
        .arg(&m)
        .env_remove("NIXOS_ACTION")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    for name in ["bomb", "deep", "block"] {
        assert!(
            err.contains(&format!("secret {name}: ")) && err.contains("not installed"),
            "{name}: {err}"
        );
    }
    // The bomb's other key, outside the expansion, is not reached either: the whole
    // document is refused while it is read.
    assert!(err.contains("secret bomb-other: "), "{err}");
    let bomb = env.path().join("enc/bomb.age");
    assert!(
        err.contains(&format!(
            "secret bomb-other: {}: yaml key `password`: not valid yaml: line 6, column 45: with \
             its aliases expanded the document holds more than 1000000 values",
            bomb.display()
        )),
        "{err}"
    );
    for name in ["deep", "block"] {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("secret {name}: ")));
        assert!(
            line.is_some_and(|l| l.contains("nested deeper than 128 levels")),
            "{name}: {err}"
        );
    }
    assert_eq!(read(&env, "fine"), "ok");
    assert!(!env.stable().join("bomb").exists());
    assert_not_leaked(&o, &["hunter2"]);
}

/// Three secrets (two in the main phase, one for users, and a template) take values from one
/// document, which is decrypted once per install: counted by the age plugin that holds the
/// key, which runs once per decryption (a wrapper logs each start). One secret from one file
/// is the baseline.
#[test]
fn one_document_is_decrypted_once_per_install() {
    if !in_private_ns("structured::one_document_is_decrypted_once_per_install")
        || common::missing("age")
    {
        return;
    }
    let Some(real) = common::age_plugin_dir() else {
        return;
    };
    let env = Env::new();
    let wrap = env.path().join("counting");
    std::fs::create_dir(&wrap).unwrap();
    let log = env.path().join("plugin-runs");
    common::script(
        &wrap.join("age-plugin-unencrypted"),
        &format!(
            "echo \"$@\" >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            real.join("age-plugin-unencrypted").display()
        ),
    );
    let id = env.path().join("plugin-identity");
    std::fs::write(&id, format!("{}\n", common::PLUGIN_IDENTITY)).unwrap();
    let encrypt = |name: &str, plain: &[u8]| {
        let mut age = std::process::Command::new("age");
        age.env("PATH", common::path_with(&real))
            .args(["-r", common::PLUGIN_RECIPIENT]);
        env.encrypt_with(age, name, plain)
    };
    let doc = encrypt("app.yaml", b"db: {password: pw1, user: u1}\nroot: r1\n");
    let runs = |secrets: serde_json::Value, extra: serde_json::Value| -> usize {
        let _ = std::fs::remove_file(&log);
        let mut extra = extra;
        extra["identityPaths"] = json!([id]);
        extra["pluginPath"] = json!([wrap]);
        let o = env.install(&env.manifest(secrets, extra), &[]);
        assert_ok(&o);
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("--age-plugin=identity-v1"))
            .count()
    };
    let one = runs(
        json!({"p": {"file": doc, "format": "yaml", "key": "db.password"}}),
        json!({}),
    );
    assert!(one >= 1, "the plugin never ran");
    let many = runs(
        json!({
            "p": {"file": doc, "format": "yaml", "key": "db.password"},
            "u": {"file": doc, "format": "yaml", "key": "db.user"},
            "r": {"file": doc, "format": "yaml", "key": "root", "neededForUsers": true},
        }),
        json!({"templates": {"t": {"content": format!(
            "{}/{}/{}",
            common::placeholder("p"),
            common::placeholder("u"),
            common::placeholder("r")
        )}}}),
    );
    assert_eq!(many, one, "one document, three secrets and a template");
    assert_eq!(read(&env, "p"), "pw1");
    assert_eq!(read(&env, "u"), "u1");
    assert_eq!(
        std::fs::read_to_string(env.users().join("r")).unwrap(),
        "r1"
    );
    assert_eq!(read(&env, "rendered/t"), "pw1/u1/r1");
}

/// The manifest refuses an unknown format and a key the format cannot take, naming the
/// secret, before anything is decrypted or mounted.
#[test]
fn manifest_refuses_unknown_format_and_wrong_key_shape() {
    let env = Env::new();
    let f = env.encrypt("x", b"x");
    for (secret, want) in [
        (
            json!({"file": f, "format": "toml", "key": "a"}),
            "secret \"s\": unknown format `toml`: use one of binary, json, yaml, dotenv, ini",
        ),
        (
            json!({"file": f, "key": "a"}),
            "secret \"s\": binary key `a`: a binary secret is the whole file",
        ),
        (
            json!({"file": f, "format": "dotenv", "key": "a.b"}),
            "secret \"s\": dotenv key `a.b`: a dotenv key is one variable name",
        ),
        (
            json!({"file": f, "format": "yaml", "key": "a..b"}),
            "secret \"s\": ",
        ),
    ] {
        let m = env.manifest(json!({ "s": secret }), json!({}));
        let o = env.install(&m, &["--check"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{want}\n{}",
            text(&o)
        );
    }
    assert!(!env.mp().exists() || std::fs::read_dir(env.mp()).unwrap().next().is_none());
}
