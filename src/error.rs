//! One error type for the whole crate: a message meant for a person plus an exit code.
//! Messages name the file, the item and the fix; they never carry secret material.

use std::fmt;
use std::io;
use std::path::Path;

/// Exit codes, documented in README.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// What failed, where a caller must tell failures apart (the decryption outcomes); most
/// errors are `Other` and are only shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Other,
    /// A file cannot be read (or is not a regular file); the message is the reason only.
    Unreadable,
    /// A file is not an age file (its header does not parse).
    NotAge,
    /// Not an age file, or a damaged or refused header.
    Invalid,
    /// None of our identities has a stanza in this file.
    NoMatchingIdentity,
    /// The header or payload does not authenticate.
    Corrupted,
    /// Unlocking a key or running a plugin failed.
    Key,
}

/// Clone: some failures are computed once and reported for every item they concern (a key
/// that cannot be unlocked, an unknown user).
#[derive(Debug, Clone)]
pub struct Error {
    msg: String,
    code: i32,
    kind: ErrorKind,
    /// For reports that list problems one by one (`secrets check`): the file the message is
    /// about and its problems, each without the file's name (see `about_file`).
    about: Option<(String, Vec<String>)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error::with_code(msg, EXIT_ERROR)
    }

    /// A failure callers tell apart by its kind (see `ErrorKind`).
    pub fn of_kind(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            ..Error::new(msg)
        }
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Error::with_code(msg, EXIT_USAGE)
    }

    pub fn with_code(msg: impl Into<String>, code: i32) -> Self {
        Error {
            msg: msg.into(),
            code,
            kind: ErrorKind::Other,
            about: None,
        }
    }

    /// Say which file the message is about and list its problems without the file's name, so
    /// a report can show each problem once, under the file (the message itself is unchanged).
    pub fn about_file(self, file: impl fmt::Display, problems: Vec<String>) -> Self {
        Error {
            about: Some((file.to_string(), problems)),
            ..self
        }
    }

    /// The file and problems given by `about_file`.
    pub fn about(&self) -> Option<(&str, &[String])> {
        self.about.as_ref().map(|(f, p)| (f.as_str(), p.as_slice()))
    }

    /// An I/O error on a path, phrased as "<what> <path>: <reason>".
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        Error::new(format!("{what} {}: {}", path.display(), describe_io(&err)))
    }

    pub fn code(&self) -> i32 {
        self.code
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefix the message with context, keeping the exit code and kind.
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Error {
            msg: format!("{ctx}: {}", self.msg),
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// io::Error's Display includes "(os error N)"; keep the human part only.
pub fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = err.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// Attach a path to io errors: `fs::read(p).path_ctx("cannot read", p)?`.
pub trait IoContext<T> {
    fn path_ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn path_ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}
