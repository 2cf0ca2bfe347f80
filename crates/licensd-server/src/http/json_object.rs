//! A request struct is read only from a JSON object. serde's derived `Deserialize` for a struct
//! also accepts a JSON array, mapping its elements to the fields by position (`["p","c"]` would be
//! read as `{"product_id":"p","client_id":"c"}` and `[]` as an all-default body), which no API of
//! licensd — nor the vendor servers its dialects imitate — accepts. Every body is read through
//! [`JsonObject`], [`from_slice`] or [`from_value`]: wherever the body's type asks for a struct (or
//! a map) — the body itself, a field, an item of a list, a map's value, an `Option`'s content —
//! and the JSON there is not an object, that is a data error (`invalid type: sequence, expected
//! a JSON object`), which each API answers with its own malformed-body error. Lists and `Value`s
//! are read as before (SLASCONE's rollback takes a bare array).
//!
//! The check travels with the deserializer: [`ObjectOnly`] wraps the JSON deserializer, and every
//! visitor, list, map, option and enum it hands out wraps the deserializers of the values inside
//! in turn. What serde buffers first (`#[serde(flatten)]`, untagged enums) is read from its buffer
//! without the check; no request type of licensd uses either for a struct.

use serde::de::{
    Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use std::fmt;

/// What the error message says was expected.
const EXPECTED: &str = "a JSON object";

/// A body of type `T` whose structs are read only from JSON objects (for extractors such as
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

/// A deserializer whose structs and maps must be JSON objects; every request goes to the inner
/// (self-describing JSON) deserializer, with a visitor that carries the check to nested values.
struct ObjectOnly<D>(D);

/// Forwards `deserialize_*` methods that take only a visitor, with the visitor wrapped.
macro_rules! forward_nested {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Nested(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    forward_nested! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(Nested(visitor)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(Nested(visitor)))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Nested(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Nested(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Nested(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Nested(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Nested(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
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

/// A visitor that hands the values inside what it visits (list items, map values, an option's
/// or a newtype's content, an enum's data) to [`ObjectOnly`] deserializers.
struct Nested<V>(V);

/// Forwards `visit_*` methods of plain values unchanged.
macro_rules! forward_visits {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: serde::de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.0.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Nested<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(formatter)
    }

    forward_visits! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(ObjectOnly(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(ObjectOnly(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Nested(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Nested(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Nested(data))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Nested(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Nested<A> {
    type Error = A::Error;

    // Keys are strings in JSON: they need no check.
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Nested(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Nested<A> {
    type Error = A::Error;
    type Variant = Nested<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0
            .variant_seed(seed)
            .map(|(value, variant)| (value, Nested(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Nested(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Nested(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, MapOnly(Nested(visitor)))
    }
}

/// A value's seed, deserialized through [`ObjectOnly`].
impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Nested<T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        self.0.deserialize(ObjectOnly(deserializer))
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
        // Arrays where the type asks for a list or a value are untouched.
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

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default)]
    struct Outer {
        inner: Option<Body>,
        items: Vec<Body>,
        by_name: std::collections::BTreeMap<String, Body>,
        tagged: Option<Tagged>,
        metadata: Value,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Tagged {
        Plain,
        Wrapped(Body),
        Fields { client_id: String },
    }

    #[test]
    fn nested_structs_are_read_only_from_objects_too() {
        let text = br#"{"inner":{"client_id":"a"},"items":[{"client_id":"b"},{}],"by_name":{"x":{"product_id":"p"}},
            "tagged":{"wrapped":{"client_id":"w"}},"metadata":{"list":[[1],{"k":[]}]}}"#;
        let outer: Outer = from_slice(text).unwrap();
        let body = |product_id: &str, client_id: &str| Body {
            product_id: product_id.into(),
            client_id: client_id.into(),
        };
        assert_eq!(
            outer,
            Outer {
                inner: Some(body("", "a")),
                items: vec![body("", "b"), Body::default()],
                by_name: [("x".to_string(), body("p", ""))].into(),
                tagged: Some(Tagged::Wrapped(body("", "w"))),
                metadata: json!({"list": [[1], {"k": []}]}),
            }
        );
        assert_eq!(
            from_value::<Outer>(serde_json::from_slice(text).unwrap()).unwrap(),
            outer
        );
        let fields: Outer = from_slice(br#"{"tagged":{"fields":{"client_id":"f"}}}"#).unwrap();
        assert_eq!(fields.tagged, Some(Tagged::Fields { client_id: "f".into() }));
        assert_eq!(
            from_slice::<Outer>(br#"{"tagged":"plain"}"#).unwrap().tagged,
            Some(Tagged::Plain)
        );

        // Derived Deserialize alone reads each of these by position.
        let object = "a JSON object";
        for (text, from_value_expects) in [
            (r#"{"inner":["p","c"]}"#, object),
            (r#"{"items":[{"client_id":"b"},["p","c"]]}"#, object),
            (r#"{"items":[[]]}"#, object),
            (r#"{"by_name":{"x":["p"]}}"#, object),
            (r#"{"tagged":{"wrapped":["p","c"]}}"#, object),
            // serde_json's `Value` refuses a struct variant from an array with its own words.
            (r#"{"tagged":{"fields":["f"]}}"#, "struct variant"),
        ] {
            assert!(serde_json::from_str::<Outer>(text).is_ok(), "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            for (error, expected) in [
                (from_slice::<Outer>(text.as_bytes()).unwrap_err(), object),
                (from_value::<Outer>(value).unwrap_err(), from_value_expects),
            ] {
                assert!(error.is_data(), "{text}: {error}");
                assert!(
                    error
                        .to_string()
                        .starts_with(&format!("invalid type: sequence, expected {expected}")),
                    "{text}: {error}"
                );
            }
        }
        // A nested refusal names where it is, as serde_json does for any data error.
        let error = from_slice::<Outer>(b"{\n\"items\": [[]]}").unwrap_err();
        assert_eq!((error.line(), error.column()), (2, 10), "{error}");
    }

    #[test]
    fn broken_json_is_still_a_syntax_error() {
        assert!(from_slice::<Body>(b"{not json").unwrap_err().is_syntax());
        assert!(from_slice::<Body>(b"{} x").unwrap_err().is_syntax());
        assert!(from_slice::<Body>(b"").unwrap_err().is_eof());
    }
}
