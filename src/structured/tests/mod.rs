//! The interface's promises, per format: values as written, canonical JSON, the key grammar,
//! errors that name the format and key and never carry document text, and hostile documents
//! refused within the limits.

mod json;
mod text;
mod yaml;

use super::*;

pub(super) fn get(format: Format, doc: &str, key: &str) -> Result<String> {
    let key = KeyPath::parse_for(format, key)?;
    extract(format, doc.as_bytes(), &key).map(|v| String::from_utf8(v.to_vec()).unwrap())
}

pub(super) fn ok(format: Format, doc: &str, key: &str) -> String {
    get(format, doc, key).unwrap_or_else(|e| panic!("{format} `{key}`: {e}"))
}

pub(super) fn err(format: Format, doc: &str, key: &str) -> String {
    match get(format, doc, key) {
        Ok(v) => panic!(
            "{format} `{key}`: expected an error, got a value of {} bytes",
            v.len()
        ),
        Err(e) => e.to_string(),
    }
}

/// Every error message is checked against this: no fragment of any secret-looking value.
pub(super) fn assert_clean(msg: &str) {
    for bad in ["hunter2", "S3CRET", "sk_live", "tok3n", "p@ss"] {
        assert!(!msg.contains(bad), "message leaks document text: {msg}");
    }
}

#[test]
fn format_names() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
        assert_eq!(f.to_string(), f.name());
    }
    let e = "toml".parse::<Format>().unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown format `toml`: use one of binary, json, yaml, dotenv, ini"
    );
    assert!(
        "JSON".parse::<Format>().is_err(),
        "names are lowercase, exactly"
    );
}

#[test]
fn whole_document_and_binary() {
    let doc = "{\"a\": 1}\n";
    for f in [Format::Binary, Format::Json] {
        assert_eq!(ok(f, doc, ""), doc, "{f}");
    }
    // Binary takes any bytes and no key.
    let bytes = [0u8, 0xff, 0xfe, b'\n'];
    assert_eq!(
        &extract(Format::Binary, &bytes, &KeyPath::whole()).unwrap()[..],
        &bytes
    );
    let e = KeyPath::parse_for(Format::Binary, "a")
        .unwrap_err()
        .to_string();
    assert!(e.contains("takes no key"), "{e}");
    // A key checked for another format is checked again by extract.
    let e = extract(Format::Binary, b"x", &KeyPath::parse("a").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("binary key `a`: "), "{e}");
    // With a format, the whole document must still parse.
    let e = err(Format::Json, "{\"a\": hunter2}", "");
    assert!(
        e.starts_with("json document: not valid json: line 1, column 7: "),
        "{e}"
    );
    assert_clean(&e);
    assert!(validate(Format::Binary, &bytes).is_ok());
    let e = validate(Format::Yaml, &bytes).unwrap_err().to_string();
    assert_eq!(
        e,
        "yaml document: not valid yaml: line 1, column 2: not UTF-8 text"
    );
}

#[test]
fn size_and_count_limits() {
    let limits = Limits {
        document_bytes: 100,
        depth: 4,
        nodes: 10,
    };
    let key = KeyPath::parse("a").unwrap();
    let e = extract_with(&limits, Format::Dotenv, &[b'a'; 101], &key)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "dotenv key `a`: not valid dotenv: larger than 100 bytes, the most a structured secret may be");
    let e = extract_with(&limits, Format::Json, b"[1,2,3,4,5,6,7,8,9,10]", &key)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 10 values"), "{e}");
    let e = extract_with(&limits, Format::Yaml, b"[1,2,3,4,5,6,7,8,9,10]", &key)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 10 values"), "{e}");
}

#[test]
fn validate_is_parse_only() {
    for (format, good, bad) in [
        (Format::Json, "{}", "{"),
        (Format::Yaml, "a: 1", "a: [1"),
        (Format::Dotenv, "A=1", "A"),
        (Format::Ini, "[s]\nk=v", "[s"),
    ] {
        validate(format, good.as_bytes()).unwrap();
        let e = validate(format, bad.as_bytes()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{format} document: not valid {format}: line ")),
            "{e}"
        );
    }
    // A byte-order mark is skipped, a NUL or invalid UTF-8 refused with its position.
    assert_eq!(ok(Format::Dotenv, "\u{feff}A=1", "A"), "1");
    assert_eq!(ok(Format::Json, "\u{feff}{\"a\":1}", "a"), "1");
    let e = validate(Format::Ini, b"[s]\nk = \xff")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "ini document: not valid ini: line 2, column 5: not UTF-8 text"
    );
}
