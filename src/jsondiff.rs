//! Field-level differences between two JSON documents, for plans and logs (`path: old → new`).
//! Shared by the adapters that compare what runs with what berth would send (ECS task
//! definitions, Kubernetes objects).

use serde_json::Value;

/// Removes nulls, empty lists and empty objects, so that a document and its round trip
/// through an API that omits empty fields (ECS, Kubernetes) compare equal.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .filter(|(_, v)| {
                    !(v.is_null()
                        || v.as_array().is_some_and(|a| a.is_empty())
                        || v.as_object().is_some_and(|o| o.is_empty()))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// The field-level differences between two documents (`path: old → new`), after
/// [`normalize`]; list items that have a `name` are labelled by it, not by position.
pub fn diff(old: &Value, new: &Value) -> Vec<String> {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &p,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (a, b)) in x.iter().zip(y).enumerate() {
                    // Containers are known by name, not position.
                    let label = a
                        .get("name")
                        .and_then(Value::as_str)
                        .map(|n| format!("{path}[{n}]"))
                        .unwrap_or_else(|| format!("{path}[{i}]"));
                    walk(&label, a, b, out);
                }
            }
            _ if a != b => out.push(format!("{path}: {} → {}", short_json(a), short_json(b))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", &normalize(old), &normalize(new), &mut out);
    out
}

fn short_json(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(117).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_ignores_empty_fields() {
        assert_eq!(
            normalize(&json!({"a": [], "b": null, "c": {}, "d": 1})),
            json!({"d": 1})
        );
    }
}
