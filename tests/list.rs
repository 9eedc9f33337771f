//! `secrets list` (alias `ls`): each state of a file, its recipients by name, whether my keys
//! can read it (told from headers and the lock, never by decrypting: no passphrase is asked),
//! the three output forms, and the JSON against its published schema with a real validator.

mod common;

use common::{key, pubkey, Repo};
use serde_json::Value;

/// A repository with a file in each state a secrets.json can give: present (ok.age),
/// drifted (drift.age: bob added to its rule after it was written), X25519 with its lock entry
/// (x.age), missing (new.age), invalid (bad.age), orphan (stray.age).
fn repo() -> Repo {
    let repo = Repo::new();
    repo.json_rules(
        r#"{"ok.age": {"publicKeys": ["alice", "web1"]},
            "drift.age": {"publicKeys": ["alice"]},
            "x.age": {"publicKeys": ["dave"]},
            "new.age": {"publicKeys": ["alice"]},
            "bad.age": {"publicKeys": ["alice"]}}"#,
    );
    repo.encrypt("ok.age", "ok");
    repo.encrypt("drift.age", "drift");
    repo.encrypt("x.age", "x");
    repo.write("bad.age", "plaintext committed by mistake\n");
    std::fs::copy(repo.path().join("ok.age"), repo.path().join("stray.age")).unwrap();
    repo.json_rules(
        r#"{"ok.age": {"publicKeys": ["alice", "web1"]},
            "drift.age": {"publicKeys": ["alice", "bob"]},
            "x.age": {"publicKeys": ["dave"]},
            "new.age": {"publicKeys": ["alice"]},
            "bad.age": {"publicKeys": ["alice"]}}"#,
    );
    repo
}

fn list_json(repo: &Repo, args: &[&str]) -> Value {
    let out = repo
        .cmd()
        .args(["list", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn file<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {v:#}"))
}

fn names(keys: &Value) -> Vec<String> {
    keys.as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn every_state_with_recipients_and_whether_i_can_read_it() {
    let repo = repo();
    let alice = key("alice_ed25519");
    let v = list_json(&repo, &["-i", alice.to_str().unwrap()]);
    let state = |n: &str| file(&v, n)["state"].as_str().unwrap().to_string();
    let readable = |n: &str| file(&v, n)["readable"].clone();
    assert_eq!(state("ok.age"), "present");
    assert_eq!(file(&v, "ok.age")["message"], Value::Null);
    assert_eq!(names(&file(&v, "ok.age")["recipients"]), ["alice", "web1"]);
    assert_eq!(names(&file(&v, "ok.age")["readers"]), ["alice", "web1"]);
    assert_eq!(readable("ok.age"), "yes");
    assert_eq!(
        file(&v, "ok.age")["readable_with"][0],
        alice.display().to_string()
    );
    assert_eq!(state("drift.age"), "drifted");
    let msg = file(&v, "drift.age")["message"].as_str().unwrap();
    assert!(
        msg.contains("added bob") && msg.contains("secrets rekey drift.age"),
        "{msg}"
    );
    assert_eq!(names(&file(&v, "drift.age")["readers"]), ["alice"]);
    // X25519: only the lock entry says it is dave's; alice's key cannot read it.
    assert_eq!(state("x.age"), "present");
    assert_eq!(names(&file(&v, "x.age")["readers"]), ["dave"]);
    assert_eq!(readable("x.age"), "no");
    assert_eq!(state("new.age"), "missing");
    assert_eq!(readable("new.age"), Value::Null);
    assert!(file(&v, "new.age")["message"]
        .as_str()
        .unwrap()
        .contains("secrets edit new.age"));
    assert_eq!(state("bad.age"), "invalid");
    assert!(file(&v, "bad.age")["message"]
        .as_str()
        .unwrap()
        .contains("not an age file"));
    assert_eq!(state("stray.age"), "orphan");
    assert_eq!(file(&v, "stray.age")["recipients"], serde_json::json!([]));
    assert_eq!(names(&file(&v, "stray.age")["readers"]), ["alice", "web1"]);
    assert_eq!(readable("stray.age"), "yes");
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "bad.age",
            "drift.age",
            "new.age",
            "ok.age",
            "stray.age",
            "x.age"
        ]
    );
    // My identity, named as the rules name it.
    assert_eq!(names(&v["identities"][0]["keys"]), ["alice"]);

    // With dave's age key, x.age is readable (the lock names dave), ok.age is not.
    let v = list_json(&repo, &["-i", key("dave_age.key").to_str().unwrap()]);
    assert_eq!(file(&v, "x.age")["readable"], "yes");
    assert_eq!(file(&v, "ok.age")["readable"], "no");
    // Without the lock, X25519 stanzas name nobody: unverified, and unknown for an age key.
    std::fs::remove_file(repo.path().join("secrets.lock.json")).unwrap();
    let v = list_json(&repo, &["-i", key("dave_age.key").to_str().unwrap()]);
    assert_eq!(file(&v, "x.age")["state"], "unverified");
    assert_eq!(file(&v, "x.age")["readable"], "unknown");
    assert!(file(&v, "x.age")["readable_note"]
        .as_str()
        .unwrap()
        .contains("name nobody"));
    assert_eq!(file(&v, "x.age")["readers"][0]["fingerprint"], "unknown");
    // An ssh key only: those stanzas cannot be its, so no.
    let v = list_json(&repo, &["-i", key("alice_ed25519").to_str().unwrap()]);
    assert_eq!(file(&v, "x.age")["readable"], "no");
}

/// The alias, the default identities, SECRETS_IDENTITY, and a file with no identity at all.
#[test]
fn identities_are_found_as_other_commands_find_them() {
    let repo = repo();
    let ssh = repo.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::copy(key("web1_ed25519"), ssh.join("id_ed25519")).unwrap();
    let out = repo.cmd().args(["ls", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&v["identities"][0]["keys"]), ["web1"]);
    assert_eq!(file(&v, "ok.age")["readable"], "yes");
    assert_eq!(file(&v, "drift.age")["readable"], "no");
    let out = repo
        .cmd()
        .args(["list", "--json"])
        .env("SECRETS_IDENTITY", key("alice_ed25519"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(file(&v, "drift.age")["readable"], "yes");
    std::fs::remove_dir_all(&ssh).unwrap();
    let v = list_json(&repo, &[]);
    assert_eq!(v["identities"], serde_json::json!([]));
    assert_eq!(file(&v, "ok.age")["readable"], "no");
}

/// A passphrase-protected SSH key is never unlocked (its public half is in the file); an age
/// identity file whose public half is not in it is looked up in the .pub beside it, and is
/// "unknown" without one.
#[test]
fn locked_keys_are_never_unlocked_and_pub_files_are_used() {
    let repo = Repo::new();
    repo.json_rules(&format!(
        r#"{{"erin.age": {{"publicKeys": ["{}"]}}, "x.age": {{"publicKeys": ["dave"]}}}}"#,
        pubkey("erin_ed25519_pass")
    ));
    repo.encrypt("erin.age", "e");
    repo.encrypt("x.age", "x");
    // No terminal and stdin closed: a prompt would fail the run.
    let out = repo
        .cmd()
        .args(["list", "--json", "-i"])
        .arg(key("erin_ed25519_pass"))
        .write_stdin("")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("assphrase"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(file(&v, "erin.age")["readable"], "yes");
    assert_eq!(
        file(&v, "erin.age")["recipients"][0]["comment"],
        pubkey("erin_ed25519_pass")
            .split_once(' ')
            .unwrap()
            .1
            .split_once(' ')
            .unwrap()
            .1
    );
    // An age identity file protected by a passphrase (as `age -p` writes it).
    let locked = repo.write(
        "keys/dave.age",
        "age-encryption.org/v1\n-> scrypt c2FsdA 18\nAAAA\n--- AAAA\n",
    );
    let v = list_json(&repo, &["-i", locked.to_str().unwrap()]);
    let id = &v["identities"][0];
    assert_eq!(id["keys"], serde_json::json!([]));
    assert!(
        id["unknown"]
            .as_str()
            .unwrap()
            .contains("passphrase-protected")
            && id["unknown"].as_str().unwrap().contains("dave.age.pub"),
        "{id}"
    );
    assert_eq!(file(&v, "x.age")["readable"], "unknown");
    assert_eq!(file(&v, "erin.age")["readable"], "unknown");
    repo.write("keys/dave.age.pub", format!("{}\n", pubkey("dave_age")));
    let v = list_json(&repo, &["-i", locked.to_str().unwrap()]);
    assert_eq!(
        v["identities"][0]["public_from"],
        repo.path().join("keys/dave.age.pub").display().to_string()
    );
    assert_eq!(names(&v["identities"][0]["keys"]), ["dave"]);
    assert_eq!(file(&v, "x.age")["readable"], "yes");
    assert_eq!(file(&v, "erin.age")["readable"], "no");
}

/// Not a terminal: one tab-separated line per file, the same every run.
#[test]
fn plain_lines_when_stdout_is_not_a_terminal() {
    let repo = repo();
    let out = repo
        .cmd()
        .args(["list", "-i"])
        .arg(key("alice_ed25519"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[3], "ok.age\tpresent\tyes\talice, web1\t");
    assert!(lines[2].starts_with("new.age\tmissing\t-\talice\tno file yet"));
    assert!(lines[1].starts_with("drift.age\tdrifted\tyes\talice, bob\trecipients differ"));
    assert!(lines[4].starts_with("stray.age\torphan\tyes\t\tno rule in "));
    assert!(lines[5].starts_with("x.age\tpresent\tno\tdave\t"));
    assert!(text.lines().all(|l| l.split('\t').count() == 5), "{text}");
}

/// On a terminal: who I am, an aligned table, each note below its file, a summary.
#[cfg(target_os = "linux")]
#[test]
fn an_aligned_table_on_a_terminal() {
    if common::missing("python3") {
        return;
    }
    let repo = repo();
    let alice = key("alice_ed25519");
    let (code, _, text) =
        common::Pty::new(repo.path(), &["list", "-i", alice.to_str().unwrap()]).run();
    assert_eq!(code, 0, "{text}");
    let text = text.replace('\r', "");
    assert!(
        text.contains(&format!("identity: {} (alice, SHA256:", alice.display())),
        "{text}"
    );
    let head = text.lines().find(|l| l.starts_with("FILE")).expect(&text);
    let col = head.find("STATE").unwrap();
    let read = head.find("READABLE").unwrap();
    for name in ["ok.age", "drift.age", "stray.age", "x.age"] {
        let row = text.lines().find(|l| l.starts_with(name)).expect(name);
        assert!(
            row[col..].starts_with(|c: char| c.is_ascii_lowercase()),
            "{name} not aligned:\n{text}"
        );
        assert!(row[read..].starts_with(|c: char| c.is_ascii_lowercase() || c == '-'));
    }
    assert!(
        text.contains("\n    recipients differ (added bob"),
        "{text}"
    );
    assert!(text.contains("6 file(s): 2 present, 1 drifted, 0 unverified, 1 missing, 1 invalid, 1 orphan(s), 0 broken rule(s); you can read 3"), "{text}");
}

/// A rule of a secrets.nix that cannot be used is listed as broken, with its reason; the
/// others as usual.
#[test]
fn broken_rules_of_a_secrets_nix() {
    if common::missing("nix-instantiate") {
        return;
    }
    let repo = Repo::new();
    repo.write(
        "secrets.nix",
        format!(
            r#"{{ "good.age".publicKeys = [ "{}" ]; "empty.age".publicKeys = [ ]; }}"#,
            pubkey("alice_ed25519")
        ),
    );
    repo.encrypt("good.age", "g");
    let v = list_json(&repo, &["-i", key("alice_ed25519").to_str().unwrap()]);
    assert_eq!(file(&v, "good.age")["state"], "present");
    // A secrets.nix has no key names: the key's comment names it.
    assert_eq!(
        file(&v, "good.age")["recipients"][0]["comment"],
        "test-only alice"
    );
    let b = file(&v, "empty.age");
    assert_eq!(b["state"], "broken");
    assert!(
        b["message"].as_str().unwrap().contains("no recipients"),
        "{b}"
    );
    assert_eq!(b["readable"], Value::Null);
}

#[test]
fn the_json_is_valid_against_its_schema() {
    let repo = repo();
    let schema = repo.cmd().args(["list", "--schema"]).output().unwrap();
    assert!(schema.status.success());
    assert_eq!(
        String::from_utf8(schema.stdout.clone()).unwrap().trim(),
        include_str!("../src/list/schema.json").trim()
    );
    let Some(validator) = common::json_schema_validator() else {
        return;
    };
    let schema = String::from_utf8(schema.stdout).unwrap();
    let validate = |instance: &Value| match validator.validate(&schema, &instance.to_string()) {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e),
    };
    std::fs::copy(key("dave_age.key"), repo.path().join("dave.key")).unwrap();
    repo.write("locked", "age-encryption.org/v1\n");
    for ids in [
        vec![key("alice_ed25519")],
        vec![repo.path().join("dave.key"), repo.path().join("locked")],
        vec![],
    ] {
        let mut args = Vec::new();
        for i in &ids {
            args.push("-i".to_string());
            args.push(i.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = list_json(&repo, &args);
        let (ok, why) = validate(&v);
        assert!(ok, "{why}\n{v:#}");
    }
    // The validator does refuse what the schema excludes.
    let mut v = list_json(&repo, &[]);
    v["files"][0]["state"] = "fine".into();
    assert!(!validate(&v).0);
}
