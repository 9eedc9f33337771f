//! One field at a time: absolute paths (with `$HOME`/`$XDG_RUNTIME_DIR` in user mode), item
//! names, systemd unit names and chmod modes. Each error names the item and the fix.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

use super::STATE_FILE;

pub(super) fn expand(s: &str, user_mode: bool, what: &str) -> Result<PathBuf> {
    let mut out = s.to_string();
    if user_mode {
        let var = |name: &str| -> Result<String> {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::new(format!("{what}: {s} uses ${name}, which is not set")))
        };
        for (pat, name) in [
            ("${XDG_RUNTIME_DIR}", "XDG_RUNTIME_DIR"),
            ("$XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR"),
            ("${HOME}", "HOME"),
            ("$HOME", "HOME"),
        ] {
            if let Some(rest) = s.strip_prefix(pat) {
                out = format!("{}{rest}", var(name)?);
                break;
            }
        }
        if s == "~" || s.starts_with("~/") {
            out = format!("{}{}", var("HOME")?, &s[1..]);
        }
    }
    let p = PathBuf::from(&out);
    if !p.is_absolute() {
        return Err(Error::new(format!(
            "{what}: {s:?} must be an absolute path"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) || out.contains('\0') {
        return Err(Error::new(format!("{what}: {s:?} must not contain `..`")));
    }
    Ok(normalize(&p))
}

/// Drop `.` components and trailing slashes so paths compare reliably.
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// A safe relative name: no absolute path, no `.`/`..`/empty components, no control characters.
pub(super) fn check_name(name: &str, item: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::new(format!(
            "{item}: name {name:?} {why}; use a relative path like \"db-password\" or \"nginx/cert\""
        )))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.starts_with('/') {
        return bad("is absolute");
    }
    if name.len() > 1024 {
        return bad("is too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("contains a control character");
    }
    for comp in name.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return bad("has an empty, `.` or `..` component");
        }
        if comp.len() > 255 {
            return bad("has a component longer than 255 bytes");
        }
    }
    if name == STATE_FILE {
        return bad("is reserved for the installer's state file");
    }
    Ok(())
}

/// A systemd unit name: `name.type`, from the characters systemd allows (plus `\xNN` escapes).
pub(super) fn check_unit(unit: &str, item: &str) -> Result<()> {
    const TYPES: &[&str] = &[
        "service",
        "socket",
        "target",
        "timer",
        "path",
        "mount",
        "automount",
        "swap",
        "slice",
        "scope",
        "device",
    ];
    let ok_chars = {
        let b = unit.as_bytes();
        let mut i = 0;
        let mut ok = true;
        while i < b.len() {
            match b[i] {
                c if c.is_ascii_alphanumeric() || matches!(c, b':' | b'_' | b'.' | b'@' | b'-') => {
                    i += 1
                }
                b'\\'
                    if b.len() >= i + 4
                        && b[i + 1] == b'x'
                        && b[i + 2].is_ascii_hexdigit()
                        && b[i + 3].is_ascii_hexdigit() =>
                {
                    i += 4
                }
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        ok
    };
    let typed = unit
        .rsplit_once('.')
        .is_some_and(|(stem, t)| !stem.is_empty() && TYPES.contains(&t));
    if unit.is_empty() || unit.len() > 255 || unit.starts_with('-') || !ok_chars || !typed {
        return Err(Error::new(format!(
            "{item}: {unit:?} is not a systemd unit name (expected e.g. \"postgresql.service\"; \
             letters, digits and :_.@- only, with a unit type suffix)"
        )));
    }
    Ok(())
}

/// A mode as agenix passed it to `chmod`: octal (`"0440"`, `"440"`) or symbolic (`u=r,g=r`).
pub(super) fn parse_mode(s: &str, item: &str) -> Result<u32> {
    // chmod takes any number of leading zeros; 8 digits is more than enough for that.
    let octal = (1..=8).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let m = if octal {
        u32::from_str_radix(s, 8).ok()
    } else {
        symbolic_mode(s)
    };
    match m {
        Some(m) if m <= 0o777 => Ok(m),
        Some(_) => Err(Error::new(format!(
            "{item}: mode {s:?} has setuid/setgid/sticky bits, which make no sense for a secret; \
             use e.g. \"0400\" or \"0440\""
        ))),
        None => Err(Error::new(format!(
            "{item}: mode {s:?} is neither an octal mode nor a symbolic one chmod understands; \
             use e.g. \"0400\", \"0440\" or \"u=r,g=r\""
        ))),
    }
}

/// What `chmod MODE` does to the file agenix made: created 0400 (umask u=r,g=,o=), then
/// chmod run under the activation script's umask 022, which limits what clauses naming no
/// class (`+r`, `=r`) set. Returns bits above 0o777 for `s`/`t`, so the caller refuses them.
fn symbolic_mode(s: &str) -> Option<u32> {
    const UMASK: u32 = 0o022;
    let mut mode: u32 = 0o400;
    for clause in s.split(',') {
        let who_len = clause
            .bytes()
            .take_while(|b| matches!(b, b'u' | b'g' | b'o' | b'a'))
            .count();
        let who = clause[..who_len].bytes().fold(0, |w, b| {
            w | match b {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            }
        });
        let mut rest = &clause[who_len..];
        if rest.is_empty() {
            return None;
        }
        while let Some(op) = rest.chars().next().filter(|c| matches!(c, '+' | '-' | '=')) {
            rest = &rest[1..];
            let perm_len = rest
                .bytes()
                .take_while(|b| !matches!(b, b'+' | b'-' | b'='))
                .count();
            let perms = &rest[..perm_len];
            rest = &rest[perm_len..];
            let mut bits = 0;
            if matches!(perms, "u" | "g" | "o") {
                // Copy another class's bits (`g=u`).
                let shift = match perms {
                    "u" => 6,
                    "g" => 3,
                    _ => 0,
                };
                bits = ((mode >> shift) & 7) * 0o111;
            } else {
                for p in perms.bytes() {
                    bits |= match p {
                        b'r' => 0o444,
                        b'w' => 0o222,
                        b'x' => 0o111,
                        // Execute only where some execute bit is already set (a file).
                        b'X' if mode & 0o111 != 0 => 0o111,
                        b'X' => 0,
                        b's' => 0o6000,
                        b't' => 0o1000,
                        _ => return None,
                    };
                }
            }
            let affected = if who == 0 { 0o7777 & !UMASK } else { who };
            match op {
                '+' => mode |= bits & affected,
                '-' => mode &= !(bits & affected),
                // GNU chmod: `=` without a class clears every bit, then sets what the umask
                // allows.
                _ if who == 0 => mode = bits & affected,
                _ => mode = (mode & !affected) | (bits & affected),
            }
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(mode)
}
