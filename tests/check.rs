//! `secrets check`: every problem kind, the JSON report against its published schema, exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{pubkey, Repo};
use serde_json::Value;

const SCHEMA: &str = include_str!("../src/check.schema.json");

/// Validate `v` against the subset of JSON Schema the report schema uses: type, const, enum,
/// required, properties, additionalProperties=false, items, minimum, local $ref. Returns the
/// list of violations (empty = valid). Unknown keywords make the test fail, so the schema
/// cannot drift beyond what is checked here.
fn validate(schema: &Value, root: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let obj = schema.as_object().expect("schema node is an object");
    for k in obj.keys() {
        let known = [
            "$schema",
            "$id",
            "title",
            "description",
            "type",
            "const",
            "enum",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "minimum",
            "$ref",
            "$defs",
        ];
        assert!(
            known.contains(&k.as_str()),
            "schema keyword {k} not supported by the test"
        );
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        return validate(&root["$defs"][name], root, v, at, errs);
    }
    if let Some(t) = obj.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_u64() || v.is_i64(),
            "null" => v.is_null(),
            other => panic!("type {other}"),
        });
        if !ok {
            errs.push(format!("{at}: expected {types:?}, got {v}"));
            return;
        }
    }
    if let Some(c) = obj.get("const") {
        if c != v {
            errs.push(format!("{at}: expected {c}, got {v}"));
        }
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let Some(m) = obj.get("minimum").and_then(Value::as_f64) {
        if v.as_f64().is_some_and(|x| x < m) {
            errs.push(format!("{at}: {v} < {m}"));
        }
    }
    if let Some(o) = v.as_object() {
        for r in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                errs.push(format!("{at}: missing required {r}"));
            }
        }
        let props = obj.get("properties").and_then(Value::as_object);
        for (k, val) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, val, &format!("{at}.{k}"), errs),
                None => {
                    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
                        errs.push(format!("{at}: unexpected property {k}"));
                    }
                }
            }
        }
    }
    if let (Some(items), Some(a)) = (obj.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(items, root, x, &format!("{at}[{i}]"), errs);
        }
    }
}

fn assert_valid(report: &Value) {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let mut errs = Vec::new();
    validate(&schema, &schema, report, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "report violates the schema:\n{}\n{report:#}",
        errs.join("\n")
    );
}

fn check_json(repo: &Repo) -> (i32, Value) {
    let out = repo.cmd().args(["check", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_valid(&v);
    (out.status.code().unwrap(), v)
}

fn age_encrypt(path: &Path, to: &[String], armor: bool) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("age");
    if armor {
        c.arg("-a");
    }
    for r in to {
        c.arg("-r").arg(r);
    }
    let mut child = c.arg("-o").arg(path).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"x").unwrap();
    assert!(child.wait().unwrap().success());
}

fn problems(report: &Value) -> Vec<(String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_string(),
                p["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn clean_repository_passes() {
    let repo = Repo::new();
    repo.json_rules(r#"{"a.age": {"publicKeys": ["alice", "dave"]}, "sub/b.age": {"publicKeys": ["bob"], "armor": true}}"#);
    repo.encrypt("a.age", "x");
    repo.encrypt("sub/b.age", "x");
    let (code, v) = check_json(&repo);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["checked"], 2);
    assert_eq!(v["problems"], serde_json::json!([]));
    repo.cmd()
        .arg("check")
        .assert()
        .success()
        .stdout("ok: 2 file(s) match the rules\n");
}

#[test]
fn every_problem_kind_is_reported_in_the_documented_schema() {
    if common::missing("age") {
        return;
    }
    let repo = Repo::new();
    repo.json_rules(
        r#"{"ok.age": {"publicKeys": ["alice"]},
            "drift.age": {"publicKeys": ["alice", "bob"]},
            "x.age": {"publicKeys": ["alice", "dave"]},
            "armor.age": {"publicKeys": ["alice"], "armor": true},
            "bad.age": {"publicKeys": ["alice"]},
            "missing.age": {"publicKeys": ["alice"]}}"#,
    );
    repo.encrypt("ok.age", "x");
    // drift.age: to alice + web1 (rule: alice + bob), written by plain age.
    age_encrypt(
        &repo.path().join("drift.age"),
        &[pubkey("alice_ed25519"), pubkey("web1_ed25519")],
        false,
    );
    // x.age: right count of X25519 stanzas, but no lock entry to say which key.
    age_encrypt(
        &repo.path().join("x.age"),
        &[pubkey("alice_ed25519"), pubkey("dave_age")],
        false,
    );
    age_encrypt(
        &repo.path().join("armor.age"),
        &[pubkey("alice_ed25519")],
        false,
    );
    repo.write("bad.age", "db_password=hunter2\n");
    age_encrypt(
        &repo.path().join("hosts/old.age"),
        &[pubkey("alice_ed25519")],
        false,
    );
    // Not orphans: hidden directories and other extensions.
    repo.write(".git/objects/x.age", "x");
    repo.write("notes.txt", "x");

    let (code, v) = check_json(&repo);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    assert_eq!(v["checked"], 6);
    assert!(v["rules"].as_str().unwrap().ends_with("/secrets.json"));
    let got = problems(&v);
    let want: Vec<(String, String)> = [
        ("armor.age", "armor"),
        ("bad.age", "invalid"),
        ("drift.age", "recipients"),
        ("hosts/old.age", "orphan"),
        ("missing.age", "missing"),
        ("x.age", "unverified"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "{v:#}");
    let p = &v["problems"];
    // drift.age names who was added and removed, by name and fingerprint.
    assert_eq!(p[2]["added"][0]["name"], "bob");
    assert_eq!(p[2]["added"][0]["type"], "ssh-rsa");
    assert_eq!(p[2]["removed"][0]["name"], "web1");
    assert!(p[2]["removed"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    assert_eq!(p[0]["expected_armor"], true);
    assert_eq!(p[0]["actual_armor"], false);
    assert!(p[1]["message"]
        .as_str()
        .unwrap()
        .contains("not an age file"));
    // The plaintext of a mistakenly committed file never appears in the report.
    assert!(!v.to_string().contains("hunter2"));

    // Text mode: the same problems, one per line, same exit code.
    let out = repo.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("drift.age: recipients differ from the rule (added to the rule, not in the file: bob (SHA256:"), "{text}");
    assert!(
        text.contains("in the file, not in the rule: web1 (SHA256:"),
        "{text}"
    );
    assert!(
        text.contains("hosts/old.age: encrypted file without a rule"),
        "{text}"
    );
    assert!(text.contains("6 problem(s) found in 6 file(s)"), "{text}");

    // After `secrets rekey` (with the one key that reads everything valid) only the
    // structural problems remain.
    repo.cmd()
        .args(["rekey", "-i"])
        .arg(common::key("alice_ed25519"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("bad.age: not an age file"));
    let (_, v) = check_json(&repo);
    let kinds: Vec<String> = problems(&v).into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds, ["invalid", "orphan", "missing"], "{v:#}");
}

#[test]
fn unloadable_rules_are_a_problem_in_the_report() {
    let repo = Repo::new();
    repo.write(
        "secrets.json",
        r#"{"secrets": {"a.age": {"publicKeys": ["nobody"]}}}"#,
    );
    let (code, v) = check_json(&repo);
    assert_eq!(code, 1);
    // The file that was found but could not be loaded is named (the schema promises its
    // path), once: as the problem's file, not again in its message.
    let rules = std::fs::canonicalize(repo.path().join("secrets.json")).unwrap();
    let rules = rules.display().to_string();
    assert_eq!(problems(&v), [(rules.clone(), "rules".to_string())]);
    assert_eq!(v["rules"], rules.as_str(), "{v:#}");
    let message = v["problems"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("secret \"a.age\": \"nobody\" is not a defined key"),
        "{message}"
    );
    // No rules file at all.
    let empty = Repo::new();
    let (code, v) = check_json(&empty);
    assert_eq!(code, 1);
    assert_eq!(v["rules"], Value::Null);
    assert!(v["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no rules file"));
}

#[test]
fn invalid_lock_is_reported() {
    let repo = Repo::new();
    repo.json_rules(r#"{"a.age": {"publicKeys": ["alice"]}}"#);
    repo.encrypt("a.age", "x");
    repo.write("secrets.lock.json", "{ not json");
    let (code, v) = check_json(&repo);
    assert_eq!(code, 1);
    assert_eq!(
        problems(&v),
        [("secrets.lock.json".to_string(), "lock".to_string())]
    );
}

#[test]
fn schema_flag_prints_the_schema_and_usage_errors_exit_2() {
    let repo = Repo::new();
    let out = repo.cmd().args(["check", "--schema"]).output().unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, serde_json::from_str::<Value>(SCHEMA).unwrap());
    repo.cmd().args(["check", "--bogus"]).assert().code(2);
    repo.cmd()
        .args(["rekey", "--jobs", "many"])
        .assert()
        .code(2);
}

/// A secrets.nix rule that cannot be used, and rules none of whose files exists: kinds `rule`
/// and `layout`, in the documented schema.
#[test]
fn broken_rules_and_layout_are_reported_in_the_documented_schema() {
    if common::missing("nix-instantiate") {
        return;
    }
    let repo = Repo::new();
    repo.write(
        "secrets.nix",
        format!(
            r#"{{ "a.age".publicKeys = [ "{}" ]; "b.age".publicKeys = [ ]; "../c.age".publicKeys = [ ]; }}"#,
            pubkey("alice_ed25519")
        ),
    );
    let (code, v) = check_json(&repo);
    assert_eq!(code, 1);
    assert_eq!(v["checked"], 3);
    let rules_file = v["rules"].as_str().unwrap().to_string();
    let want: Vec<(String, String)> = [
        ("../c.age", "rule"),
        (rules_file.as_str(), "layout"),
        ("a.age", "missing"),
        ("b.age", "rule"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(problems(&v), want, "{v:#}");
}
