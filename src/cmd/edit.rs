//! `secrets edit FILE`: decrypt into a private directory on a RAM-backed filesystem, run the
//! editor, re-encrypt if the content changed. With stdin not a terminal, stdin is the content.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Args;

use super::{Global, IdentityFlags, RulesFlag};
use crate::error::{describe_io, Error, Result};
use crate::fs::{self, CatchSignals, PrivateDir, SecretBytes};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets edit db.age                 edit (or create) db.age in $VISUAL/$EDITOR
  echo -n hunter2 | secrets edit db.age
                                      set it from stdin (empty stdin is refused)
  VISUAL='code --wait' secrets edit nginx.conf.age
                                      another editor; it opens nginx.conf")]
pub struct EditArgs {
    /// The encrypted file (a path, or its name in the rules). Created if missing.
    pub file: PathBuf,
    /// Allow the plaintext on a disk-backed temp directory when no tmpfs is available.
    #[arg(long)]
    pub allow_disk_tmp: bool,
    #[command(flatten)]
    pub rules: RulesFlag,
    #[command(flatten)]
    pub identity: IdentityFlags,
    /// The editor command, used instead of $VISUAL/$EDITOR and run even when stdin is not a
    /// terminal; `-` replaces the secret with stdin without decrypting it. Set by the
    /// `ragenix` entry (its --editor, else $EDITOR); no flag of ours.
    #[arg(skip)]
    pub editor: Option<String>,
}

/// Where the new content comes from.
enum Source {
    /// An editor, on a copy of the old content.
    Editor(Vec<String>),
    /// stdin, compared with the old content.
    Stdin,
    /// stdin, replacing the secret without reading it (ragenix's `--editor -`).
    Replace,
    /// The editor is `:` (agenix's way to rekey one file): the old content, re-encrypted even
    /// though nothing changed.
    Keep,
}

fn source(args: &EditArgs) -> Result<Source> {
    if let Some(e) = &args.editor {
        if e.trim() == "-" {
            return Ok(Source::Replace);
        }
        let words = split_editor(e)?;
        return Ok(if is_noop(&words) {
            Source::Keep
        } else {
            Source::Editor(words)
        });
    }
    // `:` wins over stdin, as in agenix: `EDITOR=: agenix -e f.age` works in scripts too.
    let words = editor_command();
    if words.as_deref().is_ok_and(is_noop) {
        return Ok(Source::Keep);
    }
    if !std::io::stdin().is_terminal() {
        return Ok(Source::Stdin);
    }
    Ok(Source::Editor(words?))
}

fn is_noop(words: &[String]) -> bool {
    words == [":"]
}

pub fn run(args: &EditArgs, g: &Global) -> Result<i32> {
    fs::harden_process();
    let file = &args.file;
    let (rules, rule) = args.rules.load_with_rule(file, g)?;
    let shown = file.display();
    let source = source(args)?;
    // symlink_metadata, not exists(): anything at the path that cannot be read (dangling or
    // looping link) must fail the read, never be treated as a new secret and overwritten.
    let exists = rule.path.symlink_metadata().is_ok();
    let old: Option<SecretBytes> = if exists && !matches!(source, Source::Replace) {
        let ids = args.identity.load()?;
        Some(
            crate::store::decrypt_rule(&rule, &ids)
                .map_err(|e| cannot_decrypt(e, args, &rules, &rule, &ids))?,
        )
    } else {
        None
    };

    let keep = matches!(source, Source::Keep);
    // A document that does not parse is not saved; on a terminal the editor opens again.
    let reopen_with = match &source {
        Source::Editor(argv) if std::io::stdin().is_terminal() => Some(argv.clone()),
        _ => None,
    };
    let new = match source {
        // A wiped copy: `old` is still compared below (and wiped on drop).
        Source::Keep => match old.clone() {
            Some(old) => old,
            None => {
                eprintln!("{shown} wasn't created.");
                return Ok(0);
            }
        },
        Source::Editor(argv) => match edit_in_editor(
            argv,
            &rule.name,
            old.as_ref().map(|o| o.as_slice()),
            args.allow_disk_tmp,
        )? {
            Some(n) => n,
            None => {
                eprintln!("{shown} wasn't created.");
                return Ok(0);
            }
        },
        Source::Stdin | Source::Replace => read_stdin(&shown.to_string())?,
    };
    let new = match super::document::of_rule(&rule) {
        // `:` re-encrypts what is there (a rekey), parsed or not.
        Some(format) if !keep => {
            let name = rule.name.as_str();
            let reopen = reopen_with.map(|argv| {
                move |text: &[u8]| {
                    edit_in_editor(argv.clone(), name, Some(text), args.allow_disk_tmp)
                }
            });
            super::document::checked(format, &shown.to_string(), new, reopen)?
        }
        _ => new,
    };

    if old.as_ref().is_some_and(|o| o.as_slice() == new.as_slice()) && !keep {
        eprintln!("{shown} wasn't changed, skipping re-encryption.");
        return Ok(0);
    }
    crate::store::encrypt_and_replace(&rules, &rule, &new)?;
    super::say_written(file, &rule, g);
    Ok(0)
}

/// Why the file cannot be edited, and what to do: who can read it (`readers::explain`), and
/// `secrets encrypt`, which replaces a file without reading it.
fn cannot_decrypt(
    e: Error,
    args: &EditArgs,
    rules: &crate::rules::Rules,
    rule: &crate::rules::Rule,
    ids: &crate::keys::Identities,
) -> Error {
    use crate::error::ErrorKind;
    let shown = args.file.display().to_string();
    let kind = e.kind();
    let e = crate::readers::explain(e, &shown, rule, rules, ids, &args.identity.identities);
    match kind {
        ErrorKind::NoMatchingIdentity
        | ErrorKind::Corrupted
        | ErrorKind::Invalid
        | ErrorKind::NotAge => Error::of_kind(
            kind,
            format!(
                "{}
edit needs to read the file first; to overwrite it without reading it: \
                 `secrets encrypt {shown} < NEW-CONTENT` (or --input PATH)",
                e.message()
            ),
        ),
        _ => e,
    }
}

/// The new content from stdin, at most `fs::value_limit()` bytes (it is held whole, to be
/// compared with the old value); empty is refused.
fn read_stdin(shown: &str) -> Result<SecretBytes> {
    let limit = fs::value_limit();
    let input = fs::read_at_most(std::io::stdin().lock(), 0, limit)
        .map_err(|e| Error::new(format!("{shown}: cannot read stdin: {}", describe_io(&e))))?
        .ok_or_else(|| fs::value_limit_error("the new content on stdin", limit).context(shown))?;
    // A script run without input (CI, cron) must not blank a secret by accident.
    if input.is_empty() {
        return Err(Error::new(format!(
            "{shown}: stdin is empty, refusing to store an empty secret; pipe the content \
             in, or use `secrets encrypt {shown} < /dev/null` if empty is really meant"
        )));
    }
    Ok(input)
}

/// Returns the new content, or None when the editor did not save a new file.
fn edit_in_editor(
    mut argv: Vec<String>,
    name: &str,
    old: Option<&[u8]>,
    allow_disk_tmp: bool,
) -> Result<Option<SecretBytes>> {
    let base = fs::secure_tmp_base(allow_disk_tmp)?;
    // Before any plaintext exists; `dir` is declared after it, so it is wiped before the
    // default handlers come back.
    let signals = CatchSignals::install();
    let dir = PrivateDir::new_in(&base)?;
    let plain_name = plaintext_name(name);
    let plain_path = dir.path().join(&plain_name);
    if let Some(old) = old {
        dir.create(&plain_name, old)?;
    }
    let prog = argv.remove(0);
    let mut child = Command::new(&prog)
        .args(hardening_args(&prog))
        .args(&argv)
        .arg(&plain_path)
        .spawn()
        .map_err(|e| {
            Error::new(format!(
                "cannot start the editor `{prog}`: {}; set EDITOR or VISUAL",
                describe_io(&e)
            ))
        })?;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| Error::new(e.to_string()))? {
            break st;
        }
        let sig = signals.take();
        if sig != 0 {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            for _ in 0..40 {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            return Err(interrupted(sig, name));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Ctrl-C on the terminal reaches the editor too; it may exit before we poll the flag.
    let sig = signals.take();
    if sig != 0 {
        return Err(interrupted(sig, name));
    }
    if !status.success() {
        return Err(Error::new(format!(
            "the editor exited with {status}; {name} is unchanged"
        )));
    }
    let limit = fs::value_limit();
    let new = match dir.read(&plain_name, limit) {
        Ok(Some(n)) => n,
        Ok(None) => {
            let e = fs::value_limit_error("the edited file", limit);
            return Err(Error::new(format!("{}; {name} is unchanged", e.message())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if old.is_some() {
                return Err(Error::new(format!(
                    "the editor removed the temporary file; {name} is unchanged"
                )));
            }
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::new(format!(
                "cannot read the edited file: {}",
                describe_io(&e)
            )))
        }
    };
    // One more look after the read: a signal while it ran must still stop the edit.
    let sig = signals.take();
    if sig != 0 {
        return Err(interrupted(sig, name));
    }
    Ok(Some(new))
}

fn interrupted(sig: i32, name: &str) -> Error {
    Error::with_code(
        format!("interrupted by signal {sig}; the plaintext was removed and {name} is unchanged"),
        128 + sig,
    )
}

/// `nginx.conf.age` → `nginx.conf`, so the editor picks the right syntax.
pub fn plaintext_name(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let stem = base.strip_suffix(".age").unwrap_or(base);
    if stem.is_empty() || stem.starts_with('.') {
        format!("secret{stem}")
    } else {
        stem.to_string()
    }
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, split like a shell would.
fn editor_command() -> Result<Vec<String>> {
    let raw = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    split_editor(&raw)
}

/// An editor command split like a shell would; blank means `vi`.
fn split_editor(raw: &str) -> Result<Vec<String>> {
    let words = shell_words::split(raw)
        .map_err(|e| Error::new(format!("cannot parse the editor command `{raw}`: {e}")))?;
    if words.is_empty() {
        return Ok(vec!["vi".into()]);
    }
    Ok(words)
}

/// vim and neovim keep copies of what they edit (swap, undo, backup, viminfo/shada): turn
/// them all off so the plaintext exists only in the one file we remove.
pub fn hardening_args(prog: &str) -> Vec<String> {
    if !is_vim(prog) {
        return Vec::new();
    }
    [
        "-n",
        "-i",
        "NONE",
        "--cmd",
        "set nobackup nowritebackup noundofile noswapfile",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn is_vim(prog: &str) -> bool {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let base = name(Path::new(prog));
    if base.contains("vim") {
        return true;
    }
    if base != "vi" && base != "view" {
        return false;
    }
    // `vi` is often vim under another name; follow the link to know.
    let resolved = if prog.contains('/') {
        Some(PathBuf::from(prog))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(prog))
                .find(|p| p.is_file())
        })
    };
    resolved
        .and_then(|p| std::fs::canonicalize(p).ok())
        .is_some_and(|p| name(&p).contains("vim"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_names_keep_inner_extension() {
        assert_eq!(plaintext_name("nginx.conf.age"), "nginx.conf");
        assert_eq!(plaintext_name("hosts/db.age"), "db");
        assert_eq!(plaintext_name("raw"), "raw");
        assert_eq!(plaintext_name(".age"), "secret");
    }

    #[test]
    fn vim_gets_hardening() {
        assert!(hardening_args("/usr/bin/nvim").contains(&"-n".to_string()));
        assert!(hardening_args("nano").is_empty());
    }
}
