//! The command kind: run the rule's command and take what it prints on stdout as the secret.
//!
//! Its dependencies' plaintext is put in a fresh private directory (0700, files 0600) on a
//! RAM-backed filesystem, which is the command's working directory; the plaintext is never
//! put in its arguments or environment (both are readable by other users through /proc on
//! many systems). The directory's files are overwritten with zeros and removed afterwards,
//! whatever the command did. The command runs with this user's rights: whoever writes the
//! rules runs code on the machine that generates (see README, "Generators").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{describe_io, Error, Result};
use crate::fs::{self, CatchSignals, PrivateDir, SecretBytes};
use crate::rules::generator::dependency_file_name;

/// More output than this is a mistake (a secret is not a data file).
const MAX_OUTPUT: u64 = 1 << 20;

/// Run `command` for rule `name`, with the plaintext of `deps` (rule name, plaintext) in its
/// working directory. Relative program paths (`./gen.sh`) are taken from the rules
/// directory, as written in the rules.
pub fn run(
    name: &str,
    command: &[String],
    deps: &[(String, SecretBytes)],
    rules_dir: &Path,
) -> Result<SecretBytes> {
    let shown = shell_words::join(command);
    let fail = |what: String| Error::new(format!("{name}: command `{shown}`: {what}"));
    // From before the plaintext exists until it is wiped, a Ctrl-C (which reaches the command
    // too) or a kill does not end this process with the plaintext left behind.
    let signals = CatchSignals::install();
    let mut dir = if deps.is_empty() {
        None
    } else {
        let base = ram_base().map_err(|e| e.context(format_args!("{name}: dependencies")))?;
        let d = PrivateDir::new_in(&base)?;
        for (dep, plain) in deps {
            d.create(&dependency_file_name(dep), plain)?;
        }
        Some(d)
    };
    let cwd = dir.as_ref().map_or(rules_dir, |d| d.path());
    let program = program_path(&command[0], rules_dir);
    // Code from the rules runs now: say which, so it is never silent.
    let given = if deps.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = deps.iter().map(|(d, _)| d.as_str()).collect();
        format!(", given {}", names.join(", "))
    };
    eprintln!("{name}: running `{shown}` from the rules{given}");
    let mut child = Command::new(&program)
        .args(&command[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {}", describe_io(&e))))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let read = fs::read_all_wiped(stdout.take(MAX_OUTPUT + 1), 4096);
    let read = match read {
        Ok(out) if out.len() as u64 > MAX_OUTPUT => {
            let _ = child.kill();
            Err(fail(format!(
                "it printed more than {MAX_OUTPUT} bytes; a generator prints one secret"
            )))
        }
        Ok(out) => Ok(out),
        Err(e) => {
            let _ = child.kill();
            Err(fail(format!("cannot read its output: {}", describe_io(&e))))
        }
    };
    let status = child.wait();
    // The plaintext goes before anything else is reported.
    if let Some(d) = dir.as_mut() {
        d.destroy();
    }
    let sig = signals.take();
    drop(signals);
    if sig != 0 {
        return Err(Error::with_code(
            format!(
                "{name}: interrupted by signal {sig} while `{shown}` ran; the dependencies' \
                 plaintext was removed and nothing was written for {name}"
            ),
            128 + sig,
        ));
    }
    let out = read?;
    let status = status.map_err(|e| fail(describe_io(&e)))?;
    if !status.success() {
        return Err(fail(format!(
            "it failed ({status}); nothing was written for {name}"
        )));
    }
    if out.is_empty() {
        return Err(fail(
            "it printed nothing; the secret is what the command prints on stdout".into(),
        ));
    }
    Ok(out)
}

fn program_path(program: &str, rules_dir: &Path) -> PathBuf {
    let p = Path::new(program);
    if p.is_relative() && program.contains('/') {
        rules_dir.join(p)
    } else {
        p.to_path_buf()
    }
}

/// Where the dependencies' plaintext may go: `$XDG_RUNTIME_DIR`, else `/dev/shm`, if statfs
/// says it is a tmpfs or ramfs. Never a disk: there is no flag to allow one here.
fn ram_base() -> Result<PathBuf> {
    let shm = cfg!(target_os = "linux").then(|| PathBuf::from("/dev/shm"));
    let candidates: Vec<PathBuf> = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(shm)
        .collect();
    if let Some(dir) = candidates
        .iter()
        .find(|d| d.is_dir() && fs::is_ram_backed(d))
    {
        return Ok(dir.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(Error::new(format!(
        "no RAM-backed directory for their plaintext (tried {}): set XDG_RUNTIME_DIR to a \
         directory on a tmpfs; a command generator never puts plaintext on a disk",
        if tried.is_empty() {
            "XDG_RUNTIME_DIR, which is not set".to_string()
        } else {
            tried.join(", ")
        }
    )))
}
