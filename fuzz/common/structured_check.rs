// The checks of the `structured` fuzz target, shared with tests/fuzz_regressions.rs (both
// `include!` this file), so the committed corpus is replayed with exactly the fuzzer's checks.
// Needs the crates secrets, serde and serde_json in scope.

use secrets::structured::{extract, validate, Format, KeyPath};

const FORMATS: [Format; 4] = [Format::Json, Format::Yaml, Format::Dotenv, Format::Ini];
const KEYS: [&str; 8] = ["", "a", "a.b", "a[0]", "[0]", "A", "s.k", "a\\.b"];

/// One input: the first byte picks the format, the rest is the document.
pub fn structured_one(data: &[u8]) {
    let Some((&pick, doc)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let valid = validate(format, doc);
    if let Err(e) = &valid {
        assert!(!e.message().is_empty());
    }
    if format == Format::Json && valid.is_ok() {
        let text = std::str::from_utf8(doc).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    }
    for k in KEYS {
        let Ok(key) = KeyPath::parse_for(format, k) else {
            continue;
        };
        match extract(format, doc, &key) {
            Ok(value) => {
                assert!(
                    valid.is_ok(),
                    "a value from a document that does not validate"
                );
                canonical_is_fixed_point(format, doc, &key, &value);
            }
            Err(e) => assert!(!e.message().is_empty()),
        }
    }
}

/// A JSON or YAML value that is a mapping or list came out as canonical JSON: read back as
/// JSON (wrapped in a list, taken out again) it must come out the same. For JSON, serde_json
/// says which values are mappings or lists (those must read back) and what a string holds.
fn canonical_is_fixed_point(format: Format, doc: &[u8], key: &KeyPath, value: &[u8]) {
    if key.is_whole() || !matches!(format, Format::Json | Format::Yaml) {
        return;
    }
    let theirs = (format == Format::Json)
        .then(|| serde_at(doc, key))
        .flatten();
    if let Some(serde_json::Value::String(s)) = &theirs {
        assert_eq!(s.as_bytes(), value, "a string differs from serde_json's");
        return;
    }
    let container = matches!(
        theirs,
        Some(serde_json::Value::Array(_) | serde_json::Value::Object(_))
    );
    if !container && !matches!(value.first(), Some(b'[' | b'{')) {
        return;
    }
    let mut wrapped = b"[".to_vec();
    wrapped.extend_from_slice(value);
    wrapped.push(b']');
    let first = KeyPath::parse("[0]").unwrap();
    match extract(Format::Json, &wrapped, &first) {
        Ok(again) => assert_eq!(&again[..], value, "canonical JSON is not a fixed point"),
        // A YAML string that merely starts with a bracket need not be JSON.
        Err(e) => assert!(!container, "canonical JSON does not parse: {e}"),
    }
}

/// The value serde_json finds at `key` (the keys of `KEYS` only).
fn serde_at(doc: &[u8], key: &KeyPath) -> Option<serde_json::Value> {
    use secrets::structured::Segment;
    let text = std::str::from_utf8(doc).ok()?;
    let mut v: serde_json::Value =
        serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text)).ok()?;
    for seg in key.segments() {
        v = match (seg, v) {
            (Segment::Name(n), serde_json::Value::Object(mut m)) => m.remove(n)?,
            (Segment::Index(i), serde_json::Value::Array(mut a)) if *i < a.len() => {
                a.swap_remove(*i)
            }
            _ => return None,
        };
    }
    Some(v)
}
