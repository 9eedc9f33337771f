//! The RAM filesystem under the mount point: tmpfs (noswap) or ramfs, mounted once per boot.

use std::io;
use std::path::Path;

use super::manifest::{Filesystem, Plan};
use super::own;
use super::report::Report;
use crate::error::{describe_io, Error, Result};
use crate::fsutil::{self, Ownership};

const TMPFS_DATA: &str = "mode=0751,noswap";
const RAMFS_DATA: &str = "mode=0751";

/// Make sure `plan.mount_point` is a RAM filesystem we may use; mount one if not.
/// Returns a short description for the summary ("tmpfs (mounted)", "tmpfs (existing)", …).
pub fn ensure(plan: &Plan, report: &mut Report) -> Result<String> {
    let mp = &plan.mount_point;
    if plan.user_mode {
        // Checked before anything is created: the directory (or its nearest existing
        // ancestor) decides where the plaintext would land.
        let existing = mp
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"));
        // Linux only: is_ram_backed knows Linux filesystem magics, and on macOS the
        // home-manager module points $XDG_RUNTIME_DIR at the per-user temp dir (as agenix).
        if cfg!(target_os = "linux") && !fsutil::is_ram_backed(existing) {
            if !plan.allow_disk_backed {
                return Err(Error::new(format!(
                    "{} is not on a RAM-backed filesystem, so decrypted secrets would be \
                     written to disk; nothing was installed. Set secretsMountPoint below \
                     $XDG_RUNTIME_DIR (a tmpfs), or set \"allowDiskBacked\": true in the \
                     manifest to accept plaintext on disk",
                    mp.display()
                )));
            }
            report.warn(format!(
                "{} is not on a RAM-backed filesystem; secrets are written to disk \
                 (allowDiskBacked)",
                mp.display()
            ));
        }
        create_dir_chain(mp, 0o700)?;
        return Ok("none (user mode)".into());
    }
    create_dir_chain(mp, 0o751)?;
    if plan.filesystem == Filesystem::None {
        if cfg!(target_os = "linux") && !fsutil::is_ram_backed(mp) {
            report.warn(format!(
                "{} is not on a RAM-backed filesystem and filesystem = \"none\" mounts \
                 nothing; secrets will be written to disk",
                mp.display()
            ));
        }
        set_dir_owner(mp, 0o751, own::group_id("keys"))?;
        return Ok("none (existing directory)".into());
    }
    let canon = std::fs::canonicalize(mp).map_err(|e| Error::io("cannot resolve", mp, e))?;
    let existing = fsutil::mount_at(&canon)
        .map_err(|e| Error::io("cannot read", Path::new("/proc/self/mountinfo"), e))?;
    let desc = match existing {
        // A RAM filesystem already mounted exactly here: ours from earlier in this boot (or
        // prepared by the admin with a size limit); reuse it, keep what it holds.
        Some(m) if m.fs_type == "tmpfs" || m.fs_type == "ramfs" => {
            let missing: Vec<&str> = ["nodev", "nosuid", "noexec"]
                .into_iter()
                .filter(|o| !m.options.iter().any(|x| x == o))
                .collect();
            if !missing.is_empty() {
                report.warn(format!(
                    "{} is a {} mounted without {}; secrets are installed there anyway",
                    mp.display(),
                    m.fs_type,
                    missing.join(",")
                ));
            }
            format!("{} (existing)", m.fs_type)
        }
        other => {
            if let Some(m) = other {
                report.info(format!(
                    "{} is a {} mount, not a RAM filesystem; mounting a {} over it",
                    mp.display(),
                    m.fs_type,
                    if plan.filesystem == Filesystem::Ramfs {
                        "ramfs"
                    } else {
                        "tmpfs"
                    }
                ));
            }
            mount_new(&canon, plan.filesystem, report)?
        }
    };
    let keys = own::group_id("keys");
    set_dir_owner(mp, 0o751, keys)?;
    Ok(desc)
}

fn mount_new(mp: &Path, fs: Filesystem, report: &mut Report) -> Result<String> {
    if fs == Filesystem::Tmpfs {
        match fsutil::mount_ramfs(mp, "tmpfs", TMPFS_DATA) {
            Ok(()) => {
                report.info(format!("mounted tmpfs (noswap) on {}", mp.display()));
                return Ok("tmpfs (mounted)".into());
            }
            // Kernels before 6.4 reject the noswap option with EINVAL.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                report.warn(format!(
                    "the kernel refused tmpfs with noswap on {} ({}); using ramfs instead, \
                     which is never swapped but has no size limit",
                    mp.display(),
                    describe_io(&e)
                ));
            }
            Err(e) => return Err(mount_error(mp, "tmpfs", e)),
        }
    }
    fsutil::mount_ramfs(mp, "ramfs", RAMFS_DATA).map_err(|e| mount_error(mp, "ramfs", e))?;
    report.info(format!("mounted ramfs on {}", mp.display()));
    Ok("ramfs (mounted)".into())
}

fn mount_error(mp: &Path, fs: &str, e: io::Error) -> Error {
    Error::new(format!(
        "cannot mount {fs} on {}: {} (the installer must run as root in the host's mount \
         namespace)",
        mp.display(),
        describe_io(&e)
    ))
}

/// Create `dir` and missing parents (parents 0755, `dir` itself `mode`); refuse a symlink or
/// non-directory at `dir`, which would redirect where secrets go.
pub fn create_dir_chain(dir: &Path, mode: u32) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::new(format!(
                "{} is a symlink; refusing to put secrets where it points. Remove it (the \
                 installer creates the directory itself)",
                dir.display()
            )))
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::new(format!(
                "{} exists and is not a directory; move it away",
                dir.display()
            )))
        }
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("cannot inspect", dir, e)),
    }
    create_parents(dir)?;
    fsutil::mkdir_mode(dir, mode).map_err(|e| Error::io("cannot create directory", dir, e))
}

/// Create the missing ancestors of `path` with mode 0755 (the umask is 077 while installing).
pub fn create_parents(path: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = path.parent();
    while let Some(p) = cur {
        if p.as_os_str().is_empty() || std::fs::symlink_metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    for p in missing.iter().rev() {
        fsutil::mkdir_mode(p, 0o755).map_err(|e| Error::io("cannot create directory", p, e))?;
    }
    Ok(())
}

/// root:keys (when the group exists) and `mode` on a directory of ours.
pub fn set_dir_owner(dir: &Path, mode: u32, keys: Option<u32>) -> Result<()> {
    if let Some(gid) = keys {
        fsutil::lchown(dir, Ownership { uid: 0, gid })
            .map_err(|e| Error::io("cannot chown", dir, e))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("cannot set permissions on", dir, e))
}
