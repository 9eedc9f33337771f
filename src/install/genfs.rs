//! Each generation (`<mp>/<N>`, `<mp>/users.<N>`) on a RAM filesystem of its own, so that no
//! secret's owner can take space from anybody else. An owner may chmod their own file
//! writable and fill whatever filesystem holds it; with one tmpfs per generation that is only
//! their own generation, which is shrunk to exactly what it holds once written ("sealed"), so
//! the owner gets ENOSPC at once and the next install, in a fresh tmpfs, is not affected.
//!
//! Life of a generation: created root 0700 and mounted (nobody else can reach it while it is
//! being written, so nobody can take its room then either); sealed (tmpfs resized to its
//! usage) and opened (0751 root:keys) just before the switch; retired (root:root 0700, see
//! `retire`) once older than the current one; removed (unmounted lazily, then deleted).
//!
//! Plain directories instead when nothing is mounted: user mode (every file is the user's,
//! there is nobody else to block), `filesystem = "none"` (the filesystem is the admin's), and
//! generations left by a version that did not mount them.

use std::io;
use std::path::Path;

use super::manifest::{Filesystem, Plan};
use super::modes::{PRIVATE_DIR, SHARED_DIR};
use super::safedir::SafeDir;
use crate::error::{describe_io, Error, Result};

/// Mount options of a generation's tmpfs while it is written: root-only, and the kernel's
/// default size (half of RAM) until it is sealed.
#[cfg(target_os = "linux")]
const GEN_TMPFS: &str = "mode=0700,noswap";
#[cfg(target_os = "linux")]
const GEN_RAMFS: &str = "mode=0700";

/// Which filesystem this plan's generations get: none for plain directories.
fn gen_fs(plan: &Plan) -> Option<&'static str> {
    if plan.user_mode || plan.filesystem == Filesystem::None || cfg!(not(target_os = "linux")) {
        return None;
    }
    // Like the mount point's own: a ramfs there (chosen, or the fallback on kernels without
    // tmpfs noswap) means ramfs here too.
    #[cfg(target_os = "linux")]
    if crate::fs::fs_type(&plan.mount_point).ok() == Some(crate::fs::RAMFS_MAGIC) {
        return Some("ramfs");
    }
    Some("tmpfs")
}

/// Create the generation directory `path` (root 0700; the user's 0700 in user mode) and
/// mount its filesystem.
pub fn create(plan: &Plan, path: &Path) -> Result<()> {
    super::owned::mkdir_mode(path, PRIVATE_DIR)
        .map_err(|e| with_space(Error::io("cannot create generation", path, e), path))?;
    let Some(_fs) = gen_fs(plan) else {
        return Ok(());
    };
    #[cfg(target_os = "linux")]
    {
        use super::sysmount;
        let dir = SafeDir::own(path, None)?;
        let data = if _fs == "tmpfs" { GEN_TMPFS } else { GEN_RAMFS };
        if let Err(e) = sysmount::mount_ram(&dir, _fs, data) {
            let _ = std::fs::remove_dir(path);
            return Err(mount_error(path, _fs, e));
        }
    }
    Ok(())
}

/// Before the switch: shrink the generation's tmpfs to what it holds, then let its readers
/// in (0751, root and the keys group when it exists). User mode: nothing to do.
pub fn seal(plan: &Plan, path: &Path) -> Result<()> {
    if plan.user_mode {
        return Ok(());
    }
    let dir = SafeDir::own(path, None)?;
    #[cfg(target_os = "linux")]
    if gen_fs(plan) == Some("tmpfs") {
        // `create` mounted this generation's own tmpfs; anything else here means the seal
        // below would limit the wrong filesystem, or none: fail closed, never switch to it.
        match super::sysmount::mount_of(&dir) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Error::new(format!(
                    "generation {} is not on a tmpfs of its own, so it cannot be sealed; it \
                     was not switched to",
                    path.display()
                )))
            }
            Err(e) => return Err(Error::io("cannot tell what is mounted on", path, e)),
        }
        let (used, _, inodes) = usage(&dir).map_err(|e| Error::io("cannot measure", path, e))?;
        // size=0 and nr_inodes=0 would mean "no limit": a generation using nothing keeps one
        // page. The inode limit matters as much as the size: since Linux 6.6 an owner's
        // `user.*` extended attributes are charged to the inode budget, not to the size, so a
        // generation left with free inodes would let them pin memory through setxattr.
        let page = page_size();
        super::sysmount::resize_tmpfs(&dir, used.max(page), inodes.max(1)).map_err(|e| {
            Error::new(format!(
                "cannot limit the tmpfs of generation {} to the {used} bytes and {inodes} \
                 inodes it holds: {}; it was not switched to",
                path.display(),
                describe_io(&e)
            ))
        })?;
    }
    let keys = super::own::group_id("keys");
    set_dir_owner(&dir, path, SHARED_DIR, keys)
}

/// A generation older than the current one: root:root 0700, so that nobody but root reaches
/// what it holds any more (an owner removed or changed since keeps no access through it).
/// One already closed off is left as it is.
pub fn retire(plan: &Plan, path: &Path) -> Result<()> {
    if plan.user_mode {
        return Ok(());
    }
    let fail = |e| Error::io("cannot close off old generation", path, e);
    let dir = SafeDir::own(path, None).map_err(|e| {
        e.context(format!(
            "cannot close off old generation {}",
            path.display()
        ))
    })?;
    let st = dir.stat().map_err(fail)?;
    if (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, PRIVATE_DIR as libc::mode_t) {
        return Ok(());
    }
    dir.set_owner_mode(Some((0, 0)), PRIVATE_DIR).map_err(fail)
}

/// Remove a generation: detach its filesystem(s), then delete what is left (a legacy or
/// user-mode generation is a plain directory tree).
pub fn remove(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let parent_dev = std::fs::metadata(crate::fs::parent_dir(path))?.dev();
        // A crashed run may have stacked more than one; a generation is a few at most.
        for _ in 0..8 {
            if std::fs::symlink_metadata(path)?.dev() == parent_dev {
                break;
            }
            super::sysmount::detach(path)?;
        }
    }
    std::fs::remove_dir_all(path)
}

/// (used bytes, size in bytes, inodes in use) of the filesystem `dir` is on.
#[cfg(target_os = "linux")]
fn usage(dir: &SafeDir) -> io::Result<(u64, u64, u64)> {
    use std::os::fd::AsRawFd;
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and out-parameter.
    if unsafe { libc::fstatvfs(dir.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let bs = st.f_frsize as u64;
    let (blocks, free) = (st.f_blocks as u64, st.f_bfree as u64);
    let inodes = (st.f_files as u64).saturating_sub(st.f_ffree as u64);
    Ok((blocks.saturating_sub(free) * bs, blocks * bs, inodes))
}

#[cfg(target_os = "linux")]
#[allow(clippy::unnecessary_cast)]
fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Which space a write at `path` (in a generation, or a generation itself) takes from:
/// "the tmpfs mounted at X (S bytes, U used)", said when a write ran out of space.
#[cfg(target_os = "linux")]
pub fn space_of(path: &Path) -> Option<String> {
    let (at, m) = path.ancestors().find_map(|a| {
        let d = SafeDir::own(a, None).ok()?;
        let m = super::sysmount::mount_of(&d).ok()??;
        Some((d, m))
    })?;
    let (used, size, _) = usage(&at).ok()?;
    Some(format!(
        "no space left on the {} mounted at {} ({size} bytes, {used} used)",
        m.fs_type,
        m.mount_point.display()
    ))
}

#[cfg(not(target_os = "linux"))]
pub fn space_of(_path: &Path) -> Option<String> {
    None
}

/// ENOSPC, as an error or in a message made from one.
fn no_space(msg: &str) -> bool {
    msg.contains(&describe_io(&io::Error::from_raw_os_error(libc::ENOSPC)))
}

/// `e` with which space ran out, when it is ENOSPC about `path`.
pub fn with_space(e: Error, path: &Path) -> Error {
    match no_space(e.message()).then(|| space_of(path)).flatten() {
        Some(n) => Error::new(format!("{e}; {n}")),
        None => e,
    }
}

/// The message for a failed write into generation `gen`, saying which space is exhausted
/// when that is why.
pub fn write_failed(err: &str, gen: Option<&Path>) -> String {
    match gen.filter(|_| no_space(err)).and_then(space_of) {
        Some(n) => format!("writing the new generation failed ({err}; {n})"),
        None => format!("writing the new generation failed ({err})"),
    }
}

#[cfg(target_os = "linux")]
pub(super) fn mount_error(mp: &Path, fs: &str, e: io::Error) -> Error {
    Error::new(format!(
        "cannot mount {fs} on {}: {} (the installer must run as root in the host's mount \
         namespace)",
        mp.display(),
        describe_io(&e)
    ))
}

/// root:keys (when the group exists) and `mode` on a directory of ours, through `dir`.
pub fn set_dir_owner(dir: &SafeDir, path: &Path, mode: u32, keys: Option<u32>) -> Result<()> {
    dir.set_owner_mode(keys.map(|g| (0, g)), mode)
        .map_err(|e| Error::io("cannot set the owner and mode of", path, e))
}
