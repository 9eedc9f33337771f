//! Files and directories the installer creates by path inside a generation (nobody else can
//! reach it while it is written): created owner-first, never readable by anyone else before
//! they have their final owner and mode, whatever the umask.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Owner and group to give a file; `None` keeps the creating user (user mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
}

/// Create `path` (which must not exist; symlinks are not followed) as mode 0400 owned by the
/// caller, write `data`, then give it `owner` and finally `mode`. The file is never more
/// permissive than 0400-root while it is being filled, whatever the umask. `sync` fsyncs it
/// (needed on disk, pointless on tmpfs).
pub fn create_owned_file(
    path: &Path,
    data: &[u8],
    owner: Option<Ownership>,
    mode: u32,
    sync: bool,
) -> io::Result<()> {
    create_owned_with(path, owner, mode, sync, |f| f.write_all(data))
}

/// `create_owned_file` with the content streamed in by `fill` (a plain secret decrypted
/// straight into its file). When anything fails, `fill` included, the file is removed: no
/// partial content stays under the name. `fill`'s error type only needs to hold an io::Error.
pub fn create_owned_with<E: From<io::Error>>(
    path: &Path,
    owner: Option<Ownership>,
    mode: u32,
    sync: bool,
    fill: impl FnOnce(&mut File) -> Result<(), E>,
) -> Result<(), E> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // From here on the file is ours: on error remove it (never what was there before).
    let res = (|| {
        // The umask may have cleared bits of 0400; fix the mode before any byte lands.
        f.set_permissions(Permissions::from_mode(0o400))?;
        fill(&mut f)?;
        finish_owned(&f, owner, mode, sync)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(path);
    }
    res
}

/// Fill a file just created 0400: data, then owner, then the final mode.
pub(super) fn fill_owned(
    mut f: File,
    data: &[u8],
    owner: Option<Ownership>,
    mode: u32,
    sync: bool,
) -> io::Result<()> {
    // The umask may have cleared bits of 0400; fix the mode before any byte lands.
    f.set_permissions(Permissions::from_mode(0o400))?;
    f.write_all(data)?;
    finish_owned(&f, owner, mode, sync)
}

/// After the data: the owner, then the final mode, then (`sync`) an fsync.
fn finish_owned(f: &File, owner: Option<Ownership>, mode: u32, sync: bool) -> io::Result<()> {
    if let Some(o) = owner {
        std::os::unix::fs::fchown(f, Some(o.uid), Some(o.gid))?;
    }
    // After chown: chown clears set-id bits, and the final mode must be the last word.
    f.set_permissions(Permissions::from_mode(mode))?;
    if sync {
        f.sync_all()?;
    }
    Ok(())
}

/// Create directory `path` with exactly `mode` (umask ignored); an existing directory (not a
/// symlink) gets `mode` too.
pub fn mkdir_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(mode & 0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let m = fs::symlink_metadata(path)?;
            if !m.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ));
            }
        }
        Err(e) => return Err(e),
    }
    fs::set_permissions(path, Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_owned_file_never_removes_what_was_there() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("taken");
        fs::write(&p, b"someone else's").unwrap();
        let e = create_owned_file(&p, b"new", None, 0o400, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"someone else's");
    }
}
