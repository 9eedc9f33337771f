//! Custom destinations (`path` other than `<secretsDir>/<name>`): an atomic symlink to the
//! stable path, owned like the secret, or an atomic copy. Nothing at a destination is followed,
//! nor any symlink in the directories above it (they are walked from `/` with O_NOFOLLOW and
//! everything is done relative to the directory's descriptor); a directory at a destination
//! is left alone and reported; a foreign symlink is replaced and reported.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::owned::Ownership;
use super::safedir::{Replaced, SafeDir, Walk};
use crate::error::{describe_io, Error, Result};
use crate::fs::read_secret_nofollow;

use super::manifest::ItemSpec;
use super::report::Report;
use super::state::StateItem;

/// What `install` needs to know about an item (from the manifest or a state file).
pub struct Dest<'a> {
    pub attr: &'a str,
    /// Relative path inside the generation.
    pub rel: &'a str,
    pub symlink: bool,
}

impl<'a> Dest<'a> {
    pub fn of(item: &'a ItemSpec) -> Dest<'a> {
        Dest {
            // For messages: the option that declares it, where the manifest says.
            attr: item.option.as_deref().unwrap_or(&item.attr),
            rel: &item.rel,
            symlink: item.symlink,
        }
    }
}

/// Create the link or copy for one installed item.
pub fn install(
    item: &Dest,
    stable_dir: &Path,
    dest: &Path,
    value: Option<&[u8]>,
    own: Option<Ownership>,
    mode: u32,
    report: &mut Report,
) -> Result<()> {
    let target = stable_dir.join(item.rel);
    let what = if item.symlink { "link" } else { "copy" };
    let fail = |e: std::io::Error| {
        Error::new(format!(
            "cannot install {what} {} for {}: {}",
            dest.display(),
            item.attr,
            describe_io(&e)
        ))
    };
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(Error::new(format!("{}: not a file path", dest.display())));
    };
    // Walked from `/` without following symlinks; all writes are relative to it.
    let dir = SafeDir::open(parent, Walk::destination(true)).map_err(fail)?;
    dir.remove_stale_temps(name, own);
    let res = if item.symlink {
        dir.symlink(&target, name, own)
    } else {
        let Some(v) = value else {
            return Err(Error::new(format!("{}: no value to copy", dest.display())));
        };
        dir.copy(name, v, own, mode)
    };
    match res {
        Ok(Replaced::OtherSymlink(old)) if !old.starts_with(stable_dir) => {
            report.warn(format!(
                "{}: replaced a symlink to {} (not ours) with the secret's {what}; the old \
                 target was not followed or touched",
                dest.display(),
                old.display()
            ));
            Ok(())
        }
        Ok(Replaced::File) if item.symlink => {
            report.info(format!(
                "{}: replaced a regular file with a symlink to {}",
                dest.display(),
                target.display()
            ));
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

/// A removed secret's symlink at its custom path is removed when it still points to the
/// stable path we made it point to; its copy (`symlink = false`) when the file there is
/// still the one we wrote: a regular file with the same bytes, owner, group and mode as in
/// the previous generation. Anything else there is left alone.
pub fn remove_old(item: &StateItem, stable_dir: &Path, prev_gen: &Path, report: &mut Report) {
    let Some(dest) = &item.path else { return };
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    // Never through a symlinked directory (see install); nothing to remove if it is one.
    let Ok(dir) = SafeDir::open(parent, Walk::destination(false)) else {
        return;
    };
    let ours = if item.symlink {
        dir.read_link(name)
            .is_ok_and(|t| t == stable_dir.join(&item.rel))
    } else {
        is_our_copy(&dir, name, &prev_gen.join(&item.rel))
    };
    if ours {
        if let Err(e) = dir.remove(name) {
            report.warn(format!(
                "cannot remove {}: {}",
                dest.display(),
                describe_io(&e)
            ));
        }
    }
}

/// Whoever may write to the destination's directory may have put anything there: a FIFO is
/// not opened blocking, a file larger than our copy is not read (see `SafeDir::read_file`),
/// and a file with another name (a hard link) is not ours.
fn is_our_copy(dir: &SafeDir, name: &std::ffi::OsStr, ours: &Path) -> bool {
    let Ok((want, meta)) = read_secret_nofollow(ours) else {
        return false;
    };
    let Ok((have, st)) = dir.read_file(name, want.len() as u64) else {
        return false;
    };
    have[..] == want[..]
        && st.nlink() == 1
        && st.uid() == meta.uid()
        && st.gid() == meta.gid()
        && st.mode() & 0o7777 == meta.mode() & 0o7777
}
