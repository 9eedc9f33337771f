//! Names and paths that people read (secret and attribute names, paths, owners, units, key
//! names) must show what they are. Control characters (C0, DEL, C1) can rewrite a terminal line
//! or forge a log record; Unicode bidirectional formatting characters make text display in
//! another order than it is stored ("Trojan Source", CVE-2021-42574), so `db.age` could show
//! where something else is meant. Both are refused, and a refused name is only ever shown with
//! such characters escaped.

use crate::error::{Error, Result};

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
    bidi.then_some("a bidirectional formatting character, which makes text display in another order than it is written")
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
        "{what} \"{}\" contains U+{:04X}, {why}; names and paths may hold neither control nor \
         bidirectional formatting characters: remove it",
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
            "日本語",
            "a b",
            "\u{200D}",
        ] {
            check(ok, "secret name").unwrap();
        }
    }
}
