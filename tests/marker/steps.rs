//! The steps table: each row one command through which the marker goes (CLI, rekey, check,
//! install), with how it runs, how it must end and the files it is meant to write; plus the
//! manifests and rules the rows set up.

use super::*;

/// Write install manifest `name` for secrets `secrets` (a JSON object whose `@` stands for the
/// scratch dir), with every path inside the scratch dir and alice's key as the identity.
fn manifest(e: &Fixture, name: &str, secrets: &str, templates: &str) {
    let p = e.p().display().to_string();
    let secrets = serde_json::from_str(&secrets.replace('@', &p)).unwrap();
    let templates: serde_json::Value = serde_json::from_str(templates).unwrap();
    let extra = serde_json::json!({ "templates": templates });
    let m = common::manifest_value(e.p(), &key("alice_ed25519"), secrets, extra);
    std::fs::write(e.p().join(name), m.to_string()).unwrap();
}

/// The secrets of the install steps: db (marker, from db.age), a copy of it at a custom path
/// outside the tmpfs, and a template using it.
const SECRETS: &str = r#"{"db": {"file": "@/db.age", "mode": "0440"},
    "copy": {"file": "@/db.age", "path": "@/out/copy", "symlink": false}}"#;

fn app_template() -> String {
    serde_json::json!({"app.env": {"content": format!("USER=app\nPW={}\n", placeholder("db"))}})
        .to_string()
}

/// Rules with bob added to db.age and carol to new.age, so a rekey has work to do.
fn widen_rules(e: &Fixture, extra: &str) {
    e.repo.json_rules(&format!(
        r#"{{"db.age": {{"publicKeys": ["alice", "bob"{extra}]}}, "new.age": {{"publicKeys": ["alice", "dave"{extra}], "armor": true}}}}"#
    ));
}

pub(super) fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "edit from stdin creates db.age",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "decrypt to stdout",
            program: "secrets",
            args: |_| vec!["decrypt".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Ok,
            prints_secret: true,
            intended: &[],
        },
        Step {
            name: "decrypt -o",
            program: "secrets",
            args: |_| {
                let mut v = vec!["decrypt".into(), "db.age".into(), "-i".into(), alice()];
                v.extend(os(&["-o", "out/plain.txt"]));
                v
            },
            editor: None,
            run: |e| {
                std::fs::create_dir_all(e.p().join("out")).unwrap();
                Run::Stdin(Vec::new())
            },
            ends: Ends::Ok,
            prints_secret: false,
            intended: &["out/plain.txt"],
        },
        Step {
            name: "edit in an editor that appends a line",
            program: "secrets",
            args: |_| {
                vec![
                    "-v".into(),
                    "edit".into(),
                    "db.age".into(),
                    "-i".into(),
                    alice(),
                ]
            },
            editor: Some(r#"grep -q "$MARKER" "$1" || exit 9; echo appended >> "$1""#),
            run: |_| Run::Tty,
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit with an editor that fails",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            editor: Some(r#"echo more >> "$1"; exit 3"#),
            run: |_| Run::Tty,
            ends: Ends::Fails("the editor exited with exit status: 3"),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit interrupted by SIGINT",
            program: "secrets",
            args: |_| vec!["edit".into(), "db.age".into(), "-i".into(), alice()],
            // Tell the test which process to interrupt (our parent: secrets), then wait.
            editor: Some(r#"echo $PPID > "$HOME/editor.pid"; sleep 30"#),
            run: |_| Run::TtyInterrupt,
            ends: Ends::Fails("interrupted by signal 2"),
            prints_secret: false,
            intended: &["editor.pid"],
        },
        Step {
            name: "decrypt with the wrong key",
            program: "secrets",
            args: |_| {
                vec![
                    "decrypt".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("bob_rsa3072").into_os_string(),
                ]
            },
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Fails("db.age: no identity can decrypt it"),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "edit from stdin when the old value cannot be decrypted",
            program: "secrets",
            args: |_| {
                vec![
                    "edit".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("web1_ed25519").into_os_string(),
                ]
            },
            editor: None,
            run: |e| Run::Stdin(e.marker2.clone().into_bytes()),
            ends: Ends::Fails("db.age: no identity can decrypt it"),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "encrypt from stdin (armored, two recipients)",
            program: "secrets",
            args: |_| os(&["-v", "encrypt", "new.age"]),
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "encrypt --input",
            program: "secrets",
            args: |_| os(&["encrypt", "new.age", "--input", "input.txt"]),
            editor: None,
            run: |e| {
                std::fs::write(e.p().join("input.txt"), &e.marker).unwrap();
                Run::Stdin(Vec::new())
            },
            ends: Ends::Ok,
            prints_secret: false,
            intended: &["input.txt"],
        },
        Step {
            name: "agenix -e from stdin",
            program: "agenix",
            args: |_| vec!["-e".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |e| Run::Stdin(e.marker.clone().into_bytes()),
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "agenix -d",
            program: "agenix",
            args: |_| vec!["-d".into(), "db.age".into(), "-i".into(), alice()],
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Ok,
            prints_secret: true,
            intended: &[],
        },
        Step {
            name: "agenix -d with the wrong key",
            program: "agenix",
            args: |_| {
                vec![
                    "-d".into(),
                    "db.age".into(),
                    "-i".into(),
                    key("dave_age.key").into_os_string(),
                ]
            },
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Fails("db.age: no identity can decrypt it"),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "rekey --dry-run",
            program: "secrets",
            args: |_| os(&["rekey", "--dry-run"]),
            editor: None,
            run: |e| {
                widen_rules(e, "");
                Run::Stdin(Vec::new())
            },
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "rekey (db.age and new.age hold the marker)",
            program: "secrets",
            args: |_| vec!["-v".into(), "rekey".into(), "-i".into(), alice()],
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "rekey --force where one file cannot be decrypted",
            program: "secrets",
            // dave opens new.age but not db.age.
            args: |_| {
                vec![
                    "rekey".into(),
                    "--force".into(),
                    "-i".into(),
                    key("dave_age.key").into_os_string(),
                ]
            },
            editor: None,
            run: |e| {
                widen_rules(e, r#", "carol""#);
                Run::Stdin(Vec::new())
            },
            ends: Ends::Fails("db.age: no identity can decrypt it"),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "check --json (db.age drifted, new.age rekeyed)",
            program: "secrets",
            args: |_| os(&["check", "--json"]),
            editor: None,
            run: |_| Run::Stdin(Vec::new()),
            ends: Ends::Fails("\"kind\": \"recipients\""),
            prints_secret: false,
            intended: &[],
        },
        Step {
            name: "install --json in a private mount namespace",
            program: "secrets",
            args: |_| Vec::new(),
            editor: None,
            run: |e| {
                manifest(e, "m.json", SECRETS, &app_template());
                Run::Namespace(r#""$SECRETS" -v install --json --manifest m.json"#.into())
            },
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[
                "run/agenix.d/1/db",
                "run/agenix.d/1/copy",
                "run/agenix.d/1/rendered/app.env",
                "out/copy",
            ],
        },
        Step {
            name: "install --dry-run --json over an installed generation",
            program: "secrets",
            args: |_| Vec::new(),
            editor: None,
            run: |e| {
                // db2.age holds marker2: the dry run compares it with the installed marker.
                let r = secrets::keys::Recipient::parse(&common::pubkey("alice_ed25519")).unwrap();
                let c = secrets::crypto::encrypt(e.marker2.as_bytes(), &[r], false).unwrap();
                std::fs::write(e.p().join("db2.age"), c).unwrap();
                manifest(e, "m.json", SECRETS, &app_template());
                manifest(
                    e,
                    "m2.json",
                    &SECRETS.replace("@/db.age", "@/db2.age"),
                    &app_template(),
                );
                Run::Namespace(
                    r#""$SECRETS" install --manifest m.json >/dev/null 2>&1 || exit 90
                       "$SECRETS" -v install --dry-run --json --manifest m2.json"#
                        .into(),
                )
            },
            ends: Ends::Ok,
            prints_secret: false,
            intended: &[
                "run/agenix.d/1/db",
                "run/agenix.d/1/copy",
                "run/agenix.d/1/rendered/app.env",
                "out/copy",
            ],
        },
        Step {
            name: "install with a failing secret and a template using it",
            program: "secrets",
            args: |_| Vec::new(),
            editor: None,
            run: |e| {
                // A second install where db2 (marker2, now cut short) fails: db keeps its value,
                // the template that needs db2 keeps its previous rendering.
                let r = secrets::keys::Recipient::parse(&common::pubkey("alice_ed25519")).unwrap();
                let c = secrets::crypto::encrypt(e.marker2.as_bytes(), &[r], false).unwrap();
                std::fs::write(e.p().join("db2.age"), &c).unwrap();
                std::fs::write(e.p().join("cut.age"), &c[..c.len() - 3]).unwrap();
                let both = SECRETS.replacen('{', r#"{"db2": {"file": "@/db2.age"}, "#, 1);
                let t = serde_json::json!({"two.env": {"content": format!(
                    "A={}
B={}
", placeholder("db"), placeholder("db2")
                )}})
                .to_string();
                manifest(e, "m.json", &both, &t);
                manifest(e, "m2.json", &both.replace("@/db2.age", "@/cut.age"), &t);
                Run::Namespace(
                    r#""$SECRETS" install --manifest m.json >/dev/null 2>&1 || exit 90
                       "$SECRETS" -v install --json --manifest m2.json"#
                        .into(),
                )
            },
            ends: Ends::Fails("secret db2: cannot decrypt"),
            prints_secret: false,
            // Generation 1 is pruned (keepGenerations = 1); db2 and two.env are carried over.
            intended: &[
                "run/agenix.d/2/db",
                "run/agenix.d/2/db2",
                "run/agenix.d/2/copy",
                "run/agenix.d/2/rendered/two.env",
                "out/copy",
            ],
        },
    ]
}
