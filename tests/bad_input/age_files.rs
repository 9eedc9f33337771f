//! Rows that attack `.age` files: empty, truncated and damaged headers and bodies, armor, and
//! things that are not regular files.

use super::*;

rows! {
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
