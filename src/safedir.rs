//! `SafeDir`: work in a directory that other users may write to (a custom destination's),
//! without ever acting on something they put there in place of what the installer made. The
//! directory is reached from `/` with O_NOFOLLOW and everything happens relative to its
//! descriptor; a name there can change between any two system calls (a rename, a hard link
//! to some other file), so what a name leads to is checked on the opened descriptor (type,
//! link count, owner, inode) before anything is done to it.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::describe_io;
use crate::fsutil::{cpath, cvt, fill_owned, Ownership, Replaced, SecretBytes};
use crate::safeio;

/// A directory reached from `/` one component at a time with O_NOFOLLOW, so that no symlink
/// on the way (planted by whoever may write to a directory in the chain) can redirect what
/// root writes. Everything below happens relative to the descriptor, never through the path.
pub struct SafeDir {
    fd: OwnedFd,
    path: PathBuf,
}

pub(crate) fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

pub(crate) fn cvt_fd(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a fresh descriptor from the kernel that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

pub(crate) fn openat(
    dir: RawFd,
    name: &CStr,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<OwnedFd> {
    // SAFETY: valid descriptor and NUL-terminated name.
    cvt_fd(unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })
}

/// lstat relative to `dir` (AT_FDCWD: a path); None when nothing is there.
pub(crate) fn lstat_at(dir: RawFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: st is a properly sized out-parameter; valid descriptor and name.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        return Ok(Some(st));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::NotFound {
        Ok(None)
    } else {
        Err(e)
    }
}

fn readlink_at(dir: RawFd, name: &CStr) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf is writable for buf.len() bytes.
    let n = unsafe {
        libc::readlinkat(
            dir,
            name.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(OsStr::from_bytes(&buf)))
}

pub(crate) fn is_type(st: &libc::stat, t: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == t
}

impl SafeDir {
    /// Open the absolute directory `dir`, creating missing directories (mode 0755) when
    /// `create`. A symlink or non-directory anywhere on the way is an error naming it.
    pub fn open(dir: &Path, create: bool) -> io::Result<SafeDir> {
        const DIR: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        if !dir.is_absolute() {
            return Err(io::Error::other(format!(
                "{} is not an absolute path",
                dir.display()
            )));
        }
        // SAFETY: a constant NUL-terminated path.
        let mut cur = cvt_fd(unsafe {
            libc::open(
                c"/".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        let mut at = PathBuf::from("/");
        for comp in dir.components() {
            let name = match comp {
                Component::RootDir | Component::CurDir => continue,
                Component::Normal(n) => n,
                _ => return Err(io::Error::other(format!("{} contains `..`", dir.display()))),
            };
            at.push(name);
            let c = c_name(name)?;
            let mut res = openat(cur.as_raw_fd(), &c, DIR, 0);
            if create && matches!(&res, Err(e) if e.kind() == io::ErrorKind::NotFound) {
                // SAFETY: valid descriptor and name.
                let made = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o700) } == 0;
                let mk_err = io::Error::last_os_error();
                if !made && mk_err.kind() != io::ErrorKind::AlreadyExists {
                    return Err(io::Error::other(format!(
                        "cannot create directory {}: {}",
                        at.display(),
                        describe_io(&mk_err)
                    )));
                }
                res = openat(cur.as_raw_fd(), &c, DIR, 0);
                if let (true, Ok(fd)) = (made, &res) {
                    // Created 0700 (umask); open it up like any directory on the way.
                    // SAFETY: a descriptor we own.
                    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), 0o755) })?;
                }
            }
            cur = match res {
                Ok(fd) => fd,
                Err(e) => {
                    let st = lstat_at(cur.as_raw_fd(), &c).ok().flatten();
                    return Err(match st {
                        Some(st) if is_type(&st, libc::S_IFLNK) => io::Error::other(format!(
                            "{} is a symlink (to {}); nothing is written through a symlink in \
                             a destination's directories. Set `path` to the real location, or \
                             replace the symlink with a directory",
                            at.display(),
                            readlink_at(cur.as_raw_fd(), &c)
                                .map(|t| t.display().to_string())
                                .unwrap_or_else(|_| "?".into())
                        )),
                        Some(st) if !is_type(&st, libc::S_IFDIR) => {
                            io::Error::other(format!("{} is not a directory", at.display()))
                        }
                        _ => io::Error::other(format!("{}: {}", at.display(), describe_io(&e))),
                    });
                }
            };
        }
        Ok(SafeDir {
            fd: cur,
            path: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Read the regular file `name` (not followed, never blocking: see `safeio`) if it holds
    /// at most `limit` bytes, with the metadata of what was read (from its descriptor).
    pub fn read_file(&self, name: &OsStr, limit: u64) -> io::Result<(SecretBytes, Metadata)> {
        let (f, meta) = safeio::open_regular(Some(self.fd.as_raw_fd()), &c_name(name)?, false)?;
        Ok((safeio::read_bounded(f, &meta, limit)?, meta))
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

/// Whether `st` is what `SafeDir` leaves behind as a temp file or link: a symlink or regular
/// file with no other name, owned by the effective user (or by `also`).
fn is_own_temp(st: &libc::stat, also: Option<u32>) -> bool {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (is_type(st, libc::S_IFLNK) || is_type(st, libc::S_IFREG))
        && st.st_nlink == 1
        && (st.st_uid == me || Some(st.st_uid) == also)
}

/// Give the symlink `name` in `dir` (AT_FDCWD: a path), which the caller has just made, owner
/// `o`. Whoever may write to that directory can rename something else over the name at any
/// moment: a hard link to a file of their choosing, which a chown by name (or of whatever
/// an open of the name returned) would hand to the secret's owner. So the link is opened
/// without following it and the descriptor must be exactly the link made: a symlink of ours
/// with no other name, the inode the name had right after it was made. Only then is it
/// chowned, through the descriptor.
pub(crate) fn chown_new_link(dir: RawFd, name: &CStr, o: Ownership) -> io::Result<()> {
    let made = lstat_at(dir, name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    check_own_link(&made, &made)?;
    let l = open_link(dir, name)?;
    // SAFETY: stat is plain old data; all-zero is a valid value for every field.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor (fstat works on O_PATH ones) and a properly sized out-parameter.
    cvt(unsafe { libc::fstat(l.as_raw_fd(), &mut st) })?;
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

/// Names in the directory open on `dir` (not `.` and `..`), read through a descriptor of its
/// own so `dir`'s offset is left alone.
pub(crate) fn dir_names(dir: RawFd) -> io::Result<Vec<CString>> {
    let fd = openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    // SAFETY: fdopendir takes over the descriptor (closed by closedir).
    let d = unsafe { libc::fdopendir(fd.into_raw_fd()) };
    if d.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    loop {
        // SAFETY: d is a valid DIR*; the name is copied before the next readdir.
        let ent = unsafe { libc::readdir(d) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated within the entry.
        let n = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        if n != c"." && n != c".." {
            out.push(n.to_owned());
        }
    }
    // SAFETY: d came from fdopendir and is closed once.
    unsafe { libc::closedir(d) };
    Ok(out)
}
