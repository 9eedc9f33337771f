//! The private directory `secrets edit` puts plaintext in. It is made by `mkdirat` with mode
//! 0700 (never wider, whatever the umask), opened `O_DIRECTORY|O_NOFOLLOW`, checked to be our
//! own directory and given exactly 0700 with `fchmod` on that descriptor. The plaintext is
//! created, read back, wiped and removed relative to the descriptor too; only the editor is
//! given a path. A name swapped in the meantime (a symlink, a rename) cannot redirect any of it.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rand::distributions::{Alphanumeric, DistString};

use super::at::{c_name, cvt, cvt_fd, dir_names, fstat, is_type, lstat_at, openat};
use super::mode::DIR_PRIVATE;
use super::secret::{read_at_most, SecretBytes};
use crate::error::{describe_io, Error, Result};

const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;

/// A private 0700 directory whose files are overwritten with zeros and removed on drop, so
/// plaintext does not outlive the command even on error paths.
pub struct PrivateDir {
    /// The directory it was made in, to remove it by name from there.
    base: OwnedFd,
    name: CString,
    /// None once destroyed.
    fd: Option<OwnedFd>,
    path: PathBuf,
}

impl PrivateDir {
    pub fn new_in(base: &Path) -> Result<Self> {
        let fail = |what: &str, e: io::Error| {
            Error::new(format!(
                "cannot {what} a private directory in {}: {}",
                base.display(),
                describe_io(&e)
            ))
        };
        let c_base = c_name(base.as_os_str()).map_err(|e| fail("create", e))?;
        // The base itself ($XDG_RUNTIME_DIR, /dev/shm) may be a symlink; what is made in it
        // is never followed.
        // SAFETY: a NUL-terminated path.
        let base_fd = cvt_fd(unsafe {
            libc::open(
                c_base.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })
        .map_err(|e| fail("open the base of", e))?;
        let mut tries = 0;
        let name = loop {
            let n = format!(
                "secrets-{}",
                Alphanumeric.sample_string(&mut rand::thread_rng(), 12)
            );
            let n = CString::new(n).expect("alphanumeric has no NUL");
            // SAFETY: valid descriptor and NUL-terminated name.
            match cvt(unsafe {
                libc::mkdirat(base_fd.as_raw_fd(), n.as_ptr(), DIR_PRIVATE as libc::mode_t)
            }) {
                Ok(()) => break n,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
                Err(e) => return Err(fail("create", e)),
            }
        };
        let mut dir = PrivateDir {
            path: base.join(std::ffi::OsStr::from_bytes(name.as_bytes())),
            base: base_fd,
            name,
            fd: None,
        };
        let fd =
            openat(dir.base.as_raw_fd(), &dir.name, DIR_FLAGS, 0).map_err(|e| fail("open", e))?;
        // The umask can only have narrowed 0700; set exactly that, on what we opened.
        own_private_dir(&fd).map_err(|e| fail("secure", e))?;
        dir.fd = Some(fd);
        Ok(dir)
    }

    /// For the editor, which needs a path, and for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> io::Result<&OwnedFd> {
        self.fd
            .as_ref()
            .ok_or_else(|| io::Error::other("the private directory was already removed"))
    }

    /// Create the new file `name` in the directory with mode 0600 and write `data` to it.
    pub fn create(&self, name: &str, data: &[u8]) -> Result<()> {
        let shown = self.path.join(name);
        let res = (|| {
            let c = c_name(name.as_ref())?;
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
            let mut f = File::from(openat(self.fd()?.as_raw_fd(), &c, flags, 0o600)?);
            f.write_all(data)?;
            f.sync_all()
        })();
        res.map_err(|e| Error::io("cannot create", &shown, e))
    }

    /// Read the regular file `name` (not followed; a FIFO does not block the open); None when
    /// it holds more than `limit` bytes, which are then not read.
    pub fn read(&self, name: &str, limit: u64) -> io::Result<Option<SecretBytes>> {
        let c = c_name(name.as_ref())?;
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let f = File::from(openat(self.fd()?.as_raw_fd(), &c, flags, 0)?);
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other(
                "not a regular file (the editor left something else in its place)",
            ));
        }
        read_at_most(f, meta.len(), limit)
    }

    /// Wipe and remove now; also done on drop.
    pub fn destroy(&mut self) {
        if let Some(fd) = self.fd.take() {
            wipe_tree(&fd, 0);
            drop(fd);
            // SAFETY: valid descriptor and NUL-terminated name.
            unsafe {
                libc::unlinkat(
                    self.base.as_raw_fd(),
                    self.name.as_ptr(),
                    libc::AT_REMOVEDIR,
                )
            };
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// What `mkdirat` made must be a directory of ours (nobody else can have put something at the
/// fresh random name first in a sticky /dev/shm, but it costs one fstat to know); then 0700.
fn own_private_dir(fd: &OwnedFd) -> io::Result<()> {
    let st = fstat(fd)?;
    // SAFETY: geteuid has no preconditions.
    if !is_type(&st, libc::S_IFDIR) || st.st_uid != unsafe { libc::geteuid() } {
        return Err(io::Error::other("it is not a directory of this user"));
    }
    // SAFETY: a descriptor we own.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), DIR_PRIVATE as libc::mode_t) })
}

/// Overwrite every regular file below `dir` with zeros (best effort), so the pages that held
/// plaintext are cleared before they are freed, and remove everything. Editors make few and
/// shallow extra files (backups, swap); the depth cap only bounds the recursion.
fn wipe_tree(dir: &OwnedFd, depth: u32) {
    for name in dir_names(dir.as_raw_fd()).unwrap_or_default() {
        let Ok(Some(st)) = lstat_at(dir.as_raw_fd(), &name) else {
            continue;
        };
        let mut flags = 0;
        if is_type(&st, libc::S_IFDIR) {
            if depth < 16 {
                if let Ok(sub) = openat(dir.as_raw_fd(), &name, DIR_FLAGS, 0) {
                    wipe_tree(&sub, depth + 1);
                }
            }
            flags = libc::AT_REMOVEDIR;
        } else if is_type(&st, libc::S_IFREG) {
            let wo = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
            if let Ok(fd) = openat(dir.as_raw_fd(), &name, wo, 0) {
                zero_fill(File::from(fd));
            }
        }
        // SAFETY: valid descriptor and NUL-terminated name.
        unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) };
    }
}

fn zero_fill(mut f: File) {
    let Ok(meta) = f.metadata() else { return };
    if !meta.is_file() {
        return;
    }
    let zeros = vec![0u8; 64 * 1024];
    let mut left = meta.len();
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if f.write_all(&zeros[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    let _ = f.sync_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn private_dir_is_0700_and_wiped() {
        let base = tempfile::tempdir().unwrap();
        let mut pd = PrivateDir::new_in(base.path()).unwrap();
        let meta = fs::symlink_metadata(pd.path()).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
        pd.create("f", b"plain").unwrap();
        assert_eq!(
            fs::metadata(pd.path().join("f")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(pd.read("f", 5).unwrap().unwrap().as_slice(), b"plain");
        assert!(pd.read("f", 4).unwrap().is_none(), "over the limit");
        assert!(pd.create("f", b"again").is_err(), "create is exclusive");
        fs::create_dir(pd.path().join("sub")).unwrap();
        fs::write(pd.path().join("sub/backup~"), b"plain").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", pd.path().join("link")).unwrap();
        let p = pd.path().to_path_buf();
        pd.destroy();
        assert!(!p.exists());
        assert!(fs::read_dir(base.path()).unwrap().next().is_none());
    }

    #[test]
    fn reads_refuse_symlinks() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("elsewhere");
        fs::write(&target, b"not ours").unwrap();
        let pd = PrivateDir::new_in(base.path()).unwrap();
        std::os::unix::fs::symlink(&target, pd.path().join("f")).unwrap();
        assert!(pd.read("f", 1 << 20).is_err());
        drop(pd);
        assert_eq!(fs::read(&target).unwrap(), b"not ours");
    }

    #[test]
    fn a_renamed_private_dir_is_still_the_one_wiped() {
        let base = tempfile::tempdir().unwrap();
        let mut pd = PrivateDir::new_in(base.path()).unwrap();
        pd.create("f", b"plain").unwrap();
        // Swap the name for a symlink to a decoy directory: the wipe acts on the descriptor,
        // so the decoy's file survives and the real file is zeroed and removed.
        let moved = base.path().join("moved");
        fs::rename(pd.path(), &moved).unwrap();
        let decoy = base.path().join("decoy");
        fs::create_dir(&decoy).unwrap();
        fs::write(decoy.join("f"), b"decoy").unwrap();
        std::os::unix::fs::symlink(&decoy, pd.path()).unwrap();
        pd.destroy();
        assert_eq!(fs::read(decoy.join("f")).unwrap(), b"decoy");
        assert!(!moved.join("f").exists());
    }
}
