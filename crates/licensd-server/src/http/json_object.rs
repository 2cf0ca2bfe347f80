//! A request struct is read only from a JSON object. serde's derived `Deserialize` for a struct
//! also accepts a JSON array, mapping its elements to the fields by position (`["p","c"]` would be
//! read as `{"product_id":"p","client_id":"c"}` and `[]` as an all-default body), which no API of
//! licensd — nor the vendor servers its dialects imitate — accepts. Every body is read through
//! [`JsonObject`], [`from_slice`] or [`from_value`]: when the body type is a struct (or a map) and
//! the top-level value is not an object, that is a data error (`invalid type: sequence, expected
//! a JSON object`), which each API answers with its own malformed-body error. Bodies whose type is
//! a list or a `Value` (SLASCONE's rollback takes a bare array) are read as before.

use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};
use std::fmt;

/// What the error message says was expected.
const EXPECTED: &str = "a JSON object";

/// A body of type `T` whose struct is read only from a JSON object (for extractors such as
/// `axum::Json`).
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(ObjectOnly(deserializer)).map(JsonObject)
    }
}

/// Parses a whole body (trailing characters are an error, as with `serde_json::from_slice`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let JsonObject(value) = JsonObject::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Reads a body already parsed as a `Value`.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    JsonObject::deserialize(value).map(|JsonObject(value)| value)
}

/// A deserializer whose top-level struct or map must be a JSON object; every other request, and
/// every nested value, goes to the inner (self-describing JSON) deserializer as usual.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct identifier ignored_any
    }
}

/// Passes a map on to the struct's visitor; anything else is refused as "expected a JSON object".
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(EXPECTED)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default)]
    struct Body {
        product_id: String,
        client_id: String,
    }

    #[test]
    fn objects_parse_as_before() {
        let body: Body = from_slice(br#" {"product_id":"p","client_id":"c"} "#).unwrap();
        assert_eq!(
            body,
            Body {
                product_id: "p".into(),
                client_id: "c".into()
            }
        );
        assert_eq!(from_slice::<Body>(b"{}").unwrap(), Body::default());
        // Nested arrays are untouched: only the top level must be an object.
        let value: Value = from_slice(br#"{"a":[1,[2]],"b":null}"#).unwrap();
        assert_eq!(value, json!({"a": [1, [2]], "b": null}));
    }

    #[test]
    fn a_struct_from_anything_but_an_object_is_a_data_error() {
        // Derived Deserialize alone accepts the array by position.
        assert!(serde_json::from_slice::<Body>(br#"["p","c"]"#).is_ok());
        for (text, found) in [
            ("[]", "sequence"),
            (r#"["p","c"]"#, "sequence"),
            (r#""x""#, "string \"x\""),
            ("1", "integer `1`"),
            ("null", "null"),
            ("true", "boolean `true`"),
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            for error in [
                from_slice::<Body>(text.as_bytes()).unwrap_err(),
                from_slice::<serde_json::Map<String, Value>>(text.as_bytes()).unwrap_err(),
                from_value::<Body>(value).unwrap_err(),
            ] {
                assert!(error.is_data(), "{text}: {error}");
                assert!(
                    error
                        .to_string()
                        .starts_with(&format!("invalid type: {found}, expected a JSON object")),
                    "{text}: {error}"
                );
            }
        }
    }

    #[test]
    fn lists_and_values_are_read_as_before() {
        assert_eq!(from_slice::<Vec<String>>(br#"["a","b"]"#).unwrap(), ["a", "b"]);
        assert_eq!(from_value::<Vec<String>>(json!(["a"])).unwrap(), ["a"]);
        assert_eq!(from_slice::<Value>(b"[1]").unwrap(), json!([1]));
        assert_eq!(from_slice::<Option<Body>>(b"null").unwrap(), None);
        assert_eq!(
            from_value::<Body>(json!({"client_id": "c"})).unwrap(),
            Body {
                product_id: String::new(),
                client_id: "c".into()
            }
        );
    }

    #[test]
    fn broken_json_is_still_a_syntax_error() {
        assert!(from_slice::<Body>(b"{not json").unwrap_err().is_syntax());
        assert!(from_slice::<Body>(b"{} x").unwrap_err().is_syntax());
        assert!(from_slice::<Body>(b"").unwrap_err().is_eof());
    }
}
