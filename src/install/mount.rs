//! The RAM filesystem under the mount point: tmpfs (noswap) or ramfs, mounted once per boot
//! (Linux); on macOS, which the installer cannot mount anything on, a RAM disk mounted by
//! whoever runs it (`filesystem = "none"`).

use std::path::Path;

#[cfg(target_os = "linux")]
use super::genfs::mount_error;
use super::genfs::set_dir_owner;
use super::manifest::{Filesystem, Plan};
use super::modes::{PRIVATE_DIR, SHARED_DIR};
use super::own;
use super::report::Report;
use super::safedir::SafeDir;
#[cfg(target_os = "linux")]
use super::sysmount;
use crate::error::{describe_io, Error, Result};
use crate::fs;

/// The top of the mount point holds nothing but the generations' own mount points (see
/// `genfs`), so it needs no room; the size only bounds it.
#[cfg(target_os = "linux")]
const TMPFS_DATA: &str = "mode=0751,noswap,size=1m";
#[cfg(target_os = "linux")]
const RAMFS_DATA: &str = "mode=0751";

/// What to do about a user-mode secretsMountPoint that is not RAM-backed.
#[cfg(target_os = "linux")]
const USER_MODE_FIX: &str = "Set secretsMountPoint below $XDG_RUNTIME_DIR (a tmpfs), or set \
     \"allowDiskBacked\": true in the manifest to accept plaintext on disk";
#[cfg(target_os = "macos")]
const USER_MODE_FIX: &str = "macOS has no RAM-backed per-user directory by default (the \
     per-user temporary directory, which the home-manager module uses as $XDG_RUNTIME_DIR, is \
     on disk): set \"allowDiskBacked\": true in the manifest to accept plaintext on disk, or \
     put secretsMountPoint on a tmpfs an administrator mounted with mount_tmpfs";

/// Refuse, before anything is read or written, what the installer cannot do on this system:
/// on macOS it cannot mount a RAM filesystem itself.
pub fn supported(plan: &Plan) -> Result<()> {
    #[cfg(target_os = "macos")]
    if !plan.user_mode && plan.filesystem != Filesystem::None {
        return Err(unsupported_filesystem(plan));
    }
    let _ = plan;
    Ok(())
}

#[cfg(target_os = "macos")]
fn unsupported_filesystem(plan: &Plan) -> Error {
    let fs = if plan.filesystem == Filesystem::Ramfs {
        "ramfs"
    } else {
        "tmpfs"
    };
    Error::new(format!(
        "\"filesystem\": \"{fs}\" cannot be used on macOS: the installer mounts tmpfs and ramfs \
         with Linux's mount(2). Set \"filesystem\": \"none\" and have a RAM disk mounted at \
         secretsMountPoint ({}) before the installer runs, as the nix-darwin module does",
        plan.mount_point.display()
    ))
}

/// home-manager (user mode): refuse, before anything is created, a mount point whose
/// directory (or nearest existing ancestor) is not RAM-backed, unless allowDiskBacked.
pub fn check_user_backing(plan: &Plan, report: &mut Report) -> Result<()> {
    let mp = &plan.mount_point;
    let existing = mp
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    // RAM-backed: tmpfs or ramfs on Linux; on macOS only a tmpfs, since a RAM disk cannot
    // be told from a disk there (see fs::is_ram_backed).
    if !fs::is_ram_backed(existing) {
        if !plan.allow_disk_backed {
            return Err(Error::new(format!(
                "{} is not on a RAM-backed filesystem, so decrypted secrets would be \
                 written to disk; nothing was installed. {USER_MODE_FIX}",
                mp.display()
            )));
        }
        report.warn(format!(
            "{} is not on a RAM-backed filesystem; secrets are written to disk \
             (allowDiskBacked)",
            mp.display()
        ));
    }
    Ok(())
}

/// Make sure `plan.mount_point` is a RAM filesystem we may use; mount one if not. The whole
/// path is walked without following symlinks (`walk`); the caller holds the install lock.
/// Returns a short description for the summary ("tmpfs (mounted)", "tmpfs (existing)", …).
pub fn ensure(plan: &Plan, report: &mut Report) -> Result<String> {
    let mp = &plan.mount_point;
    if plan.user_mode {
        SafeDir::own(mp, Some(PRIVATE_DIR))?;
        return Ok("none (user mode)".into());
    }
    let dir = SafeDir::own(mp, Some(SHARED_DIR))?;
    if plan.filesystem == Filesystem::None {
        #[cfg(target_os = "linux")]
        if !fs::is_ram_backed(mp) {
            report.warn(format!(
                "{} is not on a RAM-backed filesystem and filesystem = \"none\" mounts \
                 nothing; secrets will be written to disk",
                mp.display()
            ));
        }
        #[cfg(target_os = "macos")]
        check_ram_disk(mp, report);
        set_dir_owner(&dir, mp, SHARED_DIR, own::group_id("keys"))?;
        return Ok("none (existing directory)".into());
    }
    mount_ram(plan, dir, report)
}

/// macOS, `filesystem = "none"`: a tmpfs is RAM-backed; a volume of its own mounted exactly at
/// the mount point is taken to be the RAM disk the nix-darwin module attaches there (statfs
/// cannot tell an `hdiutil attach ram://` disk from a disk-backed HFS+/APFS volume); a plain
/// directory on the volume holding it means the plaintext goes to disk, which is warned about
/// as on Linux.
#[cfg(target_os = "macos")]
fn check_ram_disk(mp: &Path, report: &mut Report) {
    if fs::is_ram_backed(mp) {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let canon = std::fs::canonicalize(mp).unwrap_or_else(|_| mp.to_path_buf());
    // A mount point is on another device than its parent directory (compared by device, not
    // by statfs's f_mntonname, whose spelling of a path may differ from ours).
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    let own_volume = canon
        .parent()
        .is_some_and(|parent| dev(&canon).is_some() && dev(&canon) != dev(parent));
    match fs::fs_info(&canon) {
        Ok(i) if own_volume => report.info(format!(
            "{} is a {} volume of its own ({}), taken to be the RAM disk the nix-darwin module \
             attaches there (macOS cannot tell a RAM disk from a disk volume by its filesystem)",
            mp.display(),
            i.fs_type,
            i.mounted_from
        )),
        Ok(i) => report.warn(format!(
            "{} is not a mount point but a directory on the {} volume mounted on {}, and \
             filesystem = \"none\" mounts nothing; secrets will be written to disk (the \
             nix-darwin module attaches a RAM disk there before it runs the installer)",
            mp.display(),
            i.fs_type,
            i.mounted_on.display()
        )),
        Err(e) => report.warn(format!(
            "cannot tell which filesystem holds {} ({}); secrets may be written to disk",
            mp.display(),
            describe_io(&e)
        )),
    }
}

/// macOS cannot mount a RAM filesystem here; `supported` refuses such a manifest first.
#[cfg(target_os = "macos")]
fn mount_ram(plan: &Plan, _dir: SafeDir, _report: &mut Report) -> Result<String> {
    Err(unsupported_filesystem(plan))
}

/// Linux: reuse a RAM filesystem of ours mounted exactly at the mount point, else mount one
/// there; refuse one somebody else mounted.
#[cfg(target_os = "linux")]
fn mount_ram(plan: &Plan, dir: SafeDir, report: &mut Report) -> Result<String> {
    let mp = &plan.mount_point;
    let existing =
        sysmount::mount_of(&dir).map_err(|e| Error::io("cannot tell what is mounted on", mp, e))?;
    let (dir, desc) = match existing {
        Some(m) if m.fs_type == "tmpfs" || m.fs_type == "ramfs" => {
            check_ours(plan, &m, report)?;
            (dir, format!("{} (existing)", m.fs_type))
        }
        other => {
            if let Some(m) = other {
                // Mounted over, not changed: what is below stays as it was.
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
            let desc = mount_new(&dir, mp, plan.filesystem, report)?;
            // The mount is on top of the directory `dir` is open on: open what is there now.
            (SafeDir::own(mp, None)?, desc)
        }
    };
    set_dir_owner(&dir, mp, SHARED_DIR, own::group_id("keys"))?;
    Ok(desc)
}

/// A RAM filesystem already mounted at the mount point is used only when it is ours: mounted
/// with our source name, or (mounted by a version that used the filesystem's name as source)
/// holding the generation a stable symlink names. Anything else is somebody's data that we
/// would re-permission and prune.
#[cfg(target_os = "linux")]
fn check_ours(plan: &Plan, m: &sysmount::MountEntry, report: &mut Report) -> Result<()> {
    use super::generation;
    use super::manifest::PhaseKind;
    let mp = &plan.mount_point;
    let ours_before = m.source == m.fs_type
        && [PhaseKind::Main, PhaseKind::Users].into_iter().any(|ph| {
            matches!(generation::current(plan, ph), Ok(Some(g))
                if g.number > 0 && super::state::read(&g).is_some())
        });
    if m.source != sysmount::SOURCE && !ours_before {
        return Err(Error::new(format!(
            "{} already has a {} mounted on it (source {:?}) that the installer did not \
             mount; refusing to use it, which would change its permissions and remove its \
             numbered entries. Unmount it (umount {0}) and run again so that the installer \
             mounts its own, or set age.filesystem = \"none\" (\"filesystem\": \"none\" in the \
             manifest) to have secrets installed into the filesystem you provide there",
            mp.display(),
            m.fs_type,
            m.source
        )));
    }
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
    Ok(())
}

#[cfg(target_os = "linux")]
fn mount_new(dir: &SafeDir, mp: &Path, fs: Filesystem, report: &mut Report) -> Result<String> {
    if fs == Filesystem::Tmpfs {
        match sysmount::mount_ram(dir, "tmpfs", TMPFS_DATA) {
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
    sysmount::mount_ram(dir, "ramfs", RAMFS_DATA).map_err(|e| mount_error(mp, "ramfs", e))?;
    report.info(format!("mounted ramfs on {}", mp.display()));
    Ok("ramfs (mounted)".into())
}
