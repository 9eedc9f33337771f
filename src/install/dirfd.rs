//! The installer's own directories (the mount point, the directory of the lock file, the
//! parents of the stable links) opened from `/` one component at a time with O_NOFOLLOW:
//! a symlink anywhere on the way (not only at the end) is refused. That alone holds only at
//! the moment of the walk, and much is done by path afterwards (generations, secrets, state
//! files, listing, removal). So every directory on the way must also be one nobody else can
//! change (see `trusted`): owned by root (or by the user running the installer, in user
//! mode) and not writable by group or others, unless sticky (like /tmp), where only the
//! owner of an entry may rename it and the next entry on the way is checked the same way.
//! Then nobody else can rename anything on the way, and the paths stay where the walk found
//! them.

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

/// Open the absolute directory `path` without following any symlink on the way, every
/// directory on it checked by `trusted`. With `create = Some(mode)`, missing directories are
/// made: parents 0755, `path` itself `mode`.
pub fn open(path: &Path, create: Option<u32>) -> Result<OwnedFd> {
    match walk(path, create, false)? {
        Some(fd) => Ok(fd),
        // Not reached: only a partial walk stops at a missing directory.
        None => Err(Error::new(format!("{} does not exist", path.display()))),
    }
}

/// Check the part of `path` that exists as `open` would, creating nothing: to refuse an
/// unsafe directory before anything at all is written.
pub fn check(path: &Path) -> Result<()> {
    walk(path, None, true).map(drop)
}

/// `open`; with `partial`, stop (None) at the first missing directory.
fn walk(path: &Path, create: Option<u32>, partial: bool) -> Result<Option<OwnedFd>> {
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
    trusted(&cur, Path::new("/"), path)?;
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
        if partial && matches!(lstat_at(&cur, name), Ok(None)) {
            return Ok(None);
        }
        let mode = if i + 1 == names.len() {
            create
        } else {
            create.map(|_| 0o755)
        };
        cur = step(&cur, name, &at, path, mode)?;
    }
    Ok(Some(cur))
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
        Ok(fd) => return trusted(&fd, at, whole).map(|()| fd),
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
        // Somebody made it meanwhile: take it as found (still not followed, still checked).
        let fd = open_at(dir, name, DIR_FLAGS, 0).map_err(|e| refusal(dir, name, at, whole, e))?;
        return trusted(&fd, at, whole).map(|()| fd);
    }
    let fd = open_at(dir, name, DIR_FLAGS, 0).map_err(|e| refusal(dir, name, at, whole, e))?;
    // Made 0700 (umask 077); now the mode it is meant to have.
    set_owner_mode(&fd, None, mode).map_err(|e| Error::io("cannot set permissions on", at, e))?;
    Ok(fd)
}

/// Refuse a directory on the way to `whole` that somebody other than root (or the user
/// running the installer) owns or may write to: they could rename what is below it once the
/// walk is done and put a symlink in its place, redirecting what root later does by path
/// (writing secrets, removing generations). A sticky directory may be writable by all: only
/// the owner of an entry can rename it there, and each entry on the way is checked here too.
fn trusted(fd: &OwnedFd, at: &Path, whole: &Path) -> Result<()> {
    let st = fstat(fd).map_err(|e| Error::io("cannot inspect", at, e))?;
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
    Err(Error::new(format!(
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
