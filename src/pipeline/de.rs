//! Typed decoding of a [`Node`] tree with serde, keeping positions.
//!
//! The pipeline model is plain `#[derive(Deserialize, JsonSchema)]` structs, so the JSON
//! Schema in `docs/` and the parser cannot drift apart. This module is the serde
//! `Deserializer` that feeds those structs from the positioned tree: every error it produces
//! carries the position of the key or value it is about, unknown keys come with the nearest
//! valid key as a hint, and [`Spanned`](super::spanned::Spanned) fields receive the position
//! of their value.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::node::{Key, Node, Value};
use super::spanned::SPANNED_MARKER;
use crate::error::suggest;
use crate::source::Pos;

/// A decoding error: message, position (filled in on the way out by the innermost node that
/// knows one), how much to underline and an optional hint.
#[derive(Debug, Clone)]
pub struct DeError {
    pub message: String,
    pub pos: Pos,
    pub len: usize,
    pub hint: Option<String>,
    /// A missing key is best shown at the key that owns the mapping (`ecs:`), which only the
    /// enclosing map access knows.
    missing: bool,
}

impl DeError {
    fn or_at(mut self, pos: Pos, len: usize) -> Self {
        if !self.pos.is_known() && !self.missing {
            self.pos = pos;
            self.len = len;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// serde names types in its own words ("a sequence", "struct ImageDef"); berth's users think
/// in YAML words.
fn yaml_words(expected: &str) -> String {
    if expected.starts_with("struct ") || expected == "a map" {
        "a mapping (`key: value` lines)".to_string()
    } else if expected == "a sequence" {
        "a list".to_string()
    } else if let Some(rest) = expected.strip_prefix("variant identifier") {
        format!("one of the allowed values{rest}")
    } else {
        expected.to_string()
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            pos: Pos::UNKNOWN,
            len: 1,
            hint: None,
            missing: false,
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            de::Unexpected::Str(s) => format!("the string \"{s}\""),
            de::Unexpected::Map => "a mapping".to_string(),
            de::Unexpected::Seq => "a list".to_string(),
            de::Unexpected::Unit => "nothing (null)".to_string(),
            other => other.to_string(),
        };
        Self::custom(format!(
            "wrong type: expected {}, found {found}",
            yaml_words(&exp.to_string())
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = match suggest(field, expected.iter().copied()) {
            Some(s) => s,
            None => format!("allowed keys here: {}", expected.join(", ")),
        };
        DeError {
            message: format!("unknown key `{field}`"),
            pos: Pos::UNKNOWN,
            len: field.chars().count(),
            hint: Some(hint),
            missing: false,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = match suggest(variant, expected.iter().copied()) {
            Some(s) => s,
            None => format!("allowed values: {}", expected.join(", ")),
        };
        DeError {
            message: format!("unknown value `{variant}`"),
            pos: Pos::UNKNOWN,
            len: variant.chars().count(),
            hint: Some(hint),
            missing: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            missing: true,
            ..Self::custom(format!("missing key `{field}`"))
        }
    }
}

/// Deserializes `T` from a node.
pub fn from_node<'a, T: serde::Deserialize<'a>>(node: &'a Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|mut e| {
        if e.missing {
            e.missing = false;
            e.pos = node.pos;
        }
        e
    })
}

pub struct NodeDe<'a>(pub &'a Node);

impl NodeDe<'_> {
    fn len(&self) -> usize {
        match &self.0.value {
            Value::Str(s) if !s.contains('\n') => s.chars().count().max(1),
            _ => 1,
        }
    }

    fn wrap<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.or_at(self.0.pos, self.len()))
    }
}

macro_rules! forward_any {
    ($($name:ident)*) => {
        $(fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.0.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(Seq {
                items: items.iter(),
            }),
            Value::Map(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                current: None,
            }),
        };
        self.wrap(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// Strings accept any scalar (`DesiredCount: 2` means "2"): a pipeline file is written by
    /// people, and YAML's typing of unquoted scalars is a trap, not a feature, here.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.0.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                visitor.visit_string(self.0.scalar_text().unwrap_or_default())
            }
            _ => return self.deserialize_any(visitor),
        };
        self.wrap(r)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_MARKER {
            let r = visitor.visit_map(SpannedMap {
                node: self.0,
                step: 0,
            });
            return self.wrap(r);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only unit variants written as plain strings (`rollback: auto`).
        let r = match &self.0.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::invalid_type(
                unexpected(self.0),
                &"one of the allowed values",
            )),
        };
        self.wrap(r)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    forward_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u64 deserialize_f32 deserialize_f64
        deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match &node.value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => de::Unexpected::Signed(*i),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str(s) => de::Unexpected::Str(s),
        Value::Seq(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(n) => seed.deserialize(NodeDe(n)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    current: Option<(&'a Key, &'a Node)>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.current = Some((k, v));
                seed.deserialize(KeyDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (k, v) = self
            .current
            .take()
            .expect("next_value called before next_key");
        seed.deserialize(NodeDe(v)).map_err(|mut e| {
            if e.missing {
                e.missing = false;
                e.message = format!("{} in `{}`", e.message, k.name);
                e.pos = k.pos;
                e.len = k.name.chars().count();
            }
            e
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A mapping key. Supports `Spanned<String>` keys so that maps keyed by name (images,
/// targets) know where each name is written.
struct KeyDe<'a>(&'a Key);

impl<'de> Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_borrowed_str::<DeError>(&self.0.name)
            .map_err(|e| e.or_at(self.0.pos, self.0.name.chars().count()))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_MARKER {
            let node = Node::new(self.0.pos, Value::Str(self.0.name.clone()));
            // The synthetic node lives only for this call; the key's text is owned by it.
            return visitor
                .visit_map(SpannedOwned { node, step: 0 })
                .map_err(|e| e.or_at(self.0.pos, self.0.name.chars().count()));
        }
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Feeds a `Spanned<T>` visitor: `line`, `col`, `offset`, then the value itself.
struct SpannedMap<'a> {
    node: &'a Node,
    step: u8,
}

const SPANNED_FIELDS: [&str; 4] = ["line", "col", "offset", "value"];

impl<'de> MapAccess<'de> for SpannedMap<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match SPANNED_FIELDS.get(self.step as usize) {
            Some(f) => seed.deserialize((*f).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let step = self.step;
        self.step += 1;
        let p = self.node.pos;
        match step {
            0 => seed.deserialize(p.line.into_deserializer()),
            1 => seed.deserialize(p.col.into_deserializer()),
            2 => seed.deserialize(p.offset.map(i64::from).unwrap_or(-1).into_deserializer()),
            _ => seed.deserialize(NodeDe(self.node)),
        }
    }
}

/// Like [`SpannedMap`] for a value that only exists for the duration of the call (a key).
struct SpannedOwned {
    node: Node,
    step: u8,
}

impl<'de> MapAccess<'de> for SpannedOwned {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match SPANNED_FIELDS.get(self.step as usize) {
            Some(f) => seed.deserialize((*f).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let step = self.step;
        self.step += 1;
        let p = self.node.pos;
        match step {
            0 => seed.deserialize(p.line.into_deserializer()),
            1 => seed.deserialize(p.col.into_deserializer()),
            2 => seed.deserialize(p.offset.map(i64::from).unwrap_or(-1).into_deserializer()),
            _ => match &self.node.value {
                Value::Str(s) => seed.deserialize(s.clone().into_deserializer()),
                _ => unreachable!("keys are strings"),
            },
        }
    }
}
