//! `environments`: deep-merging one environment over the base file.
//!
//! Works on the node tree so that merged-in values keep the position they were written at:
//! an error in a value that came from `environments.prod` points into `environments.prod`.
//! Mappings merge key by key; anything else (scalars, lists) replaces.

use super::node::{Key, Node, Value};
use crate::error::{Diagnostic, suggest};
use crate::source::{Location, Pos, Source};

/// Deep-merges `over` into `base`.
pub fn deep_merge(base: &mut Node, over: &Node) {
    match (&mut base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in o {
                match b.iter_mut().find(|(bk, _)| bk.name == k.name) {
                    Some((_, bv)) => deep_merge(bv, v),
                    None => b.push((k.clone(), v.clone())),
                }
            }
        }
        _ => *base = over.clone(),
    }
}

/// The mapping at `key` in `node`, created (empty) if missing.
fn map_entry<'a>(node: &'a mut Node, key: &str, pos: Pos) -> &'a mut Node {
    let map = node
        .as_map_mut()
        .expect("caller checked that node is a mapping");
    if let Some(i) = map.iter().position(|(k, _)| k.name == key) {
        return &mut map[i].1;
    }
    map.push((
        Key {
            name: key.to_string(),
            pos,
        },
        Node::new(pos, Value::Map(Vec::new())),
    ));
    &mut map.last_mut().expect("just pushed").1
}

/// Applies environment `name` to the root of a pipeline file.
pub fn apply_environment(
    root: &mut Node,
    name: &str,
    source: &Source,
) -> Result<(), Vec<Diagnostic>> {
    let envs = root
        .get("environments")
        .and_then(Node::as_map)
        .unwrap_or(&[]);
    let Some((_, env)) = envs.iter().find(|(k, _)| k.name == name) else {
        let names: Vec<&str> = envs.iter().map(|(k, _)| k.name.as_str()).collect();
        let hint = match suggest(name, names.iter().copied()) {
            Some(s) => s,
            None if names.is_empty() => "this pipeline file defines no `environments`".to_string(),
            None => format!("environments in this file: {}", names.join(", ")),
        };
        return Err(vec![
            Diagnostic::new(format!("unknown environment `{name}`")).hint(hint),
        ]);
    };
    let env = env.clone();
    let Some(entries) = env.as_map() else {
        return Ok(()); // the typed decode reports the wrong type
    };
    let mut diags = Vec::new();
    for (k, v) in entries {
        match k.name.as_str() {
            "region" | "profile" => {
                let defaults = map_entry(root, "defaults", k.pos);
                if let Some(m) = defaults.as_map_mut() {
                    m.retain(|(dk, _)| dk.name != k.name);
                    m.push((k.clone(), v.clone()));
                }
            }
            "vars" | "defaults" => {
                let base = map_entry(root, &k.name, k.pos);
                if base.as_map().is_some() {
                    deep_merge(base, v);
                }
            }
            section @ ("images" | "targets") => {
                let Some(over) = v.as_map() else { continue };
                let base = map_entry(root, section, k.pos);
                let known: Vec<String> = base
                    .as_map()
                    .unwrap_or(&[])
                    .iter()
                    .map(|(k, _)| k.name.clone())
                    .collect();
                for (ok, ov) in over {
                    if !known.contains(&ok.name) {
                        let what = &section[..section.len() - 1];
                        let hint = suggest(&ok.name, known.iter().map(String::as_str))
                            .unwrap_or_else(|| format!("an environment can only change {section} defined at the top level"));
                        diags.push(
                            Diagnostic::new(format!("environment `{name}` changes {what} `{}`, which is not defined in `{section}`", ok.name))
                                .at(Location::new(source, ok.pos, ok.name.chars().count()))
                                .hint(hint),
                        );
                        continue;
                    }
                    if let Some(bv) = base.get_mut(&ok.name) {
                        deep_merge(bv, ov);
                    }
                }
            }
            _ => {} // unknown keys are reported by the typed decode of `environments`
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(diags) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::node::parse;
    use crate::source::SourceFile;

    #[test]
    fn maps_merge_and_scalars_replace() {
        let mut a = parse("x: {a: 1, b: [1, 2]}\n").unwrap();
        let b = parse("x: {b: [3], c: 4}\n").unwrap();
        deep_merge(&mut a, &b);
        assert_eq!(
            a.to_json(),
            serde_json::json!({"x": {"a": 1, "b": [3], "c": 4}})
        );
    }

    #[test]
    fn environment_overrides_keep_their_own_positions() {
        let text = "targets:\n  web:\n    ecs: {cluster: a, service: s}\nenvironments:\n  prod:\n    region: eu-west-1\n    targets:\n      web: {ecs: {cluster: b}}\n";
        let src = SourceFile::new("berth.yaml", text);
        let mut root = parse(text).unwrap();
        apply_environment(&mut root, "prod", &src).unwrap();
        let cluster = root
            .get("targets")
            .unwrap()
            .get("web")
            .unwrap()
            .get("ecs")
            .unwrap()
            .get("cluster")
            .unwrap();
        assert_eq!(cluster.as_str(), Some("b"));
        assert_eq!(cluster.pos.line, 8);
        assert_eq!(
            root.get("defaults")
                .unwrap()
                .get("region")
                .unwrap()
                .as_str(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn unknown_environment_and_unknown_target_are_errors() {
        let text = "targets:\n  web: {}\nenvironments:\n  prod:\n    targets:\n      wbe: {}\n";
        let src = SourceFile::new("berth.yaml", text);
        let mut root = parse(text).unwrap();
        let e = apply_environment(&mut root.clone(), "prd", &src).unwrap_err();
        assert_eq!(e[0].hint.as_deref(), Some("did you mean `prod`?"));
        let e = apply_environment(&mut root, "prod", &src).unwrap_err();
        assert!(e[0].message.contains("`wbe`"));
        assert_eq!(e[0].hint.as_deref(), Some("did you mean `web`?"));
    }
}
