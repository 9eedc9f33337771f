//! Structured secrets: one decrypted document (JSON, YAML, dotenv or INI) holds many values,
//! and a secret installs the one its key names. This module is the interface: `Format`,
//! `KeyPath`, `extract` and `validate`; one file per format builds the shared `tree`, which
//! looks the key up and writes mappings and lists as canonical JSON.
//!
//! Every error names the format and the key, never a value nor any other text of the document
//! (the parsers' own messages often quote their input, so only a line and column are kept);
//! the caller adds the file. Plaintext lives in wiped buffers (see `tree`), and a hostile
//! document is refused within the bounds of `Limits`.

mod dotenv;
mod ini;
mod json;
mod keypath;
mod tree;
mod yaml;

use std::fmt;
use std::str::FromStr;

use crate::fs::SecretBytes;
use crate::{Error, Result};

pub use keypath::{KeyPath, Segment};

/// What a decrypted file is, and so what its key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The whole file, as it is (the default); takes no key.
    Binary,
    Json,
    Yaml,
    Dotenv,
    Ini,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Binary,
        Format::Json,
        Format::Yaml,
        Format::Dotenv,
        Format::Ini,
    ];

    /// The name used in rules, manifests, options and messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                Error::new(format!(
                    "unknown format `{s}`: use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Bounds on what one document may cost, so a hostile one is refused in bounded time and
/// memory. The defaults are generous for any real secrets file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest document read, in bytes; also the largest a YAML document may grow to with
    /// its aliases expanded (so a billion-laughs document is refused however it is written).
    pub document_bytes: usize,
    /// How deeply lists and mappings may nest (aliases count with the depth they expand to).
    pub depth: usize,
    /// How many values (scalars, lists, mappings) a document may hold, aliases expanded.
    pub nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            document_bytes: 16 << 20,
            depth: 128,
            nodes: 1_000_000,
        }
    }
}

/// The value `key` names in `document`, in a wiped buffer: a string's text, a number or
/// boolean as written, a mapping or list as canonical JSON (see `tree`); the whole document
/// (checked to parse, unless the format is binary) when the key is empty.
pub fn extract(format: Format, document: &[u8], key: &KeyPath) -> Result<SecretBytes> {
    extract_with(&Limits::default(), format, document, key)
}

/// `extract` under other limits.
pub fn extract_with(
    limits: &Limits,
    format: Format,
    document: &[u8],
    key: &KeyPath,
) -> Result<SecretBytes> {
    key.check_for(format)?;
    if format == Format::Binary {
        return Ok(tree::copy_wiped(document));
    }
    let root = parse(limits, format, document).map_err(|e| e.for_key(format, key))?;
    if key.is_whole() {
        drop(root);
        return Ok(tree::copy_wiped(document));
    }
    let node = tree::lookup(&root, key).map_err(|why| Fail::Lookup(why).for_key(format, key))?;
    tree::value_bytes(limits, node).map_err(|why| Fail::Lookup(why).for_key(format, key))
}

/// Whether `document` parses as `format` (for `edit`, before it saves); binary always does.
pub fn validate(format: Format, document: &[u8]) -> Result<()> {
    if format == Format::Binary {
        return Ok(());
    }
    parse(&Limits::default(), format, document)
        .map(drop)
        .map_err(|e| e.for_document(format))
}

/// Why a document was refused or a key not found, before the format and key are added.
#[derive(Debug)]
enum Fail {
    /// Does not parse: a reason of ours (never a fragment of the input) and where.
    Syntax {
        reason: String,
        line: usize,
        column: usize,
    },
    /// Whole-document problems with no useful position (size, encoding, limits).
    Document(String),
    /// The document parses but the key does not name a value in it.
    Lookup(String),
}

impl Fail {
    fn syntax(reason: impl Into<String>, line: usize, column: usize) -> Fail {
        Fail::Syntax {
            reason: reason.into(),
            line,
            column,
        }
    }

    fn describe(&self, format: Format) -> String {
        match self {
            Fail::Syntax {
                reason,
                line,
                column,
            } => format!("not valid {format}: line {line}, column {column}: {reason}"),
            Fail::Document(why) => format!("not valid {format}: {why}"),
            Fail::Lookup(why) => why.clone(),
        }
    }

    fn for_key(self, format: Format, key: &KeyPath) -> Error {
        let what = self.describe(format);
        if key.is_whole() {
            Error::new(format!("{format} document: {what}"))
        } else {
            Error::new(format!("{format} key `{key}`: {what}"))
        }
    }

    fn for_document(self, format: Format) -> Error {
        Error::new(format!("{format} document: {}", self.describe(format)))
    }
}

/// The document as text: bounded in size, UTF-8, a leading byte-order mark skipped (editors on
/// Windows write one; it is never part of a value).
fn text<'a>(limits: &Limits, document: &'a [u8]) -> Result<&'a str, Fail> {
    if document.len() > limits.document_bytes {
        return Err(Fail::Document(format!(
            "larger than {} bytes, the most a structured secret may be",
            limits.document_bytes
        )));
    }
    let text = std::str::from_utf8(document).map_err(|e| {
        let (line, column) = position(document, e.valid_up_to());
        Fail::syntax("not UTF-8 text", line, column)
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn parse(limits: &Limits, format: Format, document: &[u8]) -> Result<tree::Node, Fail> {
    let text = text(limits, document)?;
    match format {
        Format::Binary => unreachable!("binary documents are not parsed"),
        Format::Json => json::parse(limits, text),
        Format::Yaml => yaml::parse(limits, text),
        Format::Dotenv => dotenv::parse(text),
        Format::Ini => ini::parse(text),
    }
}

/// Line and column (both from 1, the column in characters) of byte `offset` in `text`.
fn position(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // Characters, counted without decoding (no copy of the text): every byte but a UTF-8
    // continuation byte starts one.
    let column = before[start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
