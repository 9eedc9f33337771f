//! Rows that attack the keys given with `-i`: not keys, weak or unsupported kinds, encrypted
//! or unreadable files.

use super::*;

rows! {
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
}
