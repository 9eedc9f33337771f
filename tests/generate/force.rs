//! --force: regenerating (rotating) existing files. Refused without a terminal unless --yes;
//! asked on a terminal.

use super::*;

fn lock_hash(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join("secrets.lock.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["files"][name]["ciphertext"].as_str().unwrap().to_string()
}

fn two_files() -> Fixture {
    let f = Fixture::new(&rules(&[
        rule("pw.age", r#""alnum""#),
        rule("wg.age", r#""wireguard""#),
    ]));
    f.generate(&[]).assert().success();
    f
}

/// Without a terminal, --force alone changes nothing and says to add --yes; with --yes every
/// file gets a new value, key pairs a new .pub, and the lock the new ciphertexts.
#[test]
fn force_needs_yes_without_a_terminal() {
    if common::missing("age") {
        return;
    }
    let f = two_files();
    let before = f.repo.snapshot();
    let out = f
        .generate(&["--force"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--force would replace 2 existing file(s) (pw.age, wg.age) and nobody can be asked (stdin is not a terminal); pass --yes"),
        "{stderr}"
    );
    assert_eq!(f.repo.snapshot(), before);

    let (pw, wg_pub) = (f.age_decrypt("pw.age"), f.read("wg.pub"));
    let out = f
        .generate(&["--force", "--yes", "pw.age"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("generated 1 file(s)"));
    assert_ne!(f.age_decrypt("pw.age"), pw);
    assert_eq!(f.read("wg.pub"), wg_pub, "a file not named was rotated");

    let wg_cipher = std::fs::read(f.path().join("wg.age")).unwrap();
    f.generate(&["--force", "--yes"]).assert().success();
    assert_ne!(f.read("wg.pub"), wg_pub);
    let new_cipher = std::fs::read(f.path().join("wg.age")).unwrap();
    assert_ne!(new_cipher, wg_cipher);
    assert_eq!(
        lock_hash(f.path(), "wg.age"),
        secrets::lockfile::sha256_hex(&new_cipher)
    );
    // --dry-run with --force says what it would replace, and does not.
    let before = f.repo.snapshot();
    let out = f
        .generate(&["--force", "--dry-run"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("would regenerate wg.age and wg.pub (wireguard key pair)"),
        "{stdout}"
    );
    assert_eq!(f.repo.snapshot(), before);
}

/// Answer the `[y/N]` question on a pseudo-terminal with `answer`; returns (exit code,
/// transcript).
fn on_terminal(f: &Fixture, answer: &str) -> (i32, String) {
    const DRIVER: &str = r#"
import os, pty, sys
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
asked = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not asked and b"[y/N]" in out:
        os.write(fd, sys.argv[1].encode() + b"\n")
        asked = True
_, status = os.waitpid(pid, 0)
sys.stdout.write("%d\n" % os.waitstatus_to_exitcode(status))
sys.stdout.write(out.decode(errors="replace"))
"#;
    let out = common::command("python3")
        .args(["-c", DRIVER, answer])
        .arg(common::bin())
        .args(["generate", "--force"])
        .current_dir(f.path())
        .env("HOME", f.home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, rest) = text.split_once('\n').unwrap();
    (code.parse().unwrap(), rest.to_string())
}

/// On a terminal --force asks, listing the files; "n" changes nothing, "y" regenerates.
#[test]
fn force_asks_on_a_terminal() {
    if common::missing("age") || common::missing("python3") {
        return;
    }
    let f = two_files();
    let before = f.repo.snapshot();
    let (code, out) = on_terminal(&f, "n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Replace 2 existing file(s) with new values: pw.age, wg.age? The old values are lost. [y/N]"),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(f.repo.snapshot(), before);

    let pw = f.age_decrypt("pw.age");
    let (code, out) = on_terminal(&f, "y");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("generated 2 file(s)"), "{out}");
    assert_ne!(f.age_decrypt("pw.age"), pw);
}
