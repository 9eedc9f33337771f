//! Filesystem safety in one place: private temp dirs on RAM-backed filesystems, atomic
//! same-directory writes, secret buffers that are wiped, and process hardening.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, IoContext, Result};

/// Plaintext lives in these buffers only; they are wiped when dropped.
pub type SecretBytes = Zeroizing<Vec<u8>>;

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6_u32 as i64;

/// The filesystem type of `path` as reported by statfs(2).
pub fn fs_type(path: &Path) -> io::Result<i64> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated string and st is a properly sized out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64)
}

pub fn is_ram_backed(path: &Path) -> bool {
    matches!(fs_type(path), Ok(t) if t == TMPFS_MAGIC || t == RAMFS_MAGIC)
}

pub fn is_tmpfs(path: &Path) -> bool {
    matches!(fs_type(path), Ok(t) if t == TMPFS_MAGIC)
}

pub fn is_ramfs(path: &Path) -> bool {
    matches!(fs_type(path), Ok(t) if t == RAMFS_MAGIC)
}

/// Where plaintext may be put for editing: `$XDG_RUNTIME_DIR`, else `/dev/shm`, if RAM-backed.
/// A disk-backed directory is used only when the caller allows it.
pub fn secure_tmp_base(allow_disk: bool) -> Result<PathBuf> {
    let mut tried = Vec::new();
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/dev/shm")));
    for dir in candidates {
        if dir.is_dir() && is_ram_backed(&dir) {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    if allow_disk {
        let dir = std::env::temp_dir();
        eprintln!(
            "warning: no RAM-backed directory found (tried {}); using {} because --allow-disk-tmp was given",
            tried.join(", "),
            dir.display()
        );
        return Ok(dir);
    }
    Err(Error::new(format!(
        "no RAM-backed directory for the plaintext (tried {}): set XDG_RUNTIME_DIR to a tmpfs \
         directory, or pass --allow-disk-tmp to accept a disk-backed temp file",
        tried.join(", ")
    )))
}

/// A private 0700 directory whose files are overwritten with zeros and removed on drop,
/// so plaintext does not outlive the command even on error paths.
pub struct PrivateDir {
    dir: Option<tempfile::TempDir>,
}

impl PrivateDir {
    pub fn new_in(base: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("secrets-")
            .permissions(Permissions::from_mode(0o700))
            .tempdir_in(base)
            .path_ctx("cannot create a private directory in", base)?;
        // Builder applies the umask; make sure nothing but 0700 is left.
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700))
            .path_ctx("cannot set permissions on", dir.path())?;
        Ok(PrivateDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("dir present until drop").path()
    }

    /// Wipe and remove now; also done on drop.
    pub fn destroy(&mut self) {
        if let Some(dir) = self.dir.take() {
            wipe_tree(dir.path());
            let _ = dir.close();
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// Overwrite every regular file below `dir` with zeros (best effort), so the pages that held
/// plaintext are cleared before they are freed.
pub fn wipe_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let p = entry.path();
        if ft.is_dir() {
            wipe_tree(&p);
        } else if ft.is_file() {
            wipe_file(&p);
        }
    }
}

pub fn wipe_file(path: &Path) {
    if let Ok(mut f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        if let Ok(meta) = f.metadata() {
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
    }
    let _ = fs::remove_file(path);
}

/// Create `path` exclusively with `mode` (umask cannot widen or narrow it), write `data`.
pub fn create_new_with_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600 & mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .path_ctx("cannot create", path)?;
    f.set_permissions(Permissions::from_mode(mode))
        .path_ctx("cannot set permissions on", path)?;
    f.write_all(data).path_ctx("cannot write", path)?;
    f.sync_all().path_ctx("cannot sync", path)?;
    Ok(())
}

/// Replace `path` atomically: write a temp file in the same directory, fsync it, rename it over
/// `path`, fsync the directory. On any error the target is untouched and the temp file removed.
/// The temp file starts at 0600 and gets `mode` before any byte is written.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = parent_dir(path);
    // Cap the name in the temp file's name: a valid 250-byte target must not fail because
    // its temp name would exceed the filesystem's 255-byte limit.
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(64).collect())
        .unwrap_or_else(|| "file".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(|e| Error::io("cannot write", path, e))?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .path_ctx("cannot set permissions on", tmp.path())?;
    tmp.write_all(data).path_ctx("cannot write", tmp.path())?;
    tmp.as_file()
        .sync_all()
        .path_ctx("cannot sync", tmp.path())?;
    tmp.persist(path)
        .map_err(|e| Error::io("cannot replace", path, e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// The mode an existing file has, to keep it when the file is rewritten.
pub fn existing_mode(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Read a whole file into a wiped buffer (for plaintext and private keys).
pub fn read_secret(path: &Path) -> io::Result<SecretBytes> {
    let mut f = File::open(path)?;
    let mut buf = Zeroizing::new(Vec::new());
    if let Ok(meta) = f.metadata() {
        buf.reserve_exact(meta.len() as usize + 1);
    }
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Read all of stdin into a wiped buffer. Reserve up front so the buffer is not reallocated
/// (each reallocation would leave an unwiped copy behind) for inputs up to 1 MiB.
pub fn read_stdin_secret() -> io::Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::with_capacity(1 << 20));
    io::stdin().lock().read_to_end(&mut buf)?;
    Ok(buf)
}

/// Keep plaintext out of core dumps and away from ptrace by unprivileged peers.
pub fn harden_process() {
    // SAFETY: plain syscalls without pointers to our memory (setrlimit reads a local struct).
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &lim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.age");
        fs::write(&p, b"old").unwrap();
        atomic_write(&p, b"new", 0o640).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(existing_mode(&p), Some(0o640));
        // No temp files left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_takes_names_up_to_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(format!("{}.age", "n".repeat(250)));
        atomic_write(&p, b"x", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
        let too_long = d.path().join("n".repeat(300));
        let e = atomic_write(&too_long, b"x", 0o644).unwrap_err();
        assert!(e.message().contains(&"n".repeat(300)), "{e}");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn private_dir_is_0700_and_wiped() {
        let base = tempfile::tempdir().unwrap();
        let mut pd = PrivateDir::new_in(base.path()).unwrap();
        let mode = fs::metadata(pd.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::write(pd.path().join("f"), b"plain").unwrap();
        let p = pd.path().to_path_buf();
        pd.destroy();
        assert!(!p.exists());
    }
}
