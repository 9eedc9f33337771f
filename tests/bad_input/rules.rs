//! Rows that attack the rules file: `secrets.json` (schema, duplicates, groups, keys) and
//! `secrets.nix`.

use super::*;

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
    // An unknown attribute is ignored (tests/rule_tolerance.rs); a rule that cannot be used
    // fails the commands that touch it, each naming the rules file and the rule.
    nix_publickeys_not_a_list => Case {
        name: "nix: publicKeys not a list",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = alice;"#);
            c.encrypt_db();
        },
        expect: &[
            "secrets.nix",
            "secret \"db.age\"",
            "publicKeys is a string, not a list",
        ],
    },
    nix_a_key_that_is_not_a_string => Case {
        name: "nix: a key that is not a string",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ alice ./key.pub ];"#);
            c.encrypt_db();
        },
        expect: &[
            "secrets.nix",
            "secret \"db.age\"",
            "item 2 is a path",
            "builtins.readFile",
        ],
    },
    nix_throw_in_a_rule => Case {
        name: "nix: throw in a rule",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ (throw "no key for db yet") ];"#);
            c.encrypt_db();
        },
        expect: &[
            "secrets.nix",
            "secret \"db.age\"",
            "\"no key for db yet\"",
            "cannot be used until it is fixed",
        ],
    },
    nix_type_error_in_a_rule_stops_the_file => Case {
        name: "nix: a type error in a rule stops the whole file",
        needs: NIX,
        setup: |c| {
            nix_rule(
                c,
                r#""db.age".publicKeys = [ alice ]; "x.age".publicKeys = [ (1 + "a") ];"#,
            );
            c.encrypt_db();
        },
        expect: &[
            "secrets.nix",
            "could not evaluate",
            "stops the evaluation of the whole file",
        ],
    },
    nix_dotdot_in_a_secret_name => Case {
        name: "nix: `..` in a secret name",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""../x.age".publicKeys = [ alice ];"#);
            c.args(["encrypt", "../x.age"]);
            c.stdin = b"new value".to_vec();
        },
        expect: &[
            "secrets.nix",
            "secret \"../x.age\"",
            "outside the rules file's directory",
        ],
    },
    nix_absolute_secret_name => Case {
        name: "nix: absolute secret name",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""/etc/x.age".publicKeys = [ alice ];"#);
            c.args(["encrypt", "/etc/x.age"]);
            c.stdin = b"new value".to_vec();
        },
        expect: &[
            "secrets.nix",
            "secret \"/etc/x.age\"",
            "absolute paths are not allowed",
        ],
    },
    nix_no_recipients => Case {
        name: "nix: no recipients",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ ];"#);
            c.encrypt_db();
        },
        expect: &["secrets.nix", "secret \"db.age\" has no recipients"],
    },
    nix_invalid_key => Case {
        name: "nix: invalid key",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age".publicKeys = [ "ssh-ed25519 garbage" ];"#);
            c.encrypt_db();
        },
        expect: &["secrets.nix", "secret \"db.age\"", "ssh-ed25519"],
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
}
