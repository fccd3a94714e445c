//! Canonical JSON: object keys sorted bytewise, no insignificant whitespace, at any
//! depth. What cairn hashes (plan nodes) and writes (image config, manifest, index) is
//! in this form. Written by hand over `serde_json::Value`, so the bytes do not depend on
//! whether some dependency turns on `serde_json`'s `preserve_order`.

use serde::Serialize;
use serde_json::Value;

/// `value` as canonical JSON bytes.
pub fn to_canonical<T: Serialize>(value: &T) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("cairn's image types always serialize");
    let mut out = Vec::new();
    write(&value, &mut out);
    out
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Numbers, booleans and null have one spelling in serde_json.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        serde_json::to_string(s)
            .expect("a string always serializes")
            .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sorted_at_every_depth_without_whitespace() {
        let value = serde_json::json!({
            "b": [3, {"z": true, "a": null}],
            "a": "x\"y\n",
            "ab": 1.5,
        });
        assert_eq!(
            String::from_utf8(to_canonical(&value)).unwrap(),
            r#"{"a":"x\"y\n","ab":1.5,"b":[3,{"a":null,"z":true}]}"#
        );
    }
}
