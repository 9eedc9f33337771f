//! Durable, atomic replacement of one file (`atomic_write`: the encrypted files, the lock
//! file, `decrypt -o`), and the one-writer-at-a-time lock of a repository.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::at::cvt;
use crate::error::{Error, IoContext, Result};

/// Replace `path` atomically: write a temp file in the same directory, fsync it, rename it over
/// `path`, fsync the directory. On any error the target is untouched and the temp file removed.
/// The temp file starts at 0600 and gets `mode` before any byte is written.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    atomic_write_with(path, mode, |f| {
        f.write_all(data)
            .map_err(|e| Error::io("cannot write", path, e))
    })
}

/// `atomic_write` for content streamed in by `fill` (`decrypt -o`), which writes into the temp
/// file and words its own errors. When `fill` fails, the temp file is removed and `path` is
/// left as it was (or absent): nothing half-written is ever in place.
pub fn atomic_write_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> Result<()>,
) -> Result<()> {
    // A staged file made durable before it is put in place; dropped on error, which deletes it.
    let (staged, ()) = super::batch::stage_with(path, mode, |f| {
        fill(f)?;
        f.sync_all()
            .path_ctx("cannot sync a temporary file for", path)
    })?;
    staged.put_in_place()
}

/// A new temp file next to `path` for its replacement: 0600 at creation, then `mode` before
/// any byte is written. Named `.NAME.XXXXXX.tmp` after the target, the name capped at 64 bytes
/// (at a character boundary) so that a valid 250-byte target does not fail because its temp
/// name would pass the filesystem's 255-byte limit. Dropping it deletes it.
pub(super) fn temp_beside(path: &Path, mode: u32) -> Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .map(|n| capped(&n.to_string_lossy(), 64).to_string())
        .unwrap_or_else(|| "file".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(parent_dir(path))
        .map_err(|e| Error::io("cannot write", path, e))?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .path_ctx("cannot set permissions on", tmp.path())?;
    Ok(tmp)
}

/// The longest start of `s` of at most `max` bytes that ends at a character boundary.
fn capped(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

/// An exclusive advisory lock on a directory, held until dropped (one writer of a repository at a time).
pub struct DirLock(#[allow(dead_code)] File);

pub fn lock_dir(dir: &Path) -> io::Result<DirLock> {
    let f = File::open(dir)?;
    // SAFETY: flock on a descriptor we own.
    cvt(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) })?;
    Ok(DirLock(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_capped_in_bytes() {
        assert_eq!(capped("abc", 64), "abc");
        assert_eq!(capped(&"n".repeat(100), 64).len(), 64);
        // 4-byte characters: 16 of them fill 64 bytes; one more byte would split the 17th.
        let emoji = "\u{1F510}".repeat(60);
        assert_eq!(capped(&emoji, 64), "\u{1F510}".repeat(16));
        assert_eq!(capped(&emoji, 66), "\u{1F510}".repeat(16));
    }

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
}
