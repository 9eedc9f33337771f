//! Forged stanzas in hand-built age files: honest ones decrypt (the control), a low-order
//! ephemeral share or a malformed stanza is refused like Go `age` refuses it, by decrypt,
//! edit, rekey and the installer; and the recipients fuzz target seals to alice's real key.

use super::*;

/// One stanza to write into a hand-built file: its type line arguments and its body, sealed by
/// the test under the given shared secret.
struct Forged {
    tag: &'static str,
    args: Vec<String>,
    /// The key derivation's salt suffix (the recipient's X25519 public key) and label.
    pk: [u8; 32],
    label: &'static [u8],
    share: [u8; 32],
    shared: [u8; 32],
    /// Zero bytes appended to the sealed body (a malformed body length).
    pad: usize,
}

/// An age recipient that writes exactly the stanza it is given, sealed with the file key the
/// age crate chose; the age crate adds the header MAC and the payload, so the file is
/// well-formed and only the stanza is the test's.
struct Forger(Forged);

impl age::Recipient for Forger {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        use age_core::secrecy::ExposeSecret;
        let f = &self.0;
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&f.share);
        salt[32..].copy_from_slice(&f.pk);
        let key = age_core::primitives::hkdf(&salt, f.label, &f.shared);
        let mut body = age_core::primitives::aead_encrypt(&key, file_key.expose_secret());
        body.resize(body.len() + f.pad, 0);
        Ok((
            vec![age_core::format::Stanza {
                tag: f.tag.into(),
                args: f.args.clone(),
                body,
            }],
            Default::default(),
        ))
    }
}

fn seal(f: Forged, plain: &[u8]) -> Vec<u8> {
    let r = Forger(f);
    age::encrypt(&r, plain).unwrap()
}

fn nopad(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
}

/// alice's ssh-ed25519 stanza parts: tag argument, X25519 public key, and the tweak age mixes
/// into the shared secret.
fn alice_parts() -> (String, [u8; 32], [u8; 32]) {
    ssh_parts("alice_ed25519")
}

/// The same for any test key.
fn ssh_parts(name: &str) -> (String, [u8; 32], [u8; 32]) {
    let public = pubkey(name);
    let blob = base64::engine::general_purpose::STANDARD
        .decode(public.split(' ').nth(1).unwrap())
        .unwrap();
    let point: [u8; 32] = blob[blob.len() - 32..].try_into().unwrap();
    let mont = curve25519_dalek::edwards::CompressedEdwardsY(point)
        .decompress()
        .unwrap()
        .to_montgomery()
        .to_bytes();
    let tweak = age_core::primitives::hkdf(&blob, SSH_LABEL, &[]);
    (nopad(&Sha256::digest(&blob)[..4]), mont, tweak)
}

const SSH_LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// A stanza to alice (ssh-ed25519) with share `share`, sealed under `shared`.
fn to_alice(share: [u8; 32], shared: [u8; 32]) -> Forged {
    to_ssh("alice_ed25519", share, shared)
}

/// A stanza to the ssh-ed25519 test key `name`.
fn to_ssh(name: &str, share: [u8; 32], shared: [u8; 32]) -> Forged {
    let (tag, pk, _) = ssh_parts(name);
    Forged {
        tag: "ssh-ed25519",
        args: vec![tag, nopad(&share)],
        pk,
        label: SSH_LABEL,
        share,
        shared,
        pad: 0,
    }
}

/// A stanza to dave (X25519) with share `share`, sealed under `shared`.
fn to_dave(share: [u8; 32], shared: [u8; 32]) -> Forged {
    Forged {
        tag: "X25519",
        args: vec![nopad(&share)],
        pk: age1_bytes(&pubkey("dave_age")),
        label: X25519_LABEL,
        share,
        shared,
        pad: 0,
    }
}

/// A repo whose rules list a.age for alice and dave, the file being `cipher`.
fn repo_with_file(cipher: &[u8]) -> Repo {
    let repo = Repo::new();
    repo.write(
        "secrets.json",
        format!(
            r#"{{"keys": {{"alice": "{}", "dave": "{}"}}, "secrets": {{"a.age": {{"publicKeys": ["alice", "dave"]}}}}}}"#,
            pubkey("alice_ed25519"),
            pubkey("dave_age")
        ),
    );
    repo.write("a.age", cipher);
    repo
}

/// Control for the forgeries below: the same hand-built stanzas with an honest ephemeral
/// secret decrypt, with `secrets` and with Go `age`, so the files are well-formed and only the
/// share decides.
#[test]
fn hand_built_honest_stanzas_decrypt() {
    let esk = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
    let epk = *x25519_dalek::PublicKey::from(&esk).as_bytes();
    let (_, alice_pk, tweak) = alice_parts();
    let inner = esk.diffie_hellman(&x25519_dalek::PublicKey::from(alice_pk));
    let shared = x25519_dalek::StaticSecret::from(tweak)
        .diffie_hellman(&x25519_dalek::PublicKey::from(*inner.as_bytes()));
    let dave_shared = esk.diffie_hellman(&x25519_dalek::PublicKey::from(age1_bytes(&pubkey(
        "dave_age",
    ))));
    for (who, f, id) in [
        (
            "alice",
            to_alice(epk, *shared.as_bytes()),
            key("alice_ed25519"),
        ),
        (
            "dave",
            to_dave(epk, *dave_shared.as_bytes()),
            key("dave_age.key"),
        ),
    ] {
        let cipher = seal(f, b"honest");
        let repo = repo_with_file(&cipher);
        repo.cmd()
            .args(["-i", id.to_str().unwrap(), "decrypt", "a.age"])
            .assert()
            .success()
            .stdout("honest");
        if common::have("age") {
            let out = assert_cmd::Command::new("age")
                .args(["-d", "-i", id.to_str().unwrap()])
                .arg(repo.path().join("a.age"))
                .output()
                .unwrap();
            assert_eq!(out.stdout, b"honest", "{who}: Go age: {out:?}");
        }
    }
}

/// Files whose only stanza (to alice's ssh-ed25519 key, or an X25519 stanza tried with dave's
/// age key) has a low-order ephemeral share and is sealed under the all-zero secret that share
/// gives: anyone can make such a file without any key. Every share, each form: `secrets
/// decrypt` refuses it (exit 1, the reason named, no plaintext), and so does Go `age -d`.
/// Today's main decrypts the ssh-ed25519 ones (the age crate and our fast path accept them)
/// and refuses the X25519 ones only as "invalid age header".
#[test]
fn low_order_shares_are_refused_like_go_age() {
    let go = !common::missing("age");
    for share in x25519_weak() {
        for (who, f, id) in [
            ("alice", to_alice(share, [0; 32]), key("alice_ed25519")),
            ("dave", to_dave(share, [0; 32]), key("dave_age.key")),
        ] {
            let label = format!("{who} share {}", hex(&share));
            let cipher = seal(f, b"FORGED-PLAINTEXT");
            let repo = repo_with_file(&cipher);
            let out = repo
                .cmd()
                .args(["-i", id.to_str().unwrap(), "decrypt", "a.age"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{label}: {err}");
            assert!(out.stdout.is_empty(), "{label}: plaintext released");
            assert!(
                err.contains("a.age") && err.contains("low-order") && err.contains("forged"),
                "{label}: {err}"
            );
            if go {
                let out = assert_cmd::Command::new("age")
                    .args(["-d", "-i", id.to_str().unwrap()])
                    .arg(repo.path().join("a.age"))
                    .output()
                    .unwrap();
                let goerr = String::from_utf8_lossy(&out.stderr);
                assert!(!out.status.success(), "{label}: Go age decrypted it");
                assert!(
                    goerr.contains("low order point"),
                    "{label}: Go age: {goerr}"
                );
            }
        }
    }
}

/// A forged file is not rewritten either: `edit` and `rekey --force` decrypt first, refuse,
/// and leave it as it was.
#[test]
fn edit_and_rekey_refuse_a_forged_file() {
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    for share in [x25519_weak()[1], x25519_weak()[9]] {
        let repo = repo_with_file(&seal(to_alice(share, [0; 32]), b"FORGED"));
        let before = repo.snapshot();
        for args in [
            vec!["-i", alice, "edit", "a.age"],
            vec!["-i", alice, "rekey", "--force"],
        ] {
            let out = repo.cmd().args(&args).write_stdin("new").output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains("low-order"), "{args:?}: {err}");
            assert_eq!(repo.snapshot(), before, "{args:?} wrote something");
        }
    }
}

/// `f` with its arguments replaced by what `shape` makes of (tag, share) for ssh-ed25519 or
/// (share) for X25519: the argument lists below, each a stanza age never writes.
fn reshaped(mut f: Forged, args: &[&str]) -> Forged {
    let tag = f.args.first().cloned().unwrap_or_default();
    let share = f.args.last().cloned().unwrap_or_default();
    f.args = args
        .iter()
        .map(|a| match *a {
            "TAG" => tag.clone(),
            "SHARE" => share.clone(),
            "SHARE33" => nopad(&[&f.share[..], &[0]].concat()),
            other => other.to_string(),
        })
        .collect();
    f
}

/// Malformed stanzas with the low-order share u = 0, sealed under the all-zero secret it
/// gives (so no private key made them): (label, stanza, identity, what our error must say).
fn malformed_forgeries() -> Vec<(String, Forged, std::path::PathBuf, &'static str)> {
    let zero = [0u8; 32];
    let alice = || to_alice(zero, [0; 32]);
    let dave = || to_dave(zero, [0; 32]);
    let mut out: Vec<(String, Forged, std::path::PathBuf, &'static str)> = vec![
        // The demonstrated bypass: the age crate reads args[0] and args[1] only.
        (
            "ssh-ed25519, 3 arguments".into(),
            reshaped(alice(), &["TAG", "SHARE", "extra"]),
            key("alice_ed25519"),
            "3 arguments",
        ),
        (
            "ssh-ed25519, 4 arguments".into(),
            reshaped(alice(), &["TAG", "SHARE", "AAAA", "extra"]),
            key("alice_ed25519"),
            "4 arguments",
        ),
        (
            "ssh-ed25519, 1 argument".into(),
            reshaped(alice(), &["TAG"]),
            key("alice_ed25519"),
            "1 argument",
        ),
        (
            "ssh-ed25519, 0 arguments".into(),
            reshaped(alice(), &[]),
            key("alice_ed25519"),
            "0 arguments",
        ),
        (
            "ssh-ed25519, 33-byte share".into(),
            reshaped(alice(), &["TAG", "SHARE33"]),
            key("alice_ed25519"),
            "not 32 bytes",
        ),
        (
            "X25519, 2 arguments".into(),
            reshaped(dave(), &["SHARE", "extra"]),
            key("dave_age.key"),
            "2 arguments",
        ),
        (
            "X25519, 0 arguments".into(),
            reshaped(dave(), &[]),
            key("dave_age.key"),
            "0 arguments",
        ),
    ];
    for (who, mut f, id) in [
        ("ssh-ed25519", alice(), key("alice_ed25519")),
        ("X25519", dave(), key("dave_age.key")),
    ] {
        f.pad = 1;
        out.push((format!("{who}, 33-byte body"), f, id, "33-byte body"));
    }
    out
}

/// Each malformed forgery: `secrets decrypt` refuses it as malformed (exit 1, no plaintext),
/// and so does Go `age -d`. Today's main decrypts the 3- and 4-argument ssh-ed25519 ones
/// (FORGED-PLAINTEXT on stdout, without alice's private key) and refuses the rest only as
/// "invalid age header" or "no identity".
#[test]
fn malformed_stanzas_are_refused_like_go_age() {
    let go = !common::missing("age");
    let mut failures = Vec::new();
    for (label, f, id, needle) in malformed_forgeries() {
        let cipher = seal(f, b"FORGED-PLAINTEXT");
        let repo = repo_with_file(&cipher);
        let out = repo
            .cmd()
            .args(["-i", id.to_str().unwrap(), "decrypt", "a.age"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1)
            || !out.stdout.is_empty()
            || !(err.contains("a.age") && err.contains("malformed") && err.contains(needle))
        {
            failures.push(format!(
                "{label}: exit {:?}, stdout {:?}, stderr {err}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        if go {
            let out = assert_cmd::Command::new("age")
                .args(["-d", "-i", id.to_str().unwrap()])
                .arg(repo.path().join("a.age"))
                .output()
                .unwrap();
            if out.status.success() || !out.stdout.is_empty() {
                failures.push(format!("{label}: Go age decrypted it: {out:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `edit` and `rekey --force` refuse the demonstrated forgery and leave the file as it was.
#[test]
fn edit_and_rekey_refuse_a_malformed_stanza() {
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    let forged = reshaped(to_alice([0; 32], [0; 32]), &["TAG", "SHARE", "extra"]);
    let repo = repo_with_file(&seal(forged, b"FORGED"));
    let before = repo.snapshot();
    for args in [
        vec!["-i", alice, "edit", "a.age"],
        vec!["-i", alice, "rekey", "--force"],
    ] {
        let out = repo.cmd().args(&args).write_stdin("new").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("malformed ssh-ed25519 stanza"),
            "{args:?}: {err}"
        );
        assert_eq!(repo.snapshot(), before, "{args:?} wrote something");
    }
}

/// The installer decrypts with the host key through the same identity: a file forged for the
/// host key (web1) with an extra argument is refused, and nothing of it is installed. Root and
/// a private mount namespace (the installer mounts a tmpfs).
#[test]
fn installer_refuses_a_malformed_stanza() {
    if !install_support::in_private_ns("stanzas::installer_refuses_a_malformed_stanza") {
        return;
    }
    let env = install_support::Env::new();
    let good = env.encrypt("good", b"GOOD");
    let forged = reshaped(
        to_ssh("web1_ed25519", [0; 32], [0; 32]),
        &["TAG", "SHARE", "extra"],
    );
    let bad = env.path().join("enc/forged.age");
    std::fs::write(&bad, seal(forged, b"FORGED-PLAINTEXT")).unwrap();
    let m = env.manifest(
        serde_json::json!({"good": {"file": good}, "forged": {"file": bad}}),
        serde_json::json!({}),
    );
    let o = env.install(&m, &[]);
    let all = install_support::text(&o);
    assert!(!o.status.success(), "install accepted it:\n{all}");
    assert!(
        all.contains("forged.age") && all.contains("malformed ssh-ed25519 stanza"),
        "{all}"
    );
    assert!(!all.contains("FORGED-PLAINTEXT"), "{all}");
    for (path, .., data) in common::full_snapshot(env.path()) {
        assert!(
            !data.windows(16).any(|w| w == b"FORGED-PLAINTEXT"),
            "the forged plaintext was written to {path}"
        );
    }
}

/// The recipients fuzz target's checks, for the key value it cannot derive itself.
#[allow(dead_code)]
mod recipients_fuzz {
    include!("../../fuzz/common/recipients_check.rs");

    fn testdata_keys() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys")
    }
}

/// The fuzz target seals its forgeries to alice with a fixed X25519 form of her key; if that
/// were wrong, no forgery of it could ever open and the target would test nothing.
#[test]
fn fuzz_target_uses_alices_real_x25519_key() {
    assert_eq!(recipients_fuzz::ALICE_X25519, hex(&alice_parts().1));
}

/// A passphrase-protected ssh-ed25519 key is opened by the age crate's identity, not by our
/// fast path (that needs the bare seed), behind the low-order guard: a low-order share to it is
/// refused after the one passphrase prompt its stanza calls for. A malformed stanza naming it
/// is refused by `check` (which holds no key) and by `rekey` before any passphrase is asked.
#[test]
fn passphrase_protected_key_refuses_forgeries() {
    if common::missing("python3") {
        return;
    }
    let erin = key("erin_ed25519_pass");
    let erin = erin.to_str().unwrap();
    let repo = Repo::new();
    repo.write(
        "secrets.json",
        format!(
            r#"{{"keys": {{"erin": "{}"}}, "secrets": {{"a.age": {{"publicKeys": ["erin"]}}}}}}"#,
            pubkey("erin_ed25519_pass")
        ),
    );
    let run = |args: &[&str]| common::run_in_pty(repo.path(), args, &["correct horse"]);

    repo.write(
        "a.age",
        seal(to_ssh("erin_ed25519_pass", [0; 32], [0; 32]), b"FORGED"),
    );
    let (code, prompts, out) = run(&["decrypt", "a.age", "-i", erin]);
    assert_eq!((code, prompts), (1, 1), "{out}");
    assert!(!out.contains("FORGED"), "plaintext released: {out}");
    assert!(out.contains("low-order") && out.contains("forged"), "{out}");

    let malformed = reshaped(
        to_ssh("erin_ed25519_pass", [0; 32], [0; 32]),
        &["TAG", "SHARE", "extra"],
    );
    repo.write("a.age", seal(malformed, b"FORGED"));
    let before = repo.snapshot();
    let (code, prompts, out) = run(&["rekey", "--force", "-i", erin]);
    assert_eq!((code, prompts), (1, 0), "{out}");
    assert!(out.contains("malformed ssh-ed25519 stanza"), "{out}");
    let out = repo.cmd().args(["check"]).output().unwrap();
    let err =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("malformed ssh-ed25519 stanza"), "check: {err}");
    assert_eq!(repo.snapshot(), before, "something was written");
}
