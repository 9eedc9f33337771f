//! Rows with malformed `generator` specifications (secrets.json and secrets.nix): each is an
//! error naming the rule, before anything is generated; and `generate` on files it cannot
//! handle.

use super::*;

/// Rules with `db.age` for alice carrying `generator` (JSON); runs `secrets generate`.
fn generator(c: &mut Ctx, spec: &str) {
    c.repo.json_rules(&format!(
        r#"{{"db.age": {{"publicKeys": ["alice"], "generator": {spec}}}}}"#
    ));
    c.args(["generate"]);
}

rows! {
    generator_unknown_kind => Case {
        name: "generator: unknown kind",
        needs: &[],
        setup: |c| generator(c, r#""password""#),
        expect: &[
            "secrets.json",
            "secret \"db.age\": generator: unknown kind \"password\"",
            "use one of alnum, hex, base64, passphrase, ssh-ed25519, wireguard, age, command",
        ],
    },
    generator_unknown_kind_in_a_set => Case {
        name: "generator: unknown kind in a set",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "rsa", "length": 4096}"#),
        expect: &["secret \"db.age\": generator: unknown kind \"rsa\"", "use one of"],
    },
    generator_set_without_kind => Case {
        name: "generator: set without kind",
        needs: &[],
        setup: |c| generator(c, r#"{"length": 40}"#),
        expect: &["secret \"db.age\": generator: a generator set needs `kind`"],
    },
    generator_neither_name_nor_set => Case {
        name: "generator: a number",
        needs: &[],
        setup: |c| generator(c, "42"),
        expect: &["secret \"db.age\": generator: must be a kind name", "kind = \"alnum\""],
    },
    generator_alnum_too_short => Case {
        name: "generator: alnum below 128 bits",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "alnum", "length": 16}"#),
        expect: &[
            "secret \"db.age\": generator: length 16 is too short",
            "at least 22 characters are needed for 128 bits of entropy (the default is 32)",
        ],
    },
    generator_hex_too_short => Case {
        name: "generator: hex below 128 bits",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "hex", "length": 31}"#),
        expect: &["secret \"db.age\"", "length 31 is too short", "at least 32 characters"],
    },
    generator_passphrase_too_short => Case {
        name: "generator: passphrase below 128 bits",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "passphrase", "length": 6}"#),
        expect: &["secret \"db.age\"", "length 6 is too short", "at least 10 words"],
    },
    generator_length_too_long => Case {
        name: "generator: absurd length",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "alnum", "length": 1000000}"#),
        expect: &["secret \"db.age\"", "length 1000000 is too long: at most 4096 characters"],
    },
    generator_length_not_a_number => Case {
        name: "generator: length as a string",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "alnum", "length": "40"}"#),
        expect: &["secret \"db.age\"", "`length` must be a whole number of characters, got \"40\""],
    },
    generator_negative_length => Case {
        name: "generator: negative length",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "hex", "length": -64}"#),
        expect: &["secret \"db.age\"", "`length` must be a whole number"],
    },
    generator_base64_not_whole_groups => Case {
        name: "generator: base64 length not a multiple of 4",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "base64", "length": 30}"#),
        expect: &["secret \"db.age\"", "length 30 is not a multiple of 4"],
    },
    generator_misspelt_attribute => Case {
        name: "generator: misspelt attribute",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "alnum", "lenght": 40}"#),
        expect: &["secret \"db.age\"", "unknown attribute `lenght`", "`length`"],
    },
    generator_key_pair_with_length => Case {
        name: "generator: key pair with a length",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "wireguard", "length": 44}"#),
        expect: &["secret \"db.age\"", "kind \"wireguard\" has a fixed size and takes no `length`"],
    },
    generator_bad_separator => Case {
        name: "generator: passphrase separator with a newline",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "passphrase", "separator": "\n"}"#),
        expect: &["secret \"db.age\"", "`separator` must be a string", "without control characters"],
    },
    generator_command_missing => Case {
        name: "generator: command kind without a command",
        needs: &[],
        setup: |c| generator(c, r#""command""#),
        expect: &["secret \"db.age\"", "kind \"command\" needs `command`"],
    },
    generator_command_not_a_list => Case {
        name: "generator: command as a string",
        needs: &[],
        setup: |c| generator(c, r#"{"kind": "command", "command": "openssl rand 32"}"#),
        expect: &["secret \"db.age\"", "`command` must be a list of strings"],
    },
    generator_dependency_outside => Case {
        name: "generator: dependency outside the rules directory",
        needs: &[],
        setup: |c| generator(
            c,
            r#"{"kind": "command", "command": ["cat", "x"], "dependencies": ["../x.age"]}"#,
        ),
        expect: &["secret \"db.age\"", "dependency \"../x.age\"", "outside the rules file's directory"],
    },
    generator_dependencies_share_a_name => Case {
        name: "generator: two dependencies with one base name",
        needs: &[],
        setup: |c| generator(
            c,
            r#"{"kind": "command", "command": ["cat", "db"], "dependencies": ["a/db.age", "b/db.age"]}"#,
        ),
        expect: &["secret \"db.age\"", "\"a/db.age\" and \"b/db.age\" would both be given to the command as `db`"],
    },
    generator_bad_spec_stops_other_commands => Case {
        name: "generator: a bad generator makes the rules invalid for encrypt too",
        needs: &[],
        setup: |c| {
            generator(c, r#"{"kind": "alnum", "length": 8}"#);
            c.encrypt_db();
        },
        expect: &["secret \"db.age\": generator: length 8 is too short"],
    },
    generator_bad_spec_in_check => Case {
        name: "generator: check reports a bad generator",
        needs: &[],
        setup: |c| {
            generator(c, r#""pgp""#);
            c.check_json("rules");
        },
        expect: &["secret \\\"db.age\\\": generator: unknown kind \\\"pgp\\\""],
    },
    nix_generator_unknown_kind => Case {
        name: "nix: generator with an unknown kind",
        needs: NIX,
        setup: |c| {
            nix_rule(c, r#""db.age" = { publicKeys = [ alice ]; generator = "pgp"; };"#);
            c.args(["generate"]);
        },
        expect: &["secrets.nix", "secret \"db.age\": generator: unknown kind \"pgp\""],
    },
    nix_generator_too_short => Case {
        name: "nix: generator length below 128 bits",
        needs: NIX,
        setup: |c| {
            nix_rule(
                c,
                r#""db.age" = { publicKeys = [ alice ]; generator = { kind = "base64"; length = 12; }; };"#,
            );
            c.args(["generate", "--dry-run"]);
        },
        expect: &["secret \"db.age\": generator: length 12 is too short", "at least 24 characters"],
    },
    generate_a_file_without_a_rule => Case {
        name: "generate: a file the rules do not name",
        needs: &[],
        setup: |c| {
            generator(c, r#""alnum""#);
            c.args(["generate", "nowhere.age"]);
        },
        expect: &["nowhere.age: no rule for this file", "add an entry for \"nowhere.age\""],
    },
    generate_a_file_without_a_generator => Case {
        name: "generate: a named file whose rule has no generator",
        needs: &[],
        setup: |c| {
            c.db_rules();
            c.args(["generate", "db.age"]);
        },
        expect: &["db.age: its rule has no generator", "`secrets edit db.age`"],
    },
    generate_yes_without_force => Case {
        name: "generate: --yes without --force",
        needs: &[],
        setup: |c| {
            generator(c, r#""alnum""#);
            c.args(["generate", "--yes"]);
        },
        expect: &["--yes", "--force"],
    },
}
