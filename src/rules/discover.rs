//! Which rules file a command uses. In order: `--rules PATH`; `$RULES`; else the first
//! directory holding `secrets.nix` or `secrets.json`, looking from the FILE's directory (edit,
//! decrypt, encrypt) upward, as git finds `.git`, then from the current directory upward (the
//! only search of rekey, check, …).
//!
//! The walk up is fenced: it stops after a repository root (a directory with `.git`) and at
//! the filesystem root, and it never enters a directory another user could have put a rules
//! file in (one not owned by us or root, or writable by everyone, like /tmp): a rules file
//! chooses who can read the secrets, so one planted above a checkout must never be picked up.
//! The current directory itself is always looked in, as before (the user chose it). The file
//! found is loaded with the same fences as any other (`Rules::load`).

use std::path::{Path, PathBuf};

use crate::error::{describe_io, Error, Result};

/// Where to start looking when neither `--rules` nor `$RULES` is given.
#[derive(Clone, Copy, Debug)]
pub enum Start<'a> {
    /// The current directory, then upward (commands without a FILE).
    CurrentDir,
    /// The directory of this file (as given on the command line), then upward.
    FileDir(&'a Path),
    /// The current directory only: the agenix and ragenix entries, whose tools look nowhere
    /// else.
    CurrentDirOnly,
}

/// How the rules file was chosen, for `-v`.
#[derive(Clone, Debug)]
pub enum How {
    Flag,
    Env,
    /// Found by looking from `start`.
    Found {
        start: PathBuf,
    },
}

/// A rules file to load, and how it was chosen.
#[derive(Clone, Debug)]
pub struct Located {
    pub path: PathBuf,
    pub how: How,
}

impl How {
    /// "from --rules", "from $RULES", "found looking from DIR upward".
    pub fn describe(&self) -> String {
        match self {
            How::Flag => "given with --rules".into(),
            How::Env => "given in $RULES".into(),
            How::Found { start } => format!("found looking from {} upward", start.display()),
        }
    }
}

/// The rules file to use; None when none is given and none is found.
pub fn locate(explicit: Option<&Path>, start: Start) -> Result<Option<Located>> {
    if let Some(p) = explicit {
        return Ok(Some(Located {
            path: p.to_path_buf(),
            how: How::Flag,
        }));
    }
    if let Some(p) = std::env::var_os("RULES").filter(|v| !v.is_empty()) {
        return Ok(Some(Located {
            path: PathBuf::from(p),
            how: How::Env,
        }));
    }
    let cwd = std::env::current_dir().map_err(|e| {
        Error::new(format!(
            "cannot tell the current directory: {}",
            describe_io(&e)
        ))
    })?;
    if let Start::CurrentDirOnly = start {
        // Relative, as before: messages name ./secrets.nix the way the user wrote nothing.
        return Ok(in_dir(Path::new("."))?.map(|path| Located {
            path: path.strip_prefix(".").unwrap_or(&path).to_path_buf(),
            how: How::Found { start: cwd },
        }));
    }
    if let Start::FileDir(f) = start {
        let first = existing_dir_of(&cwd.join(f));
        if let Some(found) = walk_up(&first, &cwd)? {
            return Ok(Some(found));
        }
        if first == cwd {
            return Ok(None);
        }
    }
    // (A FILE outside every rules directory is then named by the current directory's rules,
    // which say it is outside, or name it with a rule that cannot be used.)
    walk_up(&cwd, &cwd)
}

/// The first rules file from `first` upward, within the fences.
fn walk_up(first: &Path, cwd: &Path) -> Result<Option<Located>> {
    let mut dir = first.to_path_buf();
    loop {
        if dir != cwd && !trusted(&dir) {
            return Ok(None);
        }
        if let Some(path) = in_dir(&dir)? {
            return Ok(Some(Located {
                path,
                how: How::Found {
                    start: first.to_path_buf(),
                },
            }));
        }
        // A repository's root is as far as its rules can be.
        if dir.join(".git").symlink_metadata().is_ok() {
            return Ok(None);
        }
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => return Ok(None),
        }
    }
}

/// The error when no rules file is given or found.
pub fn not_found(start: Start) -> Error {
    Error::new(format!(
        "no rules file: no secrets.nix or secrets.json {}; pass --rules PATH or set RULES",
        where_looked(start)
    ))
}

/// Where `locate` looks from `start`, for messages.
pub fn where_looked(start: Start) -> String {
    match start {
        Start::CurrentDirOnly => "in the current directory".to_string(),
        Start::CurrentDir => "in the current directory or above it (up to a repository root, \
             a directory with .git)"
            .to_string(),
        Start::FileDir(f) => format!(
            "beside {} or above it, nor in the current directory or above it (up to a \
             repository root, a directory with .git)",
            f.display()
        ),
    }
}

/// The rules file in `dir`, if there is exactly one; both is an error naming the directory.
fn in_dir(dir: &Path) -> Result<Option<PathBuf>> {
    let nix = dir.join("secrets.nix");
    let json = dir.join("secrets.json");
    // symlink_metadata: a dangling link is reported by load(), not skipped.
    let here = |p: &Path| p.symlink_metadata().is_ok();
    match (here(&nix), here(&json)) {
        (true, true) => {
            let shown = if dir == Path::new(".") {
                std::env::current_dir().unwrap_or_default()
            } else {
                dir.to_path_buf()
            };
            Err(Error::new(format!(
                "{}: both secrets.nix and secrets.json exist here: choose one with --rules \
                 {} or --rules {} (or remove the other)",
                shown.display(),
                shown.join("secrets.nix").display(),
                shown.join("secrets.json").display()
            )))
        }
        (true, false) => Ok(Some(nix)),
        (false, true) => Ok(Some(json)),
        (false, false) => Ok(None),
    }
}

/// The nearest existing directory holding `path` (a new file may be in a directory not made
/// yet), resolved.
fn existing_dir_of(path: &Path) -> PathBuf {
    let mut dir = path.parent().unwrap_or(Path::new("/"));
    loop {
        if let Ok(real) = std::fs::canonicalize(dir) {
            if real.is_dir() {
                return real;
            }
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => return PathBuf::from("/"),
        }
    }
}

/// Whether a rules file found in `dir` can only have been put there by us or root.
fn trusted(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (meta.uid() == me || meta.uid() == 0) && meta.mode() & 0o002 == 0
}
