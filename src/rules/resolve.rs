//! From `Raw` rules to `Rule`s: names normalized, key names and groups expanded, every key
//! parsed. A problem with one secret makes that rule `Broken`; problems with the file as a whole
//! (secrets.json's keys and groups) are errors. Every problem is collected.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::names::normalize_name;
use super::parse::Raw;
use super::{Broken, Rule};
use crate::error::{Error, Result};
use crate::keys::Recipient;
use crate::names::escaped;

pub(super) struct Resolved {
    pub secrets: BTreeMap<String, Rule>,
    pub keys: BTreeMap<String, Recipient>,
    pub broken: Vec<Broken>,
    /// Problems of the file as a whole.
    pub errors: Vec<String>,
    /// Broken rules whose only problem is a named key that cannot be used (or a group member
    /// that is not defined): that error is reported once, so a strict load does not report
    /// these rules again.
    pub folded: BTreeSet<String>,
}

/// A named key of secrets.json that cannot be used: its error, and who refers to it.
struct BadKey {
    message: String,
    groups: BTreeSet<String>,
    secrets: BTreeSet<String>,
}

pub(super) fn resolve(raw: Raw, dir: &Path) -> Resolved {
    let mut out = Resolved {
        secrets: BTreeMap::new(),
        keys: BTreeMap::new(),
        broken: Vec::new(),
        errors: check_ref_names(&raw),
        folded: BTreeSet::new(),
    };
    if !out.errors.is_empty() {
        // The messages below would quote these names as they are.
        return out;
    }
    let mut bad_keys = resolve_keys(&raw, &mut out);
    // Rules usually share their keys, and mostly whole lists of them (`publicKeys = all`):
    // each list as written is resolved once and its recipients shared, and each literal key
    // is parsed once (parsing an ssh-ed25519 key costs an X25519 multiplication, which for a
    // secrets.nix of 1000 rules was most of the load time; shared lists keep 100,000 rules
    // small).
    let parsed = RefCell::new(HashMap::new());
    let mut lists: HashMap<&[String], Arc<[Recipient]>> = HashMap::new();
    // Each name's file, once: two names for one file (`db.age`, `./db.age`) leave it unclear
    // which recipients are meant, so neither rule is used.
    let mut files: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in raw.secrets.keys().chain(raw.broken.keys()) {
        if let Ok(n) = normalize_name(name) {
            files.entry(n).or_default().push(name);
        }
    }
    let mut broken = |name: &str, message: String| {
        let file = crate::names::check(name, "secret name")
            .ok()
            .and_then(|()| normalize_name(name).ok());
        out.broken.push(Broken {
            name: name.to_string(),
            file,
            message,
        });
    };
    for (name, message) in &raw.broken {
        broken(name, message.clone());
    }
    for (name, rule) in &raw.secrets {
        if let Err(e) = crate::names::check(name, "secret name") {
            broken(name, e.message().to_string());
            continue;
        }
        let norm = match normalize_name(name) {
            Ok(n) => n,
            Err(e) => {
                broken(name, format!("secret \"{name}\": {e}"));
                continue;
            }
        };
        if files[&norm].len() > 1 {
            broken(
                name,
                format!(
                    "secret \"{name}\" names the same file as another rule (\"{norm}\"); keep one"
                ),
            );
            continue;
        }
        let generator = match rule.generator.as_ref().map(super::generator::parse) {
            None => None,
            Some(Ok(g)) => Some(g),
            Some(Err(e)) => {
                broken(name, format!("secret \"{name}\": generator: {e}"));
                continue;
            }
        };
        let format = match rule.format.as_ref().map(format_attr) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                broken(name, format!("secret \"{name}\": format: {e}"));
                continue;
            }
        };
        let mut hit = BTreeSet::new();
        let found = match lists.get(rule.public_keys.as_slice()) {
            Some(shared) => Ok(shared.clone()),
            None => {
                let refs = Refs {
                    keys: &out.keys,
                    groups: &raw.groups,
                    bad: &bad_keys,
                    parsed: &parsed,
                };
                let found = recipients(name, &rule.public_keys, &refs, &mut hit);
                if let (Ok(list), true) = (&found, hit.is_empty()) {
                    lists.insert(&rule.public_keys, list.clone());
                }
                found
            }
        };
        for k in &hit {
            if let Some(b) = bad_keys.get_mut(k) {
                b.secrets.insert(name.clone());
            }
        }
        match found {
            Ok(_) if !hit.is_empty() => {
                // Said once, by the key's own error (which names this secret).
                out.folded.insert(name.clone());
                let keys: Vec<String> = hit.iter().map(|k| format!("\"{k}\"")).collect();
                broken(
                    name,
                    format!(
                        "secret \"{name}\" uses {}, which cannot be used (see its own error)",
                        keys.join(", ")
                    ),
                );
            }
            Ok(recips) => {
                let rule = Rule {
                    path: dir.join(&norm),
                    name: norm.clone(),
                    recipients: recips,
                    armor: rule.armor,
                    generator,
                    format,
                };
                out.secrets.insert(norm, rule);
            }
            Err(msgs) => broken(name, msgs.join("; ")),
        }
    }
    for (name, b) in std::mem::take(&mut bad_keys) {
        out.errors.push(bad_key_error(&name, b));
    }
    out.errors.sort();
    out.errors.dedup();
    out.broken.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// secrets.json's named keys, parsed, and its groups' members checked. The keys that cannot
/// be used are returned, not reported yet: their one error also names who uses them.
fn resolve_keys(raw: &Raw, out: &mut Resolved) -> BTreeMap<String, BadKey> {
    let errs = &mut out.errors;
    let mut bad = BTreeMap::new();
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
                out.keys.insert(name.clone(), r);
            }
            Err(e) => {
                let key = BadKey {
                    message: e.message().to_string(),
                    groups: BTreeSet::new(),
                    secrets: BTreeSet::new(),
                };
                bad.insert(name.clone(), key);
            }
        }
    }
    for (g, members) in &raw.groups {
        if !is_valid_ref_name(g) {
            errs.push(format!(
                "group name \"{g}\" is not a plain name (use letters, digits, `-`, `_`, `.`, `@`)"
            ));
        }
        for m in members {
            if let Some(b) = bad.get_mut(m) {
                b.groups.insert(g.clone());
            } else if !raw.keys.contains_key(m) && !raw.groups.contains_key(m) && !looks_like_key(m)
            {
                errs.push(format!(
                    "group \"{g}\": \"{m}\" is neither a key nor a group; define it under \"keys\""
                ));
            }
        }
    }
    bad
}

/// The one error of a named key that cannot be used: what is wrong, the fix, and who uses it
/// (those are not reported again).
fn bad_key_error(name: &str, b: BadKey) -> String {
    let quoted = |set: &BTreeSet<String>| {
        set.iter()
            .map(|n| format!("\"{}\"", escaped(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut users = Vec::new();
    if !b.groups.is_empty() {
        let what = if b.groups.len() == 1 {
            "group"
        } else {
            "groups"
        };
        users.push(format!("{what} {}", quoted(&b.groups)));
    }
    if !b.secrets.is_empty() {
        let what = if b.secrets.len() == 1 {
            "secret"
        } else {
            "secrets"
        };
        users.push(format!("{what} {}", quoted(&b.secrets)));
    }
    let used = if users.is_empty() {
        " (no secret uses it)".to_string()
    } else {
        format!(
            " (used by {}: they cannot be encrypted until it is fixed)",
            users.join(" and ")
        )
    };
    format!("key \"{name}\": {}{used}", b.message)
}

/// One secret's recipients, each once; every problem as a message.
fn recipients(
    name: &str,
    entries: &[String],
    refs: &Refs,
    hit: &mut BTreeSet<String>,
) -> Result<Arc<[Recipient]>, Vec<String>> {
    let mut recips: Vec<Recipient> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for entry in entries {
        match expand(entry, refs, hit, &mut Vec::new()) {
            Ok(list) => {
                for r in list {
                    if seen.insert(r.text.clone()) {
                        recips.push(r);
                    }
                }
            }
            Err(e) => errs.push(format!("secret \"{name}\": {e}")),
        }
    }
    if errs.is_empty() && recips.is_empty() && hit.is_empty() {
        errs.push(format!(
            "secret \"{name}\" has no recipients: give it at least one public key in \
             publicKeys, or nobody could ever decrypt it"
        ));
    }
    if errs.is_empty() {
        Ok(recips.into())
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

/// What a key reference may name.
struct Refs<'a> {
    keys: &'a BTreeMap<String, Recipient>,
    groups: &'a BTreeMap<String, Vec<String>>,
    /// Named keys that cannot be used: a reference to one is added to `hit`, not an error (as
    /// is a group member that is not defined): each has its own error.
    bad: &'a BTreeMap<String, BadKey>,
    /// Literal keys parsed so far, by their text as written.
    parsed: &'a RefCell<HashMap<String, Recipient>>,
}

/// Expand a key reference: a key name, a group name (recursively), or a literal key.
fn expand(
    entry: &str,
    refs: &Refs,
    hit: &mut BTreeSet<String>,
    stack: &mut Vec<String>,
) -> Result<Vec<Recipient>> {
    if let Some(k) = refs.keys.get(entry) {
        return Ok(vec![k.clone()]);
    }
    if refs.bad.contains_key(entry) {
        hit.insert(entry.to_string());
        return Ok(Vec::new());
    }
    if let Some(members) = refs.groups.get(entry) {
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
            out.extend(expand(m, refs, hit, stack)?);
        }
        stack.pop();
        return Ok(out);
    }
    if looks_like_key(entry) || !is_valid_ref_name(entry) {
        if let Some(r) = refs.parsed.borrow().get(entry) {
            return Ok(vec![r.clone()]);
        }
        let r = Recipient::parse(entry)?;
        refs.parsed
            .borrow_mut()
            .insert(entry.to_string(), r.clone());
        return Ok(vec![r]);
    }
    if !stack.is_empty() {
        // A group's member: `resolve_keys` reported it under the group, once.
        hit.insert(entry.to_string());
        return Ok(Vec::new());
    }
    Err(Error::new(format!(
        "\"{}\" is not a defined key or group; define it under \"keys\" or \"groups\", or \
         write the public key itself",
        escaped(entry)
    )))
}

/// Every key and group name through the check of `crate::names` (no control or bidirectional
/// formatting characters); one message per offending name. (Secret names are checked one by
/// one, as their rules are.) Not the keys and publicKeys entries: those messages would quote a
/// private key pasted there.
fn check_ref_names(raw: &Raw) -> Vec<String> {
    let names = (raw.keys.keys().map(|n| ("key name", n)))
        .chain(raw.groups.keys().map(|n| ("group name", n)));
    names
        .filter_map(|(what, n)| crate::names::check(n, what).err())
        .map(|e| e.message().to_string())
        .collect()
}

/// A rule's `format`: one of the structured formats' names (`edit` checks the document parses
/// before it saves, and `decrypt --key` reads it so).
fn format_attr(v: &serde_json::Value) -> Result<crate::structured::Format, String> {
    match v.as_str() {
        Some(s) => s.parse().map_err(|e: crate::Error| e.message().to_string()),
        None => Err("not a string; write one of binary, json, yaml, dotenv, ini".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse::RawRule;

    const ALICE: &str = "ssh-ed25519 \
        AAAAC3NzaC1lZDI1NTE5AAAAINhjWGTLjhGVvKRGhu+H4SOSoB7uEvooiKmJo7unmHuM";
    const DAVE: &str = "age10dlpeya4vn3j3vf446fjuxj6yh9gv0zcc0f9yvffzc848y2epvpqpcx2gc";

    fn rule(keys: &[String]) -> RawRule {
        RawRule {
            public_keys: keys.to_vec(),
            armor: false,
            generator: None,
            format: None,
        }
    }

    /// Rules listing the same keys share one list; a rule listing other entries (here the
    /// same key with another comment) gets its own, with its own comment.
    #[test]
    fn same_key_lists_are_shared() {
        let all = vec![format!("{ALICE} alice@laptop"), DAVE.to_string()];
        let other = vec![format!("{ALICE} alice@desk")];
        let mut raw = Raw::default();
        raw.secrets.insert("a.age".into(), rule(&all));
        raw.secrets.insert("b.age".into(), rule(&all));
        raw.secrets.insert("c.age".into(), rule(&other));
        let out = resolve(raw, Path::new("/r"));
        assert!(out.errors.is_empty() && out.broken.is_empty());
        let r = |n: &str| out.secrets[n].recipients.clone();
        assert!(Arc::ptr_eq(&r("a.age"), &r("b.age")));
        assert_eq!(r("a.age").len(), 2);
        assert_eq!(r("a.age")[0].comment.as_deref(), Some("alice@laptop"));
        assert_eq!(r("c.age")[0].comment.as_deref(), Some("alice@desk"));
        assert_eq!(r("c.age")[0].text, r("a.age")[0].text);
    }
}
