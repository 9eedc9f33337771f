//! The tree every format parses into, the key lookup in it, and a value's bytes.
//!
//! Text in the tree lives in wiped strings, each allocated at its final size by the parsers
//! (so no growing copy is left behind); the tree is dropped as soon as the value is taken.
//!
//! Canonical JSON, how a mapping or list is given: no whitespace at all; object keys sorted by
//! their UTF-8 bytes (Unicode code point order); duplicate keys cannot occur (every parser
//! refuses them); a string escapes `"` and `\`, writes U+0008, U+000C, U+000A, U+000D, U+0009
//! as `\b \f \n \r \t` and every other character below U+0020 as `\u00XX` (lowercase hex),
//! and every other character as itself in UTF-8 (no `\u` for non-ASCII); a number is its text
//! exactly as written in the document (JSON: the literal; YAML: a plain scalar that is a JSON
//! number literal), never re-formatted; `true`, `false` and `null` as such. (This is what
//! serde_json writes for strings, and RFC 8785's order for keys outside the BMP aside.)

use std::rc::Rc;

use zeroize::Zeroizing;

use super::{KeyPath, Limits, Segment};
use crate::fs::SecretBytes;

/// A value in a parsed document.
pub(super) enum Node {
    Null,
    Scalar(Scalar),
    List(Vec<Node>),
    /// Sorted by key, no two equal keys (`sort_entries` makes it so).
    Map(Vec<Entry>),
    /// A YAML node that has an anchor: shared by it and every alias to it, so an alias costs
    /// one pointer however large the node (expansion is bounded when the tree is built).
    Shared(Rc<Node>),
}

pub(super) struct Scalar {
    /// As written (a YAML scalar: its content, after the quoting or block style is undone).
    pub text: Zeroizing<String>,
    pub kind: Kind,
}

/// How a scalar is written as canonical JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    String,
    /// The text is a JSON number literal.
    Number,
    /// The text is a true or false (YAML also `True`, `TRUE`, …).
    Bool,
}

pub(super) struct Entry {
    pub key: Zeroizing<String>,
    /// Where the key is, for a duplicate's message, as its parser records it (JSON: the byte
    /// offset and 0; the others: line and column).
    pub at: (usize, usize),
    pub value: Node,
}

impl Node {
    pub(super) fn scalar(text: Zeroizing<String>, kind: Kind) -> Node {
        Node::Scalar(Scalar { text, kind })
    }

    /// Through a shared node to what it shares.
    fn get(&self) -> &Node {
        match self {
            Node::Shared(rc) => rc.get(),
            n => n,
        }
    }
}

/// Sort a mapping's entries by key and refuse two equal keys; the error is the position of the
/// later one in the document (never the key: it is document text).
pub(super) fn sort_entries(entries: &mut [Entry]) -> Result<(), (usize, usize)> {
    entries.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    match entries.windows(2).find(|w| w[0].key == w[1].key) {
        Some(w) => Err(std::cmp::max(w[0].at, w[1].at)),
        None => Ok(()),
    }
}

/// A wiped copy of `bytes`, allocated at its size.
pub(super) fn copy_wiped(bytes: &[u8]) -> SecretBytes {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    out.extend_from_slice(bytes);
    out
}

/// A wiped copy of `s`, allocated at its size.
pub(super) fn string_wiped(s: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len()));
    out.push_str(s);
    out
}

/// The node `key` names; the error says where the lookup stopped, in terms of the key only.
pub(super) fn lookup<'a>(root: &'a Node, key: &KeyPath) -> Result<&'a Node, String> {
    let mut node = root.get();
    for (i, seg) in key.segments().iter().enumerate() {
        let here = || match i {
            0 => "the document".to_string(),
            _ => format!("`{}`", key.prefix(i)),
        };
        node = match (node, seg) {
            (Node::Map(entries), Segment::Name(name)) => {
                match entries.binary_search_by(|e| e.key.as_bytes().cmp(name.as_bytes())) {
                    Ok(at) => entries[at].value.get(),
                    Err(_) => {
                        let merge = entries.iter().any(|e| e.key.as_str() == "<<");
                        let hint = if merge {
                            " (it has a `<<` key: YAML 1.1 merge keys are not expanded, write the keys out)"
                        } else {
                            ""
                        };
                        let name = super::keypath::escape_name(name);
                        return Err(format!("not found: {} has no key `{name}`{hint}", here()));
                    }
                }
            }
            (Node::List(items), Segment::Index(k)) => match items.get(*k) {
                Some(n) => n.get(),
                None => return Err(format!("not found: {} has no item [{k}]", here())),
            },
            (Node::List(_), Segment::Name(_)) => {
                return Err(format!(
                    "not found: {} is a list: name an item by its position, like `[0]`",
                    here()
                ))
            }
            (Node::Map(_), Segment::Index(_)) => {
                return Err(format!(
                    "not found: {} is a mapping, not a list: name a key in it",
                    here()
                ))
            }
            (Node::Null | Node::Scalar(_), _) => {
                return Err(format!(
                    "not found: {} is a single value, with nothing inside it",
                    here()
                ))
            }
            (Node::Shared(_), _) => unreachable!("get() looks through shared nodes"),
        };
    }
    Ok(node)
}

/// The bytes a secret gets for `node`: a scalar's text, a mapping or list as canonical JSON.
/// A null is refused: installing it as an empty file would hide a value left out by mistake.
pub(super) fn value_bytes(limits: &Limits, node: &Node) -> Result<SecretBytes, String> {
    match node.get() {
        Node::Null => Err("the value is null (or empty); write \"\" for an empty secret".into()),
        Node::Scalar(s) => Ok(copy_wiped(s.text.as_bytes())),
        n => {
            // Measured first, so the output is allocated once at its size (no growing copy)
            // and a value too large to install is refused before any of it is written.
            let size = json_size(n);
            let most = limits.document_bytes.saturating_mul(4);
            if size > most {
                return Err(format!(
                    "the value is larger than {most} bytes as JSON, the most a value may be"
                ));
            }
            let mut out = Zeroizing::new(Vec::with_capacity(size));
            write_json(n, &mut out);
            debug_assert_eq!(out.len(), size);
            Ok(out)
        }
    }
}

/// The length of `node` as canonical JSON. Recursion is bounded by the tree's depth, which
/// the parsers bound (aliases included); the size by the expanded size they bound.
fn json_size(node: &Node) -> usize {
    match node.get() {
        Node::Null => 4,
        Node::Scalar(s) => match s.kind {
            Kind::String => string_size(&s.text),
            Kind::Number => s.text.len(),
            Kind::Bool => bool_text(&s.text).len(),
        },
        Node::List(items) => {
            2 + items.iter().map(json_size).sum::<usize>() + items.len().saturating_sub(1)
        }
        Node::Map(entries) => {
            2 + entries
                .iter()
                .map(|e| string_size(&e.key) + 1 + json_size(&e.value))
                .sum::<usize>()
                + entries.len().saturating_sub(1)
        }
        Node::Shared(_) => unreachable!("get() looks through shared nodes"),
    }
}

fn write_json(node: &Node, out: &mut Vec<u8>) {
    match node.get() {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Scalar(s) => match s.kind {
            Kind::String => write_string(&s.text, out),
            Kind::Number => out.extend_from_slice(s.text.as_bytes()),
            Kind::Bool => out.extend_from_slice(bool_text(&s.text).as_bytes()),
        },
        Node::List(items) => {
            out.push(b'[');
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(n, out);
            }
            out.push(b']');
        }
        Node::Map(entries) => {
            out.push(b'{');
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(&e.key, out);
                out.push(b':');
                write_json(&e.value, out);
            }
            out.push(b'}');
        }
        Node::Shared(_) => unreachable!("get() looks through shared nodes"),
    }
}

fn bool_text(text: &str) -> &'static str {
    if text.eq_ignore_ascii_case("true") {
        "true"
    } else {
        "false"
    }
}

fn escape(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x0c => b"\\f",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        _ => return None,
    })
}

fn string_size(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match escape(b) {
            Some(e) => e.len(),
            None if b < 0x20 => 6,
            None => 1,
        })
        .sum::<usize>()
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in s.bytes() {
        match escape(b) {
            Some(e) => out.extend_from_slice(e),
            None if b < 0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            None => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Node {
        Node::scalar(string_wiped(text), Kind::String)
    }

    /// Strings are escaped exactly as serde_json escapes them, for every character that is
    /// escaped at all and a few that are not.
    #[test]
    fn strings_escape_like_serde_json() {
        let all: String = (0u32..0x80)
            .chain([0xe9, 0x2028, 0xfeff, 0x1f600])
            .filter_map(char::from_u32)
            .collect();
        let got = value_bytes(&Limits::default(), &Node::List(vec![s(&all)])).unwrap();
        let want = serde_json::to_string(&serde_json::json!([all])).unwrap();
        assert_eq!(std::str::from_utf8(&got).unwrap(), want);
    }

    #[test]
    fn null_is_refused_and_sizes_are_exact() {
        let e = value_bytes(&Limits::default(), &Node::Null).unwrap_err();
        assert!(e.contains("null"), "{e}");
        let n = Node::List(vec![
            Node::Null,
            Node::scalar(string_wiped("1.50"), Kind::Number),
            Node::scalar(string_wiped("True"), Kind::Bool),
            Node::List(vec![]),
            Node::Map(vec![]),
        ]);
        let got = value_bytes(&Limits::default(), &n).unwrap();
        assert_eq!(&got[..], b"[null,1.50,true,[],{}]");
        assert_eq!(got.len(), got.capacity());
    }
}
