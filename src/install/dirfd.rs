//! The installer's own directories (the mount point, the directory of the lock file, the
//! parents of the stable links) opened from `/` one component at a time with O_NOFOLLOW:
//! a symlink anywhere on the way (not only at the end) is refused, so whoever can write to a
//! directory in the chain cannot move where secrets are mounted or written. What follows is
//! done through the descriptor (fchmod, fchown, mount via /proc/self/fd), not the path.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{describe_io, Error, Result};

const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor from the kernel that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// openat(2) of `name` in `dir` (O_CLOEXEC added).
pub fn open_at(dir: &OwnedFd, name: &OsStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let c = c_name(name)?;
    // SAFETY: valid descriptor and NUL-terminated name.
    owned(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })
}

/// lstat of `name` in `dir`; None when nothing is there.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<libc::stat>> {
    let c = c_name(name)?;
    // SAFETY: stat is plain old data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, name and out-parameter.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match rc {
        0 => Ok(Some(st)),
        _ => match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::NotFound => Ok(None),
            e => Err(e),
        },
    }
}

pub fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain old data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and out-parameter.
    match unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } {
        0 => Ok(st),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Give the directory (or file) `fd` is open on `mode` and, when given, an owner.
pub fn set_owner_mode(fd: &OwnedFd, owner: Option<(u32, u32)>, mode: u32) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        // SAFETY: a valid descriptor.
        if unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: a valid descriptor.
    match unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn is_type(st: &libc::stat, t: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == t
}

/// Open the absolute directory `path` without following any symlink on the way. With
/// `create = Some(mode)`, missing directories are made: parents 0755, `path` itself `mode`.
pub fn open(path: &Path, create: Option<u32>) -> Result<OwnedFd> {
    #[cfg(target_os = "macos")]
    let path = &resolve_system_links(path);
    if !path.is_absolute() {
        return Err(Error::new(format!(
            "{} is not an absolute path",
            path.display()
        )));
    }
    // SAFETY: a constant NUL-terminated path.
    let mut cur = owned(unsafe { libc::open(c"/".as_ptr(), DIR_FLAGS) })
        .map_err(|e| Error::io("cannot open", Path::new("/"), e))?;
    let names: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(Error::new(format!(
            "{} contains `..`; give the directory without it",
            path.display()
        )));
    }
    let mut at = PathBuf::from("/");
    for (i, name) in names.iter().enumerate() {
        at.push(name);
        let mode = if i + 1 == names.len() {
            create
        } else {
            create.map(|_| 0o755)
        };
        cur = step(&cur, name, &at, path, mode)?;
    }
    Ok(cur)
}

/// One component: open it as a directory, creating it (`mode`) when missing and asked to.
fn step(
    dir: &OwnedFd,
    name: &OsStr,
    at: &Path,
    whole: &Path,
    mode: Option<u32>,
) -> Result<OwnedFd> {
    match open_at(dir, name, DIR_FLAGS, 0) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.kind() != io::ErrorKind::NotFound || mode.is_none() => {
            return Err(refusal(dir, name, at, whole, e))
        }
        Err(_) => {}
    }
    let c = c_name(name).map_err(|e| Error::io("cannot create directory", at, e))?;
    let mode = mode.unwrap_or(0o755);
    // SAFETY: valid descriptor and NUL-terminated name.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o700) } != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(Error::io("cannot create directory", at, e));
        }
        // Somebody made it meanwhile: take it as found (still not followed).
        return open_at(dir, name, DIR_FLAGS, 0).map_err(|e| refusal(dir, name, at, whole, e));
    }
    let fd = open_at(dir, name, DIR_FLAGS, 0).map_err(|e| refusal(dir, name, at, whole, e))?;
    // Made 0700 (umask 077); now the mode it is meant to have.
    set_owner_mode(&fd, None, mode).map_err(|e| Error::io("cannot set permissions on", at, e))?;
    Ok(fd)
}

fn refusal(dir: &OwnedFd, name: &OsStr, at: &Path, whole: &Path, e: io::Error) -> Error {
    match lstat_at(dir, name) {
        Ok(Some(st)) if is_type(&st, libc::S_IFLNK) => Error::new(format!(
            "{} is a symlink; the installer follows no symlink on the way to {} (it would \
             move where secrets go). Replace it with a directory, or set the option to the \
             real location",
            at.display(),
            whole.display()
        )),
        Ok(Some(st)) if !is_type(&st, libc::S_IFDIR) => Error::new(format!(
            "{} exists and is not a directory; move it away",
            at.display()
        )),
        _ => Error::new(format!("cannot open {}: {}", at.display(), describe_io(&e))),
    }
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
