//! A YAML document as a tree of positioned nodes.
//!
//! serde-saphyr parses the text; we keep the result as an untyped tree in which every value
//! and every key remembers its line and column. Working on this tree (rather than straight on
//! typed structs) is what lets berth deep-merge `environments`, expand `${…}` and still point
//! every later error at the exact place in the file the value came from — including values
//! that were merged in from an environment section.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::source::Pos;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Node {
    pub fn new(pos: Pos, value: Value) -> Self {
        Node { pos, value }
    }

    /// What kind of value this is, in the words an error message uses.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Vec<(Key, Node)>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entry `name` of a mapping, with its key.
    pub fn entry(&self, name: &str) -> Option<(&Key, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, v)| (k, v))
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entry(name).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.as_map_mut()?
            .iter_mut()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    /// Scalars as the text a user would have written (`2` → "2", `true` → "true").
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Converts to JSON (for inline policies and documents berth sends on as JSON).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: loc.line() as u32,
        col: loc.column() as u32,
        offset: loc.span().byte_offset().map(|o| o as u32),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            pos: pos_of(&s.referenced),
            value: s.value,
        })
    }
}

/// Map keys may be written as any scalar (`80: http`); berth's keys are names, so they are
/// kept as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key (a name)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v)
                    .map(Value::Int)
                    .unwrap_or(Value::Str(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element::<Node>()? {
                    items.push(n);
                }
                Ok(Value::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<serde_saphyr::Spanned<KeyText>>()? {
                    let v: Node = map.next_value()?;
                    entries.push((
                        Key {
                            name: k.value.0,
                            pos: pos_of(&k.referenced),
                        },
                        v,
                    ));
                }
                Ok(Value::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses YAML text into a node tree. Errors carry the parser's position and message.
pub fn parse(text: &str) -> Result<Node, (String, Pos)> {
    if text.trim().is_empty() {
        return Ok(Node::new(Pos::new(1, 1), Value::Null));
    }
    // YAML 1.2 booleans only (`true`/`false`): under YAML 1.1's, a build arg or a variable
    // named `N`, `no` or `on` would silently become `false` or `true`.
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let pos = e.location().map(|l| pos_of(&l)).unwrap_or(Pos::UNKNOWN);
        (clean_message(&e), pos)
    })
}

/// serde-saphyr's message without its own location suffix or snippet (berth renders both).
fn clean_message(e: &serde_saphyr::Error) -> String {
    let opts = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
    let text = e.without_snippet().render_with_options(opts);
    let first = text.lines().next().unwrap_or("").trim();
    match first.rfind(" at line ") {
        Some(i) => first[..i].trim_end_matches(',').to_string(),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_and_value_positions() {
        let n = parse("a:\n  b: hello\n  c: [1, two]\n").unwrap();
        let (k, v) = n.get("a").unwrap().entry("b").unwrap();
        assert_eq!((k.pos.line, k.pos.col), (2, 3));
        assert_eq!(v.as_str(), Some("hello"));
        assert_eq!((v.pos.line, v.pos.col), (2, 6));
        let c = n.get("a").unwrap().get("c").unwrap();
        match &c.value {
            Value::Seq(items) => {
                assert_eq!(items[0].value, Value::Int(1));
                assert_eq!(items[1].pos.col, 10);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let (msg, pos) = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(!msg.is_empty());
        assert!(pos.is_known(), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let (msg, _) = parse("a: 1\na: 2\n").unwrap_err();
        assert!(msg.to_lowercase().contains("duplicate"), "{msg}");
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let n = parse("a: \"2\"\nb: 2\n").unwrap();
        assert_eq!(n.get("a").unwrap().value, Value::Str("2".into()));
        assert_eq!(n.get("b").unwrap().value, Value::Int(2));
    }
}

#[cfg(test)]
mod yaml_1_2_tests {
    use super::*;

    #[test]
    fn yaml_1_1_booleans_stay_text() {
        let n = parse("N: no\ny: on\nflag: true\n").unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m[0].0.name, "N");
        assert_eq!(m[0].1.value, Value::Str("no".into()));
        assert_eq!(m[1].0.name, "y");
        assert_eq!(m[1].1.value, Value::Str("on".into()));
        assert_eq!(m[2].1.value, Value::Bool(true));
    }
}
