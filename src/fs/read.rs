//! Reading files that someone else may have put or changed (a custom destination, an identity
//! path, a previous generation's file its owner may rewrite): the open never blocks
//! (O_NONBLOCK; opening a FIFO would otherwise wait for a writer forever), what was opened is
//! checked through its own descriptor (a regular file: not a FIFO, device or socket, whatever
//! the name pointed to a moment before), and no more than a stated limit is read, so
//! /dev/zero or a huge sparse file cannot exhaust memory. One helper for all such reads.

use std::ffi::CStr;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, RawFd};
use std::path::Path;

use super::at::cpath;
use super::secret::{read_all_wiped, SecretBytes};

/// The default of `value_limit`.
pub const DEFAULT_VALUE_LIMIT: u64 = 64 << 20;

/// The environment variable that sets `value_limit`.
pub const VALUE_LIMIT_VAR: &str = "SECRETS_MAX_VALUE";

/// The most plaintext of one secret held whole in memory: a value being edited (old and new),
/// a template's inputs, a generator's dependencies, a secret copied to a custom path, a
/// structured document given to `encrypt`. Decrypt, encrypt, rekey, check and the install of
/// a plain secret stream instead, and have no limit. Set with
/// `SECRETS_MAX_VALUE` (bytes, or with a K, M or G suffix: `256M`); 64 MiB by default. A
/// value that cannot be parsed is ignored (with a warning), so a typo never lifts the bound.
pub fn value_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| match std::env::var(VALUE_LIMIT_VAR) {
        Ok(v) => parse_size(&v).unwrap_or_else(|| {
            eprintln!(
                "warning: {VALUE_LIMIT_VAR}={v:?} is not a size (bytes, or a number with K, M \
                 or G); using the default of {} MiB",
                DEFAULT_VALUE_LIMIT >> 20
            );
            DEFAULT_VALUE_LIMIT
        }),
        Err(_) => DEFAULT_VALUE_LIMIT,
    })
}

/// `1234`, `64K`, `256M`, `2G` (binary units; `KiB`, `MiB`, `GiB` too).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// The error for a value over `value_limit`: `what` is "the decrypted value", "the edited
/// file"… (the caller adds the secret's name).
pub fn value_limit_error(what: &str, limit: u64) -> crate::error::Error {
    crate::error::Error::new(format!(
        "{what} is larger than {}, the limit for a value held whole in memory (edit, \
         templates, structured documents, generator inputs, copies to a custom path; decrypt, \
         encrypt, rekey, check and the install of a plain secret have no limit); raise it with \
         {VALUE_LIMIT_VAR}, e.g. {VALUE_LIMIT_VAR}=1G",
        show_size(limit)
    ))
}

fn show_size(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// The most read of an identity file: real keys are a few KiB, an age identity file with many
/// keys some hundreds.
pub const MAX_KEY_FILE: u64 = 1 << 20;

/// Open `name` for reading, relative to the directory `dir` (or the working directory, for a
/// path, when `dir` is None), without blocking; a symlink at `name` itself is followed only
/// when `follow`. The result is a regular file, checked on the descriptor.
pub fn open_regular(dir: Option<RawFd>, name: &CStr, follow: bool) -> io::Result<(File, Metadata)> {
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    // O_NOCTTY: root opening a terminal device must not make it the controlling terminal.
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY | nofollow;
    // SAFETY: a valid descriptor (or AT_FDCWD) and a NUL-terminated name.
    let fd = unsafe { libc::openat(dir.unwrap_or(libc::AT_FDCWD), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor from the kernel that nothing else owns.
    let f = unsafe { File::from_raw_fd(fd) };
    let meta = f.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or socket), so it was not read",
        ));
    }
    Ok((f, meta))
}

/// `open_regular` for a path.
pub fn open_path(path: &Path, follow: bool) -> io::Result<(File, Metadata)> {
    open_regular(None, &cpath(path)?, follow)
}

/// Read all of `f` (opened by `open_regular`, `meta` its metadata) into a wiped buffer, or
/// fail without reading when it is larger than `limit` bytes, or grows past it while read.
pub fn read_bounded(f: File, meta: &Metadata, limit: u64) -> io::Result<SecretBytes> {
    let too_large = || io::Error::other(format!("larger than {} bytes, so it was not read", limit));
    if meta.len() > limit {
        return Err(too_large());
    }
    let buf = read_all_wiped(f.take(limit.saturating_add(1)), meta.len() as usize + 1)?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(buf)
}

/// `open_path` and `read_bounded` in one.
pub fn read_path(path: &Path, follow: bool, limit: u64) -> io::Result<(SecretBytes, Metadata)> {
    let (f, meta) = open_path(path, follow)?;
    Ok((read_bounded(f, &meta, limit)?, meta))
}

/// Read a regular file of at most `value_limit()` bytes without following a symlink at `path`
/// or blocking, with its metadata: a previous generation's file held whole (a value a template
/// or a copy needs), the installer's own files. The tmpfs has no size limit and a secret's
/// owner may rewrite the file, so a larger one is not read.
pub fn read_secret_nofollow(path: &Path) -> io::Result<(SecretBytes, Metadata)> {
    read_path(path, false, value_limit())
}

/// Read an encrypted file from the repository, which must be a regular file (after following
/// symlinks). A FIFO or a device (a committed symlink to /dev/zero, say) would otherwise make
/// `check` in CI or `rekey` hang or exhaust memory; O_NONBLOCK keeps the open of a FIFO from
/// blocking before we can look at it.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let (mut f, meta) = open_path(path, true)?;
    let mut buf = Vec::with_capacity(meta.len() as usize + 1);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// `read_regular` for text files (rules, lock): a FIFO or device is an error, not a hang.
pub fn read_regular_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size(" 256m "), Some(256 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1 MB"), Some(1 << 20));
        for bad in ["", "M", "1T", "-1", "1.5G", "99999999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        let e = value_limit_error("the decrypted value", 64 << 20).to_string();
        assert!(
            e.contains("larger than 64 MiB") && e.contains("SECRETS_MAX_VALUE=1G"),
            "{e}"
        );
    }

    #[test]
    fn reads_regular_files_within_the_limit_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(&read_path(&p, false, 5).unwrap().0[..], b"12345");
        let e = read_path(&p, false, 4).unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        // A FIFO is refused at once (the open does not wait for a writer); so is a device.
        let fifo = d.path().join("fifo");
        let c = cpath(&fifo).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_path(&fifo, true, 5).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_path(Path::new("/dev/zero"), true, 5).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        // Not followed unless asked.
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(read_path(&link, false, 5).is_err());
        assert_eq!(&read_path(&link, true, 5).unwrap().0[..], b"12345");
    }
}
