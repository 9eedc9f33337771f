//! The interface's promises, per format: values as written, canonical JSON, the key grammar,
//! errors that name the format and key and never carry document text, and hostile documents
//! refused within the limits.

use super::*;

fn get(format: Format, doc: &str, key: &str) -> Result<String> {
    let key = KeyPath::parse_for(format, key)?;
    extract(format, doc.as_bytes(), &key).map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn ok(format: Format, doc: &str, key: &str) -> String {
    get(format, doc, key).unwrap_or_else(|e| panic!("{format} `{key}`: {e}"))
}

fn err(format: Format, doc: &str, key: &str) -> String {
    match get(format, doc, key) {
        Ok(v) => panic!(
            "{format} `{key}`: expected an error, got a value of {} bytes",
            v.len()
        ),
        Err(e) => e.to_string(),
    }
}

/// Every error message is checked against this: no fragment of any secret-looking value.
fn assert_clean(msg: &str) {
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

#[test]
fn yaml_values_as_written() {
    let doc = "\
# a comment
db:
  password: hunter2
  quoted: \"a \\\"b\\\" \\u00e9\\n\"
  single: 'it''s'
  port: 5432
  ratio: 1.50
  octal11: 0644
  octal12: 0o644
  hex: 0x1F
  yes11: yes
  on11: on
  bool: True
  tilde: ~
  empty:
  literal: |
    line one
    line two
  folded: >-
    folded
    text
servers:
  - host: a
  - host: b
    tags: [x, 'y', 3, 1.0, null, FALSE, 0644]
\"a.b\":
  \"c[0]\": dotted
ключ: значение ✓ 😀
'123': numeric key
anchored: &base {user: admin, level: 3}
alias: *base
";
    for (key, want) in [
        ("db.password", "hunter2"),
        ("db.quoted", "a \"b\" é\n"),
        ("db.single", "it's"),
        ("db.port", "5432"),
        ("db.ratio", "1.50"),
        ("db.octal11", "0644"),
        ("db.octal12", "0o644"),
        ("db.hex", "0x1F"),
        ("db.yes11", "yes"),
        ("db.on11", "on"),
        ("db.bool", "True"),
        ("db.literal", "line one\nline two\n"),
        ("db.folded", "folded text"),
        ("servers[1].host", "b"),
        ("servers[1].tags", r#"["x","y",3,1.0,null,false,"0644"]"#),
        ("a\\.b.c\\[0\\]", "dotted"),
        ("ключ", "значение ✓ 😀"),
        ("123", "numeric key"),
        ("alias.user", "admin"),
        ("alias", r#"{"level":3,"user":"admin"}"#),
        (
            "servers",
            r#"[{"host":"a"},{"host":"b","tags":["x","y",3,1.0,null,false,"0644"]}]"#,
        ),
    ] {
        assert_eq!(ok(Format::Yaml, doc, key), want, "{key}");
    }
    for key in ["db.tilde", "db.empty"] {
        let e = err(Format::Yaml, doc, key);
        assert!(e.contains("the value is null"), "{key}: {e}");
    }
    // Tagged and quoted scalars are strings in canonical JSON, plain ones typed.
    let doc = "m: {a: !!str 3, b: '3', c: 3, d: \"true\", e: true, f: .inf, g: +1, h: '', i: ~}";
    assert_eq!(
        ok(Format::Yaml, doc, "m"),
        r#"{"a":"3","b":"3","c":3,"d":"true","e":true,"f":".inf","g":"+1","h":"","i":null}"#
    );
    // Top-level list, explicit document markers, CRLF.
    assert_eq!(ok(Format::Yaml, "---\r\n- k: v\r\n...\r\n", "[0].k"), "v");
}

#[test]
fn yaml_refusals_name_format_key_and_position_only() {
    let doc = "db:\n  password: hunter2\nbase: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n";
    let e = err(Format::Yaml, doc, "db.user");
    assert_eq!(e, "yaml key `db.user`: not found: `db` has no key `user`");
    let e = err(Format::Yaml, doc, "m.x");
    assert!(e.contains("YAML 1.1 merge keys are not expanded"), "{e}");
    for (bad, says) in [
        ("password: \"hunter2\n", "line 1, column 11: a syntax error"),
        ("a: [hunter2\n", "a syntax error"),
        (
            "password: hunter2\npassword: S3CRET\n",
            "line 2, column 1: a key that is already in this mapping",
        ),
        (
            "password: hunter2\n---\nS3CRET: 1\n",
            "line 2, column 1: a second document",
        ),
        (
            "? [hunter2]\n: S3CRET\n",
            "a mapping key that is a list or mapping",
        ),
        ("a: *hunter2\n", "line 1, column 4: a syntax error"),
        ("a: &x [*x]\n", "an alias to an anchor that is not complete"),
        ("x: &k [1]\n*k : S3CRET\n", "an alias as a mapping key"),
    ] {
        let e = err(Format::Yaml, bad, "password");
        assert!(
            e.starts_with("yaml key `password`: not valid yaml: "),
            "{bad}: {e}"
        );
        assert!(e.contains(says), "{bad}: {e}");
        assert_clean(&e);
    }
    // An anchored or aliased scalar key is fine.
    assert_eq!(
        ok(
            Format::Yaml,
            "&k password: 1\nx:\n  *k : hunter2\n",
            "x.password"
        ),
        "hunter2"
    );
}

/// Billion laughs: ten levels of ten aliases would expand to 10^10 values. Refused while it is
/// read (the expansion is never built), whichever key is asked for, and by validate.
#[test]
fn yaml_alias_bomb_refused() {
    let mut doc = String::from("a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    for key in ["a0[0]", "a9", ""] {
        let e = err(Format::Yaml, &doc, key);
        assert!(
            e.contains("with its aliases expanded the document holds more than 1000000 values"),
            "{e}"
        );
    }
    assert!(validate(Format::Yaml, doc.as_bytes()).is_err());
    // A long scalar aliased many times passes the byte bound before the value count.
    let big = "x".repeat(1 << 20);
    let doc = format!("s: &s {big}\nl: [{}]\n", vec!["*s"; 20].join(","));
    let e = err(Format::Yaml, &doc, "s");
    assert!(e.contains("16777216 bytes"), "{e}");
    // Aliases within the bounds expand in the output.
    let doc = "a: &a [1, 2]\nb: [*a, *a]\n";
    assert_eq!(ok(Format::Yaml, doc, "b"), "[[1,2],[1,2]]");
}

#[test]
fn deep_nesting_refused_in_every_tree_format() {
    for (format, open) in [
        (Format::Yaml, "["),
        (Format::Json, "["),
        (Format::Yaml, "{a: "),
        (Format::Json, "{\"a\": "),
        (Format::Yaml, "- "),
    ] {
        for depth in [129, 100_000] {
            let doc = open.repeat(depth);
            let e = err(format, &doc, "a");
            // saphyr's scanner looks ahead in flow context and stops at 255 open brackets
            // itself, maybe before we see the 129th; either way the document is refused.
            let theirs = format == Format::Yaml && depth > 255 && open != "- ";
            assert!(
                e.contains("nested deeper than 128 levels")
                    || theirs
                        && e.contains("not valid yaml: line 1, column ")
                        && e.ends_with(": a syntax error"),
                "{format} {depth}: {e}"
            );
        }
    }
    // Block style too, and 128 levels are fine.
    let block: String = (0..200)
        .map(|i| format!("{}k:\n", "  ".repeat(i)))
        .collect();
    assert!(err(Format::Yaml, &block, "k").contains("nested deeper than 128 levels"));
    let ok_doc = format!("{}1{}", "[".repeat(128), "]".repeat(128));
    assert_eq!(ok(Format::Json, &ok_doc, &"[0]".repeat(128)), "1");
    assert_eq!(ok(Format::Yaml, &ok_doc, &"[0]".repeat(128)), "1");
    // Aliases count with the depth they expand to.
    let mut doc = String::from("l0: &l0 [[[[[[[[[[1]]]]]]]]]]\n");
    for i in 1..20 {
        doc.push_str(&format!("l{i}: &l{i} [[[[[[[[[*l{}]]]]]]]]]\n", i - 1));
    }
    let e = err(Format::Yaml, &doc, "l0");
    assert!(
        e.contains("nested deeper than 128 levels (aliases expanded)"),
        "{e}"
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
fn dotenv_grammar() {
    let doc = "\
# comment line
   # indented comment

PLAIN=hunter2
SPACED = value with spaces   
export EXPORTED=yes
export\tTABBED=1
export=named export
EMPTY=
EMPTY_DQ=\"\"
INLINE=abc # a comment
HASH=abc#not-a-comment
LEADHASH=#not-a-comment
SQ='single $HOME \\n \"x\" # kept'
DQ=\"a \\\"b\\\" \\\\ \\n\\t\\r \\$HOME # kept\" # comment
MULTI_DQ=\"line1
line2\"
MULTI_SQ='line1
line2'
UNICODE=pässwört✓😀
BARE=it's \"raw\" \\n $X
CRLF=crlf\r
CRLF_DQ=\"a\r
b\"\r
_under_1=u
";
    for (key, want) in [
        ("PLAIN", "hunter2"),
        ("SPACED", "value with spaces"),
        ("EXPORTED", "yes"),
        ("TABBED", "1"),
        ("export", "named export"),
        ("EMPTY", ""),
        ("EMPTY_DQ", ""),
        ("INLINE", "abc"),
        ("HASH", "abc#not-a-comment"),
        ("LEADHASH", "#not-a-comment"),
        ("SQ", "single $HOME \\n \"x\" # kept"),
        ("DQ", "a \"b\" \\ \n\t\r $HOME # kept"),
        ("MULTI_DQ", "line1\nline2"),
        ("MULTI_SQ", "line1\nline2"),
        ("UNICODE", "pässwört✓😀"),
        ("BARE", "it's \"raw\" \\n $X"),
        ("CRLF", "crlf"),
        ("CRLF_DQ", "a\nb"),
        ("_under_1", "u"),
    ] {
        assert_eq!(ok(Format::Dotenv, doc, key), want, "{key}");
    }
    let e = err(Format::Dotenv, doc, "MISSING");
    assert_eq!(
        e,
        "dotenv key `MISSING`: not found: the document has no key `MISSING`"
    );
    // The whole file as canonical JSON is not a dotenv key: a name is required.
    assert!(KeyPath::parse_for(Format::Dotenv, "a.b").is_err());
}

#[test]
fn dotenv_refusals() {
    for (bad, says) in [
        (
            "A=hunter2\nA=S3CRET\n",
            "line 2, column 1: a variable that is already set earlier",
        ),
        ("A=hunter2\nS3CRET\n", "line 2, column 7: expected `=`"),
        ("1A=hunter2\n", "line 1, column 1: expected `NAME=value`"),
        ("A-B=hunter2\n", "line 1, column 2: expected `=`"),
        (
            "A=\"hunter2\n",
            "line 1, column 3: a quoted value without its closing quote",
        ),
        (
            "A='hunter2\n",
            "line 1, column 3: a quoted value without its closing quote",
        ),
        ("A=\"hunter2\\q\"\n", "line 1, column 11: an unknown escape"),
        (
            "A=\"hunter2\"S3CRET\n",
            "line 1, column 12: text after the closing quote",
        ),
        (
            "A='hunter2' S3CRET\n",
            "line 1, column 13: text after the closing quote",
        ),
        ("export\n", "line 1, column 7: expected `=`"),
        ("export \n", "line 1, column 1: expected `NAME=value`"),
        (
            "A=1\r\rB=2\n",
            "line 1, column 4: a carriage return (CR) in an unquoted value",
        ),
        (
            "A=hunter2\rS3CRET\r\n",
            "line 1, column 10: a carriage return",
        ),
    ] {
        let e = err(Format::Dotenv, bad, "A");
        assert!(
            e.starts_with("dotenv key `A`: not valid dotenv: "),
            "{bad:?}: {e}"
        );
        assert!(e.contains(says), "{bad:?}: {e}");
        assert_clean(&e);
    }
}

#[test]
fn ini_grammar() {
    let doc = "\
; comment
# comment too
global = outside any section
dotted.key = g

[db]
password = hunter2
  indented = yes
empty =
spaced   =   a b c   
eq = a=b=c
comment_chars = x ; y # z
quoted = \"  padded \\\"q\\\" \"
multi = \"line1\\nline2\"
single = 'kept'
Case = upper
case = lower
[ database.primary ] ; a comment
password = p2
[ключ]
пароль = значение ✓😀
[empty]
";
    for (key, want) in [
        ("global", "outside any section"),
        ("dotted\\.key", "g"),
        ("db.password", "hunter2"),
        ("db.indented", "yes"),
        ("db.empty", ""),
        ("db.spaced", "a b c"),
        ("db.eq", "a=b=c"),
        ("db.comment_chars", "x ; y # z"),
        ("db.quoted", "  padded \"q\" "),
        ("db.multi", "line1\nline2"),
        ("db.single", "'kept'"),
        ("db.Case", "upper"),
        ("db.case", "lower"),
        ("database\\.primary.password", "p2"),
        ("ключ.пароль", "значение ✓😀"),
        ("empty", "{}"),
        ("database\\.primary", r#"{"password":"p2"}"#),
    ] {
        assert_eq!(ok(Format::Ini, doc, key), want, "{key}");
    }
    assert_eq!(ok(Format::Ini, "[s]\r\nk = v\r\n", "s.k"), "v");
    let e = err(Format::Ini, doc, "db.user");
    assert_eq!(e, "ini key `db.user`: not found: `db` has no key `user`");
    let e = err(Format::Ini, doc, "dotted.key");
    assert_eq!(
        e,
        "ini key `dotted.key`: not found: the document has no key `dotted`"
    );
}

#[test]
fn ini_refusals() {
    for (bad, says) in [
        (
            "[s]\nk = hunter2\nk = S3CRET\n",
            "line 3, column 1: a key that is already in this section",
        ),
        (
            "[s]\nk = 1\n[s]\nj = 2\n",
            "line 3, column 1: a section that appears twice",
        ),
        (
            "s = hunter2\n[s]\nk = 1\n",
            "a section and such a key with one name",
        ),
        ("[s]\nhunter2\n", "line 2, column 1: expected `key = value`"),
        (
            "[s]\n  continuation hunter2\n",
            "line 2, column 3: expected `key = value`",
        ),
        (
            "[s\nk=1\n",
            "line 1, column 1: a section header without its closing `]`",
        ),
        (
            "[s] hunter2\n",
            "line 1, column 1: text after a section header",
        ),
        ("[ ]\n", "a section without a name"),
        (
            "[s]\n = hunter2\n",
            "line 2, column 2: a value without a key",
        ),
        (
            "[s]\nk = \"hunter2\n",
            "line 2, column 5: a value that starts with `\"` must end",
        ),
        (
            "[s]\nk = \"hunter2\" S3CRET \"x\"\n",
            "must end with the one `\"`",
        ),
        ("[s]\nk = \"hunter2\\\"\n", "must end with the one `\"`"),
        (
            "[s]\nk = \"hunter2\\q\"\n",
            "line 2, column 5: an unknown escape",
        ),
    ] {
        let e = err(Format::Ini, bad, "s.k");
        assert!(
            e.starts_with("ini key `s.k`: not valid ini: "),
            "{bad:?}: {e}"
        );
        assert!(e.contains(says), "{bad:?}: {e}");
        assert_clean(&e);
    }
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
