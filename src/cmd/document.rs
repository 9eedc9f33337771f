//! What `edit` and `decrypt --key` share for structured secrets (JSON, YAML, dotenv, INI
//! documents, see `crate::structured`): which format a file is — the rule's `format`, else its
//! name — and `edit`'s refusal to save a document that does not parse.

use std::io::{IsTerminal, Write};

use crate::error::{Error, Result};
use crate::fs::SecretBytes;
use crate::rules::Rule;
use crate::structured::{self, Format, KeyPath};

/// The format a file's name says: `app.yaml.age` (or `.yml`), `.json.age`, `.env.age` or
/// `.dotenv.age`, `.ini.age`; None for any other name.
pub fn from_name(name: &str) -> Option<Format> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let stem = base.strip_suffix(".age").unwrap_or(base);
    let (_, ext) = stem.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        "env" | "dotenv" => Some(Format::Dotenv),
        "ini" => Some(Format::Ini),
        _ => None,
    }
}

/// A rule's format: its `format` attribute, else what its name says; None: binary.
pub fn of_rule(rule: &Rule) -> Option<Format> {
    rule.format.or_else(|| from_name(&rule.name))
}

/// `decrypt`'s `--format`.
pub fn parse_format(s: &str) -> std::result::Result<Format, String> {
    s.parse::<Format>().map_err(|e| e.message().to_string())
}

/// What `decrypt --key K [--format F]` takes out of the file, checked before anything is
/// decrypted; None without `--key` and `--format` (the whole file, as always).
pub fn selection(
    key: Option<&str>,
    format: Option<Format>,
    rule: &Rule,
    shown: &str,
) -> Result<Option<(Format, KeyPath)>> {
    if key.is_none() && format.is_none() {
        return Ok(None);
    }
    let format = match format.or_else(|| of_rule(rule)) {
        Some(f) => f,
        None => {
            return Err(Error::usage(format!(
                "{shown}: cannot tell the document's format from its name; pass --format \
                 (json, yaml, dotenv or ini), or set the rule's `format`"
            )))
        }
    };
    let key = KeyPath::parse_for(format, key.unwrap_or("")).map_err(|e| e.context(shown))?;
    Ok(Some((format, key)))
}

/// The value `sel` names in `plain`; errors name the file, format and key, never a value.
pub fn take(sel: &(Format, KeyPath), plain: &[u8], shown: &str) -> Result<SecretBytes> {
    structured::extract(sel.0, plain, &sel.1).map_err(|e| e.context(shown))
}

/// `new` if it parses as `format`. Otherwise, with `reopen` (an editor on a terminal), offers
/// to open the editor again on what was written, until it parses or the user declines; without
/// it, or declined, an error: the encrypted file is left as it was.
pub fn checked<F>(
    format: Format,
    shown: &str,
    mut new: SecretBytes,
    mut reopen: Option<F>,
) -> Result<SecretBytes>
where
    F: FnMut(&[u8]) -> Result<Option<SecretBytes>>,
{
    loop {
        let Err(e) = structured::validate(format, &new) else {
            return Ok(new);
        };
        let why = format!("{shown}: {e}");
        let again = match reopen.as_mut() {
            Some(r) if ask_reopen(&why)? => r(&new)?,
            _ => None,
        };
        match again {
            Some(n) => new = n,
            None => {
                return Err(Error::new(format!(
                    "{why}; {shown} is unchanged (fix the document, or set the rule's format \
                     to binary to store it as it is)"
                )))
            }
        }
    }
}

/// On the terminal: the error, and whether to open the editor again (yes unless declined).
fn ask_reopen(why: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{why}\nOpen the editor again to fix it? [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let n = std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::new(format!("cannot read the answer: {e}")))?;
    Ok(n > 0 && !matches!(answer.trim(), "n" | "N" | "no" | "No" | "NO"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(from_name("app.yaml.age"), Some(Format::Yaml));
        assert_eq!(from_name("hosts/web1/app.YML.age"), Some(Format::Yaml));
        assert_eq!(from_name("app.json.age"), Some(Format::Json));
        assert_eq!(from_name("prod.env.age"), Some(Format::Dotenv));
        assert_eq!(from_name(".env.age"), Some(Format::Dotenv));
        assert_eq!(from_name("x.dotenv.age"), Some(Format::Dotenv));
        assert_eq!(from_name("php.ini.age"), Some(Format::Ini));
        assert_eq!(from_name("db.age"), None);
        assert_eq!(from_name("nginx.conf.age"), None);
        assert_eq!(from_name("yaml.age"), None);
    }
}
