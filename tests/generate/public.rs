//! `secrets generate --public`: a key pair's lost or stale `.pub` is derived again from its
//! private key (which needs an identity) for each kind; the encrypted files and the lock are
//! never written.

use super::*;

/// The bytes of every file the rules write besides the `.pub` files.
fn untouched(f: &Fixture, names: &[&str]) -> Vec<Vec<u8>> {
    (names.iter().chain(&["secrets.lock.json"]))
        .map(|n| std::fs::read(f.path().join(n)).unwrap())
        .collect()
}

/// ssh-ed25519, wireguard and age: a missing .pub, one that is not a key and one that is a
/// valid key of another pair are each rewritten with exactly what generation wrote; without
/// an identity nothing is written and the error says why; --dry-run lists and writes nothing.
#[test]
fn public_halves_are_derived_again_for_each_kind() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("host.age", r#""ssh-ed25519""#),
        rule("wg.age", r#""wireguard""#),
        rule("id.age", r#""age""#),
        rule("other.age", r#""age""#),
        rule("pw.age", r#""alnum""#),
    ]));
    f.generate(&[]).assert().success();
    let encrypted = ["host.age", "wg.age", "id.age", "other.age", "pw.age"];
    let before = untouched(&f, &encrypted);
    let original: Vec<String> = ["host.pub", "wg.pub", "id.pub", "other.pub"]
        .iter()
        .map(|p| f.read(p))
        .collect();
    std::fs::remove_file(f.path().join("host.pub")).unwrap();
    std::fs::write(f.path().join("wg.pub"), "not a key\n").unwrap();
    // A valid key, of another pair: check cannot see this one; --public fixes it too.
    std::fs::write(f.path().join("id.pub"), f.read("other.pub")).unwrap();

    // No identity (HOME empty): refused with the reason, nothing written.
    let out = f
        .generate(&["--public"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--public derives each .pub from its private key, which needs an identity: no identity to decrypt with"),
        "{stderr}"
    );
    assert!(!f.path().join("host.pub").exists());

    // --dry-run lists the three, writes nothing.
    let out = f
        .generate(&["--public", "--dry-run", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "would write host.pub (from host.age)",
        "would write wg.pub (from wg.age)",
        "would write id.pub (from id.age)",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert!(!stdout.contains("other.pub"), "{stdout}");
    assert!(!f.path().join("host.pub").exists());
    assert_eq!(f.read("wg.pub"), "not a key\n");

    let out = f
        .generate(&["--public", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrote host.pub (from host.age)"),
        "{stderr}"
    );
    assert!(stderr.contains("wrote wg.pub (from wg.age)"), "{stderr}");
    assert!(stderr.contains("wrote id.pub (from id.age)"), "{stderr}");
    assert!(
        stderr.contains("wrote 3 .pub file(s); the encrypted files are unchanged"),
        "{stderr}"
    );
    let now: Vec<String> = ["host.pub", "wg.pub", "id.pub", "other.pub"]
        .iter()
        .map(|p| f.read(p))
        .collect();
    assert_eq!(now, original);
    assert_eq!(
        untouched(&f, &encrypted),
        before,
        "an encrypted file or the lock changed"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path().join("host.pub"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    f.repo.cmd().arg("check").assert().success();
    assert!(f.home_is_empty());
}

/// The ssh .pub is what `ssh-keygen -y` derives from the key in the file, and an age identity
/// set by hand in age-keygen's format (comment lines) gets its recipient.
#[test]
fn public_matches_the_real_tools() {
    if common::missing("age") || common::missing("ssh-keygen") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("host.age", r#""ssh-ed25519""#),
        rule("dave.age", r#""age""#),
    ]));
    f.generate(&["host.age"]).assert().success();
    let keygen = std::fs::read_to_string(key("dave_age.key")).unwrap();
    f.repo.encrypt("dave.age", &keygen);
    std::fs::remove_file(f.path().join("host.pub")).unwrap();
    f.generate(&["--public", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .success();
    assert_eq!(
        f.read("dave.pub").trim(),
        std::fs::read_to_string(key("dave_age.pub")).unwrap().trim()
    );
    let private = write_key(f.home.path(), "host", &f.age_decrypt("host.age"));
    let derived = common::command("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&private)
        .output()
        .unwrap();
    assert!(derived.status.success());
    let derived = String::from_utf8(derived.stdout).unwrap();
    let words = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&f.read("host.pub")), words(&derived));
    assert!(f.read("host.pub").trim().ends_with(" host.age"));
}

/// Named files that cannot be served fail with the fix, the others are still rewritten; a
/// secret that is not a key of its kind leaves its .pub alone.
#[test]
fn public_failures_name_the_file_and_the_fix() {
    if common::missing("age") {
        return;
    }
    let f = Fixture::new(&rules(&[
        rule("wg.age", r#""wireguard""#),
        rule("gone.age", r#""wireguard""#),
        rule("ok.age", r#""age""#),
        rule("pw.age", r#""alnum""#),
    ]));
    f.generate(&[]).assert().success();
    std::fs::remove_file(f.path().join("gone.age")).unwrap();
    f.repo.encrypt("wg.age", "hunter2");
    let wg_pub = f.read("wg.pub");
    std::fs::remove_file(f.path().join("ok.pub")).unwrap();
    let out = f
        .generate(&["--public", "wg.age", "gone.age", "pw.age", "ok.age", "-i"])
        .arg(key("alice_ed25519"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrote 1 .pub file(s); 3 failed:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  - wg.age: it does not hold a WireGuard private key (44 base64 characters), which its generator makes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  - gone.age: it does not exist, so there is no private key to read; `secrets generate gone.age` makes the key pair"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  - pw.age: its generator is not a key pair"),
        "{stderr}"
    );
    assert_eq!(f.read("wg.pub"), wg_pub);
    assert!(f.read("ok.pub").starts_with("age1"));
    // --public with --force is a usage error: rotating and re-deriving are different things.
    f.generate(&["--public", "--force"]).assert().code(2);
}
