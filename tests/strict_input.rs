//! Manifests and rules that mean something other than what a reader sees: duplicate JSON keys
//! (serde_json alone keeps the last one), owner or group 4294967295 (chown's "leave
//! unchanged"), names and paths with control or bidirectional formatting characters (U+202E).
//! Each is refused with a message naming the item and the character as an escaped code point,
//! and nothing is mounted or written: through `install --check` and `install --dry-run`, and
//! for the worst ones by a real install as root in a private mount namespace, where today's
//! code would install a file other than the one the manifest appears to ask for.

#![cfg(target_os = "linux")] // unshare, /proc/self/mountinfo, bind mounts

mod common;
mod install_support;

use std::path::{Path, PathBuf};

use install_support::{in_private_ns, mounts_at, text, Env};
use serde_json::{json, Value};

/// Bidirectional-override and control characters that must never reach a terminal raw.
const RAW: [char; 4] = ['\u{202E}', '\u{7}', '\u{85}', '\u{2066}'];

/// The manifest of `env` with `secrets`, then `from` replaced by `to` in its text (how a
/// duplicate key gets in: serde_json cannot write one).
fn manifest_text(env: &Env, secrets: Value, from: &str, to: &str) -> PathBuf {
    let v = env.manifest_value(secrets, json!({}));
    let text = serde_json::to_string_pretty(&v).unwrap();
    assert!(
        from.is_empty() || text.contains(from),
        "{from} not in {text}"
    );
    let text = if from.is_empty() {
        text
    } else {
        text.replacen(from, to, 1)
    };
    let p = env.path().join("manifest.json");
    std::fs::write(&p, text).unwrap();
    p
}

/// `install` with `args` on `manifest` must fail with every one of `needles` on stderr, no
/// raw forbidden character in its output, nothing written below the env and nothing mounted.
fn refused(env: &Env, manifest: &Path, args: &[&str], needles: &[&str]) -> Result<(), String> {
    let before = common::full_snapshot(env.path());
    let o = env.install(manifest, args);
    let all = text(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        return Err(format!("{args:?} accepted it:\n{all}"));
    }
    if let Some(n) = needles.iter().find(|n| !err.contains(*n)) {
        return Err(format!("{args:?}: stderr lacks {n:?}:\n{all}"));
    }
    if all.chars().any(|c| RAW.contains(&c)) {
        return Err(format!(
            "{args:?}: a raw forbidden character in the output:\n{all:?}"
        ));
    }
    if common::full_snapshot(env.path()) != before || !mounts_at(&env.mp()).is_empty() {
        return Err(format!(
            "{args:?}: something was written or mounted:\n{all}"
        ));
    }
    Ok(())
}

/// Rows hold `&'static str`; a few are built at run time.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// One row: a label, the secrets, a text substitution (for duplicates), what stderr must say.
type Case = (
    &'static str,
    Value,
    &'static str,
    &'static str,
    Vec<&'static str>,
);

fn cases(env: &Env) -> Vec<Case> {
    let good = env.encrypt("good", b"x");
    let outside = env.path().join("out");
    let p = |s: &str| format!("{}/{s}", outside.display());
    let ph = secrets::install::template::placeholder("s");
    vec![
        // Duplicates: the second "version" is the one serde_json keeps; a reader sees 2.
        (
            "duplicate version",
            json!({"s": {"file": good}}),
            r#""version": 1"#,
            r#""version": 2, "version": 1"#,
            vec!["duplicate entry \"version\"", "manifest.json"],
        ),
        (
            "duplicate key in a secret object",
            json!({"s": {"file": good, "mode": "0400"}}),
            r#""mode": "0400""#,
            r#""mode": "0400", "mode": "0444""#,
            vec!["duplicate entry \"mode\"", "line"],
        ),
        (
            "duplicate secret attribute",
            json!({"s": {"file": good, "mode": "0400"}}),
            r#""s": {"#,
            r#""s": {"file": "/nowhere.age"}, "s": {"#,
            vec!["duplicate entry \"s\""],
        ),
        (
            "duplicate top-level setting",
            json!({"s": {"file": good}}),
            r#""restartMode": "none""#,
            r#""restartMode": "none", "restartMode": "systemctl""#,
            vec!["duplicate entry \"restartMode\""],
        ),
        // (uid_t)-1 and (gid_t)-1: chown would leave the file root's without a word.
        (
            "owner 4294967295",
            json!({"s": {"file": good, "owner": "4294967295"}}),
            "",
            "",
            vec!["secret \"s\"", "owner id 4294967295", "(uid_t)-1"],
        ),
        (
            "group 4294967295",
            json!({"s": {"file": good, "group": "4294967295"}}),
            "",
            "",
            vec!["secret \"s\"", "group id 4294967295", "(gid_t)-1"],
        ),
        (
            "template owner 4294967295",
            json!({"s": {"file": good}}),
            r#""version": 1"#,
            leak(format!(
                r#""version": 1, "templates": {{"t": {{"content": "{ph}", "owner": "4294967295"}}}}"#
            )),
            vec!["template \"t\"", "(uid_t)-1"],
        ),
        // Names and paths with control and bidirectional formatting characters.
        (
            "U+202E in a secret name",
            json!({"s": {"file": good, "name": "db\u{202E}txt.age"}}),
            "",
            "",
            vec![
                "secret \"s\" name",
                "U+202E",
                "db\\u{202E}txt.age",
                "remove it",
            ],
        ),
        (
            "U+202E in an attribute name",
            json!({"cert\u{202E}yek.pem": {"file": good, "name": "cert"}}),
            "",
            "",
            vec!["secret attribute name", "U+202E"],
        ),
        (
            "U+2066 in a path",
            json!({"s": {"file": good, "path": p("x\u{2066}y")}}),
            "",
            "",
            vec!["secret \"s\" path", "U+2066"],
        ),
        (
            "U+0007 in a path",
            json!({"s": {"file": good, "path": p("bell\u{7}")}}),
            "",
            "",
            vec!["secret \"s\" path", "U+0007"],
        ),
        (
            "newline in an attribute name",
            json!({"a\nb": {"file": good, "name": "ab"}}),
            "",
            "",
            vec!["secret attribute name", "U+000A"],
        ),
        (
            "C1 control in the file path",
            json!({"s": {"file": format!("{}\u{85}", good.display())}}),
            "",
            "",
            vec!["secret \"s\" file", "U+0085"],
        ),
        (
            "U+202E in a template name",
            json!({"s": {"file": good}}),
            r#""version": 1"#,
            leak(format!(
                r#""version": 1, "templates": {{"t": {{"content": "{ph}", "name": "a\u202Eb"}}}}"#
            )),
            vec!["template \"t\" name", "U+202E"],
        ),
    ]
}

/// Every case through `install --check` and `install --dry-run`.
#[test]
fn misleading_manifests_are_refused_by_check_and_dry_run() {
    let env = Env::new();
    let mut failures = Vec::new();
    for (label, secrets, from, to, needles) in cases(&env) {
        let m = manifest_text(&env, secrets, from, to);
        for args in [&["--check"][..], &["--dry-run"][..]] {
            if let Err(e) = refused(&env, &m, args, &needles) {
                failures.push(format!("{label}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A real install (root, private mount namespace) of what today's code would install
/// differently from what the manifest appears to ask for: a mode hidden behind a duplicate
/// key, owner (uid_t)-1, a user the user database maps to 4294967295, a bidi-reversed name.
#[test]
fn misleading_manifests_install_nothing() {
    if !in_private_ns("misleading_manifests_install_nothing") {
        return;
    }
    let env = Env::new();
    // A user and a group whose id is (uid_t)-1 / (gid_t)-1, through NSS's files backend:
    // copies of /etc/passwd and /etc/group with one more line, bind-mounted over the real ones
    // inside this private mount namespace only.
    for (db, line) in [
        ("passwd", "minusone:x:4294967295:0::/:/bin/false"),
        ("group", "minusone:x:4294967295:"),
    ] {
        let real = Path::new("/etc").join(db);
        let fake = env.path().join(db);
        let mut text = std::fs::read_to_string(&real).unwrap();
        text.push_str(&format!("{line}\n"));
        std::fs::write(&fake, text).unwrap();
        let ok = std::process::Command::new("mount")
            .arg("--bind")
            .arg(&fake)
            .arg(&real)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot bind-mount over {}", real.display());
    }
    let good = env.encrypt("good", b"x");
    let rows: Vec<Case> = vec![
        (
            "hidden mode",
            json!({"s": {"file": good, "mode": "0400"}}),
            r#""mode": "0400""#,
            r#""mode": "0400", "mode": "0444""#,
            vec!["duplicate entry \"mode\""],
        ),
        (
            "owner id 4294967295",
            json!({"s": {"file": good, "owner": "4294967295"}}),
            "",
            "",
            vec!["(uid_t)-1"],
        ),
        (
            "user named minusone with uid 4294967295",
            json!({"s": {"file": good, "owner": "minusone"}}),
            "",
            "",
            vec!["\"minusone\"", "(uid_t)-1"],
        ),
        (
            "group named minusone with gid 4294967295",
            json!({"s": {"file": good, "group": "minusone"}}),
            "",
            "",
            vec!["\"minusone\"", "(gid_t)-1"],
        ),
        (
            "bidi-reversed name",
            json!({"s": {"file": good, "name": "cert\u{202E}yek.pem"}}),
            "",
            "",
            vec!["U+202E"],
        ),
    ];
    let mut failures = Vec::new();
    for (label, secrets, from, to, needles) in rows {
        let m = manifest_text(&env, secrets, from, to);
        // A name is resolved when its secret is installed, after the tmpfs is mounted: there
        // the secret must be refused and missing, the rest of the run may go on.
        let res = if label.contains("named minusone") {
            let o = env.install(&m, &[]);
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            let missing = !env.stable().join("s").exists()
                && common::full_snapshot(&env.mp())
                    .iter()
                    .all(|(p, ..)| !p.ends_with("/s"));
            match needles.iter().find(|n| !err.contains(*n)) {
                _ if o.status.success() => Err(format!("accepted:\n{}", text(&o))),
                Some(n) => Err(format!("stderr lacks {n:?}:\n{}", text(&o))),
                None if !missing => Err(format!("s was installed:\n{}", text(&o))),
                None => Ok(()),
            }
        } else {
            refused(&env, &m, &[], &needles)
        };
        if let Err(e) = res {
            failures.push(format!("{label}: {e}"));
        }
        // Whatever happened, start the next row from nothing installed.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(env.mp())
            .status();
        let _ = std::fs::remove_file(env.stable());
        let _ = std::fs::remove_dir_all(env.mp());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `secrets.json` / `secrets.nix`: a rule name with U+202E would name an encrypted file that
/// displays as another; `encrypt` must refuse it before writing anything.
#[test]
fn rule_names_with_bidi_or_control_characters_are_refused() {
    let repo = common::Repo::new();
    let mut failures = Vec::new();
    for (name, code) in [
        ("pass\u{202E}txt.age", "U+202E"),
        ("bell\u{7}.age", "U+0007"),
        ("c1\u{85}.age", "U+0085"),
    ] {
        let escaped = serde_json::to_string(name).unwrap();
        repo.json_rules(&format!(r#"{{{escaped}: {{"publicKeys": ["alice"]}}}}"#));
        let before = repo.snapshot();
        let o = repo
            .cmd()
            .args(["encrypt", name])
            .write_stdin("secret")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        if o.status.success()
            || !err.contains(code)
            || !err.contains("secret name")
            || err.chars().any(|c| RAW.contains(&c))
            || repo.snapshot() != before
        {
            failures.push(format!("{escaped}: {:?} {err:?}", o.status.code()));
        }
    }
    // The same through secrets.nix, if Nix is here.
    if !common::missing("nix-instantiate") {
        std::fs::remove_file(repo.path().join("secrets.json")).unwrap();
        let alice = common::pubkey("alice_ed25519");
        repo.write(
            "secrets.nix",
            format!("{{ \"x\u{202E}y.age\".publicKeys = [ \"{alice}\" ]; }}"),
        );
        let before = repo.snapshot();
        let o = repo
            .cmd()
            .args(["encrypt", "x\u{202E}y.age"])
            .write_stdin("secret")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        if o.status.success() || !err.contains("U+202E") || repo.snapshot() != before {
            failures.push(format!("secrets.nix: {:?} {err:?}", o.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Invisible characters: `db\u{200B}.age` beside `db.age` prints exactly like it, and so do a
/// line separator, a byte-order mark, a soft hyphen, a tag character, a variation selector, a
/// Hangul filler, a combining grapheme joiner and a hair space. `check`, `encrypt` and
/// `rekey` must refuse the rules naming the code point, never print it raw and write nothing.
/// Today's main accepts every one of them.
#[test]
fn rule_names_with_invisible_characters_are_refused() {
    let invisible = [
        '\u{200B}',
        '\u{2028}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{E0041}',
        '\u{FE0F}',
        '\u{3164}',
        '\u{034F}',
        '\u{200A}',
    ];
    let mut failures = Vec::new();
    for c in invisible {
        let code = format!("U+{:04X}", c as u32);
        let name = format!("db{c}.age");
        let repo = common::Repo::new();
        repo.json_rules(&format!(
            r#"{{"db.age": {{"publicKeys": ["alice"]}}, {}: {{"publicKeys": ["alice"]}}}}"#,
            serde_json::to_string(&name).unwrap()
        ));
        // Both files exist and open, so that `check` has nothing else to complain about.
        let alice = secrets::keys::Recipient::parse(&common::pubkey("alice_ed25519"));
        let cipher = secrets::crypto::encrypt(b"x", &[alice.unwrap()], false).unwrap();
        repo.write("db.age", &cipher);
        repo.write(&name, &cipher);
        let before = repo.snapshot();
        for args in [vec!["check"], vec!["encrypt", &name], vec!["rekey"]] {
            let o = repo
                .cmd()
                .args(&args)
                .write_stdin("secret")
                .output()
                .unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let escaped = format!("db\\u{{{:04X}}}.age", c as u32);
            if o.status.success()
                || !out.contains(&code)
                || !out.contains(&escaped)
                || !out.contains("secret name")
                || out.contains(c)
                || repo.snapshot() != before
            {
                failures.push(format!("{code} {args:?}: {:?} {out:?}", o.status.code()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
