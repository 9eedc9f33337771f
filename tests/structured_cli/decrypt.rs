//! `secrets decrypt FILE --key K [--format F]`.

use super::*;

const YAML: &str = "db:\n  password: \"p@ss: 'q' #x\"\nservers:\n  - token: tök€n\ncert: |\n  a\n  b\na.b: dotted\nport: 0644\nmap: {z: 1, a: [true, x]}\n";
const JSON: &str = r#"{"api": {"keys": ["k0", "k1"], "t": "l1\nl2 \"q\""}, "n": 1.50}"#;
const DOTENV: &str = "export DB_PASSWORD='s # kept'\nMULTI=\"a\nb\"\nUNI=ñandú # c\n";
const INI: &str = "top = t\n[database]\npassword = \" padded \"\n[a.b]\nk = v\n";

fn value(repo: &Repo, file: &str, key_path: &str) -> String {
    let (code, out, err) = run(repo, &["decrypt", file, "--key", key_path]);
    assert_eq!(code, 0, "{file} --key {key_path}: {err}");
    out
}

#[test]
fn one_value_per_format_as_installed() {
    let repo = repo();
    for (file, doc) in [
        ("app.yaml.age", YAML),
        ("app.json.age", JSON),
        ("app.env.age", DOTENV),
        ("app.ini.age", INI),
        ("doc.age", YAML),
    ] {
        repo.encrypt(file, doc);
    }
    for (file, k, want) in [
        ("app.yaml.age", "db.password", "p@ss: 'q' #x"),
        ("app.yaml.age", "servers[0].token", "tök€n"),
        ("app.yaml.age", "cert", "a\nb\n"),
        ("app.yaml.age", "a\\.b", "dotted"),
        ("app.yaml.age", "port", "0644"),
        ("app.yaml.age", "map", r#"{"a":[true,"x"],"z":1}"#),
        ("app.json.age", "api.keys[1]", "k1"),
        ("app.json.age", "api.t", "l1\nl2 \"q\""),
        ("app.json.age", "n", "1.50"),
        ("app.env.age", "DB_PASSWORD", "s # kept"),
        ("app.env.age", "MULTI", "a\nb"),
        ("app.env.age", "UNI", "ñandú"),
        ("app.ini.age", "top", "t"),
        ("app.ini.age", "database.password", " padded "),
        ("app.ini.age", "a\\.b.k", "v"),
        // The rule's format, where the name says nothing.
        ("doc.age", "db.password", "p@ss: 'q' #x"),
    ] {
        assert_eq!(value(&repo, file, k), want, "{file} --key {k}");
    }
    // No newline is added, and -o writes the value alone.
    let (code, _, err) = run(
        &repo,
        &[
            "decrypt",
            "app.json.age",
            "--key",
            "api.keys[0]",
            "-o",
            "k0.txt",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(repo.path().join("k0.txt")).unwrap(), b"k0");
    // --format with no key: the whole document, checked to parse.
    assert_eq!(
        run(&repo, &["decrypt", "app.ini.age", "--format", "ini"]).1,
        INI
    );
}

#[test]
fn format_from_flag_or_an_error_asking_for_it() {
    let repo = repo();
    repo.encrypt("blob.age", "db: {password: hunter2}\n");
    let (code, out, err) = run(&repo, &["decrypt", "blob.age", "--key", "db.password"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("blob.age: cannot tell the document's format from its name; pass --format"),
        "{err}"
    );
    let (code, out, err) = run(
        &repo,
        &[
            "decrypt",
            "blob.age",
            "--key",
            "db.password",
            "--format",
            "yaml",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "hunter2"), "{err}");
    // --format overrides the name; an unknown one is a usage error listing the formats.
    let (code, _, err) = run(
        &repo,
        &["decrypt", "blob.age", "--key", "db", "--format", "toml"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown format `toml`: use one of binary, json, yaml, dotenv, ini"),
        "{err}"
    );
    // A rule's `format = "binary"` wins over the name: it takes no key.
    repo.encrypt("raw.yaml.age", "a: 1\n");
    let (code, _, err) = run(&repo, &["decrypt", "raw.yaml.age", "--key", "a"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("raw.yaml.age: binary key `a`: a binary secret is the whole file"),
        "{err}"
    );
}

#[test]
fn missing_key_or_broken_document_names_file_format_key_not_value() {
    let repo = repo();
    repo.encrypt("app.yaml.age", "db: {password: hunter2}\n");
    let mut errs = Vec::new();
    let (code, out, err) = run(&repo, &["decrypt", "app.yaml.age", "--key", "db.user"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    errs.push(err.clone());
    assert!(
        err.contains("app.yaml.age: yaml key `db.user`: not found"),
        "{err}"
    );
    // Written by the library: `secrets encrypt` refuses a document that does not parse, but
    // a file can still hold one (an older version wrote it, or `age` did).
    let alice = secrets::keys::Recipient::parse(&common::pubkey("alice_ed25519")).unwrap();
    let broken = secrets::crypto::encrypt(b"A=\"hunter2\n", &[alice], false).unwrap();
    repo.write("app.env.age", broken);
    let (code, _, err) = run(&repo, &["decrypt", "app.env.age", "--key", "A"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("app.env.age: dotenv key `A`: not valid dotenv: line 1"),
        "{err}"
    );
    errs.push(err);
    // A key the format cannot take fails before anything is decrypted.
    let (code, _, err) = run(&repo, &["decrypt", "app.env.age", "--key", "a.b"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("app.env.age: dotenv key `a.b`: a dotenv key is one"),
        "{err}"
    );
    errs.push(err);
    for e in &errs {
        assert!(!e.contains("hunter2"), "{e}");
    }
    // Without --key the whole file, broken or not, as always.
    assert_eq!(whole(&repo, "app.env.age"), "A=\"hunter2\n");
}
