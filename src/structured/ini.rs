//! INI files, by the grammar in README ("dotenv and INI grammar"), parsed by us (INI has no
//! standard; every reader differs on comments, quotes, case and continuation lines). In short,
//! line by line:
//!
//! - blank, or a comment: `;` or `#` first (after spaces or tabs); no comments after a value;
//! - `[section]`: the name between `[` and the first `]`, trimmed, not empty; after `]` only
//!   spaces, tabs and a comment;
//! - `key = value`: the key is the text before the first `=`, trimmed, not empty; the value the
//!   text after it, trimmed; a value that starts with `"` must end with one and is decoded like
//!   a dotenv double-quoted value (so `"a\nb"` is two lines); anything else is literal (`'`,
//!   `;`, `#`, `\` included); `key =` is the empty string;
//! - keys before the first section are outside any section (key `key`); in a section, key
//!   `section.key`; names are case-sensitive;
//! - a key twice in a section, a section twice, or a section and a key outside sections with
//!   the same name are errors; any other line (no `=`, a continuation line) is an error;
//! - CRLF line ends read as LF.

use super::dotenv::decode_double;
use super::tree::{self, Entry, Kind, Node};
use super::Fail;

pub(super) fn parse(text: &str) -> Result<Node, Fail> {
    let mut root: Vec<Entry> = Vec::new();
    // The open section: its name, where it is, its entries.
    let mut section: Option<Entry> = None;
    for (n, line) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let body = line.trim_start_matches([' ', '\t']);
        let column = line.len() - body.len() + 1;
        let fail = |reason: &str, col: usize| Fail::syntax(reason, line_no, col);
        if body.is_empty() || body.starts_with([';', '#']) {
            continue;
        }
        if let Some(rest) = body.strip_prefix('[') {
            let Some(close) = rest.find(']') else {
                return Err(fail("a section header without its closing `]`", column));
            };
            let after = rest[close + 1..].trim_start_matches([' ', '\t']);
            if !(after.is_empty() || after.starts_with([';', '#'])) {
                return Err(fail(
                    "text after a section header's `]` (only a comment may follow)",
                    column,
                ));
            }
            let name = rest[..close].trim_matches([' ', '\t']);
            if name.is_empty() {
                return Err(fail("a section without a name", column));
            }
            if let Some(done) = section.take() {
                root.push(close_section(done)?);
            }
            section = Some(Entry {
                key: tree::string_wiped(name),
                at: (line_no, column),
                value: Node::Map(Vec::new()),
            });
            continue;
        }
        let Some(eq) = body.find('=') else {
            return Err(fail(
                "expected `key = value`, a `[section]`, a comment or a blank line",
                column,
            ));
        };
        let key = body[..eq].trim_end_matches([' ', '\t']);
        if key.is_empty() {
            return Err(fail("a value without a key before its `=`", column));
        }
        let raw = body[eq + 1..].trim_matches([' ', '\t']);
        let value = if let Some(inner) = raw.strip_prefix('"') {
            // In characters, like every column: `raw` is a part of `body`.
            let offset = raw.as_ptr() as usize - body.as_ptr() as usize;
            let value_col = column + body[..offset].chars().count();
            let inner = inner
                .strip_suffix('"')
                .filter(|i| closes_once(i))
                .ok_or_else(|| {
                    fail(
                        "a value that starts with `\"` must end with the one `\"` that closes it",
                        value_col,
                    )
                })?;
            decode_double(inner).map_err(|_| {
                fail(
                    "an unknown escape in a double-quoted value (use \\\\ \\\" \\n \\r \\t \\$)",
                    value_col,
                )
            })?
        } else {
            tree::string_wiped(raw)
        };
        let entry = Entry {
            key: tree::string_wiped(key),
            at: (line_no, column),
            value: Node::scalar(value, Kind::String),
        };
        match &mut section {
            Some(Entry {
                value: Node::Map(entries),
                ..
            }) => entries.push(entry),
            _ => root.push(entry),
        }
    }
    if let Some(done) = section.take() {
        root.push(close_section(done)?);
    }
    tree::sort_entries(&mut root).map_err(|(line, column)| {
        Fail::syntax("a section that appears twice, a key outside sections set twice, or a section and such a key with one name", line, column)
    })?;
    Ok(Node::Map(root))
}

/// Whether a double-quoted value's inside has no `"` that is not escaped.
fn closes_once(inner: &str) -> bool {
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return false,
            _ => i += 1,
        }
    }
    // A trailing lone `\` escaped the closing quote.
    i == b.len()
}

fn close_section(mut section: Entry) -> Result<Entry, Fail> {
    if let Node::Map(entries) = &mut section.value {
        tree::sort_entries(entries).map_err(|(line, column)| {
            Fail::syntax("a key that is already in this section", line, column)
        })?;
    }
    Ok(section)
}
