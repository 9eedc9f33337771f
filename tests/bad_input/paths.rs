//! Rows that attack paths (escaping the rules directory, missing directories) and the
//! environment (HOME, key directories).

use super::*;

rows! {
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
}
