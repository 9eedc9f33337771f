//! End to end from a Nix configuration to files on a tmpfs: evaluate a module (with nixpkgs'
//! lib and the test stubs), take the manifest and the commands it emits, and run the real
//! installer on them, as root in a private mount namespace (a fresh tmpfs on /run, so nothing
//! leaks out) where something is installed.

mod common;

use std::path::Path;
use std::process::Command;

#[cfg(target_os = "linux")] // used by the Linux-only tests
use common::key;
use common::Repo;

/// The test stubs' made-up store path prefix (nix/tests/stub-pkgs.nix).
const STORE: &str = "/nix/store/00000000000000000000000000000000";

/// A command a module wrote against the stubs, made runnable here: the stub package's binary
/// becomes the one under test and the stub's manifest files (plain and checked) `manifest`.
fn materialize(cmd: &str, manifest: &Path) -> String {
    materialize_with(cmd, &common::bin(), manifest)
}

fn materialize_with(cmd: &str, bin: &Path, manifest: &Path) -> String {
    let m = manifest.display().to_string();
    let out = cmd
        .replace(
            &format!("{STORE}-secrets-0.1.0/bin/secrets"),
            &bin.display().to_string(),
        )
        .replace(&format!("{STORE}-agenix-home-manifest-checked.json"), &m)
        .replace(&format!("{STORE}-agenix-home-manifest.json"), &m);
    assert!(!out.contains(STORE), "unknown store path in {out}");
    out
}

fn eval(module: &Path, attr: &str) -> serde_json::Value {
    let args = [
        "nix/tests/eval.nix".as_ref(),
        "--arg".as_ref(),
        "module".as_ref(),
        module.as_os_str(),
        "-A".as_ref(),
        attr.as_ref(),
    ];
    common::nix_eval::<&std::ffi::OsStr>(attr, &args)
}

/// Each of `lines` is a whole line of the script's stdout.
#[cfg(target_os = "linux")] // used by the Linux-only tests
fn assert_lines(stdout: &str, stderr: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            stdout.lines().any(|l| l == *line),
            "missing `{line}` in:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
}

#[test]
#[cfg(target_os = "linux")] // unshare and a tmpfs mounted on /run
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
        repo.encrypt(file, value);
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
    let (stdout, stderr) = in_private_mount_ns(&script);
    let expect = [
        "/run/agenix-for-users/pw 400 root root file $6$salt$hash",
        "/run/agenix/db 440 nobody nogroup file s3cr3t-db",
        "/run/agenix/app/db.env 400 root root file s3cr3t-db",
        "/run/app/db.env 400 root root link s3cr3t-db",
        "/run/copied 400 root root file s3cr3t-db",
        "template password=s3cr3t-db",
    ];
    assert_lines(&stdout, &stderr, &expect);
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

/// The home-manager module's build-time check, run as a Nix build runs it: a cleared
/// environment with HOME=/homeless-shelter and no XDG_RUNTIME_DIR, plus the derivation's own
/// attributes. The default paths start with ${XDG_RUNTIME_DIR}, so the check must not depend
/// on the builder's environment.
#[test]
fn home_manager_build_time_check_passes_in_a_build_environment() {
    if !common::nixpkgs_lib() {
        return;
    }
    let repo = repo_with_token("hm-token");
    let d = repo.path().display();
    let module = repo.write(
        "home.nix",
        format!(
            r#"{{
  age.secrets.token.file = "{d}/token.age";
  age.secrets.copy = {{ file = "{d}/token.age"; path = "$HOME/.config/app/token"; symlink = false; }};
  age.secrets.tilde = {{ file = "{d}/token.age"; path = "~/.local/token"; }};
}}"#
        ),
    );
    assert_eq!(
        eval(&module, "hmCustom.failedAssertions"),
        serde_json::json!([])
    );
    let manifest = eval(&module, "hmCustom.manifest").to_string();
    let mpath = repo.write("manifest.json", &manifest);
    let check = eval(&module, "hmCustom.checkCommand");
    let check = check.as_str().expect("validateManifest is on by default");
    let out_path = repo.path().join("out");
    // What the builder has: bash and coreutils, wherever they are (a Nix build sandbox has
    // no /usr/bin); found on our PATH, since a child's PATH is where its program is looked up.
    let (Some(bash), Some(cp)) = (common::which("bash"), common::which("cp")) else {
        panic!("bash and cp must be on PATH");
    };
    let tools = std::env::join_paths([bash.parent().unwrap(), cp.parent().unwrap()]).unwrap();
    let mut c = Command::new(&bash);
    c.env_clear()
        .env("HOME", "/homeless-shelter")
        .env("PATH", tools)
        .env("TMPDIR", repo.path())
        .env("out", &out_path);
    for (k, v) in eval(&module, "hmCustom.checkEnv")
        .as_object()
        .expect("derivation attributes")
    {
        c.env(k, v.as_str().expect("a string attribute"));
    }
    let out = c
        .args(["-euo", "pipefail", "-c", &materialize(check, &mpath)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build-time check failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), manifest);
}

/// The home-manager service's command, run as an unprivileged user (uid 65534) the way the
/// user's systemd would, first with secrets and then after the last one was removed: the
/// second run must remove the previous generation, the copy and the rendered template. The
/// host also has the NixOS module's password secrets (/run/agenix-for-users), which the
/// user's runs must leave alone.
#[test]
#[cfg(target_os = "linux")] // unshare and a tmpfs mounted on /run
fn home_manager_service_removes_the_last_secret_for_an_unprivileged_user() {
    if common::not_root()
        || common::missing("unshare")
        || common::missing("setpriv")
        || !common::nixpkgs_lib()
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let repo = repo_with_token("hm-s3cr3t");
    // Everything the user's process reads: the files here and a copy of the binary (the
    // build's target directory may be private to root).
    std::fs::set_permissions(repo.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = repo.path().join("secrets");
    std::fs::copy(common::bin(), &bin).unwrap();
    let d = repo.path().display();
    let home = "/run/home/u65534";
    let with = repo.write(
        "with.nix",
        format!(
            r#"{{ config, ... }}: {{
  home.homeDirectory = "{home}";
  age.secrets.token.file = "{d}/token.age";
  age.secrets.copy = {{ file = "{d}/token.age"; path = "$HOME/token-copy"; symlink = false; }};
  age.templates."app.env".content = "TOKEN=${{config.age.placeholder.token}}\n";
}}"#
        ),
    );
    let without = repo.write(
        "without.nix",
        format!("{{ home.homeDirectory = \"{home}\"; }}\n"),
    );
    let mut cmds = Vec::new();
    for (i, module) in [&with, &without].into_iter().enumerate() {
        assert_eq!(
            eval(module, "hmCustom.failedAssertions"),
            serde_json::json!([])
        );
        let manifest = eval(module, "hmCustom.manifest");
        if i == 1 {
            assert_eq!(manifest["secrets"], serde_json::json!({}));
            assert_eq!(manifest["templates"], serde_json::json!({}));
        }
        let mpath = repo.write(&format!("manifest{i}.json"), manifest.to_string());
        let units = eval(module, "hmCustom.userUnits");
        let exec = units["agenix"]["ExecStart"]
            .as_str()
            .unwrap_or_else(|| panic!("no agenix user service for {}: {units}", module.display()));
        cmds.push(materialize_with(exec, &bin, &mpath));
    }
    let key = key("alice_ed25519");
    let script = format!(
        r#"set -e
mount -t tmpfs tmpfs /run
# The NixOS module's users generation (a password secret).
mkdir -p /run/agenix.d/users.1
echo root-only > /run/agenix.d/users.1/pw
chmod 0751 /run/agenix.d /run/agenix.d/users.1; chmod 0400 /run/agenix.d/users.1/pw
ln -s /run/agenix.d/users.1 /run/agenix-for-users
# The user's runtime directory and key.
install -d -m 0755 /run/user /run/home
install -d -m 0700 -o 65534 -g 65534 /run/user/65534 {home} {home}/.ssh
install -m 0600 -o 65534 -g 65534 '{key}' {home}/.ssh/id_ed25519
as_user() {{
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    env -i PATH=/usr/bin:/bin HOME={home} XDG_RUNTIME_DIR=/run/user/65534 sh -c "$1"
}}
as_user '{with_cmd}'
echo "token $(cat /run/user/65534/agenix/token)"
echo "copy $(cat {home}/token-copy)"
echo "template $(cat /run/user/65534/agenix/rendered/app.env)"
echo "owner $(stat -L -c %u /run/user/65534/agenix/token)"
as_user '{without_cmd}'
echo "generations $(ls /run/user/65534/agenix.d | tr '\n' ' ')"
echo "current $(readlink /run/user/65534/agenix)"
find /run/user/65534 {home} -type f | sed 's/^/left /'
grep -rl hm-s3cr3t /run/user/65534 {home} | sed 's/^/plaintext /' || true
echo "users-link $(readlink /run/agenix-for-users)"
echo "users-secret $(cat /run/agenix-for-users/pw)"
"#,
        key = key.display(),
        with_cmd = cmds[0],
        without_cmd = cmds[1],
    );
    let (stdout, stderr) = in_private_mount_ns(&script);
    let expect = [
        "token hm-s3cr3t",
        "copy hm-s3cr3t",
        "template TOKEN=hm-s3cr3t",
        "owner 65534",
        // Generation 1 (with the secrets) pruned, the empty generation 2 current.
        "generations 2 ",
        "current /run/user/65534/agenix.d/2",
        "users-link /run/agenix.d/users.1",
        "users-secret root-only",
    ];
    assert_lines(&stdout, &stderr, &expect);
    // Only the empty generation's state file, the key and the installer's (empty) lock file
    // are left: no secret, copy or template.
    let mut left: Vec<&str> = stdout.lines().filter(|l| l.starts_with("left ")).collect();
    left.sort();
    assert_eq!(
        left,
        [
            "left /run/home/u65534/.ssh/id_ed25519",
            "left /run/user/65534/.agenix.d.lock",
            "left /run/user/65534/agenix.d/2/.secrets-install.json"
        ],
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains("plaintext "), "{stdout}");
    assert!(!stderr.contains("hm-s3cr3t"), "{stderr}");
}

/// A repository whose rules have one secret, token.age to alice, holding `value`.
fn repo_with_token(value: &str) -> Repo {
    let repo = Repo::new();
    repo.json_rules(r#"{"token.age": {"publicKeys": ["alice"]}}"#);
    repo.encrypt("token.age", value);
    repo
}

/// Run a shell script in a private mount namespace: its stdout and stderr, or a panic with both.
#[cfg(target_os = "linux")]
fn in_private_mount_ns(script: &str) -> (String, String) {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// The VM tests' machine (nix/tests/vm/machine.nix, reached through flake.nix's checks with a
/// stub nixpkgs, nix/tests/flake-outputs.nix) without a VM: its manifest, with fixtures made
/// here as the VM's fixtures.nix makes them, is installed by the real binary as root in a
/// private mount namespace whose /etc (a copy, plus the VM's users and host key), /run and
/// /var/lib are tmpfs, so nothing reaches the host. Then the VM test's checks of owners, modes,
/// paths and the template; then its switch to the changed secret (a restart of
/// consumer.service requested, one generation left).
#[test]
#[cfg(target_os = "linux")] // unshare and tmpfs mounts
fn vm_machine_manifest_installs_as_the_vm_test_expects() {
    if common::not_root()
        || common::missing("unshare")
        || common::missing("age")
        || common::missing("ssh-keygen")
        || !common::nixpkgs_lib()
        || !common::has_flake()
    {
        return;
    }
    let vm = common::nix_eval(
        "the VM's activation scripts",
        &[
            "-E",
            "(import ./nix/tests/flake-outputs.nix { }).vm.vm-activation-scripts",
        ],
    );
    assert_eq!(vm["failedAssertions"], serde_json::json!([]));

    // The VM's fixtures: a host key and the secrets encrypted to it.
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    std::fs::create_dir(&fx).unwrap();
    let host_key = fx.join("host_key");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "vm-host", "-f"])
        .arg(&host_key)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen");
    for (name, value) in [
        ("alice-password", "$6$vmtestsalt0123$hash"),
        ("db-v1", "PLAINTEXT-MARKER-db-v1"),
        ("db-v2", "PLAINTEXT-MARKER-db-v2"),
        ("api", "PLAINTEXT-MARKER-api"),
    ] {
        let mut child = Command::new("age")
            .arg("-R")
            .arg(fx.join("host_key.pub"))
            .arg("-o")
            .arg(fx.join(format!("{name}.age")))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "age -R for {name}");
    }
    let text = vm["manifest"].to_string().replace(
        &format!("{STORE}-secrets-vm-fixtures"),
        &fx.display().to_string(),
    );
    assert!(!text.contains(STORE), "unknown store path in {text}");
    let first = dir.path().join("first.json");
    std::fs::write(&first, &text).unwrap();
    // The specialisation `changed`: db from db-v2.
    let mut changed: serde_json::Value = serde_json::from_str(&text).unwrap();
    changed["secrets"]["db"]["file"] = fx.join("db-v2.age").display().to_string().into();
    let second = dir.path().join("second.json");
    std::fs::write(&second, changed.to_string()).unwrap();
    // systemctl as the installer sees it: records what it is asked.
    let stubs = dir.path().join("bin");
    std::fs::create_dir(&stubs).unwrap();
    let log = dir.path().join("systemctl.log");
    common::script(
        &stubs.join("systemctl"),
        &format!("echo \"$*\" >> '{}'", log.display()),
    );
    // The machine's /etc: a tmpfs copy of the host's, mounted over /etc in the namespace.
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();

    let script = format!(
        r#"set -e
etc='{etc}'
mount -t tmpfs tmpfs "$etc"
cp -a /etc/. "$etc"/
echo 'app:x:60990:60990::/var/empty:/bin/false' >> "$etc/passwd"
echo 'alice:x:60991:60991::/home/alice:/bin/sh' >> "$etc/passwd"
echo 'app:x:60990:' >> "$etc/group"
echo 'alice:x:60991:' >> "$etc/group"
mkdir -p "$etc/ssh"
install -m 0600 '{host_key}' "$etc/ssh/ssh_host_ed25519_key"
mount --bind "$etc" /etc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
export PATH='{stubs}':$PATH SECRETS_ACTIVATION_LIST_DIR=/run/nixos
'{bin}' install --manifest '{first}' >/dev/null
echo "agenix-link $(test -L /run/agenix && echo yes)"
echo "db $(stat -L -c '%U:%G %a' /run/agenix/db)"
echo "password $(stat -L -c '%U:%G %a' /run/agenix-for-users/alice-password)"
echo "api-link $(test -L /var/lib/app/api-token && echo yes)"
echo "api $(cat /var/lib/app/api-token)"
echo "copied-file $(test -f /etc/app-copied && ! test -L /etc/app-copied && echo yes)"
echo "copied $(stat -c '%U %a' /etc/app-copied)"
echo "template $(cat /run/agenix/rendered/app.env)"
echo "template-owner $(stat -L -c '%U %a' /run/agenix/rendered/app.env)"
'{bin}' install --manifest '{second}' >/dev/null
echo "db-after $(cat /run/agenix/db)"
echo "restart $(cat '{log}' /run/nixos/activation-restart-list 2>/dev/null | tr '\n' ' ')"
echo "generations $(ls /run/agenix.d | grep -c '^[0-9]*$')"
echo "current $(readlink /run/agenix)"
"#,
        etc = etc.display(),
        host_key = host_key.display(),
        stubs = stubs.display(),
        bin = common::bin().display(),
        first = first.display(),
        second = second.display(),
        log = log.display(),
    );
    let (stdout, stderr) = in_private_mount_ns(&script);
    let expect = [
        "agenix-link yes",
        "db app:app 440",
        "password root:root 400",
        "api-link yes",
        "api PLAINTEXT-MARKER-api",
        "copied-file yes",
        "copied root 400",
        "template TOKEN=PLAINTEXT-MARKER-api",
        "template-owner app 400",
        "db-after PLAINTEXT-MARKER-db-v2",
        "generations 1",
    ];
    assert_lines(&stdout, &stderr, &expect);
    let restart = stdout
        .lines()
        .find_map(|l| l.strip_prefix("restart "))
        .unwrap_or("");
    assert!(
        restart.contains("consumer.service"),
        "no restart of consumer.service requested: {restart:?}\n{stdout}"
    );
    let current = stdout
        .lines()
        .find_map(|l| l.strip_prefix("current "))
        .unwrap_or("");
    assert!(current.starts_with("/run/agenix.d/"), "{stdout}");
    assert!(!stdout.contains("PLAINTEXT-MARKER-db-v1"), "{stdout}");
}

/// agenix's README configuration (the shapes of tests/nix_module/agenix_readme.rs: a
/// password file from an ordinary secret, mode "770" with an owner and group, a copy with
/// symlink = false at a custom path, symlink = false with the default path, a link at a
/// custom path, a renamed secret, custom identityPaths, secretsDir and secretsMountPoint),
/// its manifest built by the NixOS module with Nix, installed by the real binary through the
/// two activation steps the module emits (agenixInstall: `--phase all --defer-owners`, then
/// agenixChown: `--phase owners`), as root in a private mount namespace. Between the two the
/// password file is there for the `users` script; every file is root's with owner bits only
/// until the owners step. Changed for this host: nobody/nogroup for agenix's nixbld1/nixbld
/// (not on every machine), and custom paths under the private /run rather than /etc and
/// /var/lib.
#[test]
#[cfg(target_os = "linux")] // unshare and a tmpfs mounted on /run
fn agenix_readme_configuration_installs_in_two_activation_steps() {
    if common::not_root() || common::missing("unshare") || !common::nixpkgs_lib() {
        return;
    }
    let repo = Repo::new();
    let names = [
        "secret1",
        "nixAccessTokens",
        "monitrc",
        "inPlace",
        "linked",
        "renamed",
    ];
    let rules: Vec<String> = names
        .iter()
        .map(|n| format!(r#""{n}.age": {{"publicKeys": ["alice", "web1"]}}"#))
        .collect();
    repo.json_rules(&format!("{{{}}}", rules.join(",")));
    for n in names {
        let value = if n == "secret1" {
            "$6$salt$hash".to_string()
        } else {
            format!("value-of-{n}")
        };
        repo.encrypt(&format!("{n}.age"), &value);
    }
    let d = repo.path().display();
    let module = repo.write(
        "readme.nix",
        format!(
            r#"{{ config, ... }}: {{
  age.identityPaths = [ "{web1}" ];
  age.secretsDir = "/run/keys/agenix";
  age.secretsMountPoint = "/run/keys/agenix.d";
  users.users.user1 = {{ isNormalUser = true; hashedPasswordFile = config.age.secrets.secret1.path; }};
  age.secrets.secret1.file = "{d}/secret1.age";
  age.secrets.nixAccessTokens = {{ file = "{d}/nixAccessTokens.age"; mode = "770"; owner = "nobody"; group = "nogroup"; }};
  age.secrets.monitrc = {{ file = "{d}/monitrc.age"; path = "/run/etc/monitrc"; mode = "0600"; owner = "root"; group = "root"; symlink = false; }};
  age.secrets.inPlace = {{ file = "{d}/inPlace.age"; symlink = false; }};
  age.secrets.linked = {{ file = "{d}/linked.age"; path = "/run/app/token"; }};
  age.secrets.renamed = {{ file = "{d}/renamed.age"; name = "renamed.txt"; }};
}}"#,
            web1 = key("web1_ed25519").display()
        ),
    );
    assert_eq!(
        eval(&module, "custom.failedAssertions"),
        serde_json::json!([])
    );
    let mpath = repo.write(
        "manifest.json",
        eval(&module, "custom.manifest").to_string(),
    );
    // The two activation snippets exactly as the module wrote them, made runnable here.
    let scripts = eval(&module, "custom.activationScripts");
    let runnable = |name: &str| {
        let cmd = scripts[name].as_str().expect("activation script text");
        let out = cmd
            .replace(
                &format!("{STORE}-secrets-0.1.0/bin/secrets"),
                &common::bin().display().to_string(),
            )
            .replace(
                &format!("{STORE}-agenix-manifest-checked.json"),
                &mpath.display().to_string(),
            )
            .replace(&format!("{STORE}-systemd-258/bin"), "/usr/bin");
        assert!(!out.contains(STORE), "unknown store path in {out}");
        out
    };
    let install = runnable("agenixInstall");
    let chown = runnable("agenixChown");
    assert!(
        install.ends_with("--phase all --defer-owners") && chown.ends_with("--phase owners"),
        "{install}\n{chown}"
    );
    let show = r#"for f in /run/keys/agenix/secret1 /run/keys/agenix/nixAccessTokens /run/etc/monitrc /run/keys/agenix/inPlace /run/app/token /run/keys/agenix/renamed.txt; do
  printf '%s %s %s %s ' "$STEP" "$f" "$(stat -L -c '%a %U %G' "$f")" "$(test -L "$f" && echo link || echo file)"
  cat "$f"; echo
done"#;
    let script = format!(
        "set -e\nmount -t tmpfs tmpfs /run\n{install}\nSTEP=before-owners\n{show}\n{chown}\nSTEP=after-owners\n{show}\n"
    );
    let (stdout, stderr) = in_private_mount_ns(&script);
    assert_lines(
        &stdout,
        &stderr,
        &[
            // What the `users` script reads is there, before any owner is applied.
            "before-owners /run/keys/agenix/secret1 400 root root file $6$salt$hash",
            // mode "770" & 0700: nobody else reads it until its owner is set.
            "before-owners /run/keys/agenix/nixAccessTokens 700 root root file value-of-nixAccessTokens",
            "before-owners /run/etc/monitrc 600 root root file value-of-monitrc",
            "before-owners /run/app/token 400 root root link value-of-linked",
            "after-owners /run/keys/agenix/secret1 400 root root file $6$salt$hash",
            "after-owners /run/keys/agenix/nixAccessTokens 770 nobody nogroup file value-of-nixAccessTokens",
            "after-owners /run/etc/monitrc 600 root root file value-of-monitrc",
            "after-owners /run/keys/agenix/inPlace 400 root root file value-of-inPlace",
            "after-owners /run/app/token 400 root root link value-of-linked",
            "after-owners /run/keys/agenix/renamed.txt 400 root root file value-of-renamed",
        ],
    );
    assert!(
        !stderr.contains("value-of") && !stderr.contains("$6$"),
        "{stderr}"
    );
}
