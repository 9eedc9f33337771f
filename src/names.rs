//! Names and paths that people read (secret and attribute names, paths, owners, units, key
//! names) must show what they are. Control characters (C0, DEL, C1) can rewrite a terminal line
//! or forge a log record; Unicode bidirectional formatting characters make text display in
//! another order than it is stored ("Trojan Source", CVE-2021-42574), so `db.age` could show
//! where something else is meant; invisible characters (the other format characters such as
//! U+200B ZERO WIDTH SPACE, U+FEFF, U+00AD SOFT HYPHEN and the tag characters, variation
//! selectors, Hangul fillers, and every other default-ignorable code point) make `db\u{200B}.age`
//! print exactly like `db.age`; line and paragraph separators break the line it is shown on,
//! and spaces other than U+0020 look like a plain space or, thin enough, like none. All are
//! refused, and a refused name is only ever shown with such characters escaped.
//!
//! There is no Unicode crate here, so the ranges are listed: general category Cf, Zl, Zp and
//! Zs as of Unicode 15 (the unit tests compare them with a table printed by Python's
//! `unicodedata`), and the Default_Ignorable_Code_Point property that is not already Cf.

use crate::error::{Error, Result};

/// General category Cf (format), Unicode 15: invisible characters that change how their
/// neighbours are shown or joined, or mark up text.
const FORMAT: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    // 13430–13438 since Unicode 12, 13439–1343F since Unicode 15 (13440 is a mark).
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Default_Ignorable_Code_Point outside Cf: shown as nothing at all (combining grapheme
/// joiner, Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors,
/// variation selectors, and the reserved ranges kept for more of them).
const IGNORABLE: [(char, char); 13] = [
    ('\u{034F}', '\u{034F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{2065}', '\u{2065}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{E0000}', '\u{E0000}'),
    ('\u{E0002}', '\u{E001F}'),
    ('\u{E0080}', '\u{E00FF}'),
    // Variation selectors 17–256 (E0100–E01EF), then reserved.
    ('\u{E0100}', '\u{E0FFF}'),
];

/// General category Zs (space separators) other than U+0020.
const SPACES: [(char, char); 6] = [
    ('\u{00A0}', '\u{00A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

fn within(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Why `c` may not be in a name, if it may not.
pub fn forbidden(c: char) -> Option<&'static str> {
    if c.is_control() {
        // Unicode category Cc: U+0000–U+001F, U+007F, U+0080–U+009F.
        return Some("a control character");
    }
    // The explicit embeddings and overrides, the isolates, and the implicit marks (LRM, RLM,
    // ALM): every character whose only job is to change the display order.
    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}');
    if bidi {
        return Some("a bidirectional formatting character, which makes text display in another order than it is written");
    }
    if matches!(c, '\u{2028}' | '\u{2029}') {
        // Zl and Zp: the whole of both categories.
        return Some("a line or paragraph separator, which breaks the line the name is shown on");
    }
    if within(c, &FORMAT) || within(c, &IGNORABLE) {
        return Some("an invisible formatting character, which makes the name print like another");
    }
    within(c, &SPACES).then_some(
        "a space other than U+0020, which prints like a plain space or, thin enough, like none",
    )
}

/// `s` with every forbidden character written as `\u{…}`, safe to print.
pub fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if forbidden(c).is_some() {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuse `s` if it holds a forbidden character. `what` says which item and field it is
/// (`secret "db" path`); it must not itself hold the raw text.
pub fn check(s: &str, what: &str) -> Result<()> {
    let Some((c, why)) = s.chars().find_map(|c| forbidden(c).map(|w| (c, w))) else {
        return Ok(());
    };
    Err(Error::new(format!(
        "{what} \"{}\" contains U+{:04X}, {why}; names and paths may hold no control, \
         bidirectional, invisible or separator characters (nor spaces other than U+0020): \
         remove it",
        escaped(s),
        c as u32
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_controls_and_bidi_and_never_echoes_them() {
        for bad in [
            "a\u{202E}b",
            "a\u{7}b",
            "a\nb",
            "a\u{7F}",
            "\u{85}",
            "x\u{2066}",
            "\u{61C}",
            "db\u{200B}.age",
            "db\u{2028}.age",
        ] {
            let e = check(bad, "secret name").unwrap_err().to_string();
            assert!(e.contains("U+"), "{e}");
            assert!(e.contains("secret name"), "{e}");
            assert!(!e.chars().any(|c| forbidden(c).is_some()), "raw in {e:?}");
        }
        let e = check("db\u{202E}ega.age", "x").unwrap_err().to_string();
        assert!(
            e.contains("U+202E") && e.contains("db\\u{202E}ega.age"),
            "{e}"
        );
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "db.age",
            "hosts/web1.age",
            "übung",
            // The same in NFD: a combining mark is visible, not ignorable.
            "u\u{308}bung",
            "日本語",
            "한국어",
            "a b",
            "a-b_c~d",
        ] {
            check(ok, "secret name").unwrap();
        }
    }

    /// What the review showed passing: each beside `db.age`, printing like it.
    #[test]
    fn refuses_invisible_and_separator_characters() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2028}',
            '\u{2029}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
            '\u{E0001}',
            '\u{2060}',
            '\u{2064}',
            '\u{206F}',
            '\u{034F}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{FE0F}',
            '\u{FE00}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{180B}',
            '\u{180E}',
            '\u{180F}',
            '\u{00A0}',
            '\u{200A}',
            '\u{3000}',
            '\u{13439}',
        ] {
            let name = format!("db{c}.age");
            let e = check(&name, "secret name").unwrap_err().to_string();
            let code = format!("U+{:04X}", c as u32);
            assert!(e.contains(&code), "{e}");
            assert!(e.contains(&format!("db\\u{{{:04X}}}.age", c as u32)), "{e}");
            assert!(!e.contains(c), "raw {code} in {e:?}");
        }
    }

    /// Unicode 14's Cf, Zl, Zp and Zs as printed by Python 3.11's `unicodedata` (version
    /// 14.0.0), ranges of consecutive code points of the category:
    /// `[c for c in range(0x110000) if unicodedata.category(chr(c)) == cat]`.
    const PYTHON_UCD_14: [(&str, &str); 4] = [
        (
            "Cf",
            "00AD 0600-0605 061C 06DD 070F 0890-0891 08E2 180E 200B-200F 202A-202E 2060-2064 \
             2066-206F FEFF FFF9-FFFB 110BD 110CD 13430-13438 1BCA0-1BCA3 1D173-1D17A E0001 \
             E0020-E007F",
        ),
        ("Zl", "2028"),
        ("Zp", "2029"),
        ("Zs", "0020 00A0 1680 2000-200A 202F 205F 3000"),
    ];

    fn python_table(cat: &str) -> Vec<(u32, u32)> {
        let text = PYTHON_UCD_14.iter().find(|(c, _)| *c == cat).unwrap().1;
        text.split_whitespace()
            .map(|r| {
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                let n = |h| u32::from_str_radix(h, 16).unwrap();
                (n(lo), n(hi))
            })
            .collect()
    }

    fn as_u32(ranges: &[(char, char)]) -> Vec<(u32, u32)> {
        ranges.iter().map(|&(a, b)| (a as u32, b as u32)).collect()
    }

    /// FORMAT is Python's Cf plus what Unicode 15 added (13439–1343F); SPACES is Zs without
    /// U+0020; every code point of those categories (and Zl, Zp) is refused.
    #[test]
    fn tables_match_the_unicode_database() {
        let mut cf = python_table("Cf");
        let egyptian = cf.iter_mut().find(|r| r.0 == 0x13430).unwrap();
        assert_eq!(egyptian.1, 0x13438);
        egyptian.1 = 0x1343F;
        assert_eq!(as_u32(&FORMAT), cf);
        let zs: Vec<_> = python_table("Zs")
            .into_iter()
            .filter(|r| r.0 != 0x20)
            .collect();
        assert_eq!(as_u32(&SPACES), zs);
        for cat in ["Cf", "Zl", "Zp", "Zs"] {
            for (lo, hi) in python_table(cat) {
                for c in (lo..=hi).filter_map(char::from_u32).filter(|c| *c != ' ') {
                    assert!(forbidden(c).is_some(), "{cat} U+{:04X} allowed", c as u32);
                }
            }
        }
        // Rust's own (newer) Unicode tables agree that none of these is printable: its Debug
        // escaping writes each as \u{…}.
        for (lo, hi) in FORMAT.iter().chain(&SPACES) {
            for c in *lo..=*hi {
                assert!(c.escape_debug().to_string().starts_with("\\u{"), "{c:?}");
            }
        }
        // Ranges are well-formed and do not spill over a neighbour that is allowed.
        for (lo, hi) in FORMAT.iter().chain(&IGNORABLE).chain(&SPACES) {
            assert!(lo <= hi);
        }
        // (U+2800 BRAILLE PATTERN BLANK prints blank but is a symbol: left to review.)
        for ok in [
            '\u{13440}',
            '\u{1D17B}',
            '\u{FFFC}',
            '\u{2800}',
            '\u{0606}',
            '\u{3163}',
        ] {
            assert!(forbidden(ok).is_none(), "U+{:04X}", ok as u32);
        }
    }
}
