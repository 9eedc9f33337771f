//! Templates: non-secret text with `<SECRET:sha256hex(attr):PLACEHOLDER>` placeholders, rendered
//! byte-for-byte (values may be binary) into `<generation>/rendered/<name>`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fs::SecretBytes;

const OPEN: &str = "<SECRET:";
const CLOSE: &str = ":PLACEHOLDER>";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// The attribute name of a secret whose value goes here.
    Secret(String),
}

/// sha256 hex of the attribute name, as the Nix side writes it.
pub fn placeholder_hash(attr: &str) -> String {
    crate::fs::hex(&Sha256::digest(attr.as_bytes()))
}

pub fn placeholder(attr: &str) -> String {
    format!("{OPEN}{}{CLOSE}", placeholder_hash(attr))
}

/// Split `content` into text and placeholders; `known` maps hash → secret attr.
pub fn parse(content: &str, known: &BTreeMap<String, String>) -> Result<Vec<Segment>> {
    let mut out = Vec::new();
    let mut rest = content;
    let mut count = 0;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let hash = after.get(..64).unwrap_or("");
        let well_formed = hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && after[64..].starts_with(CLOSE);
        if !well_formed {
            // Counted in chars: a byte offset could fall inside a multi-byte character.
            let near: String = rest[i..].chars().take(24).collect();
            return Err(Error::new(format!(
                "malformed placeholder near {:?}; placeholders look like \
                 <SECRET:<sha256 hex of the secret's attribute name>:PLACEHOLDER> (use the \
                 module's placeholder option rather than writing them by hand)",
                near
            )));
        }
        let attr = known.get(hash).ok_or_else(|| {
            Error::new(format!(
                "placeholder <SECRET:{hash}:PLACEHOLDER> names no secret in this manifest; add \
                 the secret, or remove the placeholder"
            ))
        })?;
        if i > 0 {
            out.push(Segment::Text(rest[..i].to_string()));
        }
        out.push(Segment::Secret(attr.clone()));
        count += 1;
        rest = &after[64 + CLOSE.len()..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest.to_string()));
    }
    if count == 0 {
        return Err(Error::new(
            "the template contains no placeholder; a file without secrets does not belong in \
             templates (use environment.etc instead)",
        ));
    }
    Ok(out)
}

/// The secrets a template needs.
pub fn references(segments: &[Segment]) -> impl Iterator<Item = &str> {
    segments.iter().filter_map(|s| match s {
        Segment::Secret(a) => Some(a.as_str()),
        Segment::Text(_) => None,
    })
}

/// Render into a wiped buffer; `value` returns a secret's plaintext, or None when unavailable
/// (the first missing secret is named in the error).
pub fn render<'a>(
    segments: &[Segment],
    value: impl Fn(&str) -> Option<&'a SecretBytes>,
) -> Result<SecretBytes> {
    let missing = |a: &str| Error::new(format!("needs secret {a:?}, which could not be decrypted"));
    let mut len = 0;
    for s in segments {
        len += match s {
            Segment::Text(t) => t.len(),
            Segment::Secret(a) => value(a).ok_or_else(|| missing(a))?.len(),
        };
    }
    // Reserved once, so the buffer never reallocates and leaves unwiped copies behind.
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    for s in segments {
        match s {
            Segment::Text(t) => out.extend_from_slice(t.as_bytes()),
            Segment::Secret(a) => out.extend_from_slice(value(a).ok_or_else(|| missing(a))?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let mut known = BTreeMap::new();
        known.insert(placeholder_hash("db"), "db".to_string());
        known.insert(placeholder_hash("k"), "k".to_string());
        let c = format!(
            "u=x\np={}\nk={}{}",
            placeholder("db"),
            placeholder("k"),
            placeholder("db")
        );
        let segs = parse(&c, &known).unwrap();
        let db: SecretBytes = Zeroizing::new(b"\x00\xffpw".to_vec());
        let k: SecretBytes = Zeroizing::new(b"K".to_vec());
        let out = render(&segs, |a| match a {
            "db" => Some(&db),
            "k" => Some(&k),
            _ => None,
        })
        .unwrap();
        assert_eq!(&out[..], b"u=x\np=\x00\xffpw\nk=K\x00\xffpw");
        assert!(parse("no placeholder", &known).is_err());
        assert!(parse(&placeholder("nope"), &known).is_err());
        assert!(parse("<SECRET:abc:PLACEHOLDER>", &known).is_err());
    }

    #[test]
    fn malformed_placeholder_with_multibyte_char_is_an_error() {
        let known = BTreeMap::new();
        for content in [
            format!("<SECRET:{}é", "a".repeat(15)),
            format!("<SECRET:{}é:PLACEHOLDER>", "a".repeat(63)),
            format!("x<SECRET:{}", "é".repeat(40)),
        ] {
            let e = parse(&content, &known).unwrap_err();
            assert!(e.to_string().contains("malformed placeholder"), "{e}");
        }
    }
}
