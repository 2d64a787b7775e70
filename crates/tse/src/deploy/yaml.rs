//! The YAML writer of the generated files: block style, every string double-quoted (which YAML reads
//! as JSON does), keys plain only when YAML cannot take them for anything else.

use std::fmt::Write as _;

use serde_json::Value;

/// Writes `value` as YAML (block style; every string double-quoted, which YAML reads as JSON does).
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(&mut out, value, 0);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// A key as YAML reads it: plain when it is a simple name that YAML cannot take for anything else,
/// quoted otherwise.
fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        k.to_owned()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Array(a) if !a.is_empty()) || matches!(value, Value::Object(o) if !o.is_empty())
}

fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = key(k);
                if is_block(v) {
                    let _ = writeln!(out, "{pad}{key}:");
                    write_yaml(out, v, indent + 2);
                } else {
                    let _ = writeln!(out, "{pad}{key}: {}", scalar(v));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    let _ = writeln!(out, "{pad}-");
                    write_yaml(out, item, indent + 2);
                } else {
                    let _ = writeln!(out, "{pad}- {}", scalar(item));
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml_keys_are_plain_when_safe_and_strings_always_quoted() {
        let text = yaml(&json!({"services": {"a": {"ports": ["127.0.0.1:1:2"], "on": true, "x y": {}}}}));
        assert_eq!(
            text,
            "services:\n  a:\n    \"on\": true\n    ports:\n      - \"127.0.0.1:1:2\"\n    \"x y\": {}\n"
        );
    }
}
