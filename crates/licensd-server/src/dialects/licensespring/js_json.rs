//! JSON in the exact form JavaScript's `JSON.stringify(JSON.parse(text))` writes it.
//!
//! LicenseSpring's Node SDK verifies `LicenseSignature` (and offline `license_signature_v2`) over
//! the body it re-serialises after parsing, not over the bytes received. Every signed
//! LicenseSpring body is therefore written in that fixed point, whatever free-form values
//! (metadata, device variables, custom fields) it carries:
//! - numbers are IEEE doubles written as ECMAScript's `Number::toString` does (`10.0` → `10`,
//!   `1e21` → `1e+21`, `1.5e-7`, integers beyond 2^53 rounded to the double JavaScript reads);
//! - object keys that are array indices (`"0"`, `"7"`, `"2024"`: canonical decimal integers below
//!   2^32 − 1) come first in ascending numeric order, then the other keys in the order written;
//! - strings are escaped as `JSON.stringify` escapes them (`"`, `\`, control characters; nothing
//!   else: non-ASCII and `/` stay literal).
//!
//! Python's SDK verifies the raw bytes, which this form also is.

use serde_json::{Map, Number, Value};

/// `value` as `JSON.stringify(JSON.parse(serde_json::to_string(value)))` writes it.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut indexed: Vec<(u32, &String, &Value)> = Vec::new();
    let mut named: Vec<(&String, &Value)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        match array_index(key) {
            Some(index) => indexed.push((index, key, value)),
            None => named.push((key, value)),
        }
    }
    indexed.sort_by_key(|(index, _, _)| *index);
    out.push(b'{');
    let entries = indexed.into_iter().map(|(_, key, value)| (key, value)).chain(named);
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write(out, value);
    }
    out.push(b'}');
}

/// An ECMAScript array index: the canonical decimal form of an integer in 0 ..= 2^32 − 2.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let canonical = !bytes.is_empty()
        && bytes.len() <= 10
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes.len() == 1 || bytes[0] != b'0');
    if !canonical {
        return None;
    }
    key.parse::<u32>().ok().filter(|index| *index != u32::MAX)
}

fn write_number(out: &mut Vec<u8>, number: &Number) {
    // Without serde_json's arbitrary precision every number has an f64 view; JavaScript reads
    // every JSON number as that double.
    let double = number.as_f64().unwrap_or(0.0);
    if double == 0.0 {
        // -0 is written "0" by JSON.stringify.
        out.push(b'0');
    } else if double.is_finite() {
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(double).as_bytes());
    } else {
        // Not reachable from serde_json values; JSON.stringify writes non-finite numbers as null.
        out.extend_from_slice(b"null");
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(text) => out.extend_from_slice(text),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn js(text: &str) -> String {
        let value: Value = serde_json::from_str(text).expect("json");
        String::from_utf8(to_vec(&value)).expect("utf-8")
    }

    #[test]
    fn numbers_as_ecmascript_writes_them() {
        for (sent, js_form) in [
            ("10.0", "10"),
            ("-0.0", "0"),
            ("0.1", "0.1"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("1.5e-7", "1.5e-7"),
            ("0.000001", "0.000001"),
            ("123456789012345678901234", "1.2345678901234569e+23"),
            ("9007199254740993", "9007199254740992"),
            ("18446744073709551615", "18446744073709552000"),
            ("-42", "-42"),
        ] {
            assert_eq!(js(sent), js_form, "{sent}");
        }
    }

    #[test]
    fn index_keys_first_in_numeric_order() {
        assert_eq!(
            js(r#"{"b":1,"2024":2,"a":3,"7":4,"07":5,"-1":6,"4294967295":7,"4294967294":8}"#),
            r#"{"7":4,"2024":2,"4294967294":8,"-1":6,"07":5,"4294967295":7,"a":3,"b":1}"#
        );
    }

    #[test]
    fn strings_escaped_as_json_stringify() {
        let value = json!({"s": "q\"\\/\u{1}\u{1f}\u{7f}\n\t\u{8}\u{c}\r é \u{2028} 🎉"});
        assert_eq!(
            String::from_utf8(to_vec(&value)).unwrap(),
            "{\"s\":\"q\\\"\\\\/\\u0001\\u001f\u{7f}\\n\\t\\b\\f\\r é \u{2028} 🎉\"}"
        );
    }
}
