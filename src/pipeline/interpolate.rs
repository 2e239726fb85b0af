//! `${…}` interpolation.
//!
//! Two kinds of references exist. *Static* ones (`git.*`, `build.id`, `timestamp`, `env.*`,
//! `vars.*`) are known when the file is loaded and are expanded right away, so that
//! validation sees final values (a tag, a region, a file path). *Runtime* ones
//! (`images.NAME.uri|digest|ref|tag`, `targets.NAME.outputs.KEY`) are only known after a push
//! or a deploy; they are checked for existence at load time and kept in the string, to be
//! rendered by [`render`] when the step that needs them runs. `$${` is a literal `${`.

use std::collections::BTreeMap;

use crate::source::Pos;

/// One piece of a template string.
#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    Lit(String),
    Ref(Reference),
}

/// A `${…}` reference: its dotted path, an optional `:-default`, and where it sits in the
/// string (character offset and length, including `${` and `}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub path: Vec<String>,
    pub default: Option<String>,
    pub offset: usize,
    pub len: usize,
}

impl Reference {
    pub fn text(&self) -> String {
        match &self.default {
            Some(d) => format!("${{{}:-{d}}}", self.path.join(".")),
            None => format!("${{{}}}", self.path.join(".")),
        }
    }

    pub fn is_runtime(&self) -> bool {
        matches!(
            self.path.first().map(String::as_str),
            Some("images" | "targets")
        )
    }
}

/// A syntax error in a template: message and character offset.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

/// Splits a string into literal text and references.
pub fn parse(s: &str) -> Result<Vec<Segment>, SyntaxError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && chars.get(i + 1) == Some(&'$') && chars.get(i + 2) == Some(&'{') {
            lit.push_str("${");
            i += 3;
            continue;
        }
        if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let start = i;
            let close = chars[i..].iter().position(|&c| c == '}').map(|p| p + i);
            let Some(close) = close else {
                return Err(SyntaxError {
                    message: "unclosed `${`: add a `}`".into(),
                    offset: start,
                });
            };
            let inner: String = chars[i + 2..close].iter().collect();
            let (path_text, default) = match inner.split_once(":-") {
                Some((p, d)) => (p.to_string(), Some(d.to_string())),
                None => (inner.clone(), None),
            };
            let path: Vec<String> = path_text.split('.').map(|p| p.trim().to_string()).collect();
            let valid = path.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !valid {
                return Err(SyntaxError {
                    message: format!(
                        "`${{{inner}}}` is not a reference: use names separated by dots, like `${{vars.region}}`"
                    ),
                    offset: start,
                });
            }
            if !lit.is_empty() {
                out.push(Segment::Lit(std::mem::take(&mut lit)));
            }
            out.push(Segment::Ref(Reference {
                path,
                default,
                offset: start,
                len: close + 1 - start,
            }));
            i = close + 1;
            continue;
        }
        lit.push(chars[i]);
        i += 1;
    }
    if !lit.is_empty() {
        out.push(Segment::Lit(lit));
    }
    Ok(out)
}

/// Escapes text so that it survives a later [`parse`] as a literal.
pub fn escape(s: &str) -> String {
    s.replace("${", "$${")
}

/// Values known after images are pushed and targets deployed.
#[derive(Clone, Debug, Default)]
pub struct RuntimeValues {
    /// image name -> attribute (uri, digest, ref, tag) -> value
    pub images: BTreeMap<String, BTreeMap<String, String>>,
    /// target name -> output key -> value
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// For plans: a value not known yet renders as `(known after deploy: ${…})` instead of
    /// failing, as an output of a stack the same run would create.
    pub placeholders: bool,
}

/// A runtime reference that has no value yet (the step that provides it did not run).
#[derive(Debug, PartialEq)]
pub struct Unresolved(pub String);

/// Renders a string that passed load-time interpolation: only runtime references and `$${`
/// escapes are left in it.
pub fn render(s: &str, values: &RuntimeValues) -> Result<String, Unresolved> {
    let segs = parse(s).map_err(|e| Unresolved(e.message))?;
    let mut out = String::new();
    for seg in segs {
        match seg {
            Segment::Lit(l) => out.push_str(&l),
            Segment::Ref(r) => {
                let p: Vec<&str> = r.path.iter().map(String::as_str).collect();
                let v = match p.as_slice() {
                    ["images", name, attr] => values.images.get(*name).and_then(|m| m.get(*attr)),
                    ["targets", name, "outputs", key] => {
                        values.outputs.get(*name).and_then(|m| m.get(*key))
                    }
                    _ => None,
                };
                match v {
                    Some(v) => out.push_str(v),
                    None if values.placeholders => {
                        out.push_str(&format!("(known after deploy: {})", r.text()))
                    }
                    None => return Err(Unresolved(r.text())),
                }
            }
        }
    }
    Ok(out)
}

/// Where a reference points inside a YAML string node: the node's position, one column
/// further for a quoted scalar, plus the reference's offset. Exact for one-line scalars.
pub fn ref_pos(node_pos: Pos, source_text: &str, offset: usize) -> Pos {
    let quoted = node_pos
        .offset
        .and_then(|o| source_text.as_bytes().get(o as usize))
        .is_some_and(|b| *b == b'"' || *b == b'\'');
    node_pos.shifted(offset + usize::from(quoted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str, offset: usize, len: usize) -> Segment {
        Segment::Ref(Reference {
            path: path.split('.').map(String::from).collect(),
            default: None,
            offset,
            len,
        })
    }

    #[test]
    fn parses_literals_references_and_escapes() {
        assert_eq!(
            parse("a-${git.sha}-b").unwrap(),
            vec![
                Segment::Lit("a-".into()),
                r("git.sha", 2, 10),
                Segment::Lit("-b".into())
            ]
        );
        assert_eq!(parse("$${x}").unwrap(), vec![Segment::Lit("${x}".into())]);
        assert_eq!(parse("plain").unwrap(), vec![Segment::Lit("plain".into())]);
    }

    #[test]
    fn parses_defaults() {
        match &parse("${env.X:-dev}").unwrap()[0] {
            Segment::Ref(r) => assert_eq!(r.default.as_deref(), Some("dev")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reports_syntax_errors_with_offset() {
        assert_eq!(parse("ab${git.sha").unwrap_err().offset, 2);
        assert!(parse("${a b}").is_err());
        assert!(parse("${}").is_err());
    }

    #[test]
    fn renders_runtime_values() {
        let mut v = RuntimeValues::default();
        v.images
            .entry("web".into())
            .or_default()
            .insert("uri".into(), "r/web:1".into());
        assert_eq!(
            render("img=${images.web.uri} $${lit}", &v).unwrap(),
            "img=r/web:1 ${lit}"
        );
        assert_eq!(
            render("${images.api.uri}", &v).unwrap_err(),
            Unresolved("${images.api.uri}".into())
        );
    }

    #[test]
    fn escape_round_trips() {
        let v = RuntimeValues::default();
        assert_eq!(render(&escape("a${b}"), &v).unwrap(), "a${b}");
    }
}
