//! Weak (small-order) keys and forged ephemeral shares.
//!
//! A point of small order makes every X25519 shared secret all zero, so:
//! - a "public key" of small order in the rules would let anyone who knows it decrypt every
//!   file encrypted to it: every command must refuse the rules (naming the key), with a
//!   non-zero exit, no panic (101) and nothing written;
//! - a stanza whose ephemeral share has small order can be sealed by anyone, without any key:
//!   decrypting must refuse it, as Go `age` does ("low order point");
//! - a stanza with more (or fewer) arguments than age writes, or a share or body that is not
//!   32 bytes, is refused as malformed, as Go `age` does ("invalid … recipient block"): the age
//!   crate ignores extra arguments, which once let a low-order share past our check.
//!
//! The point lists here are written out independently of src/keys/loworder.rs (and each is checked
//! against Go `age`, which must call it low order), and the SSH blobs, bech32 strings and age
//! files are built by hand.

mod common;
mod install_support;

use base64::Engine;
use common::{key, pubkey, Repo};
use sha2::{Digest, Sha256};

/// Every Ed25519 encoding of a small-order point: the 8 torsion points, then the non-canonical
/// ones (sign bit set on x = 0, y = p and y = p + 1).
const ED25519_WEAK: [&str; 14] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// Every X25519 u-coordinate of small order: 0, 1, the two order-8 points, p − 1, p, p + 1;
/// `x25519_weak()` adds each with bit 255 set (ignored by X25519).
const X25519_WEAK: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn unhex(s: &str) -> [u8; 32] {
    let v: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

fn x25519_weak() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = X25519_WEAK.iter().map(|h| unhex(h)).collect();
    for i in 0..X25519_WEAK.len() {
        let mut top = out[i];
        top[31] |= 0x80;
        out.push(top);
    }
    out
}

/// `ssh-ed25519 AAAA…` for a 32-byte point: the SSH wire blob is string("ssh-ed25519") ||
/// string(point), each string a 4-byte big-endian length then the bytes.
fn ssh_ed25519(point: &[u8; 32]) -> String {
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], &point[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ u32::from(*v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// `age1…`: bech32 (BIP 173) of the 32 bytes with the human-readable part "age".
fn age1(u: &[u8; 32]) -> String {
    let mut data = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in u {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let hrp = b"age";
    let mut values: Vec<u8> = hrp.iter().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.iter().map(|c| c & 31));
    values.extend(&data);
    values.extend([0; 6]);
    let pm = bech32_polymod(&values) ^ 1;
    data.extend((0..6).map(|i| ((pm >> (5 * (5 - i))) & 31) as u8));
    let chars: String = data.iter().map(|d| BECH32[*d as usize] as char).collect();
    format!("age1{chars}")
}

/// The bytes of an `age1…` string (hand decoder, no checksum check: test keys only).
fn age1_bytes(s: &str) -> [u8; 32] {
    let data = &s["age1".len()..s.len() - 6];
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in data.bytes() {
        let v = BECH32.iter().position(|x| *x == c).unwrap() as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out.try_into().unwrap()
}

/// Every weak key as it would appear in rules, with a label for messages.
fn weak_keys() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, h) in ED25519_WEAK.iter().enumerate() {
        out.push((format!("ssh-ed25519 #{i} {h}"), ssh_ed25519(&unhex(h))));
    }
    for (i, u) in x25519_weak().iter().enumerate() {
        out.push((format!("age1 #{i} {}", hex(u)), age1(u)));
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The hand-made encoders agree with real keys: alice's point gives her .pub, dave's bytes
/// give his age1 recipient back.
#[test]
fn hand_encoders_match_real_keys() {
    let alice = pubkey("alice_ed25519");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(alice.split(' ').nth(1).unwrap())
        .unwrap();
    let point: [u8; 32] = blob[blob.len() - 32..].try_into().unwrap();
    assert_eq!(
        ssh_ed25519(&point),
        alice.split(' ').take(2).collect::<Vec<_>>().join(" ")
    );
    let dave = pubkey("dave_age");
    assert_eq!(age1(&age1_bytes(&dave)), dave);
}

/// Go `age` agrees that each listed key is low order (so the list is not ours alone).
#[test]
fn go_age_refuses_every_listed_key() {
    if common::missing("age") {
        return;
    }
    for (label, k) in weak_keys() {
        let out = assert_cmd::Command::new("age")
            .args(["-r", &k])
            .write_stdin("x")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("low order point"),
            "{label}: Go age: {err}"
        );
    }
}

/// Rules with `weak` (one listed key) next to alice, for a.age, which already exists
/// (encrypted to alice alone).
fn repo_with(weak: &str) -> Repo {
    let repo = Repo::new();
    let rules = |extra: &str| {
        format!(
            r#"{{"keys": {{"alice": "{}"{extra}}}, "secrets": {{"a.age": {{"publicKeys": ["alice"{}]}}}}}}"#,
            pubkey("alice_ed25519"),
            if extra.is_empty() { "" } else { r#", "weak""# }
        )
    };
    repo.write("secrets.json", rules(""));
    repo.cmd()
        .args(["encrypt", "a.age"])
        .write_stdin("old secret")
        .assert()
        .success();
    repo.write("secrets.json", rules(&format!(r#", "weak": "{weak}""#)));
    if weak.starts_with("ssh-") {
        // As if encrypted by a tool that accepts the key (the age crate does): the file then
        // matches the rules, and today's main `check` calls it ok.
        let to: Vec<age::ssh::Recipient> = [pubkey("alice_ed25519"), weak.to_string()]
            .iter()
            .map(|k| k.parse().unwrap())
            .collect();
        let enc = age::Encryptor::with_recipients(to.iter().map(|r| r as _)).unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, b"old secret").unwrap();
        w.finish().unwrap();
        repo.write("a.age", out);
    }
    repo
}

/// Every weak key, ssh-ed25519 and age1, in secrets.json: check, rekey, encrypt and edit all
/// refuse the rules with exit 1 and a message naming the key, saying it is weak and what to
/// use instead; nothing is written (today's main: `check` says ok for a file encrypted to an
/// ssh one, encrypt/edit write files to them, and encrypt/rekey panic (exit 101) on the age1
/// ones).
#[test]
fn every_command_refuses_rules_with_a_weak_key() {
    let alice = key("alice_ed25519");
    let alice = alice.to_str().unwrap();
    for (label, weak) in weak_keys() {
        let repo = repo_with(&weak);
        let before = repo.snapshot();
        let runs: [(&str, Vec<&str>, Option<&str>); 5] = [
            ("check", vec!["check"], None),
            ("check --json", vec!["check", "--json"], None),
            ("rekey", vec!["-i", alice, "rekey"], None),
            ("encrypt", vec!["encrypt", "a.age"], Some("new secret")),
            (
                "edit",
                vec!["-i", alice, "edit", "a.age"],
                Some("new secret"),
            ),
        ];
        for (what, args, stdin) in runs {
            let mut c = repo.cmd();
            c.args(&args);
            if let Some(s) = stdin {
                c.write_stdin(s);
            }
            let out = c.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(1), "{label}: {what}: {text}");
            for needle in ["key \\\"weak\\\"", "weak key", "anyone"] {
                let needle = if what.ends_with("--json") {
                    needle.to_string()
                } else {
                    needle.replace('\\', "")
                };
                assert!(
                    text.contains(&needle),
                    "{label}: {what}: no `{needle}` in {text}"
                );
            }
            let fix = if weak.starts_with("age1") {
                "age-keygen"
            } else {
                "ssh-keyscan"
            };
            assert!(text.contains(fix), "{label}: {what}: no fix in {text}");
            assert_eq!(repo.snapshot(), before, "{label}: {what} wrote something");
        }
    }
}

/// A weak key written straight into a secret's publicKeys (not under "keys") is refused too,
/// naming the secret and the key's fingerprint.
#[test]
fn literal_weak_key_in_public_keys_is_refused() {
    let weak_ssh = ssh_ed25519(&unhex(ED25519_WEAK[0]));
    let weak_age = age1(&x25519_weak()[3]);
    for weak in [weak_ssh, weak_age] {
        let repo = Repo::new();
        repo.write(
            "secrets.json",
            format!(
                r#"{{"secrets": {{"b.age": {{"publicKeys": ["{}", "{weak}"]}}}}}}"#,
                pubkey("alice_ed25519")
            ),
        );
        let out = repo
            .cmd()
            .args(["encrypt", "b.age"])
            .write_stdin("x")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("secret \"b.age\"") && err.contains("weak key"),
            "{err}"
        );
        let shown = if weak.starts_with("age1") {
            weak[..12].to_string()
        } else {
            "SHA256:".to_string()
        };
        assert!(err.contains(&shown), "{err}");
        assert!(!repo.path().join("b.age").exists());
    }
}

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
    if !install_support::in_private_ns("installer_refuses_a_malformed_stanza") {
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
    include!("../fuzz/common/recipients_check.rs");

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
