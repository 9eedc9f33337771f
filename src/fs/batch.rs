//! Batched durable writes: many files replaced at once (a fleet-wide rekey) without one serial
//! disk round trip per file, each still replaced atomically.

use std::fs::{self, File};
use std::io::Write;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use super::ram::TMPFS_MAGIC;
use super::write::parent_dir;
use crate::error::{describe_io, Error, IoContext, Result};

/// A replacement for `target` written to a closed temp file in the same directory, not yet
/// synced nor visible; see `commit_staged`. Dropping it deletes the temp file.
pub struct Staged {
    pub target: PathBuf,
    temp: tempfile::TempPath,
}

impl Staged {
    /// Put one staged file in place (`atomic_write`, a streamed `encrypt`; `commit_staged` puts
    /// many), its content already made durable by whoever filled it (`sync_all` in
    /// `stage_with`'s `fill`): rename it over its target, then sync the directory. A failed
    /// directory sync is not an error: the file is in place.
    pub fn put_in_place(self) -> Result<()> {
        self.temp
            .persist(&self.target)
            .map_err(|e| Error::io("cannot replace", &self.target, e.error))?;
        super::write::sync_dir(&parent_dir(&self.target));
        Ok(())
    }
}

/// Stage a replacement for `path` (temp file starts at 0600 and gets `mode` before any byte is
/// written, like `atomic_write`). Only for data that may touch disk (ciphertext).
pub fn stage_write(path: &Path, data: &[u8], mode: u32) -> Result<Staged> {
    let (staged, ()) = stage_with(path, mode, |f| {
        f.write_all(data)
            .path_ctx("cannot write a temporary file for", path)
    })?;
    Ok(staged)
}

/// `stage_write` for content streamed in by `fill` (a rekey's new ciphertext), which writes
/// into the temp file and words its own errors; when it fails the temp file is deleted.
pub fn stage_with<T>(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> Result<T>,
) -> Result<(Staged, T)> {
    let mut tmp = super::write::temp_beside(path, mode)?;
    // On error `tmp` is dropped, which deletes it.
    let out = fill(tmp.as_file_mut())?;
    Ok((
        Staged {
            target: path.to_path_buf(),
            temp: tmp.into_temp_path(),
        },
        out,
    ))
}

/// Descriptors of the directories a batch of staged files goes to, opened before any of the
/// files is written: `syncfs` reports a writeback error to a descriptor only if the error came
/// after the descriptor was opened (and no other process saw it first). See `commit_staged`.
#[derive(Default)]
pub struct SyncPoints {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only syncfs reads them
    dirs: std::collections::BTreeMap<PathBuf, File>,
}

impl SyncPoints {
    /// For these targets' directories; one that cannot be opened is left out (its files are
    /// then fsynced one by one).
    pub fn open<'a>(targets: impl IntoIterator<Item = &'a Path>) -> SyncPoints {
        let mut dirs = std::collections::BTreeMap::new();
        for t in targets {
            if let std::collections::btree_map::Entry::Vacant(e) = dirs.entry(parent_dir(t)) {
                if let Ok(f) = File::open(e.key()) {
                    e.insert(f);
                }
            }
        }
        SyncPoints { dirs }
    }
}

/// Put many staged files in place without paying one serial disk round trip per file: all
/// temp files are made durable first (see `sync_staged`), then renamed over their targets, then
/// each directory is fsynced once. Every target is still replaced atomically: after a crash it
/// holds either its old or its new content. Returns one result per staged file, in order; a
/// file whose directory could not be synced after the rename counts as failed.
pub fn commit_staged(staged: Vec<Staged>, points: &SyncPoints) -> Vec<Result<()>> {
    let synced = sync_staged(&staged, points);
    // Renames in one directory serialize on that directory's lock, and threads contending for
    // it cost more than they save: one thread per directory, directories in parallel.
    let mut by_dir: std::collections::BTreeMap<PathBuf, Vec<usize>> = Default::default();
    for (i, (s, sync)) in staged.iter().zip(&synced).enumerate() {
        // Only durable files are renamed; a failed sync leaves the target untouched.
        if sync.is_ok() {
            by_dir.entry(parent_dir(&s.target)).or_default().push(i);
        }
    }
    let groups: Vec<(&PathBuf, &Vec<usize>)> = by_dir.iter().collect();
    let renamed_groups = crate::par::par_map(&groups, IO_THREADS, |(dir, idx)| {
        let renamed: Vec<(usize, Result<()>)> = idx
            .iter()
            .map(|&i| {
                let s = &staged[i];
                (
                    i,
                    fs::rename(&s.temp, &s.target).path_ctx("cannot replace", &s.target),
                )
            })
            .collect();
        // Makes the renames durable; if it fails they may not survive a crash.
        let dir_sync = File::open(dir).and_then(|d| d.sync_all());
        (renamed, dir_sync.map_err(|e| (dir.to_path_buf(), e)))
    });
    let mut renamed: Vec<Option<Result<()>>> = staged.iter().map(|_| None).collect();
    for (results, dir_sync) in renamed_groups {
        for (i, r) in results {
            renamed[i] = Some(r.and_then(|()| match &dir_sync {
                Ok(()) => Ok(()),
                Err((dir, e)) => Err(Error::new(format!(
                    "replaced, but {} could not be synced ({}); after a crash the file may \
                     hold its old content",
                    dir.display(),
                    describe_io(e)
                ))),
            }));
        }
    }
    staged
        .into_iter()
        .zip(synced.into_iter().zip(renamed))
        .map(|(s, (sync, rename))| {
            sync?;
            let renamed = rename.unwrap_or_else(|| {
                Err(Error::new("internal error: a synced file was not renamed"))
            });
            if renamed.is_ok() || !s.temp.exists() {
                // Renamed: nothing left to clean up.
                let _ = s.temp.keep();
            }
            renamed
        })
        .collect()
}

/// From this many files on, one `syncfs` per filesystem replaces one `fsync` per file.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // no syncfs elsewhere
const SYNCFS_MIN_FILES: usize = 64;

/// Make every staged temp file durable; one result per file. Few files: `fsync` each, from
/// several threads so the disk sees the flushes together. Many files (a fleet-wide rekey) on
/// Linux: each fsync forces its own device flush (and, on ext4 without a journal, a write of the
/// parent directory), so instead one `syncfs` per filesystem writes everything back with one
/// flush, through a descriptor opened before the files were written (`SyncPoints`). Only where
/// `syncfs` is known to write back and report errors: Linux ≥ 5.8 (earlier kernels drop its
/// errors) on ext2/3/4, XFS, Btrfs, F2FS or tmpfs (FUSE, for one, may not pass it on to the
/// server); elsewhere per-file fsync. Any error fails every file on that filesystem, so none
/// of them is renamed.
fn sync_staged(staged: &[Staged], points: &SyncPoints) -> Vec<Result<()>> {
    let mut out: Vec<Option<Result<()>>> = staged.iter().map(|_| None).collect();
    #[cfg(target_os = "linux")]
    if staged.len() >= SYNCFS_MIN_FILES && kernel_at_least(5, 8) {
        use std::os::unix::fs::MetadataExt;
        // One syncfs per filesystem (device), through the first usable directory on it.
        let mut by_dev: std::collections::BTreeMap<u64, Option<Result<()>>> = Default::default();
        let mut dev_of: std::collections::BTreeMap<&Path, Option<u64>> = Default::default();
        for (dir, f) in &points.dirs {
            let dev = f
                .metadata()
                .ok()
                .filter(|_| syncfs_is_trusted(f))
                .map(|m| m.dev());
            dev_of.insert(dir.as_path(), dev);
            if let Some(dev) = dev {
                by_dev.entry(dev).or_insert_with(|| {
                    // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
                    let r = if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    };
                    Some(r.path_ctx("cannot sync the filesystem of", dir))
                });
            }
        }
        for (i, s) in staged.iter().enumerate() {
            let dir = parent_dir(&s.target);
            if let Some(Some(dev)) = dev_of.get(dir.as_path()) {
                out[i] = Some(match by_dev.get(dev) {
                    Some(Some(Ok(()))) => Ok(()),
                    Some(Some(Err(e))) => Err(Error::new(e.to_string())),
                    _ => Err(Error::new("internal error: filesystem not synced")),
                });
            }
        }
    }
    let _ = points; // only the Linux syncfs path above reads it
                    // Everything not covered by a syncfs: one fsync each.
    let rest: Vec<usize> = (0..staged.len()).filter(|&i| out[i].is_none()).collect();
    let synced = crate::par::par_map(&rest, IO_THREADS, |&i| {
        let s = &staged[i];
        File::open(&s.temp)
            .and_then(|f| f.sync_all())
            .path_ctx("cannot sync", &s.temp)
    });
    for (i, r) in rest.into_iter().zip(synced) {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::new("internal error: not synced"))))
        .collect()
}

/// The filesystems whose `syncfs` writes everything back and reports errors (see
/// `sync_staged`), by statfs type.
#[cfg(target_os = "linux")]
fn syncfs_is_trusted(dir: &File) -> bool {
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const BTRFS: i64 = 0x9123_683E;
    const F2FS: i64 = 0xF2F5_2010;
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a properly sized out-parameter.
    if unsafe { libc::fstatfs(dir.as_raw_fd(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let t = st.f_type as i64;
    [EXT4, XFS, BTRFS, F2FS, TMPFS_MAGIC].contains(&t)
}

/// The running kernel is at least `major.minor` (from uname's release, "6.1.0-…").
#[cfg(target_os = "linux")]
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a properly sized out-parameter.
    if unsafe { libc::uname(&mut u) } != 0 {
        return false;
    }
    // SAFETY: uname NUL-terminates release within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) >= (major, minor)
}

/// Blocking filesystem calls wait on the disk, not the CPU: more threads than cores is the
/// point.
const IO_THREADS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::existing_mode;

    #[test]
    fn staged_writes_appear_only_on_commit() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.age");
        fs::write(&a, b"old").unwrap();
        let staged = vec![
            stage_write(&a, b"new a", 0o600).unwrap(),
            stage_write(&d.path().join("b.age"), b"new b", 0o644).unwrap(),
        ];
        assert_eq!(fs::read(&a).unwrap(), b"old");
        let dropped = stage_write(&d.path().join("c.age"), b"c", 0o644).unwrap();
        drop(dropped);
        let points = SyncPoints::open([a.as_path()]);
        assert!(commit_staged(staged, &points).iter().all(|r| r.is_ok()));
        assert_eq!(fs::read(&a).unwrap(), b"new a");
        assert_eq!(existing_mode(&a), Some(0o600));
        assert_eq!(fs::read(d.path().join("b.age")).unwrap(), b"new b");
        // No temp files left behind, and the dropped one is gone.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    /// A fleet-sized batch takes the syncfs path: files in two directories all land, and a
    /// directory that vanished before the commit fails only its own files.
    #[test]
    fn large_batches_commit_per_directory() {
        let d = tempfile::tempdir().unwrap();
        let dirs = ["one", "two", "gone"].map(|n| d.path().join(n));
        for dir in &dirs {
            fs::create_dir(dir).unwrap();
        }
        let mut staged = Vec::new();
        for i in 0..SYNCFS_MIN_FILES + 6 {
            let dir = &dirs[i % 3];
            let p = dir.join(format!("s{i}.age"));
            fs::write(&p, b"old").unwrap();
            staged.push(stage_write(&p, format!("new {i}").as_bytes(), 0o644).unwrap());
        }
        let points = SyncPoints::open(staged.iter().map(|s| s.target.as_path()));
        fs::remove_dir_all(&dirs[2]).unwrap();
        let results = commit_staged(staged, &points);
        assert_eq!(results.len(), SYNCFS_MIN_FILES + 6);
        for (i, r) in results.iter().enumerate() {
            let p = dirs[i % 3].join(format!("s{i}.age"));
            if i % 3 == 2 {
                let e = r.as_ref().unwrap_err().to_string();
                assert!(e.contains("gone"), "{e}");
            } else {
                assert!(r.is_ok(), "{i}: {r:?}");
                assert_eq!(fs::read(&p).unwrap(), format!("new {i}").as_bytes());
            }
        }
        for dir in &dirs[..2] {
            let names: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(
                names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
                "temp files left: {names:?}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn syncfs_only_where_it_is_known_to_work() {
        assert!(kernel_at_least(2, 6));
        assert!(!kernel_at_least(999, 0));
        // /proc takes syncfs and does nothing with it: not trusted; a tmpfs is.
        assert!(!syncfs_is_trusted(&File::open("/proc").unwrap()));
        if let Some(shm) = Path::new("/dev/shm").is_dir().then_some("/dev/shm") {
            assert!(syncfs_is_trusted(&File::open(shm).unwrap()));
        }
    }
}
