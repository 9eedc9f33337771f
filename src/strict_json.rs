//! JSON parsed into a `serde_json::Value` that refuses a duplicate key in any object, at any
//! depth. serde_json keeps the last of two equal keys silently, so `{"version": 1, …,
//! "version": 2}` or a secret object with two `owner`s would mean whatever its last line says,
//! which a reader (or a review of the file) may well not see. Objects go through the rules'
//! [`UniqueMap`], the one duplicate check of the crate.

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::rules::UniqueMap;

/// Parse `text`; an error says which key is duplicated and where (line and column).
pub fn parse(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str::<Strict>(text).map(|s| s.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Strict, A::Error> {
        let items = Vec::<Strict>::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Strict(Value::Array(
            items.into_iter().map(|s| s.0).collect(),
        )))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Strict, A::Error> {
        let m = UniqueMap::<Strict>::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Strict(Value::Object(
            m.0.into_iter().map(|(k, v)| (k, v.0)).collect(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"d": [[]]}}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn duplicates_refused_at_every_depth() {
        for text in [
            r#"{"version": 1, "version": 2}"#,
            r#"{"s": {"x": {"owner": "0", "owner": "1"}}}"#,
            r#"[{"a": 1}, {"b": [{"c": 1, "c": 1}]}]"#,
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("duplicate entry"), "{text}: {e}");
            assert!(e.contains("line 1"), "{text}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).is_err());
    }
}
