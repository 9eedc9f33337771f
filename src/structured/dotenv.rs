//! dotenv files, by the grammar in README ("dotenv and INI grammar"), parsed by us: the tools
//! that read these files disagree (on quotes, escapes, comments, duplicates, interpolation),
//! and none of the crates implements a written grammar we could point to, so we write ours
//! down and parse exactly it. In short:
//!
//! - a line is blank, a comment (`#` first), or `[export ]NAME=value`, spaces and tabs allowed
//!   around the name, the `=` and the value; NAME is `[A-Za-z_][A-Za-z0-9_]*`;
//! - `'single quoted'`: literal, no escapes, may span lines;
//! - `"double quoted"`: escapes `\\ \" \n \r \t \$` (any other is an error), may span lines;
//! - bare: the rest of the line, trimmed; a `#` after a space or tab starts a comment; every
//!   other character (quotes, `\`, `$`) is itself, but a CR (not of a CRLF) is an error;
//! - after a closing quote only spaces, tabs and a comment; `NAME=` is the empty string;
//! - nothing is interpolated (`$X` is two characters); a variable set twice is an error;
//! - CRLF line ends read as LF, inside quotes too.

use zeroize::Zeroizing;

use super::keypath::is_env_name;
use super::tree::{self, Entry, Kind, Node};
use super::{position, Fail};

pub(super) fn parse(text: &str) -> Result<Node, Fail> {
    let mut c = Cursor { t: text, i: 0 };
    let mut entries = Vec::new();
    loop {
        c.blanks();
        match c.peek() {
            None => break,
            Some(b'\n') => c.i += 1,
            Some(b'\r') if c.at_eol() => c.i += 2,
            Some(b'#') => c.skip_line(),
            Some(_) => entries.push(c.assignment()?),
        }
    }
    tree::sort_entries(&mut entries).map_err(|(at, _)| {
        c.fail_at(
            at,
            "a variable that is already set earlier in the file (set each once)",
        )
    })?;
    Ok(Node::Map(entries))
}

/// The escapes of a double-quoted value (dotenv and INI): `\\ \" \n \r \t \$`.
fn unescape(c: u8) -> Option<char> {
    Some(match c {
        b'\\' => '\\',
        b'"' => '"',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'$' => '$',
        _ => return None,
    })
}

/// Decode the inside of a double-quoted value (no unescaped `"` in it) into a wiped string
/// allocated once, CRLF read as LF; an unknown escape is an error at its byte offset.
pub(super) fn decode_double(raw: &str) -> Result<Zeroizing<String>, usize> {
    let b = raw.as_bytes();
    let mut out = Zeroizing::new(String::with_capacity(raw.len()));
    let mut i = 0;
    while i < b.len() {
        let run = b[i..]
            .iter()
            .position(|&c| c == b'\\' || c == b'\r')
            .map_or(b.len(), |n| i + n);
        // Runs end at `\`, CR or the end: ASCII, so on character boundaries.
        out.push_str(&raw[i..run]);
        i = run;
        match b.get(i) {
            None => break,
            Some(b'\r') => {
                if b.get(i + 1) != Some(&b'\n') {
                    out.push('\r');
                }
                i += 1;
            }
            Some(_) => {
                out.push(b.get(i + 1).copied().and_then(unescape).ok_or(i)?);
                i += 2;
            }
        }
    }
    Ok(out)
}

/// The inside of a single-quoted value, CRLF read as LF.
fn decode_single(raw: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(raw.len()));
    let mut rest = raw;
    while let Some(n) = rest.find("\r\n") {
        out.push_str(&rest[..n]);
        out.push('\n');
        rest = &rest[n + 2..];
    }
    out.push_str(rest);
    out
}

struct Cursor<'a> {
    t: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn b(&self) -> &[u8] {
        self.t.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.b().get(self.i).copied()
    }

    fn fail_at(&self, at: usize, reason: &str) -> Fail {
        let (line, column) = position(self.b(), at);
        Fail::syntax(reason, line, column)
    }

    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// At a line end: LF, CRLF, or the end of the text.
    fn at_eol(&self) -> bool {
        let b = &self.b()[self.i..];
        b.is_empty() || b[0] == b'\n' || b.starts_with(b"\r\n")
    }

    /// To the next LF (not past it).
    fn skip_line(&mut self) {
        self.i = self.b()[self.i..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b().len(), |n| self.i + n);
    }

    /// The name-like text here (checked by the caller), as a range.
    fn name(&mut self) -> std::ops::Range<usize> {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c == b'_' || c.is_ascii_alphanumeric()) {
            self.i += 1;
        }
        start..self.i
    }

    fn assignment(&mut self) -> Result<Entry, Fail> {
        let start = self.i;
        let mut name = self.name();
        if &self.t[name.clone()] == "export" && matches!(self.peek(), Some(b' ' | b'\t')) {
            self.blanks();
            if self.peek() != Some(b'=') {
                name = self.name();
            }
        }
        let name = tree::string_wiped(&self.t[name]);
        if !is_env_name(&name) {
            return Err(self.fail_at(start, "expected `NAME=value` (a name is a letter or `_`, then letters, digits or `_`), a comment or a blank line"));
        }
        self.blanks();
        if self.peek() != Some(b'=') {
            return Err(self.fail_at(self.i, "expected `=` after the variable name"));
        }
        self.i += 1;
        self.blanks();
        let value = match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.quoted(q)?,
            _ => self.bare()?,
        };
        self.blanks();
        if self.peek() == Some(b'#') && self.b()[self.i - 1].is_ascii_whitespace() {
            self.skip_line();
        }
        if !self.at_eol() {
            return Err(self.fail_at(
                self.i,
                "text after the closing quote (only a comment after a space may follow)",
            ));
        }
        Ok(Entry {
            key: name,
            at: (start, 0),
            value: Node::scalar(value, Kind::String),
        })
    }

    fn quoted(&mut self, q: u8) -> Result<Zeroizing<String>, Fail> {
        let open = self.i;
        let start = self.i + 1;
        let mut end = start;
        loop {
            match self.b().get(end) {
                None => return Err(self.fail_at(open, "a quoted value without its closing quote")),
                Some(&c) if c == q => break,
                Some(b'\\') if q == b'"' => end += 2,
                Some(_) => end += 1,
            }
        }
        let raw = &self.t[start..end];
        self.i = end + 1;
        if q == b'\'' {
            return Ok(decode_single(raw));
        }
        decode_double(raw).map_err(|at| {
            self.fail_at(
                start + at,
                "an unknown escape in a double-quoted value (use \\\\ \\\" \\n \\r \\t \\$)",
            )
        })
    }

    /// The rest of the line up to a comment (a `#` after a space or tab), trimmed. A CR in it
    /// (but the one of a CRLF) is refused: invisible in an editor, it would end up in the value.
    fn bare(&mut self) -> Result<Zeroizing<String>, Fail> {
        let b = self.t.as_bytes();
        let start = self.i;
        let mut end = start;
        while end < b.len()
            && b[end] != b'\n'
            && !(b[end] == b'#' && matches!(b[end - 1], b' ' | b'\t'))
        {
            end += 1;
        }
        self.i = end;
        let raw = self.t[start..end].trim_end_matches([' ', '\t']);
        let raw = if end < b.len() && b[end] == b'\n' {
            raw.strip_suffix('\r').unwrap_or(raw)
        } else {
            raw
        };
        let raw = raw.trim_end_matches([' ', '\t']);
        if let Some(cr) = raw.find('\r') {
            return Err(self.fail_at(
                start + cr,
                "a carriage return (CR) in an unquoted value: quote the value",
            ));
        }
        Ok(tree::string_wiped(raw))
    }
}
