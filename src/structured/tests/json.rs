//! JSON: values as written, canonical JSON against serde_json, refusals.

use super::*;

#[test]
fn json_values_as_written() {
    let doc = r#"{
        "db": {"password": "hunter2 \"quoted\"\n2nd line", "port": 5432, "ratio": 1.50,
               "big": 123456789012345678901234567890, "exp": 1E+3, "on": true, "off": false,
               "nothing": null, "empty": ""},
        "servers": [{"host": "a"}, {"host": "b", "keys": ["k1", "k2"]}],
        "a.b": {"c[0]": "dotted", "back\\slash": "bs"},
        "ключ": "значение ✓ 😀", "esc": "\u00e9\ud83d\ude00\/\t"
    }"#;
    for (key, want) in [
        ("db.password", "hunter2 \"quoted\"\n2nd line"),
        ("db.port", "5432"),
        ("db.ratio", "1.50"),
        ("db.big", "123456789012345678901234567890"),
        ("db.exp", "1E+3"),
        ("db.on", "true"),
        ("db.off", "false"),
        ("db.empty", ""),
        ("servers[1].host", "b"),
        ("servers[1].keys[0]", "k1"),
        ("a\\.b.c\\[0\\]", "dotted"),
        ("a\\.b.back\\\\slash", "bs"),
        ("ключ", "значение ✓ 😀"),
        ("esc", "é😀/\t"),
        ("servers[1].keys", r#"["k1","k2"]"#),
        (
            "servers",
            r#"[{"host":"a"},{"host":"b","keys":["k1","k2"]}]"#,
        ),
        (
            "db",
            r#"{"big":123456789012345678901234567890,"empty":"","exp":1E+3,"nothing":null,"off":false,"on":true,"password":"hunter2 \"quoted\"\n2nd line","port":5432,"ratio":1.50}"#,
        ),
    ] {
        assert_eq!(ok(Format::Json, doc, key), want, "{key}");
    }
    // A list at the top.
    assert_eq!(ok(Format::Json, r#"[{"k": "v"}]"#, "[0].k"), "v");
    assert_eq!(
        ok(Format::Json, r#""just a string""#, ""),
        r#""just a string""#
    );
}

#[test]
fn json_canonical_matches_serde_json_without_floats() {
    // serde_json sorts keys (BTreeMap) and escapes strings as we do; only its number
    // formatting differs, so compare on integers.
    let doc = r#"{"z": [3, -1, {"y": "\u0001\u001f\u007f é", "b": [], "a": {}}], "A": "x",
                  "é": 0, "e": "\"\\/\b\f\n\r\t", "😀": true, "": null, "\ue000": 1}"#;
    let ours = extract(Format::Json, doc.as_bytes(), &KeyPath::parse("z").unwrap()).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(std::str::from_utf8(&ours).unwrap(), theirs["z"].to_string());
    // The root, through a list wrapper (an empty key gives the document as is).
    let wrapped = format!("[{doc}]");
    let ours = extract(
        Format::Json,
        wrapped.as_bytes(),
        &KeyPath::parse("[0]").unwrap(),
    )
    .unwrap();
    assert_eq!(std::str::from_utf8(&ours).unwrap(), theirs.to_string());
}

#[test]
fn json_refusals_name_format_key_and_position_only() {
    let doc = r#"{"db": {"password": "hunter2"}, "list": ["S3CRET"], "n": null}"#;
    for (key, says) in [
        (
            "db.user",
            "json key `db.user`: not found: `db` has no key `user`",
        ),
        (
            "nope",
            "json key `nope`: not found: the document has no key `nope`",
        ),
        (
            "db[0]",
            "json key `db[0]`: not found: `db` is a mapping, not a list",
        ),
        (
            "list.x",
            "json key `list.x`: not found: `list` is a list: name an item by its position",
        ),
        (
            "list[1]",
            "json key `list[1]`: not found: `list` has no item [1]",
        ),
        (
            "db.password.x",
            "json key `db.password.x`: not found: `db.password` is a single value",
        ),
        (
            "n",
            "json key `n`: the value is null (or empty); write \"\" for an empty secret",
        ),
    ] {
        let e = err(Format::Json, doc, key);
        assert!(e.starts_with(says), "{key}: {e}");
        assert_clean(&e);
    }
    for (bad, says) in [
        (
            r#"{"password": hunter2}"#,
            "line 1, column 14: expected a value",
        ),
        (
            "{\"password\": \"hunter2",
            "line 1, column 14: a string without its closing",
        ),
        (
            "{\"password\":\n \"hunter2\n\"}",
            "line 2, column 10: a control character",
        ),
        (
            r#"{"password": "hunter2\q"}"#,
            "line 1, column 22: an unknown escape",
        ),
        (
            r#"{"password": "\ud800hunter2"}"#,
            "a \\u escape of half a surrogate pair",
        ),
        (
            r#"{"password": "hunter2", "password": "S3CRET"}"#,
            "line 1, column 25: a key that is already in this object",
        ),
        (r#"{"password": "hunter2",}"#, "expected a key"),
        (
            r#"{"password": "hunter2"} S3CRET"#,
            "text after the document's value",
        ),
        (r#"{"pin": 0123}"#, "expected `,` or `}`"),
        (r#"{"pin": -hunter2}"#, "a malformed number"),
        ("", "the document is empty"),
        ("// S3CRET\n{}", "line 1, column 1: expected a value"),
    ] {
        let e = err(Format::Json, bad, "password");
        assert!(
            e.starts_with("json key `password`: not valid json: "),
            "{bad}: {e}"
        );
        assert!(e.contains(says), "{bad}: {e}");
        assert_clean(&e);
    }
}
