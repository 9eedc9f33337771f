//! The one walk from `/` to a directory, one component at a time with O_NOFOLLOW, that every
//! `SafeDir` is opened by: a symlink anywhere on the way (not only at the end) is refused, so
//! nothing planted by whoever may write to a directory in the chain can redirect what root
//! does there. Two kinds of directory (`Walk`):
//!
//! - a custom destination's, which other users may write to: everything afterwards is done
//!   relative to the descriptor, so the walk only has to refuse symlinks;
//! - the installer's own (the mount point, the directory of the lock file, the parents of the
//!   stable links): much is done by path afterwards (generations, secrets, state files,
//!   listing, removal), so every directory on the way must also be one nobody else can change
//!   (see `trusted`): owned by root (or by the user running the installer, in user mode) and
//!   not writable by group or others, unless sticky (like /tmp), where only the owner of an
//!   entry may rename it and the next entry on the way is checked the same way. Then nobody
//!   else can rename anything on the way, and the paths stay where the walk found them.

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use super::modes::{PARENT_DIR, PRIVATE_DIR};
use crate::error::describe_io;
use crate::fs::at::{c_name, cvt, cvt_fd, fstat, is_type, lstat_at, openat, readlink_at};

const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;

/// How `SafeDir::open` walks to a directory.
#[derive(Clone, Copy, Debug)]
pub struct Walk {
    /// Make missing directories: those on the way `PARENT_DIR`, the directory itself this mode.
    create: Option<u32>,
    /// One of the installer's own directories: every directory on the way is `trusted`.
    own: bool,
}

impl Walk {
    /// A custom destination's directory; `create` makes missing directories `PARENT_DIR`.
    pub fn destination(create: bool) -> Walk {
        Walk {
            create: create.then_some(PARENT_DIR),
            own: false,
        }
    }

    /// One of the installer's own directories; `create = Some(mode)` makes missing
    /// directories: those on the way `PARENT_DIR`, the directory itself `mode`.
    pub fn own(create: Option<u32>) -> Walk {
        Walk { create, own: true }
    }
}

/// Open the absolute directory `path` as `how` says. With `partial`, stop (None) at the
/// first missing directory, creating nothing: to refuse an unsafe directory before anything
/// at all is written. The errors of an own walk are whole messages (`io::Error::other`).
pub(super) fn walk(path: &Path, how: Walk, partial: bool) -> io::Result<Option<OwnedFd>> {
    #[cfg(target_os = "macos")]
    let resolved = how.own.then(|| resolve_system_links(path));
    #[cfg(target_os = "macos")]
    let path = resolved.as_deref().unwrap_or(path);
    if !path.is_absolute() {
        return Err(io::Error::other(format!(
            "{} is not an absolute path",
            path.display()
        )));
    }
    // SAFETY: a constant NUL-terminated path.
    let mut cur = cvt_fd(unsafe { libc::open(c"/".as_ptr(), DIR_FLAGS | libc::O_CLOEXEC) })
        .map_err(|e| match how.own {
            true => io::Error::other(format!("cannot open /: {}", describe_io(&e))),
            false => e,
        })?;
    if how.own {
        trusted(&cur, Path::new("/"), path)?;
    }
    if path.components().any(|c| c == Component::ParentDir) {
        let fix = if how.own {
            "; give the directory without it"
        } else {
            ""
        };
        return Err(io::Error::other(format!(
            "{} contains `..`{fix}",
            path.display()
        )));
    }
    let names: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut at = PathBuf::from("/");
    for (i, name) in names.iter().enumerate() {
        at.push(name);
        let c = c_name(name).map_err(|e| match how.own {
            true => io::Error::other(format!("cannot open {}: {}", at.display(), describe_io(&e))),
            false => e,
        })?;
        if partial && matches!(lstat_at(cur.as_raw_fd(), &c), Ok(None)) {
            return Ok(None);
        }
        let mode = match i + 1 == names.len() {
            true => how.create,
            false => how.create.map(|_| PARENT_DIR),
        };
        let step = Step {
            dir: &cur,
            at: &at,
            whole: path,
            own: how.own,
        };
        cur = step.open(&c, mode)?;
    }
    Ok(Some(cur))
}

/// One component of a walk: `at` (the path so far) in `dir`, on the way to `whole`.
struct Step<'a> {
    dir: &'a OwnedFd,
    at: &'a Path,
    whole: &'a Path,
    own: bool,
}

impl Step<'_> {
    /// Open the component as a directory, creating it (`mode`) when missing and asked to.
    fn open(&self, name: &CStr, mode: Option<u32>) -> io::Result<OwnedFd> {
        let dir = self.dir.as_raw_fd();
        let fd = match (openat(dir, name, DIR_FLAGS, 0), mode) {
            (Ok(fd), _) => fd,
            (Err(e), Some(mode)) if e.kind() == io::ErrorKind::NotFound => {
                // SAFETY: valid descriptor and NUL-terminated name.
                let made =
                    unsafe { libc::mkdirat(dir, name.as_ptr(), PRIVATE_DIR as libc::mode_t) };
                match cvt(made) {
                    Ok(()) => return self.made(name, mode),
                    // Somebody made it meanwhile: take it as found (still not followed, and
                    // for an own walk still checked).
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        openat(dir, name, DIR_FLAGS, 0).map_err(|e| self.refusal(name, e))?
                    }
                    Err(e) => {
                        return Err(io::Error::other(format!(
                            "cannot create directory {}: {}",
                            self.at.display(),
                            describe_io(&e)
                        )))
                    }
                }
            }
            (Err(e), _) => return Err(self.refusal(name, e)),
        };
        if self.own {
            trusted(&fd, self.at, self.whole)?;
        }
        Ok(fd)
    }

    /// The directory just made (0700, whatever the umask): open it and give it `mode`.
    fn made(&self, name: &CStr, mode: u32) -> io::Result<OwnedFd> {
        let fd =
            openat(self.dir.as_raw_fd(), name, DIR_FLAGS, 0).map_err(|e| self.refusal(name, e))?;
        // SAFETY: a descriptor we own.
        let res = cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) });
        res.map_err(|e| match self.own {
            true => io::Error::other(format!(
                "cannot set permissions on {}: {}",
                self.at.display(),
                describe_io(&e)
            )),
            false => e,
        })?;
        Ok(fd)
    }

    /// Why the component could not be opened as a directory, for the kind of walk.
    fn refusal(&self, name: &CStr, e: io::Error) -> io::Error {
        let dir = self.dir.as_raw_fd();
        let at = self.at.display();
        let msg = match lstat_at(dir, name) {
            Ok(Some(st)) if is_type(&st, libc::S_IFLNK) && self.own => format!(
                "{at} is a symlink; the installer follows no symlink on the way to {} (it would \
                 move where secrets go). Replace it with a directory, or set the option to the \
                 real location",
                self.whole.display()
            ),
            Ok(Some(st)) if is_type(&st, libc::S_IFLNK) => format!(
                "{at} is a symlink (to {}); nothing is written through a symlink in a \
                 destination's directories. Set `path` to the real location, or replace the \
                 symlink with a directory",
                readlink_at(dir, name)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into())
            ),
            Ok(Some(st)) if !is_type(&st, libc::S_IFDIR) && self.own => {
                format!("{at} exists and is not a directory; move it away")
            }
            Ok(Some(st)) if !is_type(&st, libc::S_IFDIR) => format!("{at} is not a directory"),
            _ if self.own => format!("cannot open {at}: {}", describe_io(&e)),
            _ => format!("{at}: {}", describe_io(&e)),
        };
        io::Error::other(msg)
    }
}

/// Refuse a directory on the way to `whole` that somebody other than root (or the user
/// running the installer) owns or may write to: they could rename what is below it once the
/// walk is done and put a symlink in its place, redirecting what root later does by path
/// (writing secrets, removing generations). A sticky directory may be writable by all: only
/// the owner of an entry can rename it there, and each entry on the way is checked here too.
fn trusted(fd: &OwnedFd, at: &Path, whole: &Path) -> io::Result<()> {
    let st = fstat(fd).map_err(|e| {
        io::Error::other(format!(
            "cannot inspect {}: {}",
            at.display(),
            describe_io(&e)
        ))
    })?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mode = st.st_mode & 0o7777;
    let foreign = st.st_uid != 0 && st.st_uid != me;
    let open = mode & 0o022 != 0 && mode & libc::S_ISVTX == 0;
    if !foreign && !open {
        return Ok(());
    }
    let whom = if me == 0 {
        "root".to_string()
    } else {
        format!("root or uid {me} (the user running the installer)")
    };
    let why = if foreign {
        format!("is owned by uid {}", st.st_uid)
    } else {
        format!("has mode {mode:o} (writable by group or others)")
    };
    Err(io::Error::other(format!(
        "{} {why}: whoever can change it can rename what is below it and swap in a symlink, \
         redirecting where the installer writes and deletes on the way to {}. Make it owned \
         by {whom} and not writable by group or others (chown {} {0}; chmod go-w {0}), or \
         choose another secretsMountPoint (or secretsDir) outside it",
        at.display(),
        whole.display(),
        if me == 0 {
            "root".to_string()
        } else {
            me.to_string()
        },
    )))
}
/// macOS keeps /var, /tmp and /etc (and nix-darwin /run) behind symlinks in `/` that only
/// root could have made. Those, and only symlinks like them (owned by root, in a root-owned
/// directory nobody else may write to), are resolved before the strict walk; any other
/// symlink is still refused there.
#[cfg(target_os = "macos")]
fn resolve_system_links(path: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let mut rest: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut out = PathBuf::from("/");
    let mut hops = 0;
    while let Some(c) = rest.pop() {
        if c == ".." {
            out.pop();
            continue;
        }
        let next = out.join(&c);
        let trusted = hops < 16
            && matches!(
                (std::fs::symlink_metadata(&next), std::fs::symlink_metadata(&out)),
                (Ok(l), Ok(d)) if l.file_type().is_symlink() && l.uid() == 0
                    && d.uid() == 0 && d.mode() & 0o022 == 0
            );
        match std::fs::read_link(&next) {
            Ok(t) if trusted => {
                hops += 1;
                if t.is_absolute() {
                    out = PathBuf::from("/");
                }
                for tc in t.components().rev() {
                    match tc {
                        Component::Normal(n) => rest.push(n.to_os_string()),
                        Component::ParentDir => rest.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => out = next,
        }
    }
    out
}
