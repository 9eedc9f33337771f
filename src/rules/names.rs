//! Rule names as paths: normalized lexically, never `..` or absolute.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Lexically normalize a rule name: strip `./`, refuse absolute paths and `..`.
pub fn normalize_name(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::new("empty file name"));
    }
    let p = Path::new(name);
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(Error::new(
                    "`..` would point outside the rules file's directory; keep secrets \
                     in that directory or below it",
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::new(
                    "absolute paths are not allowed; write the path relative to the \
                     rules file's directory",
                ))
            }
        }
    }
    if parts.is_empty() {
        return Err(Error::new("names a directory, not a file"));
    }
    Ok(parts.join("/"))
}

/// `p` with `.` and `..` resolved by the text alone.
pub(super) fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize() {
        assert_eq!(normalize_name("./db.age").unwrap(), "db.age");
        assert_eq!(normalize_name("a//b.age").unwrap(), "a/b.age");
        assert!(normalize_name("../x.age").is_err());
        assert!(normalize_name("/etc/x.age").is_err());
    }
}
