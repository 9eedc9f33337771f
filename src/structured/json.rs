//! JSON (RFC 8259, strict: no comments, no trailing commas, one value) parsed by us into the
//! shared tree. Not serde_json: a number must keep the text it is written with (`1.50`, `1e3`,
//! a 30-digit integer), which serde_json gives only with its `arbitrary_precision` feature,
//! and that feature would change every JSON value the crate reads; and our own strings are
//! allocated once at their final size in wiped buffers. Duplicate keys are refused, as
//! everywhere in this crate (see `strict_json`). Errors carry our own reason and a position.

use zeroize::Zeroizing;

use super::tree::{self, Entry, Kind, Node};
use super::{position, Fail, Limits};

pub(super) fn parse(limits: &Limits, text: &str) -> Result<Node, Fail> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        i: 0,
        nodes: 0,
        limits,
    };
    p.ws();
    if p.i == p.b.len() {
        return Err(p.fail("the document is empty (a JSON document is one value)"));
    }
    let root = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.fail("text after the document's value"));
    }
    Ok(root)
}

/// The length of the JSON number literal at the start of `b`, if one starts there:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
pub(super) fn number_len(b: &[u8]) -> Option<usize> {
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    nodes: usize,
    limits: &'a Limits,
}

impl Parser<'_> {
    fn fail(&self, reason: &str) -> Fail {
        self.fail_at(self.i, reason)
    }

    fn fail_at(&self, at: usize, reason: &str) -> Fail {
        let (line, column) = position(self.b, at);
        Fail::syntax(reason, line, column)
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let yes = self.b.get(self.i) == Some(&c);
        self.i += usize::from(yes);
        yes
    }

    fn value(&mut self, depth: usize) -> Result<Node, Fail> {
        self.nodes += 1;
        if self.nodes > self.limits.nodes {
            return Err(Fail::Document(format!(
                "more than {} values, the most a document may hold",
                self.limits.nodes
            )));
        }
        match self.b.get(self.i) {
            Some(b'{') | Some(b'[') if depth >= self.limits.depth => {
                Err(self.fail(&format!("nested deeper than {} levels", self.limits.depth)))
            }
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Node::scalar(self.string()?, Kind::String)),
            Some(b't') => self.literal("true", Some(Kind::Bool)),
            Some(b'f') => self.literal("false", Some(Kind::Bool)),
            Some(b'n') => self.literal("null", None),
            Some(b'-' | b'0'..=b'9') => {
                let n =
                    number_len(&self.b[self.i..]).ok_or_else(|| self.fail("a malformed number"))?;
                let text = tree::string_wiped(&self.text[self.i..self.i + n]);
                self.i += n;
                Ok(Node::scalar(text, Kind::Number))
            }
            None => Err(self.fail("the document ends where a value should be")),
            Some(_) => Err(self
                .fail("expected a value (an object, array, string, number, true, false or null)")),
        }
    }

    fn literal(&mut self, word: &str, kind: Option<Kind>) -> Result<Node, Fail> {
        if !self.b[self.i..].starts_with(word.as_bytes()) {
            return Err(self
                .fail("expected a value (an object, array, string, number, true, false or null)"));
        }
        self.i += word.len();
        Ok(match kind {
            Some(k) => Node::scalar(tree::string_wiped(word), k),
            None => Node::Null,
        })
    }

    fn array(&mut self, depth: usize) -> Result<Node, Fail> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Ok(Node::List(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            if self.eat(b']') {
                return Ok(Node::List(items));
            }
            if !self.eat(b',') {
                return Err(self.fail("expected `,` or `]` after an array item"));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, Fail> {
        self.i += 1;
        let mut entries = Vec::new();
        self.ws();
        if !self.eat(b'}') {
            loop {
                self.ws();
                if self.b.get(self.i) != Some(&b'"') {
                    return Err(self.fail("expected a key (a string in double quotes)"));
                }
                let at = (self.i, 0);
                let key = self.string()?;
                self.ws();
                if !self.eat(b':') {
                    return Err(self.fail("expected `:` after a key"));
                }
                self.ws();
                let value = self.value(depth)?;
                entries.push(Entry { key, at, value });
                self.ws();
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.fail("expected `,` or `}` after a value"));
                }
            }
        }
        tree::sort_entries(&mut entries)
            .map_err(|(at, _)| self.fail_at(at, "a key that is already in this object"))?;
        Ok(Node::Map(entries))
    }

    /// The string starting at the `"` here, decoded into a wiped string allocated once: its
    /// escaped length, measured first, is at least its decoded length.
    fn string(&mut self) -> Result<Zeroizing<String>, Fail> {
        let start = self.i + 1;
        let mut end = start;
        loop {
            match self.b.get(end) {
                None => return Err(self.fail("a string without its closing `\"`")),
                Some(b'"') => break,
                Some(b'\\') => end += 2,
                Some(&c) if c < 0x20 => {
                    return Err(self.fail_at(end, "a control character (such as a line break) in a string: write it as an escape like \\n"))
                }
                Some(_) => end += 1,
            }
        }
        let mut out = Zeroizing::new(String::with_capacity(end - start));
        let mut i = start;
        while i < end {
            let run = self.b[i..end]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(end, |n| i + n);
            // Runs end at `\` or the closing quote, both ASCII, so on character boundaries.
            out.push_str(&self.text[i..run]);
            i = run;
            if i < end {
                i = self.escape(i, &mut out)?;
            }
        }
        debug_assert!(out.len() <= end - start);
        self.i = end + 1;
        Ok(out)
    }

    /// Decode the escape at `i` (a `\`) into `out`; the offset after it.
    fn escape(&self, i: usize, out: &mut String) -> Result<usize, Fail> {
        let bad = || {
            self.fail_at(i, "an unknown escape in a string (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
        };
        let c = match self.b.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4(i + 2).ok_or_else(bad)?;
                let (code, next) = if (0xd800..0xdc00).contains(&hi) {
                    let lo = (self.b.get(i + 6..i + 8) == Some(b"\\u"))
                        .then(|| self.hex4(i + 8))
                        .flatten()
                        .filter(|lo| (0xdc00..0xe000).contains(lo));
                    let lo = lo.ok_or_else(|| {
                        self.fail_at(
                            i,
                            "a \\u escape of half a surrogate pair without its other half",
                        )
                    })?;
                    (0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00), i + 12)
                } else {
                    (hi, i + 6)
                };
                let c = char::from_u32(code).ok_or_else(|| {
                    self.fail_at(
                        i,
                        "a \\u escape of half a surrogate pair without its other half",
                    )
                })?;
                out.push(c);
                return Ok(next);
            }
            _ => return Err(bad()),
        };
        out.push(c);
        Ok(i + 2)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.b.get(at..at + 4)?;
        h.iter()
            .try_fold(0u32, |acc, &c| Some(acc * 16 + (c as char).to_digit(16)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_literals() {
        for ok in [
            "0",
            "-0",
            "1",
            "-12",
            "1.50",
            "1e3",
            "1E+3",
            "2.5e-10",
            "123456789012345678901234567890",
        ] {
            assert_eq!(number_len(ok.as_bytes()), Some(ok.len()), "{ok}");
        }
        for (text, len) in [
            ("01", Some(1)),
            ("1.", None),
            (".5", None),
            ("-", None),
            ("1e", None),
            ("+1", None),
            ("1x", Some(1)),
            ("0x1F", Some(1)),
        ] {
            assert_eq!(number_len(text.as_bytes()), len, "{text}");
        }
    }
}
