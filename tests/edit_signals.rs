//! `secrets edit` under every catchable signal whose default action would kill it: the
//! plaintext file and the private directory holding it must be gone afterwards, the encrypted
//! file unchanged and the exit non-zero. Each signal is sent for real, by pid, to the
//! `secrets` process only (not to the editor, not through the terminal) while a stand-in
//! editor holds the plaintext open. And `secrets encrypt` waiting for input: its temporary
//! file gone, the secret unchanged.

#![cfg(target_os = "linux")] // /dev/shm as the RAM-backed XDG_RUNTIME_DIR; Linux signal numbers

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{key, Repo};

/// Forks `secrets` on a pseudo-terminal (the editor path needs a terminal on stdin), waits for
/// the editor's "EDITING", sends the signal to `secrets` by pid and reports how it ended.
/// A `secrets` that is not gone 10 s later is killed and reported as "hung", so a signal that
/// is ignored fails the test instead of hanging it.
const DRIVER: &str = r#"
import os, pty, select, signal, sys, time
sig = int(os.environ["SEND_SIGNAL"])
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
def pump(limit):
    global out
    end = time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
            if b"EDITING" in out and sig:
                return True
        elif os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    return True
seen = pump(20)
if seen is None:
    sys.stdout.write("exited-early\n" + out.decode(errors="replace"))
    sys.exit(0)
time.sleep(0.2)
os.kill(pid, sig)
status = None
end = time.time() + 10
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        status = st
        break
    select.select([fd], [], [], 0.05)
    try:
        out += os.read(fd, 4096) if select.select([fd], [], [], 0)[0] else b""
    except OSError:
        pass
# The child may have written its last lines just before it exited: drain the terminal.
while status is not None:
    try:
        if not select.select([fd], [], [], 0.2)[0]:
            break
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.stdout.write("hung\n")
elif os.WIFSIGNALED(status):
    sys.stdout.write("killed %d\n" % os.WTERMSIG(status))
else:
    sys.stdout.write("exit %d\n" % os.WEXITSTATUS(status))
sys.stdout.write(out.decode(errors="replace"))
"#;

/// Linux signal numbers (x86-64/aarch64 and most others; MIPS/SPARC/Alpha differ, hence the
/// lookup through python's `signal` module below instead of literals where it matters).
fn signal_number(name: &str) -> i32 {
    let out = Command::new("python3")
        .args(["-c", &format!("import signal; print(int(signal.{name}))")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Runs one edit, kills `secrets` with `sig` while the editor runs, and checks the cleanup;
/// Err says what went wrong.
fn edit_killed_by(sig_name: &str, sig: i32, runtime: &Path) -> Result<(), String> {
    let repo = Repo::new();
    repo.json_rules(r#"{"db.age": {"publicKeys": ["alice"]}}"#);
    repo.cmd()
        .args(["edit", "db.age"])
        .write_stdin("keep me")
        .assert()
        .success();
    let before = fs::read(repo.path().join("db.age")).unwrap();
    let tools = tempfile::tempdir().unwrap();
    let seen = tools.path().join("plaintext-path");
    // The editor records where the plaintext is, proves it has it, then waits: `exec` so the
    // SIGTERM that `secrets` sends its editor ends the wait at once.
    let ed = common::script(
        &tools.path().join("slow-editor"),
        &format!(
            "printf '%s' \"$1\" > '{}'\ngrep -q 'keep me' \"$1\" && echo EDITING\nexec sleep 20",
            seen.display()
        ),
    );
    let alice = key("alice_ed25519");
    let out = common::command("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(common::bin())
        .args(["edit", "db.age", "-i"])
        .arg(&alice)
        .current_dir(repo.path())
        .env("HOME", repo.path())
        .env("EDITOR", &ed)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("SEND_SIGNAL", sig.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ended = text.lines().next().unwrap_or("").to_string();
    let plain = fs::read_to_string(&seen).unwrap_or_default();
    if plain.is_empty() {
        return Err(format!("SIG{sig_name}: the editor never ran: {text}"));
    }
    let plain = Path::new(&plain);
    let leftover = common::snapshot(runtime);
    // Whatever else happened, a leftover is cleared so the next signal starts clean.
    let _ = fs::remove_dir_all(plain.parent().unwrap());
    if plain.exists() || !leftover.is_empty() {
        return Err(format!(
            "SIG{sig_name} ({sig}) left the plaintext behind ({ended}): {leftover:?}"
        ));
    }
    if ended != format!("exit {}", 128 + sig)
        || !text.contains("interrupted by signal")
        || !text.contains("the plaintext was removed")
    {
        return Err(format!("SIG{sig_name} ({sig}): unexpected end: {text}"));
    }
    if fs::read(repo.path().join("db.age")).unwrap() != before {
        return Err(format!("SIG{sig_name}: db.age changed"));
    }
    Ok(())
}

/// Each signal from signal(7) whose default action ends the process and that a process can
/// catch, the fault signals (SEGV, BUS, FPE, ILL, TRAP) as sent by another process, and
/// real-time signals (the first, one inside, the last).
#[test]
fn every_terminating_signal_during_edit_removes_plaintext() {
    let Some(runtime) = common::pty_runtime() else {
        return;
    };
    let names = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGTERM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGPIPE",
        "SIGVTALRM",
        "SIGPROF",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
        "SIGABRT",
        "SIGSTKFLT",
        "SIGSEGV",
        "SIGBUS",
        "SIGFPE",
        "SIGILL",
        "SIGTRAP",
    ];
    let mut signals: Vec<(String, i32)> = names
        .iter()
        .map(|n| (n.trim_start_matches("SIG").to_string(), signal_number(n)))
        .collect();
    signals.push(("RTMIN".into(), signal_number("SIGRTMIN")));
    signals.push(("RTMIN+3".into(), signal_number("SIGRTMIN") + 3));
    signals.push(("RTMAX".into(), signal_number("SIGRTMAX")));
    let failures: Vec<String> = signals
        .iter()
        .filter_map(|(name, sig)| edit_killed_by(name, *sig, runtime.path()).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `secrets encrypt` streams its input into a temporary file beside the secret: a signal
/// while it waits for more input (Ctrl-C on a value being typed, a killed pipeline) must stop
/// it at once, remove that file and leave the secret as it was (absent, or its old bytes).
#[test]
fn a_signal_during_encrypt_leaves_no_temporary_file() {
    use std::io::Write;
    use std::process::Stdio;
    if common::missing("python3") {
        return;
    }
    let repo = Repo::new();
    repo.json_rules(
        r#"{"new.age": {"publicKeys": ["alice"]}, "old.age": {"publicKeys": ["alice"]}}"#,
    );
    repo.encrypt("old.age", "the old value");
    let old = fs::read(repo.path().join("old.age")).unwrap();
    let temp_files = || -> Vec<String> {
        fs::read_dir(repo.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    };
    let mut failures = Vec::new();
    for name in ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"] {
        let sig = signal_number(name);
        for file in ["new.age", "old.age"] {
            let mut child = common::command(common::bin())
                .current_dir(repo.path())
                .env("HOME", repo.path())
                .args(["encrypt", file])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Part of a value, and the pipe kept open: encrypt is waiting for the rest.
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"half of a secret value").unwrap();
            stdin.flush().unwrap();
            let started = std::time::Instant::now();
            while temp_files().is_empty() && started.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let waiting = !temp_files().is_empty();
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(child.id() as libc::pid_t, sig) };
            // It must end by itself, its stdin still open; a signal that only takes effect at
            // the end of the input would leave it waiting.
            let case = format!("{name} during `encrypt {file}`");
            let started = std::time::Instant::now();
            while child.try_wait().unwrap().is_none() && started.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if child.try_wait().unwrap().is_none() {
                failures.push(format!(
                    "{case}: still waiting for input 10 s after the signal"
                ));
            }
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if !waiting {
                failures.push(format!("{case}: no temporary file appeared: {err}"));
            }
            if out.status.code() != Some(128 + sig) || !err.contains("is unchanged") {
                failures.push(format!("{case}: ended with {:?}: {err}", out.status));
            }
            if err.contains("half of a") {
                failures.push(format!("{case}: the value reached stderr: {err}"));
            }
            if !temp_files().is_empty() {
                failures.push(format!("{case}: left {:?}", temp_files()));
            }
            let now = fs::read(repo.path().join(file)).ok();
            let before = (file == "old.age").then(|| old.clone());
            if now != before {
                failures.push(format!("{case}: {file} changed"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
