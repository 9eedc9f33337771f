//! The key that names one value in a structured document.
//!
//! Grammar (one for every format; `check_for` then says which shapes a format takes):
//!
//! ```text
//! key     = ""                                 the whole document
//!         | first *( "." name / "[" index "]" )
//! first   = name / "[" index "]"
//! name    = 1*( plain / "\" special )          a mapping key, exactly as written (no trimming)
//! plain   = any character but . [ ] \
//! special = "." / "[" / "]" / "\"
//! index   = "0" / [1-9] *8DIGIT               a list position, from 0
//! ```
//!
//! So `db.password`, `servers[0].host`, `[2]` (a document that is a list), `a\.b` (the one
//! key `a.b`). `servers.0` is the mapping key `0`, never a list position: a name and an index
//! cannot be mistaken for each other. Any other backslash is refused, keeping it free for later.

use std::fmt;

use super::Format;
use crate::{Error, Result};

/// One step of a key: a mapping key (INI: a section, then a key) or a list position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Name(String),
    Index(usize),
}

/// A parsed key; empty means the whole document. Displays as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath {
    text: String,
    segments: Vec<Segment>,
}

/// No key is this deep: a longer one is a mistake (and deeper than any document we accept).
const MAX_SEGMENTS: usize = 128;

impl KeyPath {
    /// The whole document.
    pub fn whole() -> KeyPath {
        KeyPath::default()
    }

    /// Parse `text` by the grammar above; the error names the key and what is wrong.
    pub fn parse(text: &str) -> Result<KeyPath> {
        let segments = segments(text).map_err(|why| {
            Error::new(format!(
                "key `{text}`: {why} (write keys as `a.b`, `list[0].c`, `a\\.b` for a key with a dot)"
            ))
        })?;
        Ok(KeyPath {
            text: text.to_string(),
            segments,
        })
    }

    /// Parse `text` and check that `format` takes a key of that shape (see `check_for`).
    pub fn parse_for(format: Format, text: &str) -> Result<KeyPath> {
        let key = KeyPath::parse(text)?;
        key.check_for(format)?;
        Ok(key)
    }

    /// Which keys a format takes: binary none; dotenv one variable name (`[A-Za-z_][A-Za-z0-9_]*`);
    /// INI a key outside any section (`key`), a section (`section`) or a key in one
    /// (`section.key`); JSON and YAML any.
    pub fn check_for(&self, format: Format) -> Result<()> {
        let wrong = |what: &str| Err(Error::new(format!("{format} key `{self}`: {what}")));
        if self.is_whole() {
            return Ok(());
        }
        match format {
            Format::Binary => wrong("a binary secret is the whole file and takes no key; set a format (json, yaml, dotenv, ini) to take one value out of it"),
            Format::Json | Format::Yaml => Ok(()),
            Format::Dotenv => match &self.segments[..] {
                [Segment::Name(n)] if is_env_name(n) && !self.text.contains('\\') => Ok(()),
                _ => wrong("a dotenv key is one variable name: a letter or `_`, then letters, digits or `_`"),
            },
            Format::Ini => {
                let names = self.segments.iter().all(|s| matches!(s, Segment::Name(_)));
                if names && self.segments.len() <= 2 {
                    Ok(())
                } else {
                    wrong("an ini key is `key` (outside any section), `section` or `section.key`; write a dot inside a name as `\\.`")
                }
            }
        }
    }

    pub fn is_whole(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first `n` segments written back as a key (for messages about where a lookup
    /// stopped).
    pub fn prefix(&self, n: usize) -> String {
        let mut out = String::new();
        for (i, s) in self.segments[..n].iter().enumerate() {
            match s {
                Segment::Index(k) => out.push_str(&format!("[{k}]")),
                Segment::Name(name) => {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(&escape_name(name));
                }
            }
        }
        out
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `name` as a key step: `.`, `[`, `]` and `\\` get a `\\` before them.
pub(super) fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '.' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A dotenv variable name: what a shell and systemd's `EnvironmentFile=` both accept.
pub(super) fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

fn segments(text: &str) -> std::result::Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    // Whether a name may start here: at the start and after a dot; after `]` only `.`/`[`.
    let mut expect_name = true;
    while let Some(&(at, c)) = chars.peek() {
        if out.len() >= MAX_SEGMENTS {
            return Err(format!("more than {MAX_SEGMENTS} steps"));
        }
        match c {
            '[' => {
                chars.next();
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((_, d)) if d.is_ascii_digit() => digits.push(d),
                        _ => return Err(format!("at character {}: `[` takes a list position, digits then `]`", at + 1)),
                    }
                }
                if digits.is_empty() || digits.len() > 9 || (digits.len() > 1 && digits.starts_with('0')) {
                    return Err(format!("at character {}: a list position is 0 or a number without leading zeros, at most 9 digits", at + 1));
                }
                out.push(Segment::Index(digits.parse().expect("at most 9 digits")));
                expect_name = false;
            }
            '.' if !expect_name => {
                chars.next();
                expect_name = true;
                if chars.peek().is_none() {
                    return Err("ends with `.`: a name must follow it".into());
                }
            }
            '.' | ']' => return Err(format!("at character {}: unexpected `{c}` (an empty name, or a `{c}` that needs a `\\` before it)", at + 1)),
            _ if !expect_name => return Err(format!("at character {}: after `]` comes `.` or `[`", at + 1)),
            _ => {
                let mut name = String::new();
                while let Some(&(at, c)) = chars.peek() {
                    match c {
                        '.' | '[' => break,
                        ']' => return Err(format!("at character {}: `]` without `[` (write `\\]` in a name)", at + 1)),
                        '\\' => {
                            chars.next();
                            match chars.next() {
                                Some((_, e)) if matches!(e, '.' | '[' | ']' | '\\') => name.push(e),
                                _ => return Err(format!("at character {}: `\\` escapes only `.`, `[`, `]` and `\\`", at + 1)),
                            }
                        }
                        _ => {
                            chars.next();
                            name.push(c);
                        }
                    }
                }
                out.push(Segment::Name(name));
                expect_name = false;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Segment {
        Segment::Name(s.into())
    }

    #[test]
    fn grammar() {
        for (text, want) in [
            ("", vec![]),
            ("db", vec![name("db")]),
            ("db.password", vec![name("db"), name("password")]),
            (
                "servers[0].host",
                vec![name("servers"), Segment::Index(0), name("host")],
            ),
            ("[2]", vec![Segment::Index(2)]),
            ("[1][10]", vec![Segment::Index(1), Segment::Index(10)]),
            ("servers.0", vec![name("servers"), name("0")]),
            ("a\\.b.c", vec![name("a.b"), name("c")]),
            ("x\\[1\\]", vec![name("x[1]")]),
            ("back\\\\slash", vec![name("back\\slash")]),
            ("pässwört.ключ", vec![name("pässwört"), name("ключ")]),
            (" sp ace ", vec![name(" sp ace ")]),
            ("a-b/c:d", vec![name("a-b/c:d")]),
        ] {
            let k = KeyPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(k.segments(), &want[..], "{text}");
            assert_eq!(k.to_string(), text);
            // Written back, the key parses to the same steps.
            assert_eq!(
                KeyPath::parse(&k.prefix(want.len())).unwrap().segments(),
                &want[..]
            );
        }
    }

    #[test]
    fn refused_with_reason() {
        for (text, says) in [
            (".a", "unexpected `.`"),
            ("a..b", "unexpected `.`"),
            ("a.", "ends with `.`"),
            ("a]", "`]` without `[`"),
            ("a[", "list position"),
            ("a[x]", "list position"),
            ("a[-1]", "list position"),
            ("a[]", "without leading zeros"),
            ("a[01]", "without leading zeros"),
            ("a[1234567890]", "at most 9 digits"),
            ("a[0]b", "after `]` comes"),
            ("a\\n", "escapes only"),
            ("a\\", "escapes only"),
        ] {
            let e = KeyPath::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.starts_with(&format!("key `{text}`: ")), "{text}: {e}");
        }
        let deep = vec!["a"; MAX_SEGMENTS + 1].join(".");
        assert!(KeyPath::parse(&deep)
            .unwrap_err()
            .to_string()
            .contains("steps"));
    }

    #[test]
    fn shapes_per_format() {
        for (format, ok, bad) in [
            (Format::Binary, vec![""], vec!["a"]),
            (Format::Json, vec!["", "a", "a[0].b", "[0]"], vec![]),
            (Format::Yaml, vec!["a.b.c"], vec![]),
            (
                Format::Dotenv,
                vec!["", "DB_PASSWORD", "_x1"],
                vec!["1A", "a.b", "a-b", "[0]", "a\\.b", "ä"],
            ),
            (
                Format::Ini,
                vec!["key", "sec.key", "sec\\.tion.key"],
                vec!["a.b.c", "a[0]", "[0]"],
            ),
        ] {
            for k in ok {
                KeyPath::parse_for(format, k).unwrap_or_else(|e| panic!("{format} {k}: {e}"));
            }
            for k in bad {
                let e = KeyPath::parse_for(format, k).unwrap_err().to_string();
                assert!(e.starts_with(&format!("{format} key `{k}`: ")), "{e}");
            }
        }
    }
}
