//! Whether a directory is on a RAM filesystem, and where `secrets edit` may put plaintext
//! (`secure_tmp_base`): a RAM-backed directory unless the user accepts a disk.

#[cfg(target_os = "macos")]
use std::ffi::OsStr;
use std::io;
#[cfg(target_os = "macos")]
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::at::cpath;
use crate::error::{Error, Result};

#[cfg(target_os = "linux")]
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
#[cfg(target_os = "linux")]
pub const RAMFS_MAGIC: i64 = 0x8584_58f6_u32 as i64;

/// The filesystem type of `path` as reported by statfs(2).
#[cfg(target_os = "linux")]
pub fn fs_type(path: &Path) -> io::Result<i64> {
    let c = cpath(path)?;
    // SAFETY: statfs is plain old data; all-zero is a valid value for every field.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated string and st is a properly sized out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64)
}

/// Linux: `path` is on a tmpfs or a ramfs.
#[cfg(target_os = "linux")]
pub fn is_ram_backed(path: &Path) -> bool {
    matches!(fs_type(path), Ok(t) if t == TMPFS_MAGIC || t == RAMFS_MAGIC)
}

/// What statfs(2) says about the filesystem holding a path (macOS).
#[cfg(target_os = "macos")]
#[derive(Clone, Debug)]
pub struct FsInfo {
    /// `f_fstypename`: "apfs", "hfs", "tmpfs", …
    pub fs_type: String,
    /// `f_mntonname`: where that filesystem is mounted.
    pub mounted_on: PathBuf,
    /// `f_mntfromname`: what is mounted ("/dev/disk4", …).
    pub mounted_from: String,
}

/// statfs(2) on macOS, where the filesystem type is a name (`f_fstypename`), not a number.
#[cfg(target_os = "macos")]
pub fn fs_info(path: &Path) -> io::Result<FsInfo> {
    let c = cpath(path)?;
    // SAFETY: statfs is plain old data; all-zero is a valid value for every field.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated string and st a properly sized out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The kernel NUL-terminates these fixed-size arrays; stop at the array's end regardless.
    fn text(chars: &[libc::c_char]) -> Vec<u8> {
        chars
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect()
    }
    Ok(FsInfo {
        fs_type: String::from_utf8_lossy(&text(&st.f_fstypename)).into_owned(),
        mounted_on: PathBuf::from(OsStr::from_bytes(&text(&st.f_mntonname))),
        mounted_from: String::from_utf8_lossy(&text(&st.f_mntfromname)).into_owned(),
    })
}

/// macOS: `path` is on a tmpfs (`mount_tmpfs`, macOS 11 and later), the only RAM filesystem
/// statfs names as such. A RAM disk made with `hdiutil attach ram://…` carries an ordinary
/// HFS+/APFS volume and cannot be told from a disk-backed one this way, so it does not count.
#[cfg(target_os = "macos")]
pub fn is_ram_backed(path: &Path) -> bool {
    matches!(fs_info(path), Ok(i) if i.fs_type == "tmpfs")
}

/// Where plaintext may be put for editing: `$XDG_RUNTIME_DIR`, else `/dev/shm` (Linux), if
/// RAM-backed (see `is_ram_backed`).
/// A disk-backed directory is used only when the caller allows it.
pub fn secure_tmp_base(allow_disk: bool) -> Result<PathBuf> {
    let mut tried = Vec::new();
    // macOS has no /dev/shm directory (POSIX shared memory there is not a filesystem).
    let shm = cfg!(target_os = "linux").then(|| PathBuf::from("/dev/shm"));
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(shm);
    for dir in candidates {
        if dir.is_dir() && is_ram_backed(&dir) {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    // Only on macOS can nothing have been tried (XDG_RUNTIME_DIR unset, no /dev/shm).
    let tried = if tried.is_empty() {
        "XDG_RUNTIME_DIR, which is not set".to_string()
    } else {
        tried.join(", ")
    };
    if allow_disk {
        let dir = std::env::temp_dir();
        eprintln!(
            "warning: no RAM-backed directory found (tried {}); using {} because --allow-disk-tmp was given",
            tried,
            dir.display()
        );
        return Ok(dir);
    }
    #[cfg(target_os = "linux")]
    let hint = "";
    #[cfg(target_os = "macos")]
    let hint = " (macOS has none by default; an administrator can make one with mount_tmpfs)";
    Err(Error::new(format!(
        "no RAM-backed directory for the plaintext (tried {}): set XDG_RUNTIME_DIR to a tmpfs \
         directory{hint}, or pass --allow-disk-tmp to accept a disk-backed temp file",
        tried
    )))
}
