//! Rows for `rekey`, which goes on past a bad file (`changes` lists what it must rewrite).

use super::*;

rows! {
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
            // (No lock: these rules have ssh keys only.)
            c.changes = vec!["api.age", "web/tls.age"];
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
            // (No lock: these rules have ssh keys only.)
            c.changes = vec!["api.age"];
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
}
