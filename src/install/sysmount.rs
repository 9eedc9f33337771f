//! Linux mount(2), umount2(2) and /proc/self/mountinfo, aimed through descriptors: a mount
//! point is opened without following any symlink (see `walk`) and then named to the kernel
//! as `/proc/self/fd/N`, so nothing swapped into the path afterwards can redirect a mount.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use crate::fs::at::{cpath, cvt};

/// The mount source the installer gives its own RAM filesystems: how a later run tells a
/// mount of ours from one somebody else made (mountinfo's source field).
pub const SOURCE: &str = "secrets";

/// One line of /proc/self/mountinfo: where and what.
#[derive(Clone, Debug)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
    pub options: Vec<String>,
}

fn unescape_mountinfo(s: &str) -> String {
    // The kernel escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount whose root directory `dir` is, if it is one (it is then the topmost mount there
/// as of when `dir` was opened).
pub fn mount_of(dir: impl AsFd) -> io::Result<Option<MountEntry>> {
    // SAFETY: statx is plain old data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, empty NUL-terminated path, properly sized out-parameter.
    let rc = unsafe {
        libc::statx(
            dir.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let root_flag = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if stx.stx_mask & libc::STATX_MNT_ID == 0 || stx.stx_attributes_mask & root_flag == 0 {
        return Err(io::Error::other(
            "the kernel does not report mount ids (Linux 5.8 or later is needed)",
        ));
    }
    if stx.stx_attributes & root_flag == 0 {
        return Ok(None);
    }
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    for line in text.lines() {
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 2 || l[0].parse::<u64>().ok() != Some(stx.stx_mnt_id) {
            continue;
        }
        let mut options: Vec<String> = l[5].split(',').map(str::to_string).collect();
        if let Some(sup) = r.get(2) {
            options.extend(sup.split(',').map(str::to_string));
        }
        return Ok(Some(MountEntry {
            mount_point: PathBuf::from(unescape_mountinfo(l[4])),
            fs_type: r[0].to_string(),
            source: unescape_mountinfo(r[1]),
            options,
        }));
    }
    Ok(None)
}

/// `/proc/self/fd/N`: the kernel resolves it to the very directory `dir` is open on.
pub fn fd_path(dir: impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd()))
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "contains NUL"))
}

const FLAGS: libc::c_ulong = libc::MS_NODEV | libc::MS_NOSUID | libc::MS_NOEXEC;

/// mount(2) a RAM filesystem (`tmpfs` or `ramfs`, source `SOURCE`) on the directory `dir`
/// with nodev,nosuid,noexec.
pub fn mount_ram(dir: impl AsFd, fstype: &str, data: &str) -> io::Result<()> {
    let (src, t, fs, d) = (
        cstr(SOURCE)?,
        cstr(&fd_path(dir).to_string_lossy())?,
        cstr(fstype)?,
        cstr(data)?,
    );
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
    cvt(unsafe {
        libc::mount(
            src.as_ptr(),
            t.as_ptr(),
            fs.as_ptr(),
            FLAGS,
            d.as_ptr().cast(),
        )
    })
}

/// Remount the tmpfs whose root `dir` is with new limits on its size (bytes) and its inodes,
/// keeping its flags.
pub fn resize_tmpfs(dir: impl AsFd, bytes: u64, inodes: u64) -> io::Result<()> {
    let (t, d) = (
        cstr(&fd_path(dir).to_string_lossy())?,
        cstr(&format!("size={bytes},nr_inodes={inodes}"))?,
    );
    // SAFETY: valid NUL-terminated strings; null source and type are allowed for a remount.
    cvt(unsafe {
        libc::mount(
            std::ptr::null(),
            t.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | FLAGS,
            d.as_ptr().cast(),
        )
    })
}

/// Detach whatever is mounted on `path` (lazily: processes with files open keep them).
pub fn detach(path: &Path) -> io::Result<()> {
    let t = cpath(path)?;
    // SAFETY: a valid NUL-terminated path.
    cvt(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) })
}
