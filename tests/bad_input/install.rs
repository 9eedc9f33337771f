//! Rows for `install --check` and `install --dry-run`: malformed manifests.

use super::*;

rows! {
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
