//! Filesystem safety in one place: private temp dirs on RAM-backed filesystems, atomic
//! same-directory writes, secret buffers that are wiped, and process hardening.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{describe_io, Error, IoContext, Result};

/// Plaintext lives in these buffers only; they are wiped when dropped.
pub type SecretBytes = Zeroizing<Vec<u8>>;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("secrets supports Linux and macOS only");

#[cfg(target_os = "linux")]
const TMPFS_MAGIC: i64 = 0x0102_1994;
#[cfg(target_os = "linux")]
const RAMFS_MAGIC: i64 = 0x8584_58f6_u32 as i64;

/// The filesystem type of `path` as reported by statfs(2).
#[cfg(target_os = "linux")]
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
        mounted_on: PathBuf::from(std::ffi::OsStr::from_bytes(&text(&st.f_mntonname))),
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
    let f = File::open(path)?;
    let size = f.metadata().map_or(0, |m| m.len() as usize);
    read_all_wiped(f, size + 1)
}

/// Read `r` to its end into a wiped buffer that never leaves an unwiped copy behind: a `Vec`
/// that outgrows its capacity reallocates and frees the old block as it is, so the buffer is
/// grown by hand instead (a new wiped buffer of twice the size, the old one wiped on drop).
/// `expect` is the first capacity (the size, when known).
pub fn read_all_wiped(mut r: impl Read, expect: usize) -> io::Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::with_capacity(expect.max(64)));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match r.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((buf.capacity() * 2).max(buf.len() + n)));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        debug_assert!(buf.len() + n <= buf.capacity());
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read an encrypted file from the repository, which must be a regular file (after following
/// symlinks). A FIFO or a device (a committed symlink to /dev/zero, say) would otherwise make
/// `check` in CI or `rekey` hang or exhaust memory; O_NONBLOCK keeps the open of a FIFO from
/// blocking before we can look at it.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let (mut f, meta) = crate::safeio::open_path(path, true)?;
    let mut buf = Vec::with_capacity(meta.len() as usize + 1);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// `read_regular` for text files (rules, lock): a FIFO or device is an error, not a hang.
pub fn read_regular_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8 text"))
}

/// Read all of stdin into a wiped buffer (see `read_all_wiped`).
pub fn read_stdin_secret() -> io::Result<SecretBytes> {
    read_all_wiped(io::stdin().lock(), 64 << 10)
}

/// Keep plaintext out of core dumps and (Linux) away from ptrace by unprivileged peers.
///
/// macOS has no counterpart of PR_SET_DUMPABLE, so there only RLIMIT_CORE is set (no core
/// file); which other processes may read this one's memory is left to macOS's own rules.
/// PT_DENY_ATTACH is deliberately not used: it is an anti-debugging measure that covers
/// ptrace only, not access through the Mach task port.
pub fn harden_process() {
    // SAFETY: plain syscalls without pointers to our memory (setrlimit reads a local struct).
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &lim);
    }
}

// ---------------------------------------------------------------------------------------------
// Installer helpers: files created owner-first and never readable by anyone else in between,
// atomic symlink swaps, no-follow reads, mount inspection.

pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

pub(crate) fn cvt(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

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
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // From here on the file is ours: on error remove it (never what was there before).
    let res = fill_owned(f, data, owner, mode, sync);
    if res.is_err() {
        let _ = fs::remove_file(path);
    }
    res
}

/// Fill a file just created 0400: data, then owner, then the final mode.
pub(crate) fn fill_owned(
    mut f: File,
    data: &[u8],
    owner: Option<Ownership>,
    mode: u32,
    sync: bool,
) -> io::Result<()> {
    // The umask may have cleared bits of 0400; fix the mode before any byte lands.
    f.set_permissions(Permissions::from_mode(0o400))?;
    f.write_all(data)?;
    if let Some(o) = owner {
        std::os::unix::fs::fchown(&f, Some(o.uid), Some(o.gid))?;
    }
    // After chown: chown clears set-id bits, and the final mode must be the last word.
    f.set_permissions(Permissions::from_mode(mode))?;
    if sync {
        f.sync_all()?;
    }
    Ok(())
}

/// What an atomic replacement found at the destination before replacing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replaced {
    Nothing,
    /// A symlink that already pointed where we wanted.
    SameSymlink,
    /// A symlink pointing elsewhere (its old target), replaced without following it.
    OtherSymlink(PathBuf),
    /// A regular file (or other non-directory), replaced.
    File,
}

/// What is at `path` now, without following a symlink there.
fn inspect_dest(path: &Path, want_target: Option<&Path>) -> io::Result<Replaced> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Replaced::Nothing),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => Err(io::Error::other(
            "a directory is in the way (not replaced; remove it if it should be this secret)",
        )),
        Ok(m) if m.file_type().is_symlink() => {
            let t = fs::read_link(path)?;
            if want_target == Some(t.as_path()) {
                Ok(Replaced::SameSymlink)
            } else {
                Ok(Replaced::OtherSymlink(t))
            }
        }
        Ok(_) => Ok(Replaced::File),
    }
}

fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "x".into());
    let r: u64 = rand::random();
    dir.join(format!(".{name}.{tag}-{}-{r:016x}", std::process::id()))
}

/// Point `link` at `target` atomically: a temp symlink in the same directory (lchown'ed to
/// `owner`) renamed over `link`. An existing symlink or file at `link` is replaced, never
/// followed; a directory there is an error. Returns what was there before.
pub fn atomic_symlink(
    target: &Path,
    link: &Path,
    owner: Option<Ownership>,
) -> io::Result<Replaced> {
    let before = inspect_dest(link, Some(target))?;
    let tmp = temp_sibling(link, "link");
    std::os::unix::fs::symlink(target, &tmp)?;
    let res = (|| {
        if let Some(o) = owner {
            crate::safedir::chown_new_link(libc::AT_FDCWD, &cpath(&tmp)?, o)?;
        }
        fs::rename(&tmp, link)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&parent_dir(link));
    Ok(before)
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

/// Read a regular file of at most `safeio::MAX_SECRET_FILE` bytes without following a symlink
/// at `path` or blocking, with its metadata.
pub fn read_secret_nofollow(path: &Path) -> io::Result<(SecretBytes, fs::Metadata)> {
    crate::safeio::read_path(path, false, crate::safeio::MAX_SECRET_FILE)
}

pub use crate::safedir::SafeDir;

/// lchown without following a symlink.
pub fn lchown(path: &Path, o: Ownership) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(o.uid), Some(o.gid))
}

/// An exclusive advisory lock on a directory, held until dropped (one installer at a time).
pub struct DirLock(#[allow(dead_code)] File);

pub fn lock_dir(dir: &Path) -> io::Result<DirLock> {
    let f = File::open(dir)?;
    // SAFETY: flock on a descriptor we own.
    cvt(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) })?;
    Ok(DirLock(f))
}

/// Set the process umask (returns the old one).
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// A replacement for `target` written to a closed temp file in the same directory, not yet
/// synced nor visible; see `commit_staged`. Dropping it deletes the temp file.
pub struct Staged {
    pub target: PathBuf,
    temp: tempfile::TempPath,
}

/// Stage a replacement for `path` (temp file starts at 0600 and gets `mode` before any byte is
/// written, like `atomic_write`). Only for data that may touch disk (ciphertext).
pub fn stage_write(path: &Path, data: &[u8], mode: u32) -> Result<Staged> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .path_ctx("cannot create a temporary file in", &dir)?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .path_ctx("cannot set permissions on", tmp.path())?;
    tmp.write_all(data).path_ctx("cannot write", tmp.path())?;
    Ok(Staged {
        target: path.to_path_buf(),
        temp: tmp.into_temp_path(),
    })
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
                        Err(io::Error::last_os_error())
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

    /// The hand-grown buffer returns exactly what was read, across chunk and capacity
    /// boundaries, from a reader that returns short reads.
    #[test]
    fn read_all_wiped_returns_every_byte() {
        struct Short<'a>(&'a [u8]);
        impl Read for Short<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(5000);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for len in [0, 1, 63, 64, 65, 8191, 8192, 8193, 100_000, 3 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            for expect in [0, 64, len, len + 1] {
                let got = read_all_wiped(Short(&data), expect).unwrap();
                assert_eq!(got.len(), len, "len {len} expect {expect}");
                assert!(got[..] == data[..], "len {len} expect {expect}");
            }
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

    #[test]
    fn create_owned_file_never_removes_what_was_there() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("taken");
        fs::write(&p, b"someone else's").unwrap();
        let e = create_owned_file(&p, b"new", None, 0o400, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"someone else's");
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
