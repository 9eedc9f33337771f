//! From text to `Raw` rules: `secrets.json` (strict: our format, any unknown field or wrong type
//! fails the load) and the JSON our evaluation of a `secrets.nix` prints (`eval.nix`), where a
//! rule that cannot be used is kept aside with the reason, and attributes we do not read are
//! only noted.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::names::escaped;

/// The attributes of a secrets.nix rule that are evaluated and read; any other is ignored
/// (never evaluated), as agenix does. A new per-rule attribute is added here and read in
/// `nix_rule`.
pub(super) const KNOWN_ATTRS: &[&str] = &["publicKeys", "armor", "generator", "format"];

/// Where eval.nix puts the type of a value JSON cannot carry (a function, a path).
pub(super) const TYPE_MARK: &str = "secrets-nix-type";

/// A rule before its keys are resolved.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawRule {
    pub public_keys: Vec<String>,
    pub armor: bool,
    /// Checked in `resolve` (see `generator::parse`).
    pub generator: Option<Value>,
    /// What the decrypted file is (`structured::Format`'s names); checked in `resolve`.
    pub format: Option<Value>,
}

#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct Raw {
    pub keys: BTreeMap<String, String>,
    pub groups: BTreeMap<String, Vec<String>>,
    pub secrets: BTreeMap<String, RawRule>,
    /// secrets.nix only: rules that cannot be used, by name as written, with the message.
    pub broken: BTreeMap<String, String>,
    /// secrets.nix only: attributes of a rule that are not read, by rule name.
    pub ignored: BTreeMap<String, Vec<String>>,
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
    generator: Option<Value>,
    format: Option<Value>,
}

pub(super) fn parse_json(text: &str) -> Result<Raw> {
    let f: JsonFile = serde_json::from_str(text).map_err(|e| {
        Error::new(format!(
            "{}; see `secrets schema` for the format of secrets.json",
            escaped(&e.to_string())
        ))
    })?;
    let secrets = f.secrets.0.into_iter().map(|(k, r)| {
        let rule = RawRule {
            public_keys: r.public_keys,
            armor: r.armor,
            generator: r.generator,
            format: r.format,
        };
        (k, rule)
    });
    Ok(Raw {
        keys: f.keys.0,
        groups: f.groups.0,
        secrets: secrets.collect(),
        ..Raw::default()
    })
}

/// What eval.nix prints in its "inspect" mode.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NixOut {
    /// The rules usable as they are (checked by eval.nix): their known attributes only.
    plain: Option<BTreeMap<String, PlainRule>>,
    #[serde(default)]
    ignored: BTreeMap<String, Vec<String>>,
    /// The others, attribute by attribute.
    rules: Option<BTreeMap<String, NixRule>>,
    #[serde(rename = "notSet")]
    not_set: Option<String>,
}

/// A rule whose attributes eval.nix found to have the right types (the values of `generator`
/// and `format` are checked in `resolve`, as for any rule).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainRule {
    #[serde(rename = "publicKeys", default)]
    public_keys: Vec<String>,
    #[serde(default)]
    armor: bool,
    generator: Option<Value>,
    format: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NixRule {
    #[serde(default)]
    thrown: bool,
    #[serde(rename = "type")]
    not_set: Option<String>,
    #[serde(default)]
    attrs: BTreeMap<String, NixAttr>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NixAttr {
    value: Option<Value>,
    #[serde(default)]
    thrown: bool,
}

/// What a `throw` said: `thrown(rule, attribute)` ("" for the rule's value itself) evaluates
/// it once more, alone, to get Nix's message.
pub(super) type Thrown<'a> = dyn FnMut(&str, &str) -> String + 'a;

const RULE_SHAPE: &str = "a rule is { publicKeys = [ \"ssh-ed25519 …\" ]; armor = false; }";

pub(super) fn parse_nix_json(json: &str, thrown: &mut Thrown) -> Result<Raw> {
    let out: NixOut = serde_json::from_str(json).map_err(|e| {
        Error::new(format!(
            "unexpected output of the evaluation ({}); this is a bug in secrets",
            escaped(&e.to_string())
        ))
    })?;
    if out.plain.is_none() && out.rules.is_none() && out.not_set.is_none() {
        return Err(Error::new(
            "unexpected output of the evaluation (no rules); this is a bug in secrets",
        ));
    }
    if let Some(t) = out.not_set {
        return Err(Error::new(format!(
            "the rules must evaluate to an attribute set of rules, not {} ({RULE_SHAPE}, one per \
             file name)",
            describe_type(&t)
        )));
    }
    let mut raw = Raw {
        ignored: out.ignored,
        ..Raw::default()
    };
    for (name, r) in out.plain.unwrap_or_default() {
        let rule = RawRule {
            public_keys: r.public_keys,
            armor: r.armor,
            generator: r.generator,
            format: r.format,
        };
        raw.secrets.insert(name, rule);
    }
    for (name, rule) in out.rules.unwrap_or_default() {
        if !rule.extra.is_empty() {
            raw.ignored.insert(name.clone(), rule.extra.clone());
        }
        match nix_rule(&name, rule, thrown) {
            Ok(r) => {
                raw.secrets.insert(name, r);
            }
            Err(why) => {
                raw.broken
                    .insert(name.clone(), format!("secret \"{}\"{why}", escaped(&name)));
            }
        }
    }
    Ok(raw)
}

/// One rule's known attributes, checked for type; the error continues `secret "NAME"`.
fn nix_rule(name: &str, rule: NixRule, thrown: &mut Thrown) -> Result<RawRule, String> {
    if rule.thrown {
        return Err(format!(
            ": evaluating the rule fails: {}; fix the rule or remove it",
            thrown(name, "")
        ));
    }
    if let Some(t) = rule.not_set {
        return Err(format!(
            " is {}, not a rule; {RULE_SHAPE}",
            describe_type(&t)
        ));
    }
    let mut value = |attr: &str| -> Result<Option<Value>, String> {
        match rule.attrs.get(attr) {
            None => Ok(None),
            Some(NixAttr { thrown: true, .. }) => Err(format!(
                ": evaluating its {attr} fails: {}; fix it or remove the rule",
                thrown(name, attr)
            )),
            Some(a) => Ok(a.value.clone()),
        }
    };
    let public_keys = match value("publicKeys")? {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(format!(
                    ": publicKeys item {} is {}, not a string; each item is one public key \
                     (\"ssh-ed25519 AAAA…\" or \"age1…\"){}",
                    i + 1,
                    describe(&other),
                    if is_path(&other) {
                        " — read a key file with (builtins.readFile ./key.pub)"
                    } else {
                        ""
                    }
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                ": publicKeys is {}, not a list; write publicKeys = [ \"ssh-ed25519 …\" ]",
                describe(&other)
            ))
        }
    };
    let armor = match value("armor")? {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(format!(
                ": armor is {}, not true or false",
                describe(&other)
            ))
        }
    };
    let generator = value("generator")?;
    let format = value("format")?;
    Ok(RawRule {
        public_keys,
        armor,
        generator,
        format,
    })
}

fn is_path(v: &Value) -> bool {
    v.get(TYPE_MARK).and_then(Value::as_str) == Some("path")
}

/// A value's type as a person reads it ("a string", "a function").
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) if n.is_f64() => "a float".into(),
        Value::Number(_) => "an integer".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(m) => match m.get(TYPE_MARK).and_then(Value::as_str) {
            Some(t) => describe_type(t),
            None => "an attribute set".into(),
        },
    }
}

/// Nix's name of a type (builtins.typeOf) as a person reads it.
fn describe_type(t: &str) -> String {
    match t {
        "lambda" | "primop" | "primop-app" => "a function".into(),
        "path" => "a path".into(),
        "set" => "an attribute set".into(),
        "special set" => "an attribute set with outPath or __toString (a derivation?)".into(),
        "list" => "a list".into(),
        "string" => "a string".into(),
        "int" => "an integer".into(),
        "float" => "a float".into(),
        "bool" => "a boolean".into(),
        "null" => "null".into(),
        other => format!("a {}", escaped(other)),
    }
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

    fn nix(json: &str) -> Raw {
        parse_nix_json(json, &mut |r, a| format!("throw in {r}/{a}")).unwrap()
    }

    #[test]
    fn duplicate_json_entries_are_refused() {
        let r: Result<UniqueMap<String>, _> = serde_json::from_str(r#"{"a": "1", "a": "2"}"#);
        assert!(r.is_err());
    }

    #[test]
    fn broken_nix_rules_are_kept_aside_with_the_reason() {
        let raw = nix(r#"{"rules": {
            "good.age": {"attrs": {"publicKeys": {"value": ["k"]}}, "extra": ["owner"]},
            "t.age": {"attrs": {"publicKeys": {"thrown": true}}, "extra": []},
            "w.age": {"thrown": true},
            "s.age": {"type": "string"},
            "p.age": {"attrs": {"publicKeys": {"value": ["k", {"secrets-nix-type": "path"}]}}},
            "l.age": {"attrs": {"publicKeys": {"value": "k"}}},
            "a.age": {"attrs": {"publicKeys": {"value": []}, "armor": {"value": 1}}}
        }}"#);
        assert_eq!(raw.secrets.keys().collect::<Vec<_>>(), ["good.age"]);
        assert_eq!(raw.ignored["good.age"], ["owner"]);
        let b = |n: &str| raw.broken[n].clone();
        assert!(b("t.age").contains("its publicKeys fails: throw in t.age/publicKeys"));
        assert!(b("w.age").contains("the rule fails: throw in w.age/"));
        assert!(b("s.age").contains("is a string, not a rule"));
        assert!(b("p.age").contains("item 2 is a path") && b("p.age").contains("readFile"));
        assert!(b("l.age").contains("publicKeys is a string, not a list"));
        assert!(b("a.age").contains("armor is an integer"));
        assert!(b("a.age").starts_with("secret \"a.age\": "));
    }

    #[test]
    fn good_and_broken_nix_rules_come_together() {
        let raw = nix(
            r#"{"plain": {"a.age": {"publicKeys": ["k"], "armor": true}, "b.age": {}},
            "ignored": {"a.age": ["owner"]},
            "rules": {"t.age": {"thrown": true}, "u.age": {"attrs": {}, "extra": ["x"]}}}"#,
        );
        assert_eq!(
            raw.secrets.keys().collect::<Vec<_>>(),
            ["a.age", "b.age", "u.age"]
        );
        assert!(raw.secrets["a.age"].armor && raw.secrets["a.age"].public_keys == ["k"]);
        assert!(raw.secrets["b.age"].public_keys.is_empty());
        assert_eq!(raw.ignored["a.age"], ["owner"]);
        assert_eq!(raw.ignored["u.age"], ["x"]);
        assert!(raw.broken["t.age"].contains("throw in t.age/"));
        let e = parse_nix_json("{}", &mut |_, _| String::new())
            .err()
            .unwrap();
        assert!(e.message().contains("bug in secrets"), "{e}");
    }

    #[test]
    fn nix_rules_must_be_a_set() {
        let e = parse_nix_json(r#"{"notSet": "list"}"#, &mut |_, _| String::new());
        let e = e.err().unwrap();
        assert!(
            e.message().contains("must evaluate to an attribute set"),
            "{e}"
        );
        assert!(e.message().contains("not a list"), "{e}");
    }
}
