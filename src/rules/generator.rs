//! A rule's `generator` attribute: how `secrets generate` creates the secret when its file is
//! missing. The same JSON value comes from secrets.json and from evaluating secrets.nix (agenix
//! ignores attributes it does not know, so a secrets.nix with generators still works there).
//!
//! A generator is a kind name (`"alnum"`) or an object (`{ "kind": "alnum", "length": 48 }`).
//! Lengths below the minimum of a kind are refused rather than silently raised: every value
//! a generator can make has at least 128 bits of entropy.

use serde_json::{Map, Value};

/// Characters of the text kinds, words of a passphrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// Letters and digits (62 symbols, 5.95 bits each).
    Alnum,
    /// Lower-case hexadecimal (4 bits a character).
    Hex,
    /// Standard base64 of random bytes, without padding (6 bits a character).
    Base64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    SshEd25519,
    Wireguard,
    Age,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generator {
    /// `length` characters.
    Text { kind: TextKind, length: usize },
    /// `words` words of the EFF large word list joined by `separator`.
    Passphrase { words: usize, separator: String },
    /// A private key as the secret, its public half in `<name>.pub`.
    KeyPair(KeyKind),
    /// The secret is what `command` prints; it may read the plaintext of `dependencies`
    /// (rule names, normalized) from its working directory.
    Command {
        command: Vec<String>,
        dependencies: Vec<String>,
    },
}

/// Default and minimum length per text kind: the minimum is the least giving 128 bits.
pub const ALNUM: (usize, usize) = (32, 22);
pub const HEX: (usize, usize) = (64, 32);
/// Base64 lengths are multiples of 4 (whole groups of 3 random bytes, no padding).
pub const BASE64: (usize, usize) = (44, 24);
/// Words of a passphrase from a list of 7776 (12.9 bits a word).
pub const PASSPHRASE: (usize, usize) = (10, 10);
/// Lengths above these are refused as mistakes (a secret is not a file to fill).
const MAX_CHARS: usize = 4096;
const MAX_WORDS: usize = 64;
const MAX_SEPARATOR: usize = 8;

const KINDS: &str = "alnum, hex, base64, passphrase, ssh-ed25519, wireguard, age, command";

impl Generator {
    /// The kind's name as written in the rules.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Generator::Text { kind, .. } => match kind {
                TextKind::Alnum => "alnum",
                TextKind::Hex => "hex",
                TextKind::Base64 => "base64",
            },
            Generator::Passphrase { .. } => "passphrase",
            Generator::KeyPair(k) => match k {
                KeyKind::SshEd25519 => "ssh-ed25519",
                KeyKind::Wireguard => "wireguard",
                KeyKind::Age => "age",
            },
            Generator::Command { .. } => "command",
        }
    }

    /// What it makes, for listings: `alnum, 32 characters`.
    pub fn describe(&self) -> String {
        match self {
            Generator::Text { length, .. } => format!("{}, {length} characters", self.kind_name()),
            Generator::Passphrase { words, .. } => format!("passphrase, {words} words"),
            Generator::KeyPair(_) => format!("{} key pair", self.kind_name()),
            Generator::Command { command, .. } => {
                format!("command `{}`", shell_words::join(command))
            }
        }
    }

    /// True for the kinds that write a `<name>.pub` next to the file.
    pub fn has_public_half(&self) -> bool {
        matches!(self, Generator::KeyPair(_))
    }

    /// The rules this one reads (command kind only).
    pub fn dependencies(&self) -> &[String] {
        match self {
            Generator::Command { dependencies, .. } => dependencies,
            _ => &[],
        }
    }
}

/// Parse and validate a rule's `generator` value. The message says what is wrong and how to
/// write it; the caller puts the rule's name in front.
pub fn parse(v: &Value) -> Result<Generator, String> {
    match v {
        Value::String(kind) => from_kind(kind, &Map::new()),
        Value::Object(m) => {
            let kind = match m.get("kind") {
                Some(Value::String(k)) => k.as_str(),
                Some(_) => return Err("`kind` must be a string".into()),
                None => {
                    return Err(format!(
                        "a generator set needs `kind` (one of {KINDS}), e.g. {{ kind = \"alnum\"; \
                         length = 48; }}"
                    ))
                }
            };
            from_kind(kind, m)
        }
        _ => Err(format!(
            "must be a kind name (one of {KINDS}) or a set such as {{ kind = \"alnum\"; \
             length = 48; }}"
        )),
    }
}

fn from_kind(kind: &str, m: &Map<String, Value>) -> Result<Generator, String> {
    let text = |kind, (default, min), unit: usize| -> Result<Generator, String> {
        only(m, &["kind", "length"])?;
        let length = length(m, default, min, MAX_CHARS, "characters")?;
        if length % unit != 0 {
            return Err(format!(
                "length {length} is not a multiple of {unit} (base64 is written in groups of 4 \
                 characters)"
            ));
        }
        Ok(Generator::Text { kind, length })
    };
    match kind {
        "alnum" => text(TextKind::Alnum, ALNUM, 1),
        "hex" => text(TextKind::Hex, HEX, 1),
        "base64" => text(TextKind::Base64, BASE64, 4),
        "passphrase" => {
            only(m, &["kind", "length", "separator"])?;
            let (default, min) = PASSPHRASE;
            let words = length(m, default, min, MAX_WORDS, "words")?;
            let separator = separator(m)?;
            Ok(Generator::Passphrase { words, separator })
        }
        "ssh-ed25519" | "wireguard" | "age" => {
            if m.contains_key("length") {
                return Err(format!(
                    "kind \"{kind}\" has a fixed size and takes no `length`"
                ));
            }
            only(m, &["kind"])?;
            Ok(Generator::KeyPair(match kind {
                "ssh-ed25519" => KeyKind::SshEd25519,
                "wireguard" => KeyKind::Wireguard,
                _ => KeyKind::Age,
            }))
        }
        "command" => command(m),
        other => Err(format!(
            "unknown kind \"{}\"; use one of {KINDS}",
            crate::names::escaped(other)
        )),
    }
}

/// Refuse attributes a kind does not take: a misspelt `lenght` must not silently give the
/// default.
fn only(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(format!(
            "unknown attribute `{}` (this kind takes {})",
            crate::names::escaped(k),
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn length(
    m: &Map<String, Value>,
    default: usize,
    min: usize,
    max: usize,
    unit: &str,
) -> Result<usize, String> {
    let Some(v) = m.get("length") else {
        return Ok(default);
    };
    let n = v
        .as_u64()
        .ok_or_else(|| format!("`length` must be a whole number of {unit}, got {v}"))?;
    if n < min as u64 {
        return Err(format!(
            "length {n} is too short: at least {min} {unit} are needed for 128 bits of entropy \
             (the default is {default})"
        ));
    }
    if n > max as u64 {
        return Err(format!("length {n} is too long: at most {max} {unit}"));
    }
    Ok(n as usize)
}

fn separator(m: &Map<String, Value>) -> Result<String, String> {
    match m.get("separator") {
        None => Ok("-".into()),
        Some(Value::String(s))
            if s.chars().count() <= MAX_SEPARATOR && !s.chars().any(char::is_control) =>
        {
            Ok(s.clone())
        }
        Some(_) => Err(format!(
            "`separator` must be a string of at most {MAX_SEPARATOR} characters without \
             control characters"
        )),
    }
}

fn command(m: &Map<String, Value>) -> Result<Generator, String> {
    only(m, &["kind", "command", "dependencies"])?;
    let strings = |what: &str| -> Result<Vec<String>, String> {
        match m.get(what) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("`{what}` must be a list of strings")),
            Some(_) => Err(format!("`{what}` must be a list of strings")),
        }
    };
    let command = strings("command")?;
    if command.first().map_or(true, |p| p.is_empty()) {
        return Err(
            "kind \"command\" needs `command`, the program and its arguments, e.g. \
             command = [ \"sh\" \"-c\" \"htpasswd -inB admin < db\" ]"
                .into(),
        );
    }
    if command.iter().any(|a| a.contains('\0')) {
        return Err("`command` holds a NUL character".into());
    }
    let mut dependencies = Vec::new();
    let mut files = std::collections::BTreeMap::new();
    for d in strings("dependencies")? {
        let norm = super::normalize_name(&d).map_err(|e| {
            format!(
                "dependency \"{}\": {}",
                crate::names::escaped(&d),
                e.message()
            )
        })?;
        // The command finds each dependency under its base name; two may not share one.
        let file = dependency_file_name(&norm);
        if let Some(other) = files.insert(file.clone(), norm.clone()) {
            return Err(format!(
                "dependencies \"{other}\" and \"{norm}\" would both be given to the command as \
                 `{file}`; rename one of them"
            ));
        }
        dependencies.push(norm);
    }
    Ok(Generator::Command {
        command,
        dependencies,
    })
}

/// The name a dependency's plaintext has in the command's directory: the base name without
/// `.age` (`hosts/db.age` → `db`).
pub fn dependency_file_name(rule_name: &str) -> String {
    let base = rule_name.rsplit('/').next().unwrap_or(rule_name);
    let stem = base.strip_suffix(".age").unwrap_or(base);
    if stem.is_empty() || stem.starts_with('.') {
        format!("secret{stem}")
    } else {
        stem.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_sets() {
        assert_eq!(
            parse(&json!("alnum")).unwrap(),
            Generator::Text {
                kind: TextKind::Alnum,
                length: 32
            }
        );
        assert_eq!(
            parse(&json!({"kind": "hex", "length": 40})).unwrap(),
            Generator::Text {
                kind: TextKind::Hex,
                length: 40
            }
        );
        assert_eq!(
            parse(&json!("passphrase")).unwrap(),
            Generator::Passphrase {
                words: 10,
                separator: "-".into()
            }
        );
        assert_eq!(
            parse(&json!("age")).unwrap(),
            Generator::KeyPair(KeyKind::Age)
        );
        let c = parse(&json!({"kind": "command", "command": ["cat", "db"],
                              "dependencies": ["./db.age"]}))
        .unwrap();
        assert_eq!(c.dependencies(), ["db.age"]);
    }

    #[test]
    fn defaults_and_minimums_give_128_bits() {
        let bits = |symbols: f64, n: usize| n as f64 * symbols.log2();
        for (symbols, (default, min)) in [
            (62.0, ALNUM),
            (16.0, HEX),
            (64.0, BASE64),
            (7776.0, PASSPHRASE),
        ] {
            assert!(bits(symbols, min) >= 128.0, "{symbols}: min {min}");
            assert!(
                bits(symbols, default) >= 128.0,
                "{symbols}: default {default}"
            );
        }
        assert!(
            bits(62.0, ALNUM.1 - 1) < 128.0,
            "the alnum minimum is the least"
        );
        assert!(bits(16.0, HEX.1 - 1) < 128.0);
        assert!(bits(7776.0, PASSPHRASE.1 - 1) < 128.0);
    }

    /// `secrets schema` documents the same kinds, defaults and minimums as the parser.
    #[test]
    fn the_schema_agrees() {
        let schema: Value = serde_json::from_str(super::super::JSON_SCHEMA).unwrap();
        let variants = schema["$defs"]["generator"]["oneOf"].as_array().unwrap();
        let names: Vec<&str> = (variants[0]["enum"].as_array().unwrap().iter())
            .map(|v| v.as_str().unwrap())
            .collect();
        for n in &names {
            assert!(parse(&json!(n)).is_ok(), "{n}");
        }
        assert_eq!(
            names.len() + 1,
            KINDS.split(", ").count(),
            "all but command by name"
        );
        for (kind, (default, min)) in [
            ("alnum", ALNUM),
            ("hex", HEX),
            ("base64", BASE64),
            ("passphrase", PASSPHRASE),
        ] {
            let v = variants
                .iter()
                .find(|v| v["properties"]["kind"]["const"] == kind)
                .unwrap();
            let length = &v["properties"]["length"];
            assert_eq!(length["default"], default, "{kind}");
            assert_eq!(length["minimum"], min, "{kind}");
            assert!(parse(&json!({"kind": kind, "length": min})).is_ok());
            assert!(parse(&json!({"kind": kind, "length": min - 1})).is_err());
        }
    }

    #[test]
    fn bad_specifications() {
        let err = |v: Value| parse(&v).unwrap_err();
        assert!(err(json!("pasword")).contains("unknown kind \"pasword\""));
        assert!(err(json!({"kind": "alnum", "length": 8})).contains("at least 22 characters"));
        assert!(err(json!({"kind": "base64", "length": 30})).contains("multiple of 4"));
        assert!(err(json!({"kind": "alnum", "lenght": 40})).contains("`lenght`"));
        assert!(err(json!({"kind": "age", "length": 40})).contains("takes no `length`"));
        assert!(err(json!({"kind": "hex", "length": -1})).contains("whole number"));
        assert!(err(json!({"kind": "command"})).contains("needs `command`"));
        assert!(err(json!({"length": 3})).contains("needs `kind`"));
        assert!(err(json!(3)).contains("kind name"));
        assert!(err(json!({"kind": "command", "command": ["x"],
                           "dependencies": ["a/db.age", "b/db.age"]}))
        .contains("both be given"));
        assert!(err(json!({"kind": "command", "command": ["x"],
                           "dependencies": ["../db.age"]}))
        .contains("`..`"));
    }
}
