//! dotenv and INI: every rule of their grammars (see dotenv.rs and ini.rs), and refusals.

use super::*;

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
        // Columns count characters.
        (
            "[s]\nключ = \"hunter2\n",
            "line 2, column 8: a value that starts with",
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
