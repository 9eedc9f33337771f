//! The bad-input matrix: malformed rules, `.age` files, keys, paths and environments. Every case
//! must end in a non-zero exit, a message on stderr that names the item (file, key or secret)
//! and says what is wrong or how to fix it, nothing on stdout, and no file created or changed
//! (the scratch directory, which is also HOME, is snapshotted before and after).
//!
//! The matrix is one table (`rows!`); a row is a test name, a description, the tools it needs,
//! a setup function that writes files and sets the command line, and the fragments stderr must
//! contain. Each row is its own test: `cargo test --test bad_input rsa_1024` runs one.
//!
//! Rows for the newer commands use three extras a setup may set on its `Ctx`:
//! - `report`: the command is `check --json`, whose report on stdout is its output channel:
//!   stdout must be a report with `ok: false` and a problem of that kind naming a file, and the
//!   fragments are looked for in the report and stderr together.
//! - `changes`: files that must change (rekey goes on past a bad file); all others must not.
//! - `variants`: more command lines run against a fresh copy of the same setup with the same
//!   expectations (each install row runs as `install --check` and as `install --dry-run`).

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use common::{key, mkfifo, placeholder, pubkey, Repo};

/// What a case sets up: the command line, extra environment, stdin.
struct Ctx<'a> {
    repo: &'a Repo,
    args: Vec<OsString>,
    env: Vec<(&'static str, Option<OsString>)>,
    stdin: Vec<u8>,
    /// `check --json`: the problem kind the report must contain.
    report: Option<&'static str>,
    /// Files (relative) that must change; everything else must stay as it was.
    changes: Vec<&'static str>,
    /// Run after the command; returns what is wrong with the result, if anything.
    verify: Option<fn(&Path) -> Option<String>>,
    /// Other command lines for the same setup and expectations.
    variants: Vec<Vec<OsString>>,
}

impl Ctx<'_> {
    fn p(&self) -> &Path {
        self.repo.path()
    }
    fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(&mut self, a: I) {
        self.args = a.into_iter().map(Into::into).collect();
    }
    /// Rules with one secret `db.age` for alice.
    fn db_rules(&self) {
        self.repo
            .json_rules(r#"{"db.age": {"publicKeys": ["alice"]}}"#);
    }
    /// Rules for `db.age` plus an encrypted db.age (to alice, binary) holding `content`.
    fn db_encrypted(&self, armor: bool) -> Vec<u8> {
        self.db_rules();
        let r = secrets::keys::Recipient::parse(&pubkey("alice_ed25519")).unwrap();
        let c = secrets::crypto::encrypt(b"the secret", &[r], armor).unwrap();
        self.repo.write("db.age", &c);
        c
    }
    fn decrypt_db(&mut self) {
        let k = key("alice_ed25519");
        self.args([
            "decrypt".into(),
            "db.age".into(),
            "-i".into(),
            k.into_os_string(),
        ]);
    }
    fn decrypt_db_with(&mut self, id: impl Into<OsString>) {
        self.args(["decrypt".into(), "db.age".into(), "-i".into(), id.into()]);
    }
    /// `encrypt db.age` from stdin: the command that would write if validation let it through.
    fn encrypt_db(&mut self) {
        self.args(["encrypt", "db.age"]);
        self.stdin = b"new value".to_vec();
    }
    fn json(&self, text: &str) {
        self.repo.write("secrets.json", text);
    }
    fn nix(&mut self, text: &str) {
        self.repo.write("secrets.nix", text);
    }
    /// `name` encrypted (binary) to the named test keys.
    fn encrypted(&self, name: &str, keys: &[&str], value: &[u8]) {
        let rs: Vec<_> = keys
            .iter()
            .map(|k| secrets::keys::Recipient::parse(&pubkey(k)).unwrap())
            .collect();
        let c = secrets::crypto::encrypt(value, &rs, false).unwrap();
        self.repo.write(name, c);
    }
    /// Rules asking for alice and bob on `names`, whose files are encrypted to alice only, so
    /// a rekey has work to do on each of them.
    fn drifted(&self, names: &[&str]) {
        let rules: Vec<String> = names
            .iter()
            .map(|n| format!(r#""{n}": {{"publicKeys": ["alice", "bob"]}}"#))
            .collect();
        self.repo.json_rules(&format!("{{{}}}", rules.join(", ")));
        for n in names {
            self.encrypted(n, &["alice_ed25519"], format!("value of {n}").as_bytes());
        }
    }
    fn rekey_as_alice(&mut self, files: &[&str]) {
        let mut a: Vec<OsString> = vec!["rekey".into()];
        a.extend(files.iter().map(OsString::from));
        a.extend(["-i".into(), key("alice_ed25519").into_os_string()]);
        self.args = a;
    }
    fn check_json(&mut self, kind: &'static str) {
        self.args(["check", "--json"]);
        self.report = Some(kind);
    }
    /// A manifest: `common::manifest_value`'s defaults (every path inside the scratch dir),
    /// alice's key as the identity, secret db from db.age (db.age and api.age encrypted to
    /// alice) with the top-level fields of `overlay`
    /// put over them; `@` in `overlay` stands for the scratch dir. Runs `install --check`, and
    /// `install --dry-run` as a variant.
    fn install(&mut self, overlay: &str) {
        let p = self.p().display().to_string();
        let o: serde_json::Value = serde_json::from_str(&overlay.replace('@', &p)).unwrap();
        let secrets = serde_json::json!({"db": {"file": self.p().join("db.age")}});
        let m = common::manifest_value(self.p(), &key("alice_ed25519"), secrets, o);
        self.install_raw(&m.to_string());
    }
    /// `install` with the manifest text as given.
    fn install_raw(&mut self, text: &str) {
        self.encrypted("db.age", &["alice_ed25519"], b"db value");
        self.encrypted("api.age", &["alice_ed25519"], b"api value");
        self.repo.write("m.json", text);
        self.args(["install", "--check", "--manifest", "m.json"]);
        self.variants = vec![["install", "--dry-run", "--manifest", "m.json"]
            .iter()
            .map(OsString::from)
            .collect()];
    }
    /// Only `install --check` (what the other mode does not look at).
    fn check_only(&mut self) {
        self.variants.clear();
    }
}

fn bad(name: &str) -> PathBuf {
    key(&format!("bad/{name}"))
}

fn bad_pub(name: &str) -> String {
    std::fs::read_to_string(bad(&format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

/// Rules with key `k` set to `text`, used by secret `db.age`.
fn rules_with_key(c: &Ctx, text: &str) {
    let v = serde_json::json!({
        "keys": {"k": text},
        "secrets": {"db.age": {"publicKeys": ["k"]}},
    });
    c.json(&v.to_string());
}

fn nix_rule(c: &mut Ctx, body: &str) {
    c.nix(&format!(
        "let alice = \"{}\"; in {{ {body} }}",
        pubkey("alice_ed25519")
    ));
}

struct Case {
    name: &'static str,
    needs: &'static [&'static str],
    setup: fn(&mut Ctx),
    /// Fragments stderr must contain: the item named, then the reason or the fix.
    expect: &'static [&'static str],
}

const NIX: &[&str] = &["nix-instantiate"];

/// The table: `test_name => Case {..},`. Each row becomes its own `#[test]` named `test_name`,
/// so rows run in parallel and can be picked by name (`cargo test --test bad_input rsa`), and
/// the harness counts the rows that really ran; `ROWS` lists them all.
macro_rules! rows {
    ($($test:ident => $case:expr,)*) => {
        $(
            #[test]
            fn $test() {
                run_row(&$case);
            }
        )*
        const ROWS: &[&str] = &[$(stringify!($test)),*];
    };
}

rows! {
    // ---- rules: secrets.json ----
    json_unknown_top_level_field => Case {
        name: "json: unknown top-level field",
        needs: &[],
        setup: |c| {
            c.json(r#"{"secrets": {}, "extra": 1}"#);
            c.encrypt_db();
        },
        expect: &["secrets.json", "unknown field `extra`", "secrets schema"],
    },
    json_unknown_field_in_a_rule => Case {
        name: "json: unknown field in a rule",
        needs: &[],
        setup: |c| {
            c.repo
                .json_rules(r#"{"db.age": {"publicKeys": ["alice"], "mode": "0400"}}"#);
            c.encrypt_db();
        },
        expect: &["secrets.json", "unknown field `mode`", "publicKeys"],
    },
    json_duplicate_secret => Case {
        name: "json: duplicate secret",
        needs: &[],
        setup: |c| {
            c.repo.json_rules(
                r#"{"db.age": {"publicKeys": ["alice"]}, "db.age": {"publicKeys": ["bob"]}}"#,
            );
            c.encrypt_db();
        },
        expect: &[
            "secrets.json",
            "duplicate entry \"db.age\"",
            "may appear once",
        ],
    },
    json_duplicate_key_name => Case {
        name: "json: duplicate key name",
        needs: &[],
        setup: |c| {
            let a = pubkey("alice_ed25519");
            c.json(&format!(
                r#"{{"keys": {{"a": "{a}", "a": "{a}"}}, "secrets": {{"db.age": {{"publicKeys": ["a"]}}}}}}"#
            ));
            c.encrypt_db();
        },
        expect: &["secrets.json", "duplicate entry \"a\""],
    },
    json_group_cycle => Case {
        name: "json: group cycle",
        needs: &[],
        setup: |c| {
            let a = pubkey("alice_ed25519");
            c.json(&format!(
                r#"{{"keys": {{"alice": "{a}"}}, "groups": {{"ops": ["alice", "devs"], "devs": ["ops"]}},
                   "secrets": {{"db.age": {{"publicKeys": ["ops"]}}}}}}"#
            ));
            c.encrypt_db();
        },
        expect: &[
            "secret \"db.age\"",
            "group cycle",
            "must not contain itself",
        ],
    },
    json_key_and_group_with_the_same_name => Case {
        name: "json: key and group with the same name",
        needs: &[],
        setup: |c| {
            let a = pubkey("alice_ed25519");
            c.json(&format!(
                r#"{{"keys": {{"ops": "{a}"}}, "groups": {{"ops": ["ops"]}},
                   "secrets": {{"db.age": {{"publicKeys": ["ops"]}}}}}}"#
            ));
            c.encrypt_db();
        },
        expect: &["\"ops\"", "both a key and a group", "rename"],
    },
    json_dotdot_in_a_secret_name => Case {
        name: "json: `..` in a secret name",
        needs: &[],
        setup: |c| {
            c.repo
                .json_rules(r#"{"../escape.age": {"publicKeys": ["alice"]}}"#);
            c.args(["encrypt", "../escape.age"]);
            c.stdin = b"x".to_vec();
        },
        expect: &[
            "secret \"../escape.age\"",
            "outside the rules file's directory",
        ],
    },
    json_absolute_secret_name => Case {
        name: "json: absolute secret name",
        needs: &[],
        setup: |c| {
            c.repo
                .json_rules(r#"{"/tmp/abs-secret.age": {"publicKeys": ["alice"]}}"#);
            c.args(["encrypt", "/tmp/abs-secret.age"]);
            c.stdin = b"x".to_vec();
        },
        expect: &[
            "secret \"/tmp/abs-secret.age\"",
            "absolute paths are not allowed",
        ],
    },
    json_no_recipients => Case {
        name: "json: no recipients",
        needs: &[],
        setup: |c| {
            c.repo.json_rules(r#"{"db.age": {"publicKeys": []}}"#);
            c.encrypt_db();
        },
        expect: &[
            "secret \"db.age\" has no recipients",
            "at least one public key",
        ],
    },
    json_undefined_key_reference => Case {
        name: "json: undefined key reference",
        needs: &[],
        setup: |c| {
            c.repo
                .json_rules(r#"{"db.age": {"publicKeys": ["mallory"]}}"#);
            c.encrypt_db();
        },
        expect: &[
            "\"mallory\" is not a defined key or group",
            "define it under \"keys\"",
        ],
    },
    json_invalid_ssh_ed25519_key => Case {
        name: "json: invalid ssh-ed25519 key",
        needs: &[],
        setup: |c| {
            rules_with_key(c, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken");
            c.encrypt_db();
        },
        expect: &["key \"k\"", "ssh-ed25519"],
    },
    json_age_private_key_pasted_as_public => Case {
        name: "json: age private key pasted as public",
        needs: &[],
        setup: |c| {
            let sk = std::fs::read_to_string(key("dave_age.key")).unwrap();
            let line = sk
                .lines()
                .find(|l| l.starts_with("AGE-SECRET-KEY-"))
                .unwrap();
            rules_with_key(c, line);
            c.encrypt_db();
        },
        expect: &["key \"k\"", "private", "age-keygen -y"],
    },
    json_openssh_private_key_pasted_as_public => Case {
        name: "json: OpenSSH private key pasted as public",
        needs: &[],
        setup: |c| {
            let sk = std::fs::read_to_string(key("alice_ed25519")).unwrap();
            rules_with_key(c, &sk);
            c.encrypt_db();
        },
        expect: &[
            "key \"k\"",
            "private key, not a public one",
            "ssh-keygen -y",
        ],
    },
    json_rsa_1024_public_key => Case {
        name: "json: RSA 1024 public key",
        needs: &[],
        setup: |c| {
            rules_with_key(c, &bad_pub("rsa1024"));
            c.encrypt_db();
        },
        expect: &["key \"k\"", "1024 bits", "too weak"],
    },
    json_rsa_8192_public_key => Case {
        name: "json: RSA 8192 public key",
        needs: &[],
        setup: |c| {
            rules_with_key(c, &bad_pub("rsa8192"));
            c.encrypt_db();
        },
        expect: &["key \"k\"", "8192 bits", "2048–4096"],
    },
    json_ecdsa_public_key => Case {
        name: "json: ecdsa public key",
        needs: &[],
        setup: |c| {
            rules_with_key(c, &bad_pub("ecdsa"));
            c.encrypt_db();
        },
        expect: &[
            "key \"k\"",
            "ecdsa-sha2-nistp256 keys are not supported",
            "ssh-ed25519",
        ],
    },
    json_fido_sk_key => Case {
        name: "json: FIDO sk key",
        needs: &[],
        setup: |c| {
            rules_with_key(
                c,
                "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t",
            );
            c.encrypt_db();
        },
        expect: &["key \"k\"", "hardware security key", "age plugin"],
    },
    json_bad_age1_checksum => Case {
        name: "json: bad age1 checksum",
        needs: &[],
        setup: |c| {
            let mut a = pubkey("dave_age");
            a.pop();
            a.push(if a.ends_with('q') { 'p' } else { 'q' });
            rules_with_key(c, &a);
            c.encrypt_db();
        },
        expect: &["key \"k\"", "invalid age recipient", "checksum"],
    },
    json_syntax_error => Case {
        name: "json: syntax error",
        needs: &[],
        setup: |c| {
            c.json(r#"{"secrets": {"db.age": {"publicKeys": ["#);
            c.encrypt_db();
        },
        expect: &["secrets.json", "line 1", "secrets schema"],
    },
    json_missing_secrets => Case {
        name: "json: missing secrets",
        needs: &[],
        setup: |c| {
            c.json(r#"{"keys": {}}"#);
            c.encrypt_db();
        },
        expect: &["secrets.json", "missing field `secrets`"],
    },
    json_two_names_for_one_file => Case {
        name: "json: two names for one file",
        needs: &[],
        setup: |c| {
            c.repo.json_rules(
                r#"{"db.age": {"publicKeys": ["alice"]}, "./db.age": {"publicKeys": ["bob"]}}"#,
            );
            c.encrypt_db();
        },
        expect: &[
            "names the same file as another rule (\"db.age\")",
            "keep one",
        ],
    },
    json_not_utf_8 => Case {
        name: "json: not UTF-8",
        needs: &[],
        setup: |c| {
            c.repo
                .write("secrets.json", b"{\"secrets\": {\"\xff.age\": {}}}");
            c.encrypt_db();
        },
        expect: &["secrets.json", "valid UTF-8"],
    },
    rules_rules_points_to_a_missing_file => Case {
        name: "rules: RULES points to a missing file",
        needs: &[],
        setup: |c| {
            c.env.push(("RULES", Some("nope/secrets.json".into())));
            c.encrypt_db();
        },
        expect: &["nope/secrets.json", "no such file"],
    },
    rules_none_in_the_directory => Case {
        name: "rules: none in the directory",
        needs: &[],
        setup: |c| c.encrypt_db(),
        expect: &["no rules file", "--rules PATH"],
    },
    rules_dangling_symlink => Case {
        name: "rules: dangling symlink",
        needs: &[],
        setup: |c| {
            std::os::unix::fs::symlink("gone.json", c.p().join("secrets.json")).unwrap();
            c.encrypt_db();
        },
        expect: &["secrets.json", "no such file"],
    },
    // ---- rules: secrets.nix ----
    nix_unknown_attribute_in_a_rule => Case {
        name: "nix: unknown attribute in a rule",
        needs: NIX,
        setup: |c| {
            nix_rule(
                c,
                r#""db.age" = { publicKeys = [ alice ]; mode = "0400"; };"#,
            );
            c.encrypt_db();
        },
        expect: &["secrets.nix", "\"db.age\"", "unknown field `mode`"],
    },
    nix_dotdot_in_a_secret_name => Case {
        name: "nix: `..` in a secret name",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""../x.age".publicKeys = [ alice ];"#);
            c.encrypt_db();
        },
        expect: &["secret \"../x.age\"", "outside the rules file's directory"],
    },
    nix_absolute_secret_name => Case {
        name: "nix: absolute secret name",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""/etc/x.age".publicKeys = [ alice ];"#);
            c.encrypt_db();
        },
        expect: &["secret \"/etc/x.age\"", "absolute paths are not allowed"],
    },
    nix_no_recipients => Case {
        name: "nix: no recipients",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ ];"#);
            c.encrypt_db();
        },
        expect: &["secret \"db.age\" has no recipients"],
    },
    nix_invalid_key => Case {
        name: "nix: invalid key",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ "ssh-ed25519 garbage" ];"#);
            c.encrypt_db();
        },
        expect: &["secret \"db.age\"", "ssh-ed25519"],
    },
    nix_duplicate_attribute => Case {
        name: "nix: duplicate attribute",
        needs: NIX,
        setup: |c| {
            nix_rule(
                c,
                r#""db.age".publicKeys = [ alice ]; "db.age".publicKeys = [ alice ];"#,
            );
            c.encrypt_db();
        },
        expect: &["secrets.nix", "already defined"],
    },
    nix_syntax_error => Case {
        name: "nix: syntax error",
        needs: NIX,
        setup: |c| {
            c.nix(r#"{ "db.age" = "#);
            c.encrypt_db();
        },
        expect: &["secrets.nix", "nix-instantiate could not evaluate it"],
    },
    nix_not_an_attribute_set => Case {
        name: "nix: not an attribute set",
        needs: NIX,
        setup: |c| {
            c.nix("[ 1 2 ]");
            c.encrypt_db();
        },
        expect: &["secrets.nix", "must evaluate to an attribute set"],
    },
    // ---- .age files ----
    age_empty_file => Case {
        name: "age: empty file",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.repo.write("db.age", b"");
            c.decrypt_db();
        },
        expect: &["db.age", "empty file, not an age file"],
    },
    age_plaintext_committed => Case {
        name: "age: plaintext committed",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.repo.write("db.age", b"hunter2\n");
            c.decrypt_db();
        },
        expect: &["db.age", "not an age file", "committed unencrypted"],
    },
    age_truncated_in_the_header => Case {
        name: "age: truncated in the header",
        needs: &[],
        setup: |c| {
            let f = c.db_encrypted(false);
            c.repo.write("db.age", &f[..40]);
            c.decrypt_db();
        },
        expect: &["db.age", "truncated header"],
    },
    age_truncated_payload => Case {
        name: "age: truncated payload",
        needs: &[],
        setup: |c| {
            let f = c.db_encrypted(false);
            c.repo.write("db.age", &f[..f.len() - 20]);
            c.decrypt_db();
        },
        expect: &["db.age", "truncated file"],
    },
    age_last_payload_byte_cut => Case {
        name: "age: last payload byte cut",
        needs: &[],
        setup: |c| {
            let f = c.db_encrypted(false);
            c.repo.write("db.age", &f[..f.len() - 1]);
            c.decrypt_db();
        },
        expect: &["db.age", "the encrypted payload is damaged"],
    },
    age_bit_flipped_in_the_stanza_body => Case {
        name: "age: bit flipped in the stanza body",
        needs: &[],
        setup: |c| {
            let mut f = c.db_encrypted(false);
            // Second line of the stanza: the wrapped file key.
            let i = nth_line_start(&f, 2) + 5;
            f[i] = if f[i] == b'A' { b'B' } else { b'A' };
            c.repo.write("db.age", &f);
            c.decrypt_db();
        },
        expect: &[
            "db.age",
            "decryption failed (file corrupted or tampered with)",
        ],
    },
    age_bit_flipped_in_the_header_mac => Case {
        name: "age: bit flipped in the header MAC",
        needs: &[],
        setup: |c| {
            let mut f = c.db_encrypted(false);
            let i = find(&f, b"\n--- ") + 8;
            f[i] = if f[i] == b'A' { b'B' } else { b'A' };
            c.repo.write("db.age", &f);
            c.decrypt_db();
        },
        expect: &["db.age", "header does not authenticate"],
    },
    age_bit_flipped_in_the_payload => Case {
        name: "age: bit flipped in the payload",
        needs: &[],
        setup: |c| {
            let mut f = c.db_encrypted(false);
            let n = f.len();
            f[n - 5] ^= 0x01;
            c.repo.write("db.age", &f);
            c.decrypt_db();
        },
        expect: &["db.age", "the encrypted payload is damaged"],
    },
    age_armor_with_a_damaged_line => Case {
        name: "age: armor with a damaged line",
        needs: &[],
        setup: |c| {
            let f = c.db_encrypted(true);
            let mut t = String::from_utf8(f).unwrap();
            let i = t.find('\n').unwrap() + 3;
            t.insert(i, '!');
            c.repo.write("db.age", t);
            c.decrypt_db();
        },
        expect: &["db.age", "invalid ASCII armor"],
    },
    age_armor_without_its_end_line => Case {
        name: "age: armor without its END line",
        needs: &[],
        setup: |c| {
            let f = c.db_encrypted(true);
            let t = String::from_utf8(f).unwrap();
            let cut = t.find("-----END").unwrap();
            c.repo.write("db.age", &t[..cut]);
            c.decrypt_db();
        },
        expect: &["db.age", "invalid ASCII armor"],
    },
    age_oversized_header => Case {
        name: "age: oversized header",
        needs: &[],
        setup: |c| {
            c.db_rules();
            let mut f = b"age-encryption.org/v1\n-> X25519 ".to_vec();
            f.extend(vec![b'A'; 2 << 20]);
            f.push(b'\n');
            c.repo.write("db.age", &f);
            c.decrypt_db();
        },
        expect: &["db.age", "header"],
    },
    age_unsupported_format_version => Case {
        name: "age: unsupported format version",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.repo
                .write("db.age", b"age-encryption.org/v2\n-> X25519 a\nb\n--- c\n");
            c.decrypt_db();
        },
        expect: &["db.age", "unsupported age format version"],
    },
    age_passphrase_encrypted_file => Case {
        name: "age: passphrase-encrypted file",
        needs: &[],
        setup: |c| {
            c.db_rules();
            let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
                "pw".to_string(),
            ));
            let mut out = Vec::new();
            let mut w = enc.wrap_output(&mut out).unwrap();
            std::io::Write::write_all(&mut w, b"x").unwrap();
            w.finish().unwrap();
            c.repo.write("db.age", &out);
            c.decrypt_db();
        },
        expect: &["db.age", "passphrase-encrypted (age -p)"],
    },
    age_encrypted_to_someone_else => Case {
        name: "age: encrypted to someone else",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(key("bob_rsa3072"));
        },
        expect: &[
            "db.age",
            "no identity can decrypt it",
            "bob_rsa3072",
            "secrets rekey",
        ],
    },
    // ---- keys given with -i ----
    key_not_a_key_at_all => Case {
        name: "key: not a key at all",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let k = c.repo.write("notes.txt", "just some text\n");
            c.decrypt_db_with(k);
        },
        expect: &["notes.txt", "not a private key"],
    },
    key_corrupted_openssh_key => Case {
        name: "key: corrupted OpenSSH key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let t = std::fs::read_to_string(key("alice_ed25519")).unwrap();
            let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
            lines[2] = "A".repeat(lines[2].len());
            let k = c.repo.write("broken_key", lines.join("\n") + "\n");
            c.decrypt_db_with(k);
        },
        expect: &["broken_key", "cannot parse this SSH private key"],
    },
    key_chacha20_poly1305_encrypted_openssh_key => Case {
        name: "key: chacha20-poly1305 encrypted OpenSSH key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(bad("ed25519_chacha20"));
        },
        expect: &[
            "ed25519_chacha20",
            "chacha20-poly1305",
            "ssh-keygen -p -Z aes256-ctr",
        ],
    },
    key_passphrase_protected_pem_key => Case {
        name: "key: passphrase-protected PEM key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(bad("rsa_pem_encrypted"));
        },
        expect: &[
            "rsa_pem_encrypted",
            "PEM keys are not supported",
            "ssh-keygen -p -f",
        ],
    },
    key_pkcs8_key => Case {
        name: "key: PKCS#8 key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(bad("rsa_pkcs8"));
        },
        expect: &[
            "rsa_pkcs8",
            "PKCS#8 keys are not supported",
            "ssh-keygen -p -f",
        ],
    },
    key_encrypted_pkcs8_key => Case {
        name: "key: encrypted PKCS#8 key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(bad("rsa_pkcs8_encrypted"));
        },
        expect: &["rsa_pkcs8_encrypted", "PKCS#8 keys are not supported"],
    },
    key_ecdsa_private_key => Case {
        name: "key: ecdsa private key",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(bad("ecdsa"));
        },
        expect: &["ecdsa", "not supported by age", "ssh-ed25519"],
    },
    key_public_key_given_as_identity => Case {
        name: "key: public key given as identity",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(key("alice_ed25519.pub"));
        },
        expect: &[
            "alice_ed25519.pub",
            "this is a public key",
            "private key file",
        ],
    },
    key_age_recipient_given_as_identity => Case {
        name: "key: age recipient given as identity",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with(key("dave_age.pub"));
        },
        expect: &["dave_age.pub", "this is a public key"],
    },
    key_empty_file => Case {
        name: "key: empty file",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let k = c.repo.write("empty_key", "");
            c.decrypt_db_with(k);
        },
        expect: &["empty_key", "the file is empty"],
    },
    key_binary_file => Case {
        name: "key: binary file",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let k = c.repo.write("bin_key", [0xffu8, 0xfe, 0x00, 0x80]);
            c.decrypt_db_with(k);
        },
        expect: &["bin_key", "not a text key file"],
    },
    key_missing_file => Case {
        name: "key: missing file",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.decrypt_db_with("no_such_key");
        },
        expect: &["no_such_key", "cannot read", "no such file"],
    },
    // ---- paths ----
    path_dotdot_out_of_the_rules_directory => Case {
        name: "path: `..` out of the rules directory",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.args(["encrypt", "../db.age"]);
            c.stdin = b"x".to_vec();
        },
        expect: &["../db.age", "no rule for this file"],
    },
    path_absolute_path_outside_the_rules_directory => Case {
        name: "path: absolute path outside the rules directory",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.args(["encrypt", "/tmp/outside-rules.age"]);
            c.stdin = b"x".to_vec();
        },
        expect: &[
            "/tmp/outside-rules.age",
            "no rule for this file",
            "secrets must be below the rules file's directory",
        ],
    },
    path_secret_file_is_a_symlink_loop => Case {
        name: "path: secret file is a symlink loop",
        needs: &[],
        setup: |c| {
            c.db_rules();
            std::os::unix::fs::symlink("db.age", c.p().join("db.age")).unwrap();
            c.decrypt_db();
        },
        expect: &["db.age", "symbolic links"],
    },
    path_edit_through_a_dangling_symlink => Case {
        name: "path: edit through a dangling symlink",
        needs: &[],
        setup: |c| {
            c.db_rules();
            std::os::unix::fs::symlink("/nonexistent/db.age", c.p().join("db.age")).unwrap();
            let k = key("alice_ed25519");
            c.args([
                "edit".into(),
                "db.age".into(),
                "-i".into(),
                k.into_os_string(),
            ]);
            c.stdin = b"new".to_vec();
        },
        expect: &["db.age", "cannot read", "no such file"],
    },
    path_secret_file_is_a_directory => Case {
        name: "path: secret file is a directory",
        needs: &[],
        setup: |c| {
            c.db_rules();
            std::fs::create_dir(c.p().join("db.age")).unwrap();
            c.decrypt_db();
        },
        expect: &["db.age", "cannot read", "directory"],
    },
    path_non_utf_8_file_name => Case {
        name: "path: non-UTF-8 file name",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.args(vec![
                OsString::from("encrypt"),
                OsString::from_vec(b"caf\xe9.age".to_vec()),
            ]);
            c.stdin = b"x".to_vec();
        },
        expect: &["caf\u{FFFD}.age", "no rule for this file"],
    },
    path_file_name_longer_than_the_filesystem_allows => Case {
        name: "path: file name longer than the filesystem allows",
        needs: &[],
        setup: |c| {
            let long = format!("{}.age", "n".repeat(300));
            c.repo
                .json_rules(&format!(r#"{{"{long}": {{"publicKeys": ["alice"]}}}}"#));
            c.args(["encrypt".to_string(), long]);
            c.stdin = b"x".to_vec();
        },
        expect: &["nnnnnnnn.age", "too long"],
    },
    path_decrypt_o_into_a_missing_directory => Case {
        name: "path: decrypt -o into a missing directory",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let k = key("alice_ed25519");
            c.args([
                "decrypt".into(),
                "db.age".into(),
                "-i".into(),
                k.into_os_string(),
                "-o".into(),
                "no/such/dir/out.txt".into(),
            ]);
        },
        expect: &["no/such/dir", "no such file"],
    },
    // ---- environment ----
    env_no_home_and_no_identity => Case {
        name: "env: no HOME and no identity",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.env.push(("HOME", None));
            c.args(["decrypt", "db.age"]);
        },
        expect: &["HOME is not set", "pass -i KEY"],
    },
    env_default_identity_is_a_directory => Case {
        name: "env: default identity is a directory",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            std::fs::create_dir_all(c.p().join(".ssh/id_ed25519")).unwrap();
            c.args(["decrypt", "db.age"]);
        },
        expect: &[".ssh/id_ed25519", "no identity to decrypt with"],
    },
    env_secrets_identity_is_a_dangling_symlink => Case {
        name: "env: SECRETS_IDENTITY is a dangling symlink",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            let l = c.p().join("id_link");
            std::os::unix::fs::symlink("/nonexistent/key", &l).unwrap();
            c.env.push(("SECRETS_IDENTITY", Some(l.into_os_string())));
            c.args(["decrypt", "db.age"]);
        },
        expect: &["id_link", "cannot read", "no such file"],
    },
    env_i_names_a_directory => Case {
        name: "env: -i names a directory",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            std::fs::create_dir(c.p().join("keydir")).unwrap();
            c.decrypt_db_with(c.p().join("keydir"));
        },
        expect: &["keydir", "cannot read", "directory"],
    },
    // ---- check (report on stdout, see the module doc) ----
    check_rules_file_with_a_syntax_error => Case {
        name: "check: rules file with a syntax error",
        needs: &[],
        setup: |c| {
            c.json(r#"{"keys": "#);
            c.check_json("rules");
        },
        expect: &["secrets.json", "EOF while parsing", "secrets schema"],
    },
    check_rules_names_a_missing_file => Case {
        name: "check: --rules names a missing file",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.check_json("rules");
            c.args.extend(["--rules".into(), "nowhere.json".into()]);
        },
        expect: &["nowhere.json", "no such file"],
    },
    check_lock_file_with_garbage => Case {
        name: "check: lock file with garbage",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.repo.write("secrets.lock.json", "garbage{\n");
            c.check_json("lock");
        },
        expect: &[
            "secrets.lock.json",
            "invalid lock file",
            "secrets rekey --force",
        ],
    },
    check_lock_file_is_a_fifo => Case {
        name: "check: lock file is a FIFO",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            mkfifo(&c.p().join("secrets.lock.json"));
            c.check_json("lock");
        },
        expect: &["secrets.lock.json", "not a regular file"],
    },
    check_rules_file_is_a_fifo => Case {
        name: "check: rules file is a FIFO",
        needs: &[],
        setup: |c| {
            mkfifo(&c.p().join("secrets.json"));
            c.check_json("rules");
        },
        expect: &["secrets.json", "not a regular file"],
    },
    check_orphan_in_a_nested_directory => Case {
        name: "check: orphan in a nested directory",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.encrypted("hosts/web1/old.age", &["alice_ed25519"], b"old");
            c.check_json("orphan");
        },
        expect: &[
            "hosts/web1/old.age",
            "without a rule",
            "add a rule for \\\"hosts/web1/old.age\\\" or delete",
        ],
    },
    check_plaintext_file_named_x_age_with_a_rule => Case {
        name: "check: plaintext file named x.age with a rule",
        needs: &[],
        setup: |c| {
            c.repo.json_rules(r#"{"x.age": {"publicKeys": ["alice"]}}"#);
            c.repo.write("x.age", "password=hunter2\n");
            c.check_json("invalid");
        },
        expect: &["x.age", "not an age file", "committed unencrypted"],
    },
    check_plaintext_file_named_x_age_without_a_rule => Case {
        name: "check: plaintext file named x.age without a rule",
        needs: &[],
        setup: |c| {
            c.db_encrypted(false);
            c.repo.write("x.age", "password=hunter2\n");
            c.check_json("orphan");
        },
        expect: &["x.age", "not an age file", "purge it from git history"],
    },
    check_a_committed_symlink_to_dev_zero => Case {
        name: "check: a committed symlink to /dev/zero",
        needs: &[],
        setup: |c| {
            c.db_rules();
            std::os::unix::fs::symlink("/dev/zero", c.p().join("db.age")).unwrap();
            c.check_json("invalid");
        },
        expect: &["db.age", "not a regular file"],
    },
    rekey_a_symlink_to_dev_zero_among_good_ones => Case {
        name: "rekey: a symlink to /dev/zero among good ones",
        needs: &[],
        setup: |c| {
            c.drifted(&["api.age", "db.age"]);
            std::fs::remove_file(c.p().join("db.age")).unwrap();
            std::os::unix::fs::symlink("/dev/zero", c.p().join("db.age")).unwrap();
            c.rekey_as_alice(&[]);
            c.changes = vec!["api.age", "secrets.lock.json"];
        },
        expect: &[
            "db.age",
            "not a regular file",
            "all other files were rekeyed",
        ],
    },
    path_secret_file_is_a_symlink_to_dev_zero => Case {
        name: "path: secret file is a symlink to /dev/zero",
        needs: &[],
        setup: |c| {
            c.db_rules();
            std::os::unix::fs::symlink("/dev/zero", c.p().join("db.age")).unwrap();
            c.decrypt_db();
        },
        expect: &["db.age", "not a regular file"],
    },
    // ---- rekey ----
    rekey_a_file_without_a_rule => Case {
        name: "rekey: a FILE without a rule",
        needs: &[],
        setup: |c| {
            // db.age needs rekeying, but the bad argument must stop the run first.
            c.drifted(&["db.age"]);
            c.rekey_as_alice(&["db.age", "nope.age"]);
        },
        expect: &[
            "nope.age",
            "no rule for this file",
            "add an entry for \"nope.age\"",
        ],
    },
    rekey_a_file_outside_the_rules_directory => Case {
        name: "rekey: a FILE outside the rules directory",
        needs: &[],
        setup: |c| {
            c.drifted(&["db.age"]);
            c.rekey_as_alice(&["db.age", "../elsewhere.age"]);
        },
        expect: &[
            "../elsewhere.age",
            "no rule for this file",
            "secrets must be below the rules file's directory",
        ],
    },
    rekey_corrupted_age_among_good_ones => Case {
        name: "rekey: corrupted .age among good ones",
        needs: &[],
        setup: |c| {
            c.drifted(&["api.age", "db.age", "web/tls.age"]);
            let mut d = std::fs::read(c.p().join("db.age")).unwrap();
            let n = d.len();
            d[n - 5] ^= 1;
            c.repo.write("db.age", d);
            c.rekey_as_alice(&[]);
            c.changes = vec!["api.age", "web/tls.age", "secrets.lock.json"];
            c.verify = Some(|p| {
                for f in ["api.age", "web/tls.age"] {
                    let out = common::cmd()
                        .current_dir(p)
                        .env("HOME", p)
                        .args(["decrypt", f, "-i"])
                        .arg(key("bob_rsa3072"))
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        return Some(format!("{f} was not rekeyed to bob"));
                    }
                }
                None
            });
        },
        expect: &[
            "db.age",
            "payload is damaged",
            "all other files were rekeyed",
        ],
    },
    rekey_committed_plaintext_among_good_ones => Case {
        name: "rekey: committed plaintext among good ones",
        needs: &[],
        setup: |c| {
            c.drifted(&["api.age", "db.age"]);
            c.repo.write("db.age", "password=hunter2\n");
            c.rekey_as_alice(&[]);
            c.changes = vec!["api.age", "secrets.lock.json"];
        },
        expect: &["db.age", "not an age file", "committed unencrypted"],
    },
    rekey_no_identity_opens_any_file => Case {
        name: "rekey: no identity opens any file",
        needs: &[],
        setup: |c| {
            c.drifted(&["api.age", "db.age"]);
            c.args = vec![
                "rekey".into(),
                "-i".into(),
                key("dave_age.key").into_os_string(),
            ];
        },
        expect: &["api.age", "db.age", "could not be rekeyed"],
    },
    rekey_rules_with_an_invalid_key => Case {
        name: "rekey: rules with an invalid key",
        needs: &[],
        setup: |c| {
            c.encrypted("db.age", &["alice_ed25519"], b"v");
            rules_with_key(c, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken");
            c.rekey_as_alice(&[]);
        },
        expect: &["key \"k\"", "ssh-ed25519"],
    },
    // ---- install --check / --dry-run (manifest) ----
    install_manifest_is_not_json => Case {
        name: "install: manifest is not JSON",
        needs: &[],
        setup: |c| c.install_raw("version = 1\n"),
        expect: &["manifest m.json", "invalid JSON"],
    },
    install_manifest_version_2 => Case {
        name: "install: manifest version 2",
        needs: &[],
        setup: |c| c.install(r#"{"version": 2}"#),
        expect: &[
            "manifest m.json",
            "unsupported manifest version 2",
            "update secrets",
        ],
    },
    install_manifest_without_a_version => Case {
        name: "install: manifest without a version",
        needs: &[],
        setup: |c| c.install_raw(r#"{"secrets": {}}"#),
        expect: &["manifest m.json", "missing \"version\": 1"],
    },
    install_unknown_top_level_field => Case {
        name: "install: unknown top-level field",
        needs: &[],
        setup: |c| c.install(r#"{"secretDir": "@/run/x"}"#),
        expect: &["manifest m.json", "unknown field `secretDir`", "secretsDir"],
    },
    install_unknown_field_in_a_secret => Case {
        name: "install: unknown field in a secret",
        needs: &[],
        setup: |c| c.install(r#"{"secrets": {"db": {"file": "@/db.age", "owenr": "x"}}}"#),
        expect: &[
            "manifest m.json",
            "secrets.\"db\"",
            "unknown field `owenr`",
            "owner",
        ],
    },
    install_dotdot_in_a_secret_name => Case {
        name: "install: `..` in a secret name",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "name": "../../etc/shadow"}}}"#,
            )
        },
        expect: &["secret \"db\"", "`..` component", "use a relative path"],
    },
    install_absolute_secret_name => Case {
        name: "install: absolute secret name",
        needs: &[],
        setup: |c| {
            c.install(r#"{"secrets": {"db": {"file": "@/db.age", "name": "/etc/shadow"}}}"#)
        },
        expect: &["secret \"db\"", "is absolute", "use a relative path"],
    },
    install_two_secrets_with_one_name => Case {
        name: "install: two secrets with one name",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "name": "x"},
                                "api": {"file": "@/api.age", "name": "x"}}}"#,
            )
        },
        expect: &[
            "secret \"api\" and secret \"db\"",
            "both install to \"x\"",
            "another name",
        ],
    },
    install_two_secrets_with_one_destination_path => Case {
        name: "install: two secrets with one destination path",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "path": "@/etc/x"},
                                "api": {"file": "@/api.age", "path": "@/etc/x"}}}"#,
            )
        },
        expect: &[
            "secret \"api\" and secret \"db\"",
            "share the destination",
            "its own path",
        ],
    },
    install_mode_0999 => Case {
        name: "install: mode 0999",
        needs: &[],
        setup: |c| c.install(r#"{"secrets": {"db": {"file": "@/db.age", "mode": "0999"}}}"#),
        expect: &[
            "secret \"db\"",
            "mode \"0999\" is neither an octal mode nor a symbolic one",
            "\"0400\"",
        ],
    },
    install_mode_4755 => Case {
        name: "install: mode 4755",
        needs: &[],
        setup: |c| c.install(r#"{"secrets": {"db": {"file": "@/db.age", "mode": "4755"}}}"#),
        expect: &["secret \"db\"", "mode \"4755\" has setuid", "\"0400\""],
    },
    install_unit_name_with_a_semicolon => Case {
        name: "install: unit name with a `;`",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "restartUnits": ["a.service;reboot"]}}}"#,
            )
        },
        expect: &[
            "secret \"db\"",
            "\"a.service;reboot\" is not a systemd unit name",
            "postgresql.service",
        ],
    },
    install_unit_name_with_a_newline => Case {
        name: "install: unit name with a newline",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "reloadUnits": ["a.service\nb.service"]}}}"#,
            )
        },
        expect: &[
            "secret \"db\"",
            "\"a.service\\nb.service\" is not a systemd unit name",
        ],
    },
    install_template_without_a_placeholder => Case {
        name: "install: template without a placeholder",
        needs: &[],
        setup: |c| c.install(r#"{"templates": {"app.env": {"content": "USER=app\n"}}}"#),
        expect: &["template \"app.env\"", "no placeholder", "environment.etc"],
    },
    install_template_with_an_unknown_placeholder => Case {
        name: "install: template with an unknown placeholder",
        needs: &[],
        setup: |c| {
            let t = serde_json::json!({"templates": {"app.env": {
                "content": format!("PW={}\n", placeholder("nope")),
            }}});
            c.install(&t.to_string());
        },
        expect: &[
            "template \"app.env\"",
            "names no secret in this manifest",
            "add the secret",
        ],
    },
    install_template_with_a_malformed_placeholder => Case {
        name: "install: template with a malformed placeholder",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"templates": {"app.env": {"content": "PW=<SECRET:abc:PLACEHOLDER>"}}}"#,
            )
        },
        expect: &[
            "template \"app.env\"",
            "malformed placeholder",
            "placeholder option",
        ],
    },
    install_malformed_placeholder_cut_inside_a_multi_byte_character => Case {
        name: "install: malformed placeholder cut inside a multi-byte character",
        needs: &[],
        setup: |c| {
            c.install(r#"{"templates": {"t.env": {"content": "PW=<SECRET:xééééééééééé"}}}"#)
        },
        expect: &[
            "template \"t.env\"",
            "malformed placeholder",
            "placeholder option",
        ],
    },
    install_file_is_not_an_age_file => Case {
        name: "install: `file` is not an age file",
        needs: &[],
        setup: |c| {
            c.repo.write("plain.age", "password=hunter2\n");
            c.install(r#"{"secrets": {"db": {"file": "@/plain.age"}}}"#);
        },
        expect: &["db", "plain.age", "not an age file"],
    },
    install_file_is_a_symlink_to_dev_zero => Case {
        name: "install: `file` is a symlink to /dev/zero",
        needs: &[],
        setup: |c| {
            std::os::unix::fs::symlink("/dev/zero", c.p().join("zero.age")).unwrap();
            c.install(r#"{"secrets": {"db": {"file": "@/zero.age"}}}"#);
        },
        expect: &["db", "zero.age", "not a regular file"],
    },
    install_file_is_missing_from_the_store => Case {
        name: "install: `file` is missing from the store",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "/nix/store/00000000000000000000000000000000-nope.age"}}}"#,
            )
        },
        expect: &["db", "-nope.age", "no such file"],
    },
    install_hostpublickeys_not_matching => Case {
        name: "install: hostPublicKeys not matching",
        needs: &[],
        setup: |c| {
            let v = serde_json::json!({"hostPublicKeys": [pubkey("web1_ed25519")]});
            c.install(&v.to_string());
            c.check_only();
        },
        expect: &[
            "secret \"db\": db.age is not encrypted to this host's key SHA256:",
            "add the host key to the secret's recipients and run `secrets rekey`",
        ],
    },
    install_relative_secretsdir => Case {
        name: "install: relative secretsDir",
        needs: &[],
        setup: |c| c.install(r#"{"secretsDir": "run/agenix"}"#),
        expect: &["secretsDir", "must be an absolute path"],
    },
    install_neededforusers_secret_not_owned_by_root => Case {
        name: "install: neededForUsers secret not owned by root",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"secrets": {"db": {"file": "@/db.age", "neededForUsers": true, "owner": "alice"}}}"#,
            )
        },
        expect: &["secret \"db\"", "neededForUsers", "root"],
    },
    install_neededforusers_secret_in_usermode => Case {
        name: "install: neededForUsers secret in userMode",
        needs: &[],
        setup: |c| {
            c.install(
                r#"{"userMode": true, "secrets": {"db": {"file": "@/db.age", "neededForUsers": true}}}"#,
            )
        },
        expect: &["secret \"db\"", "neededForUsers", "userMode", "remove it"],
    },
    install_manifest_is_a_directory => Case {
        name: "install: manifest is a directory",
        needs: &[],
        setup: |c| {
            c.install_raw("{}");
            std::fs::remove_file(c.p().join("m.json")).unwrap();
            std::fs::create_dir(c.p().join("m.json")).unwrap();
        },
        expect: &["manifest m.json", "directory"],
    },
}

fn nth_line_start(data: &[u8], n: usize) -> usize {
    let mut pos = 0;
    for _ in 0..n {
        pos += data[pos..].iter().position(|b| *b == b'\n').unwrap() + 1;
    }
    pos
}

fn find(data: &[u8], pat: &[u8]) -> usize {
    data.windows(pat.len()).position(|w| w == pat).unwrap()
}

type Snapshot = std::collections::BTreeMap<String, (u32, Vec<u8>)>;

fn snap(repo: &Repo) -> Snapshot {
    repo.snapshot()
        .into_iter()
        .map(|(p, m, c)| (p, (m, c)))
        .collect()
}

/// Files whose presence, mode or content differ between two snapshots.
fn changed(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .cloned()
        .collect()
}

impl<'a> Ctx<'a> {
    /// A context with nothing set yet, for a case's setup to fill in.
    fn new(repo: &'a Repo) -> Ctx<'a> {
        Ctx {
            repo,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            report: None,
            changes: Vec::new(),
            verify: None,
            variants: Vec::new(),
        }
    }
}

/// What one command line of a case did wrong, if anything.
struct Outcome {
    args: Vec<OsString>,
    problems: Vec<String>,
    stderr: String,
    /// How many variants the setup asked for.
    variants: usize,
}

/// Run command line `variant` of a case (0: the main one) in a fresh scratch dir.
fn run_case(case: &Case, variant: usize) -> Outcome {
    let repo = Repo::new();
    let mut ctx = Ctx::new(&repo);
    (case.setup)(&mut ctx);
    let args = if variant == 0 {
        ctx.args.clone()
    } else {
        ctx.variants[variant - 1].clone()
    };
    let before = snap(&repo);
    let mut cmd = repo.cmd();
    cmd.args(&args).write_stdin(ctx.stdin.clone());
    for (k, v) in &ctx.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    if out.status.success() {
        problems.push("exited 0".to_string());
    }
    // Where the fragments are looked for: stderr, plus check's report.
    let mut said = stderr.clone();
    match ctx.report {
        None if !out.stdout.is_empty() => {
            problems.push(format!("wrote to stdout: {stdout:?}"));
        }
        None => {}
        Some(kind) => {
            said.push_str(&stdout);
            problems.extend(report_problems(&stdout, kind));
        }
    }
    for frag in case.expect {
        if !said.contains(frag) {
            problems.push(format!("stderr lacks {frag:?}"));
        }
    }
    if stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    let diff = changed(&before, &snap(&repo));
    let unexpected: Vec<_> = diff
        .iter()
        .filter(|f| !ctx.changes.contains(&f.as_str()))
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!("files were created or changed: {unexpected:?}"));
    }
    for f in &ctx.changes {
        if !diff.iter().any(|d| d == f) {
            problems.push(format!("{f} was not changed"));
        }
    }
    if let Some(v) = ctx.verify {
        problems.extend(v(repo.path()));
    }
    Outcome {
        args,
        problems,
        stderr,
        variants: ctx.variants.len(),
    }
}

/// What is wrong with `check --json`'s report on stdout: it must say `ok: false` and hold a
/// problem of `kind` naming a file.
fn report_problems(stdout: &str, kind: &str) -> Vec<String> {
    let r = match serde_json::from_str::<serde_json::Value>(stdout) {
        Err(e) => return vec![format!("stdout is not a JSON report ({e}): {stdout:?}")],
        Ok(r) => r,
    };
    let mut problems = Vec::new();
    if r["ok"] != false {
        problems.push("report says ok".into());
    }
    let hit = r["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["kind"] == kind && p["file"].as_str().is_some_and(|f| !f.is_empty()));
    if !hit {
        problems.push(format!("no problem of kind {kind:?} naming a file"));
    }
    problems
}

/// One row: its main command line and each variant, each against a fresh copy of the setup;
/// fails listing every command line that went wrong.
fn run_row(case: &Case) {
    // A missing tool is a skip, which CI turns into a failure.
    if case.needs.iter().any(|t| common::missing(t)) {
        return;
    }
    let mut failures = Vec::new();
    let mut variant = 0;
    loop {
        let o = run_case(case, variant);
        if !o.problems.is_empty() {
            failures.push(format!(
                "{} ({}): {}\n    stderr: {}",
                case.name,
                o.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                o.problems.join("; "),
                o.stderr.trim_end().replace('\n', "\n            ")
            ));
        }
        if variant == o.variants {
            break;
        }
        variant += 1;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The table keeps all its rows (one test each): a row dropped by mistake shows here.
#[test]
fn the_matrix_keeps_its_rows() {
    assert!(ROWS.len() >= 113, "the matrix has {} rows", ROWS.len());
}
