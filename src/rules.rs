//! The rules file: which secrets exist and to whom each is encrypted. Either agenix's
//! `secrets.nix` (evaluated once with `nix-instantiate`, fenced in: see `nix_eval`) or
//! `secrets.json` (named keys and groups).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Component, Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::{describe_io, Error, Result};
use crate::keys::Recipient;

pub mod generator;
mod nix_eval;
mod working_dir;

/// The JSON Schema of `secrets.json`, printed by `secrets schema`.
pub const JSON_SCHEMA: &str = include_str!("secrets.schema.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Nix,
    Json,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Path relative to the rules directory, normalized (`db.age`, `hosts/web1.age`).
    pub name: String,
    /// Absolute path of the encrypted file.
    pub path: PathBuf,
    pub recipients: Vec<Recipient>,
    pub armor: bool,
    /// How `secrets generate` creates the file (see `generator`).
    pub generator: Option<generator::Generator>,
}

#[derive(Debug)]
pub struct Rules {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub format: Format,
    pub secrets: BTreeMap<String, Rule>,
    /// The named keys of a secrets.json (none for secrets.nix), also those no rule uses any
    /// more: reports can still put a name on a key that was just removed.
    pub keys: BTreeMap<String, Recipient>,
}

impl Rules {
    /// Find the rules file: `--rules`, then `$RULES` (agenix's variable), then `./secrets.nix`
    /// or `./secrets.json` in the current directory.
    pub fn discover(explicit: Option<&Path>) -> Result<Rules> {
        Self::load(&Self::discover_path(explicit)?)
    }

    /// The rules file `discover` would load: `explicit`, else $RULES, else the one of
    /// ./secrets.nix and ./secrets.json that exists.
    pub fn discover_path(explicit: Option<&Path>) -> Result<PathBuf> {
        let path =
            match explicit {
                Some(p) => p.to_path_buf(),
                None => match std::env::var_os("RULES").filter(|v| !v.is_empty()) {
                    Some(p) => PathBuf::from(p),
                    None => {
                        let nix = Path::new("secrets.nix");
                        let json = Path::new("secrets.json");
                        // symlink_metadata: a dangling link is reported by load(), not skipped.
                        let here = |p: &Path| p.symlink_metadata().is_ok();
                        match (here(nix), here(json)) {
                            (true, true) => return Err(Error::new(
                                "both secrets.nix and secrets.json exist here: choose one with \
                                 --rules secrets.nix or --rules secrets.json (or remove the other)",
                            )),
                            (true, false) => nix.to_path_buf(),
                            (false, true) => json.to_path_buf(),
                            (false, false) => {
                                return Err(Error::new(
                                    "no rules file: secrets.nix or secrets.json not found in the \
                                 current directory; pass --rules PATH or set RULES",
                                ))
                            }
                        }
                    }
                },
            };
        Ok(path)
    }

    pub fn load(path: &Path) -> Result<Rules> {
        let file = std::fs::canonicalize(path).map_err(|e| {
            Error::new(format!(
                "rules file {}: {}",
                path.display(),
                describe_io(&e)
            ))
        })?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let format = if file.extension().is_some_and(|e| e == "json") {
            Format::Json
        } else {
            Format::Nix
        };
        let raw = match format {
            Format::Json => {
                let text = crate::fs::read_regular_text(&file)
                    .map_err(|e| Error::io("cannot read rules file", &file, e))?;
                parse_json(&text).map_err(|e| e.context(file.display()))?
            }
            Format::Nix => {
                // Nix would block on a FIFO just the same; a rules file is a regular file.
                if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
                    return Err(Error::new(format!(
                        "rules file {}: not a regular file",
                        file.display()
                    )));
                }
                nix_eval::refuse_escaping_link(path, &file)?;
                let json = nix_eval::eval_rules(&file, &dir)?;
                parse_nix_json(&json).map_err(|e| e.context(file.display()))?
            }
        };
        let (secrets, keys) = resolve(raw, &dir).map_err(|errs| {
            Error::new(format!(
                "{} is invalid:\n  - {}",
                file.display(),
                errs.join("\n  - ")
            ))
        })?;
        Ok(Rules {
            file,
            dir,
            format,
            secrets,
            keys,
        })
    }

    /// The rule for a file named on the command line: a path relative to the current
    /// directory, an absolute path, or the rule's name relative to the rules directory.
    pub fn lookup(&self, arg: &Path) -> Result<&Rule> {
        let mut candidates = Vec::new();
        let abs = if arg.is_absolute() {
            arg.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(arg)
        };
        if let Some(rel) = self.relative_name(&abs) {
            candidates.push(rel);
        }
        if !arg.is_absolute() {
            if let Ok(n) = normalize_name(&arg.to_string_lossy()) {
                candidates.push(n);
            }
        }
        for c in &candidates {
            if let Some(r) = self.secrets.get(c) {
                return Ok(r);
            }
        }
        // Outside the rules directory no entry could name it: say so rather than suggest one.
        let Some(first) = candidates.first() else {
            return Err(Error::new(format!(
                "{}: no rule for this file in {}: it is outside {}, and secrets must be below \
                 the rules file's directory",
                arg.display(),
                self.file.display(),
                self.dir.display()
            )));
        };
        Err(Error::new(format!(
            "{}: no rule for this file in {}; add an entry for \"{first}\" with its publicKeys",
            arg.display(),
            self.file.display(),
        )))
    }

    /// `abs` as a normalized name relative to the rules directory, if it lies inside it.
    pub fn relative_name(&self, abs: &Path) -> Option<String> {
        let abs = lexical_normalize(abs);
        // Resolve symlinks in the existing parent so /real/dir and /link/dir agree.
        let abs = match (abs.parent(), abs.file_name()) {
            (Some(p), Some(n)) => std::fs::canonicalize(p)
                .map(|p| p.join(n))
                .unwrap_or(abs.clone()),
            _ => abs,
        };
        let rel = abs.strip_prefix(&self.dir).ok()?;
        normalize_name(&rel.to_string_lossy()).ok()
    }
}

/// Lexically normalize a rule name: strip `./`, refuse absolute paths and `..`.
pub fn normalize_name(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::new("empty file name"));
    }
    let p = Path::new(name);
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(Error::new(
                    "`..` would point outside the rules file's directory; keep secrets \
                     in that directory or below it",
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::new(
                    "absolute paths are not allowed; write the path relative to the \
                     rules file's directory",
                ))
            }
        }
    }
    if parts.is_empty() {
        return Err(Error::new("names a directory, not a file"));
    }
    Ok(parts.join("/"))
}

fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A rule before its keys are resolved.
struct RawRule {
    public_keys: Vec<String>,
    armor: bool,
    generator: Option<serde_json::Value>,
}

struct Raw {
    keys: BTreeMap<String, String>,
    groups: BTreeMap<String, Vec<String>>,
    secrets: BTreeMap<String, RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NixRule {
    #[serde(rename = "publicKeys")]
    public_keys: Option<Vec<String>>,
    #[serde(default)]
    armor: bool,
    generator: Option<serde_json::Value>,
}

fn parse_nix_json(json: &str) -> Result<Raw> {
    let map: UniqueMap<serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("the rules must evaluate to an attribute set: {e}")))?;
    let mut secrets = BTreeMap::new();
    let mut errs = Vec::new();
    for (name, v) in map.0 {
        match serde_json::from_value::<NixRule>(v) {
            Ok(r) => {
                secrets.insert(
                    name,
                    RawRule {
                        public_keys: r.public_keys.unwrap_or_default(),
                        armor: r.armor,
                        generator: r.generator,
                    },
                );
            }
            Err(e) => errs.push(format!(
                "\"{name}\": {e} (a rule is {{ publicKeys = [ \"ssh-ed25519 …\" ]; armor = false; }})"
            )),
        }
    }
    if !errs.is_empty() {
        return Err(Error::new(format!(
            "invalid rules:\n  - {}",
            errs.join("\n  - ")
        )));
    }
    Ok(Raw {
        keys: BTreeMap::new(),
        groups: BTreeMap::new(),
        secrets,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    keys: UniqueMap<String>,
    #[serde(default)]
    groups: UniqueMap<Vec<String>>,
    secrets: UniqueMap<JsonRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRule {
    #[serde(rename = "publicKeys")]
    public_keys: Vec<String>,
    #[serde(default)]
    armor: bool,
    generator: Option<serde_json::Value>,
}

fn parse_json(text: &str) -> Result<Raw> {
    let f: JsonFile = serde_json::from_str(text).map_err(|e| {
        Error::new(format!(
            "{}; see `secrets schema` for the format of secrets.json",
            crate::names::escaped(&e.to_string())
        ))
    })?;
    Ok(Raw {
        keys: f.keys.0,
        groups: f.groups.0,
        secrets: f
            .secrets
            .0
            .into_iter()
            .map(|(k, r)| {
                (
                    k,
                    RawRule {
                        public_keys: r.public_keys,
                        armor: r.armor,
                        generator: r.generator,
                    },
                )
            })
            .collect(),
    })
}

/// Fuzzing entry point (used by fuzz/): parse `secrets.json` text (or, with `nix`, the JSON that
/// evaluating a `secrets.nix` gives) and resolve it as `Rules::load` would, against a fixed
/// directory. Returns the number of secrets, or the error a user would see. Touches no files.
pub fn parse_for_fuzz(text: &str, nix: bool) -> Result<usize> {
    let raw = if nix {
        parse_nix_json(text)?
    } else {
        parse_json(text)?
    };
    resolve(raw, Path::new("/fuzz"))
        .map(|(s, _)| s.len())
        .map_err(|errs| Error::new(errs.join("\n")))
}

/// Resolve names and groups, parse every key, and validate; collects every problem found.
type Resolved = (BTreeMap<String, Rule>, BTreeMap<String, Recipient>);

fn resolve(raw: Raw, dir: &Path) -> Result<Resolved, Vec<String>> {
    let mut errs = check_texts(&raw);
    if !errs.is_empty() {
        // The messages below would quote these names as they are.
        return Err(errs);
    }
    let mut keys = BTreeMap::new();
    for (name, text) in &raw.keys {
        if raw.groups.contains_key(name) {
            errs.push(format!(
                "\"{name}\" is both a key and a group; rename one of them"
            ));
        }
        if !is_valid_ref_name(name) {
            errs.push(format!(
                "key name \"{name}\" is not a plain name (use letters, digits, `-`, `_`, `.`, `@`)"
            ));
        }
        match Recipient::parse(text) {
            Ok(mut r) => {
                r.name = Some(name.clone());
                keys.insert(name.clone(), r);
            }
            Err(e) => errs.push(format!("key \"{name}\": {e}")),
        }
    }
    for (g, members) in &raw.groups {
        if !is_valid_ref_name(g) {
            errs.push(format!(
                "group name \"{g}\" is not a plain name (use letters, digits, `-`, `_`, `.`, `@`)"
            ));
        }
        for m in members {
            if !keys.contains_key(m) && !raw.groups.contains_key(m) && !looks_like_key(m) {
                errs.push(format!(
                    "group \"{g}\": \"{m}\" is neither a key nor a group; define it under \"keys\""
                ));
            }
        }
    }
    let mut secrets = BTreeMap::new();
    for (name, rule) in raw.secrets {
        let norm = match normalize_name(&name) {
            Ok(n) => n,
            Err(e) => {
                errs.push(format!("secret \"{name}\": {e}"));
                continue;
            }
        };
        if secrets.contains_key(&norm) {
            errs.push(format!(
                "secret \"{name}\" names the same file as another rule (\"{norm}\"); keep one"
            ));
            continue;
        }
        let mut recips: Vec<Recipient> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut ok = true;
        for entry in &rule.public_keys {
            let mut stack = Vec::new();
            match expand(entry, &keys, &raw.groups, &mut stack) {
                Ok(list) => {
                    for r in list {
                        if seen.insert(r.text.clone()) {
                            recips.push(r);
                        }
                    }
                }
                Err(e) => {
                    errs.push(format!("secret \"{name}\": {e}"));
                    ok = false;
                }
            }
        }
        if ok && recips.is_empty() {
            errs.push(format!(
                "secret \"{name}\" has no recipients: give it at least one public key in \
                 publicKeys, or nobody could ever decrypt it"
            ));
            continue;
        }
        let generator = match rule.generator.as_ref().map(generator::parse).transpose() {
            Ok(g) => g,
            Err(e) => {
                errs.push(format!("secret \"{name}\": generator: {e}"));
                continue;
            }
        };
        if !ok {
            continue;
        }
        secrets.insert(
            norm.clone(),
            Rule {
                path: dir.join(&norm),
                name: norm,
                recipients: recips,
                armor: rule.armor,
                generator,
            },
        );
    }
    if errs.is_empty() {
        Ok((secrets, keys))
    } else {
        errs.sort();
        errs.dedup();
        Err(errs)
    }
}

fn is_valid_ref_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

fn looks_like_key(s: &str) -> bool {
    s.starts_with("age1") || s.contains(' ')
}

/// Expand a key reference: a key name, a group name (recursively), or a literal key.
fn expand(
    entry: &str,
    keys: &BTreeMap<String, Recipient>,
    groups: &BTreeMap<String, Vec<String>>,
    stack: &mut Vec<String>,
) -> Result<Vec<Recipient>> {
    if let Some(k) = keys.get(entry) {
        return Ok(vec![k.clone()]);
    }
    if let Some(members) = groups.get(entry) {
        if stack.iter().any(|s| s == entry) {
            stack.push(entry.to_string());
            return Err(Error::new(format!(
                "group cycle {}; a group must not contain itself",
                stack.join(" → ")
            )));
        }
        stack.push(entry.to_string());
        let mut out = Vec::new();
        for m in members {
            out.extend(expand(m, keys, groups, stack)?);
        }
        stack.pop();
        return Ok(out);
    }
    if looks_like_key(entry) || !is_valid_ref_name(entry) {
        return Recipient::parse(entry).map(|r| vec![r]);
    }
    Err(Error::new(format!(
        "\"{entry}\" is not a defined key or group; define it under \"keys\" or \"groups\", or \
         write the public key itself"
    )))
}

/// Every secret, key and group name of the rules through the check of `crate::names` (no
/// control or bidirectional formatting characters); one message per offending name. Not the
/// keys and publicKeys entries: those messages would quote a private key pasted there.
fn check_texts(raw: &Raw) -> Vec<String> {
    let names = (raw.secrets.keys().map(|n| ("secret name", n)))
        .chain(raw.keys.keys().map(|n| ("key name", n)))
        .chain(raw.groups.keys().map(|n| ("group name", n)));
    names
        .filter_map(|(what, n)| crate::names::check(n, what).err())
        .map(|e| e.message().to_string())
        .collect()
}

/// A JSON object that refuses duplicate keys (serde_json would keep the last one silently).
pub struct UniqueMap<V>(pub BTreeMap<String, V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        UniqueMap(BTreeMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, V>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate entry \"{k}\"; each name may appear once"
                        )));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize() {
        assert_eq!(normalize_name("./db.age").unwrap(), "db.age");
        assert_eq!(normalize_name("a//b.age").unwrap(), "a/b.age");
        assert!(normalize_name("../x.age").is_err());
        assert!(normalize_name("/etc/x.age").is_err());
    }

    #[test]
    fn duplicate_json_entries_are_refused() {
        let r: Result<UniqueMap<String>, _> = serde_json::from_str(r#"{"a": "1", "a": "2"}"#);
        assert!(r.is_err());
    }
}
