//! `SafeDir`: a directory reached from `/` by the one walk (`walk`) that follows no symlink,
//! and the work done in it relative to its descriptor. A custom destination's directory may
//! be writable by other users; a name there can change between any two system calls (a
//! rename, a hard link to some other file), so what a name leads to is checked on the opened
//! descriptor (type, link count, owner, inode) before anything is done to it, and nothing
//! they put there in place of what the installer made is ever acted on.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::owned::{fill_owned, Ownership};
use super::walk::walk;
pub use super::walk::Walk;
use crate::error::{describe_io, Error, Result};
use crate::fs::at::{c_name, cpath, cvt, dir_names, fstat, is_type, lstat_at, openat, readlink_at};
use crate::fs::{open_regular, read_bounded, SecretBytes};

/// A directory reached from `/` one component at a time with O_NOFOLLOW, so that no symlink
/// on the way (planted by whoever may write to a directory in the chain) can redirect what
/// root writes. Everything below happens relative to the descriptor, never through the path.
pub struct SafeDir {
    fd: OwnedFd,
}

/// What an atomic replacement found at the destination before replacing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replaced {
    Nothing,
    /// A symlink that already pointed where we wanted.
    SameSymlink,
    /// A symlink pointing elsewhere (its old target), replaced without following it.
    OtherSymlink(PathBuf),
    /// A regular file (or other non-directory), replaced.
    File,
}

impl SafeDir {
    /// Open the absolute directory `dir`, walked from `/` as `how` says (see `walk`). A
    /// symlink or non-directory anywhere on the way is an error naming it.
    pub fn open(dir: &Path, how: Walk) -> io::Result<SafeDir> {
        match walk(dir, how, false)? {
            Some(fd) => Ok(SafeDir { fd }),
            // Not reached: only a partial walk stops at a missing directory.
            None => Err(io::Error::other(format!(
                "{} does not exist",
                dir.display()
            ))),
        }
    }

    /// `open` one of the installer's own directories (`Walk::own`), its refusal an error of
    /// the run.
    pub fn own(dir: &Path, create: Option<u32>) -> Result<SafeDir> {
        Self::open(dir, Walk::own(create)).map_err(own_error)
    }

    /// Check the part of `dir` that exists as `own` would, creating nothing: to refuse an
    /// unsafe directory before anything at all is written.
    pub fn check_own(dir: &Path) -> Result<()> {
        walk(dir, Walk::own(None), true)
            .map(drop)
            .map_err(own_error)
    }

    /// What the directory's descriptor says about it.
    pub fn stat(&self) -> io::Result<libc::stat> {
        fstat(&self.fd)
    }

    /// Give the directory `mode` and, when given, an owner (uid, gid).
    pub fn set_owner_mode(&self, owner: Option<(u32, u32)>, mode: u32) -> io::Result<()> {
        if let Some((uid, gid)) = owner {
            // SAFETY: a descriptor we own.
            cvt(unsafe { libc::fchown(self.fd.as_raw_fd(), uid, gid) })?;
        }
        // SAFETY: a descriptor we own.
        cvt(unsafe { libc::fchmod(self.fd.as_raw_fd(), mode as libc::mode_t) })
    }

    /// openat(2) of `name` here (O_CLOEXEC added).
    pub fn open_at(&self, name: &OsStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
        openat(self.fd.as_raw_fd(), &c_name(name)?, flags, mode)
    }

    /// What is at `name` now (not followed).
    pub fn inspect(&self, name: &OsStr, want_target: Option<&Path>) -> io::Result<Replaced> {
        let c = c_name(name)?;
        match lstat_at(self.fd.as_raw_fd(), &c)? {
            None => Ok(Replaced::Nothing),
            Some(st) if is_type(&st, libc::S_IFDIR) => Err(io::Error::other(
                "a directory is in the way (not replaced; remove it if it should be this secret)",
            )),
            Some(st) if is_type(&st, libc::S_IFLNK) => {
                let t = readlink_at(self.fd.as_raw_fd(), &c)?;
                if want_target == Some(t.as_path()) {
                    Ok(Replaced::SameSymlink)
                } else {
                    Ok(Replaced::OtherSymlink(t))
                }
            }
            Some(_) => Ok(Replaced::File),
        }
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
        readlink_at(self.fd.as_raw_fd(), &c_name(name)?)
    }

    /// Remove the non-directory `name`.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let c = c_name(name)?;
        // SAFETY: valid descriptor and name.
        cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) })
    }

    /// Read the regular file `name` (not followed, never blocking: see `crate::fs::open_regular`) if it holds
    /// at most `limit` bytes, with the metadata of what was read (from its descriptor).
    pub fn read_file(&self, name: &OsStr, limit: u64) -> io::Result<(SecretBytes, Metadata)> {
        let (f, meta) = open_regular(Some(self.fd.as_raw_fd()), &c_name(name)?, false)?;
        Ok((read_bounded(f, &meta, limit)?, meta))
    }

    /// Names in this directory.
    fn names(&self) -> io::Result<Vec<CString>> {
        dir_names(self.fd.as_raw_fd())
    }

    /// Remove our temp files/symlinks for `name` (`.<name>.link-*`, `.<name>.copy-*`) left by
    /// a run that was killed between creating and renaming them (see `is_own_temp`); such a
    /// temp may already belong to the secret's `owner`.
    pub fn remove_stale_temps(&self, name: &OsStr, owner: Option<Ownership>) {
        let n = name.as_bytes();
        let prefixes: Vec<Vec<u8>> = ["link-", "copy-"]
            .iter()
            .map(|t| [b".", n, b".", t.as_bytes()].concat())
            .collect();
        for e in self.names().unwrap_or_default() {
            if !prefixes.iter().any(|p| e.as_bytes().starts_with(p)) {
                continue;
            }
            // Only what we make: a symlink or file with no other name, ours or already given to
            // the secret's owner. A third user's file of that name in a sticky directory is not
            // ours to remove (and cannot be swapped for another there before the unlink); where
            // it could be swapped, whoever can do so may remove the name as well.
            if let Ok(Some(st)) = lstat_at(self.fd.as_raw_fd(), &e) {
                if is_own_temp(&st, owner.map(|o| o.uid)) {
                    // SAFETY: valid descriptor and name.
                    unsafe { libc::unlinkat(self.fd.as_raw_fd(), e.as_ptr(), 0) };
                }
            }
        }
    }

    fn temp_name(name: &OsStr, tag: &str) -> io::Result<CString> {
        let r: u64 = rand::random();
        let mut v = Vec::from(&b"."[..]);
        v.extend_from_slice(name.as_bytes());
        v.extend_from_slice(format!(".{tag}-{}-{r:016x}", std::process::id()).as_bytes());
        c_name(OsStr::from_bytes(&v))
    }

    fn rename_into(&self, tmp: &CStr, name: &CStr) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: valid descriptors and names.
        let res = cvt(unsafe { libc::renameat(fd, tmp.as_ptr(), fd, name.as_ptr()) });
        if res.is_err() {
            // SAFETY: as above.
            unsafe { libc::unlinkat(fd, tmp.as_ptr(), 0) };
        } else {
            // SAFETY: fsync on a descriptor we own.
            unsafe { libc::fsync(fd) };
        }
        res
    }

    /// Point `name` at `target` atomically: a temp symlink here, owned by `owner`, renamed
    /// over `name`. An existing symlink or file is replaced, never followed; a directory is an
    /// error. Returns what was there before.
    pub fn symlink(
        &self,
        target: &Path,
        name: &OsStr,
        owner: Option<Ownership>,
    ) -> io::Result<Replaced> {
        let before = self.inspect(name, Some(target))?;
        let c = c_name(name)?;
        let tmp = Self::temp_name(name, "link")?;
        let t = cpath(target)?;
        // SAFETY: valid descriptor and NUL-terminated strings.
        cvt(unsafe { libc::symlinkat(t.as_ptr(), self.fd.as_raw_fd(), tmp.as_ptr()) })?;
        let res = match owner {
            Some(o) => chown_new_link(self.fd.as_raw_fd(), &tmp, o),
            None => Ok(()),
        };
        if let Err(e) = res {
            // SAFETY: valid descriptor and name.
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
            return Err(e);
        }
        self.rename_into(&tmp, &c)?;
        Ok(before)
    }

    /// Replace `name` with a new file holding `data`, created 0400-root next to it, filled,
    /// given `owner` and `mode` through its descriptor, synced and renamed over `name`. A
    /// symlink at `name` is replaced, not followed; a directory is an error.
    pub fn copy(
        &self,
        name: &OsStr,
        data: &[u8],
        owner: Option<Ownership>,
        mode: u32,
    ) -> io::Result<Replaced> {
        let before = self.inspect(name, None)?;
        let c = c_name(name)?;
        let tmp = Self::temp_name(name, "copy")?;
        let fd = openat(
            self.fd.as_raw_fd(),
            &tmp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            0o400,
        )?;
        if let Err(e) = fill_owned(File::from(fd), data, owner, mode, true) {
            // SAFETY: valid descriptor and name.
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
            return Err(e);
        }
        self.rename_into(&tmp, &c)?;
        Ok(before)
    }
}

impl AsFd for SafeDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for SafeDir {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An own walk's errors are whole messages (see `walk`).
fn own_error(e: io::Error) -> Error {
    Error::new(describe_io(&e))
}

/// Whether `st` is what `SafeDir` leaves behind as a temp file or link: a symlink or regular
/// file with no other name, owned by the effective user (or by `also`).
fn is_own_temp(st: &libc::stat, also: Option<u32>) -> bool {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (is_type(st, libc::S_IFLNK) || is_type(st, libc::S_IFREG))
        && st.st_nlink == 1
        && (st.st_uid == me || Some(st.st_uid) == also)
}

/// Give the symlink `name` in `dir`, which the caller has just made, owner
/// `o`. Whoever may write to that directory can rename something else over the name at any
/// moment: a hard link to a file of their choosing, which a chown by name (or of whatever
/// an open of the name returned) would hand to the secret's owner. So the link is opened
/// without following it and the descriptor must be exactly the link made: a symlink of ours
/// with no other name, the inode the name had right after it was made. Only then is it
/// chowned, through the descriptor.
fn chown_new_link(dir: RawFd, name: &CStr, o: Ownership) -> io::Result<()> {
    let made = lstat_at(dir, name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    check_own_link(&made, &made)?;
    let l = open_link(dir, name)?;
    // fstat works on O_PATH descriptors too.
    let st = fstat(&l)?;
    check_own_link(&st, &made)?;
    fchown_link(&l, o)
}

fn check_own_link(st: &libc::stat, made: &libc::stat) -> io::Result<()> {
    let same = (st.st_dev, st.st_ino) == (made.st_dev, made.st_ino);
    if is_own_temp(st, None) && is_type(st, libc::S_IFLNK) && same {
        return Ok(());
    }
    Err(io::Error::other(
        "the temporary symlink was replaced by something else while it was being installed \
         (is another user writing to this directory?); nothing was chowned. Make the \
         destination's directory writable by root only",
    ))
}

/// A descriptor of the symlink itself (O_PATH: Linux opens no file for it).
#[cfg(target_os = "linux")]
fn open_link(dir: RawFd, name: &CStr) -> io::Result<OwnedFd> {
    openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)
}

#[cfg(target_os = "linux")]
fn fchown_link(l: &OwnedFd, o: Ownership) -> io::Result<()> {
    // SAFETY: valid descriptor; the empty path means the descriptor itself.
    cvt(unsafe {
        libc::fchownat(
            l.as_raw_fd(),
            c"".as_ptr(),
            o.uid,
            o.gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// macOS has neither O_PATH nor AT_EMPTY_PATH: O_SYMLINK opens the link itself (not its
/// target) and fchown on that descriptor changes the link. Not O_NOFOLLOW: macOS refuses a
/// symlink with it even under O_SYMLINK. O_NONBLOCK: a FIFO put in its place must not block
/// the open (it then fails `check_own_link`).
#[cfg(target_os = "macos")]
fn open_link(dir: RawFd, name: &CStr) -> io::Result<OwnedFd> {
    openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_SYMLINK | libc::O_NONBLOCK,
        0,
    )
}

#[cfg(target_os = "macos")]
fn fchown_link(l: &OwnedFd, o: Ownership) -> io::Result<()> {
    // SAFETY: a descriptor we own.
    cvt(unsafe { libc::fchown(l.as_raw_fd(), o.uid, o.gid) })
}
