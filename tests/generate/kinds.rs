//! One test per kind family, each result read back with the real tools.

use base64::Engine;

use super::*;

/// The text kinds with defaults and set lengths: the real `age` decrypts each file to a value
/// of the documented length and alphabet; no identity was needed, HOME stays empty, nothing
/// is printed on stdout, and the lock file records every file.
#[test]
fn text_kinds_with_no_identity_and_an_empty_home() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("alnum.age", r#""alnum""#),
        rule("alnum48.age", r#"{"kind": "alnum", "length": 48}"#),
        rule("hex.age", r#""hex""#),
        rule("hex40.age", r#"{"kind": "hex", "length": 40}"#),
        rule("b64.age", r#""base64""#),
        rule("phrase.age", r#""passphrase""#),
        rule(
            "phrase12.age",
            r#"{"kind": "passphrase", "length": 12, "separator": " "}"#,
        ),
    ]));
    let out = f.generate(&[]).assert().success().get_output().clone();
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("generated 7 file(s)"), "{stderr}");
    assert!(
        stderr.contains("generated alnum48.age (alnum, 48 characters)"),
        "{stderr}"
    );
    assert!(f.home_is_empty(), "HOME was written to");

    let values: Vec<(&str, Vec<u8>)> = [
        "alnum.age",
        "alnum48.age",
        "hex.age",
        "hex40.age",
        "b64.age",
        "phrase.age",
        "phrase12.age",
    ]
    .iter()
    .map(|n| (*n, f.age_decrypt(n)))
    .collect();
    for (name, v) in &values {
        // Never printed.
        assert!(
            !stderr.contains(std::str::from_utf8(v).unwrap()),
            "{name} printed"
        );
    }
    let v = |n: &str| values.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    let alnum = |x: &[u8], n| x.len() == n && x.iter().all(u8::is_ascii_alphanumeric);
    assert!(alnum(&v("alnum.age"), 32));
    assert!(alnum(&v("alnum48.age"), 48));
    let hex = |x: &[u8], n| x.len() == n && x.iter().all(|c| b"0123456789abcdef".contains(c));
    assert!(hex(&v("hex.age"), 64));
    assert!(hex(&v("hex40.age"), 40));
    let b = v("b64.age");
    assert_eq!(b.len(), 44);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&b)
        .unwrap();
    assert_eq!(raw.len(), 33);
    let words = String::from_utf8(v("phrase.age")).unwrap();
    assert_eq!(words.split('-').count(), 10, "{words}");
    let words = String::from_utf8(v("phrase12.age")).unwrap();
    assert_eq!(words.split(' ').count(), 12);
    assert!(words.split(' ').all(|w| w.len() >= 3));

    let mut locked = lock_entries(f.path());
    locked.sort();
    let mut names: Vec<String> = values.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(locked, names);
    // And the result is what the rules ask for.
    f.repo.cmd().arg("check").assert().success();
}

/// Two runs of the same rules make different values (the OS random source, not a seed).
#[test]
fn values_differ_between_repos() {
    if common::missing("age") {
        return;
    }
    let spec = rules(&[rule("pw.age", r#""alnum""#)]);
    let a = Fixture::new(&spec);
    let b = Fixture::new(&spec);
    a.generate(&[]).assert().success();
    b.generate(&[]).assert().success();
    assert_ne!(a.age_decrypt("pw.age"), b.age_decrypt("pw.age"));
}

/// ssh-ed25519: an OpenSSH private key; `ssh-keygen -y` of it gives the key in host.pub.
#[test]
fn ssh_ed25519_pub_is_what_ssh_keygen_derives() {
    if common::missing("age") || common::missing("ssh-keygen") {
        return;
    }
    let f = Fixture::new(&rules(&[rule("hosts/web.age", r#""ssh-ed25519""#)]));
    let out = f.generate(&[]).assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generated hosts/web.age (ssh-ed25519 key pair) and hosts/web.pub"),
        "{stderr}"
    );
    let private = f.age_decrypt("hosts/web.age");
    assert!(private.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    let scratch = tempfile::tempdir().unwrap();
    let k = write_key(scratch.path(), "k", &private);
    let derived = common::command("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&k)
        .output()
        .unwrap();
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let derived = String::from_utf8(derived.stdout).unwrap();
    let public = f.read("hosts/web.pub");
    assert!(
        public.ends_with('\n') && public.lines().count() == 1,
        "{public:?}"
    );
    // Type and key; the comment (the rule's name) is printed by newer ssh-keygen only.
    let fields = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(fields(&derived), fields(&public));
    assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"));
    assert!(public.trim_end().ends_with(" hosts/web.age"), "{public}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(f.path().join("hosts/web.pub"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o644);
    // The .pub is a public key a rule can use: encrypt to it and decrypt with the key.
    f.repo.write(
        "secrets.json",
        format!(
            r#"{{"secrets": {{"to-host.age": {{"publicKeys": ["{}"]}}}}}}"#,
            public.trim()
        ),
    );
    f.repo.encrypt("to-host.age", "for the host");
    assert_eq!(
        age_decrypt(&f.path().join("to-host.age"), &k),
        b"for the host"
    );
}

/// wireguard: 44 base64 characters for 32 bytes (as `wg genkey`, clamped), and the .pub is
/// the X25519 public key of it.
#[test]
fn wireguard_key_is_44_base64_characters_and_pub_matches() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[rule("wg0.age", r#""wireguard""#)]));
    f.generate(&[]).assert().success();
    let private = f.age_decrypt("wg0.age");
    assert_eq!(private.last(), Some(&b'\n'));
    let text = std::str::from_utf8(&private[..private.len() - 1]).unwrap();
    assert_eq!(text.len(), 44, "{text:?}");
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw: [u8; 32] = b64.decode(text).unwrap().try_into().unwrap();
    assert_eq!(
        (raw[0] & 7, raw[31] & 0xc0),
        (0, 0x40),
        "clamped as wg genkey does"
    );
    let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(raw));
    assert_eq!(
        f.read("wg0.pub"),
        format!("{}\n", b64.encode(public.as_bytes()))
    );
}

/// age: an AGE-SECRET-KEY-1 identity; a file the real `age` encrypts to the .pub is
/// decrypted by the real `age` with that identity.
#[test]
fn age_identity_decrypts_what_is_encrypted_to_its_pub() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[rule("backup-key.age", r#""age""#)]));
    f.generate(&[]).assert().success();
    let identity = f.age_decrypt("backup-key.age");
    assert!(identity.starts_with(b"AGE-SECRET-KEY-1"));
    let public = f.read("backup-key.pub");
    assert!(public.starts_with("age1") && public.ends_with('\n'));
    let scratch = tempfile::tempdir().unwrap();
    let id = write_key(scratch.path(), "id", &identity);
    let plain = scratch.path().join("plain");
    std::fs::write(&plain, b"to the generated key").unwrap();
    let enc = scratch.path().join("enc.age");
    let st = common::command("age")
        .args(["-r", public.trim(), "-o"])
        .arg(&enc)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(age_decrypt(&enc, &id), b"to the generated key");
}
