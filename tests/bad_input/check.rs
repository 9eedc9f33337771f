//! Rows for `check --json`, whose report on stdout is its output channel (see the crate doc).

use super::*;

rows! {
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
            // (No lock: these rules have ssh keys only.)
            c.changes = vec!["api.age"];
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
}
