//! One installer at a time per mount point, from before it looks at what is installed to its
//! end, mount included. The lock is a file next to the mount point
//! (`<parent>/.<name>.lock`), not the mount point itself: a lock on the mount point's
//! directory is hidden by the first mount on it, so two first installs each locked a
//! different directory, both mounted (stacking two tmpfs) and both wrote generation 1.
//! Not the parent directory either: anybody may open /run and flock it, holding every
//! install up. The file is created root-only (the user's in user mode) without following a
//! symlink, and one that is not is refused.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use super::manifest::Plan;
use super::modes::PARENT_DIR;
use super::report::Report;
use super::safedir::SafeDir;
use crate::error::{describe_io, Error, Result};
use crate::fs::parent_dir;

/// Held until dropped (the kernel releases it when the process ends, however it ends).
pub struct InstallLock(#[allow(dead_code)] File);

/// Take the install lock, waiting for another installer to finish. A dry run takes none: it
/// creates nothing, and what it shows is a preview either way.
pub fn acquire(plan: &Plan, dry_run: bool, report: &mut Report) -> Result<Option<InstallLock>> {
    if dry_run {
        return Ok(None);
    }
    // Before the first thing is written (this lock file): no directory on the way to where
    // the installer works may be one somebody else can change (see `walk::trusted`).
    let mut dirs = vec![plan.mount_point.clone(), parent_dir(&plan.secrets_dir)];
    if !plan.user_mode {
        dirs.push(parent_dir(&plan.users_dir));
    }
    for d in &dirs {
        SafeDir::check_own(d)?;
    }
    let path = plan.lock_path();
    let dir = SafeDir::own(&parent_dir(&path), Some(PARENT_DIR))?;
    let name = path.file_name().unwrap_or_default();
    let fd = dir
        .open_at(
            name,
            libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0o600,
        )
        .map_err(|e| Error::io("cannot open the install lock", &path, e))?;
    let st = crate::fs::at::fstat(&fd).map_err(|e| Error::io("cannot inspect", &path, e))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != me || st.st_mode & 0o077 != 0 {
        return Err(Error::new(format!(
            "{} is not the installer's lock file (it must be a regular file owned by uid {me} \
             that nobody else may open; this one has uid {} and mode {:o}), so another user \
             could hold every install up. Remove it and run again",
            path.display(),
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    let file = File::from(fd);
    if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_err() {
        report.info(format!(
            "waiting for another secrets install to finish (lock {})",
            path.display()
        ));
        flock(&file, libc::LOCK_EX).map_err(|e| {
            Error::new(format!(
                "cannot lock {}: {}",
                path.display(),
                describe_io(&e)
            ))
        })?;
    }
    Ok(Some(InstallLock(file)))
}

fn flock(f: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own.
    match unsafe { libc::flock(f.as_raw_fd(), op) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
