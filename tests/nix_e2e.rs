//! End to end from a Nix configuration to files on a tmpfs: evaluate the NixOS module (with
//! nixpkgs' lib and the test stub), take the manifest it emits, and run the real installer on
//! it as root in a private mount namespace (a fresh tmpfs on /run, so nothing leaks out).

mod common;

use std::path::Path;
use std::process::Command;

use common::{key, Repo};

fn eval(module: &Path, attr: &str) -> serde_json::Value {
    let out = Command::new("nix-instantiate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--eval",
            "--strict",
            "--json",
            "nix/tests/eval.nix",
            "--arg",
            "module",
        ])
        .arg(module)
        .args(["-A", attr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "eval {attr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn module_manifest_installs_with_the_real_binary() {
    if common::not_root() || common::missing("unshare") || !common::nixpkgs_lib() {
        return;
    }
    let repo = Repo::new();
    repo.json_rules(
        r#"{"db.age": {"publicKeys": ["alice", "web1"]},
            "pw.age": {"publicKeys": ["alice", "web1"], "armor": true}}"#,
    );
    for (file, value) in [("db.age", "s3cr3t-db"), ("pw.age", "$6$salt$hash")] {
        repo.cmd()
            .args(["encrypt", file])
            .write_stdin(value)
            .assert()
            .success();
    }
    let d = repo.path().display();
    let module = repo.write(
        "host.nix",
        format!(
            r#"{{ config, ... }}: {{
  age.identityPaths = [ "{web1}" "/nonexistent/ssh_host_rsa_key" ];
  age.secrets.db = {{ file = "{d}/db.age"; owner = "nobody"; group = "nogroup"; mode = "0440"; }};
  age.secrets.pw = {{ file = "{d}/pw.age"; neededForUsers = true; }};
  age.secrets.appdb = {{ file = "{d}/db.age"; name = "app/db.env"; path = "/run/app/db.env"; }};
  age.secrets.copy = {{ file = "{d}/db.age"; path = "/run/copied"; symlink = false; }};
  age.templates."app.conf".content = "password=${{config.age.placeholder.db}}\n";
}}"#,
            web1 = key("web1_ed25519").display()
        ),
    );
    assert_eq!(
        eval(&module, "custom.failedAssertions"),
        serde_json::json!([])
    );
    let manifest = eval(&module, "custom.manifest");
    // Ciphertext paths only: no value appears in the manifest.
    let text = manifest.to_string();
    assert!(
        !text.contains("s3cr3t") && !text.contains("$6$salt"),
        "{text}"
    );
    let mpath = repo.write("manifest.json", &text);
    let bin = common::bin();
    let script = format!(
        r#"set -e
mount -t tmpfs tmpfs /run
'{bin}' install --check --manifest '{m}'
'{bin}' install --manifest '{m}' --phase users
'{bin}' install --manifest '{m}' --phase main
for f in /run/agenix-for-users/pw /run/agenix/db /run/agenix/app/db.env /run/app/db.env /run/copied; do
  printf '%s %s %s ' "$f" "$(stat -L -c '%a %U %G' "$f")" "$(test -L "$f" && echo link || echo file)"
  cat "$f"; echo
done
printf 'template %s\n' "$(cat /run/agenix/rendered/app.conf 2>/dev/null || find /run -name app.conf -exec cat {{}} \;)"
printf 'fstype %s\n' "$(stat -f -c %T /run/agenix.d)"
"#,
        bin = bin.display(),
        m = mpath.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let expect = [
        "/run/agenix-for-users/pw 400 root root file $6$salt$hash",
        "/run/agenix/db 440 nobody nogroup file s3cr3t-db",
        "/run/agenix/app/db.env 400 root root file s3cr3t-db",
        "/run/app/db.env 400 root root link s3cr3t-db",
        "/run/copied 400 root root file s3cr3t-db",
        "template password=s3cr3t-db",
    ];
    for line in expect {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing `{line}` in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("fstype tmpfs") || stdout.contains("fstype ramfs"),
        "{stdout}"
    );
    // Logs name secrets, never values.
    assert!(
        !stderr.contains("s3cr3t") && !stderr.contains("$6$"),
        "{stderr}"
    );
    // Everything happened on the private /run: nothing reached the host's.
    assert!(!Path::new("/run/app/db.env").exists() && !Path::new("/run/copied").exists());
}
