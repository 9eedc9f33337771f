//! YAML: values as written (YAML 1.1 scalars kept as text), refusals, and hostile documents
//! (alias bombs, deep nesting) refused within the limits.

use super::*;

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
