//! The pipeline model: parse → merge the environment → interpolate → decode → validate.
//!
//! Each stage is a module. Parsing yields a positioned node tree ([`node`]); the selected
//! environment is deep-merged into it ([`merge`]); static `${…}` references are expanded and
//! runtime ones checked ([`expand`]); the tree is decoded into the serde types of [`raw`]
//! (which also generate the JSON Schema) by [`de`]; and [`validate`] checks what spans more
//! than one value, producing the [`model::Pipeline`] the engine works from. Any problem is an
//! [`Error::Invalid`] with positions: exit code 2, and nothing has been touched.

pub mod context;
pub mod de;
pub mod expand;
pub mod interpolate;
pub mod manifest;
pub mod merge;
pub mod model;
pub mod node;
pub mod raw;
pub mod reference;
pub mod spanned;
pub mod validate;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::source::{self, Location, Pos, Source, SourceFile};
pub use context::Context;
pub use model::Pipeline;
use node::{Key, Node, Value};

use crate::error::{Diagnostic, Error, Result};

/// Reads the pipeline file at `path`.
pub fn read(path: &Path) -> Result<Source> {
    match source::read_text(path) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(
            Diagnostic::new(format!(
                "pipeline file `{}` not found",
                source::display_path(path)
            ))
            .hint("run berth in the folder that holds berth.yaml, or pass `-f PATH`"),
        )),
        Err(e) => Err(Error::invalid(Diagnostic::new(format!(
            "cannot read `{}`: {e}",
            source::display_path(path)
        )))),
    }
}

/// YAML tags (`!Ref x`, `!Sub …`) in the text, with where they are. The pipeline file has
/// no use for them, and the YAML reader would quietly drop them (`stack: !Ref Name` would
/// read as `Name`), so they are refused. Core tags (`!!str`) are allowed. A tag is only
/// looked for where a value starts (after `key:`, `- `, `[`, `{` or `,`), outside quotes
/// and comments.
fn yaml_tags(text: &str) -> Vec<(String, Pos)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let (mut quote, mut value_starts) = (None::<char>, true);
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev.is_whitespace() => break,
                    '"' | '\'' if value_starts => quote = Some(c),
                    '!' if value_starts => {
                        let tag: String = line
                            [line.char_indices().nth(col).map(|(i, _)| i).unwrap_or(0)..]
                            .chars()
                            .take_while(|c| !c.is_whitespace() && !",]}".contains(*c))
                            .collect();
                        if !tag.starts_with("!!") {
                            found.push((tag, Pos::new(n as u32 + 1, col as u32 + 1)));
                        }
                        value_starts = false;
                    }
                    ':' | '-' | '[' | '{' | ',' => value_starts = true,
                    c if c.is_whitespace() => {}
                    _ => value_starts = false,
                },
            }
            prev = c;
        }
    }
    found
}

/// The YAML reader's message in the user's words (its own wording names its API).
fn plain_yaml_error(msg: &str) -> (String, Option<String>) {
    if msg.contains("multiple YAML documents") {
        return (
            "the file holds more than one YAML document (a `---` line)".into(),
            Some("keep one document; per-environment settings go under `environments:`".into()),
        );
    }
    if let Some(rest) = msg.strip_prefix("budget breached: ") {
        let what = match rest.split_once(" { ") {
            Some(("Depth", d)) => format!(
                "values are nested {} levels deep, more than berth reads",
                d.trim_end_matches(" }").trim_start_matches("depth: ")
            ),
            _ => "the document is larger than berth reads".to_string(),
        };
        return (
            what,
            Some("a pipeline file is a few levels of plain mappings and lists".into()),
        );
    }
    (msg.to_string(), None)
}

/// Parses the text into a node tree whose root is a mapping.
pub fn parse(source: &Source) -> Result<Node> {
    let tags: Vec<Diagnostic> = yaml_tags(&source.text)
        .into_iter()
        .map(|(tag, pos)| {
            Diagnostic::new(format!("YAML tag `{tag}` is not supported in the pipeline file"))
                .at(Location::new(source, pos, tag.chars().count()))
                .hint("write the value itself (quote it if it starts with `!`); CloudFormation functions belong in the template, and `${…}` references work here")
        })
        .collect();
    if !tags.is_empty() {
        return Err(Error::Invalid(tags));
    }
    let root = node::parse(&source.text).map_err(|(msg, pos)| {
        let (msg, hint) = plain_yaml_error(&msg);
        Error::invalid(
            Diagnostic::new(format!("invalid YAML: {msg}"))
                .at(Location::new(source, pos, 1))
                .hint_opt(hint),
        )
    })?;
    if root.as_map().is_none() {
        return Err(Error::invalid(
            Diagnostic::new(format!(
                "the pipeline file must be a mapping, found {}",
                root.kind()
            ))
            .at(Location::new(source, root.pos, 1))
            .hint("start with `version: 1`, then `images:` and `targets:`"),
        ));
    }
    Ok(root)
}

/// The files targets point at, expanded like the pipeline file (see expand.rs): ECS task
/// definition templates and manifests. Unreadable files are left for validation to report
/// with their place.
fn expand_files(ex: &mut expand::Expander, root: &Node, dir: &Path) -> validate::Expanded {
    // One setting of a target's kind (`targets.NAME.KIND.KEY`), as written.
    let setting = |name: &str, kind: &str, key: &str| {
        root.get("targets")
            .and_then(|t| t.get(name))
            .and_then(|t| t.get(kind))
            .and_then(|k| k.get(key))
    };
    // A file that cannot be read is reported by validation, with its place.
    let read = |path: PathBuf| {
        Some(SourceFile::new(
            path.clone(),
            source::read_text(&path).ok()?,
        ))
    };
    let mut templates = std::collections::HashMap::new();
    for name in ex.targets.clone() {
        let Some(rel) = setting(&name, "ecs", "task_definition").and_then(Node::scalar_text) else {
            continue;
        };
        if let Some(file) = read(validate::clean_join(dir, &rel))
            && let Some(expanded) = ex.expand_template(&file, &name)
        {
            templates.insert(name, expanded);
        }
    }
    // Manifests too: the same rules, errors pointing into the manifest.
    let mut manifests = std::collections::HashMap::new();
    for name in ex.targets.clone() {
        let Some(list) = setting(&name, "eks", "manifests").and_then(Node::as_seq) else {
            continue;
        };
        for rel in list.iter().filter_map(Node::scalar_text) {
            let full = validate::clean_join(dir, &rel);
            let files = if full.is_dir() {
                manifest::files_in(&full)
            } else {
                vec![full]
            };
            for f in files {
                if let Some(file) = read(f.clone())
                    && let Some(expanded) =
                        ex.expand_file(&file, &["targets", &name, "eks", "manifests"])
                {
                    manifests.insert(f, expanded);
                }
            }
        }
    }
    validate::Expanded {
        templates,
        manifests,
    }
}

/// Loads and validates the pipeline for one environment (or the base file).
pub fn load(source: &Source, environment: Option<&str>, ctx: &Context) -> Result<Pipeline> {
    let root = parse(source)?;
    load_tree(source, root, environment, ctx)
}

/// Validates the base file and every environment in it: what `berth validate` does.
/// Returns the names of the environments checked.
pub fn validate_all(source: &Source, ctx: &Context) -> Result<Vec<String>> {
    let root = parse(source)?;
    let envs: Vec<String> = root
        .get("environments")
        .and_then(Node::as_map)
        .map(|m| m.iter().map(|(k, _)| k.name.clone()).collect())
        .unwrap_or_default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut push_unique = |ds: Vec<Diagnostic>, env: Option<&str>| {
        for mut d in ds {
            let dup = diags.iter().any(|x| {
                x.message == d.message
                    && x.location.as_ref().map(|l| l.pos) == d.location.as_ref().map(|l| l.pos)
            });
            if !dup {
                if let Some(e) = env {
                    d.message = format!("{} (with `-e {e}`)", d.message);
                }
                diags.push(d);
            }
        }
    };
    if let Err(Error::Invalid(ds)) = load_tree(source, root.clone(), None, ctx) {
        push_unique(ds, None);
    }
    for env in &envs {
        if let Err(Error::Invalid(ds)) = load_tree(source, root.clone(), Some(env), ctx) {
            push_unique(ds, Some(env));
        }
    }
    if diags.is_empty() {
        Ok(envs)
    } else {
        Err(Error::Invalid(diags))
    }
}

fn load_tree(
    source: &Source,
    mut root: Node,
    environment: Option<&str>,
    ctx: &Context,
) -> Result<Pipeline> {
    let dir = source
        .path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    if let Some(env) = environment {
        merge::apply_environment(&mut root, env, source).map_err(Error::Invalid)?;
    }

    // Default tags go into the tree so that they are expanded like written ones — only when
    // some image uses them, so that `${git.short_sha}` needs git only when it is used.
    let some_image_untagged = root
        .get("images")
        .and_then(Node::as_map)
        .is_some_and(|m| m.iter().any(|(_, img)| img.get("tags").is_none()));
    let defaults = ensure_map(&mut root, "defaults");
    if defaults.get("tags").is_none()
        && some_image_untagged
        && let Some(m) = defaults.as_map_mut()
    {
        let tag = Node::new(Pos::UNKNOWN, Value::Str("${git.short_sha}".into()));
        m.push((
            Key {
                name: "tags".into(),
                pos: Pos::UNKNOWN,
            },
            Node::new(Pos::UNKNOWN, Value::Seq(vec![tag])),
        ));
    }
    let dirty_suffix = !matches!(
        root.get("defaults")
            .and_then(|d| d.get("dirty_suffix"))
            .map(|n| &n.value),
        Some(Value::Bool(false))
    );

    let names = |section: &str| -> Vec<String> {
        root.get(section)
            .and_then(Node::as_map)
            .map(|m| m.iter().map(|(k, _)| k.name.clone()).collect())
            .unwrap_or_default()
    };
    let mut ex = expand::Expander {
        ctx,
        source,
        vars: IndexMap::new(),
        images: names("images"),
        targets: names("targets"),
        dirty_suffix,
        diags: Vec::new(),
        runtime_refs: Vec::new(),
    };

    // `vars` first (they may use git, env, build, timestamp), then everything else.
    let mut path = Vec::new();
    if let Some(vars) = root.get_mut("vars") {
        path.push("vars".to_string());
        ex.walk(vars, &mut path);
        path.clear();
        if let Some(m) = vars.as_map() {
            ex.vars = m
                .iter()
                .filter_map(|(k, v)| Some((k.name.clone(), v.scalar_text()?)))
                .collect();
        }
    }
    if let Some(entries) = root.as_map_mut() {
        for (k, v) in entries.iter_mut() {
            if matches!(k.name.as_str(), "vars" | "environments" | "version") {
                continue;
            }
            path.push(k.name.clone());
            ex.walk(v, &mut path);
            path.pop();
        }
    }
    let expanded = expand_files(&mut ex, &root, &dir);
    let expand::Expander {
        diags,
        runtime_refs,
        ..
    } = ex;
    if !diags.is_empty() {
        return Err(Error::Invalid(diags));
    }

    let file: raw::PipelineFile = de::from_node(&root).map_err(|e| {
        let loc = Location::new(source, e.pos, e.len);
        Error::invalid(Diagnostic::new(e.message).at(loc).hint_opt(e.hint))
    })?;
    validate::build(
        file,
        source,
        &dir,
        environment.map(str::to_string),
        &runtime_refs,
        &expanded,
    )
    .map_err(Error::Invalid)
}

fn ensure_map<'a>(root: &'a mut Node, key: &str) -> &'a mut Node {
    if root.get(key).is_none()
        && let Some(m) = root.as_map_mut()
    {
        m.push((
            Key {
                name: key.into(),
                pos: Pos::UNKNOWN,
            },
            Node::new(Pos::UNKNOWN, Value::Map(Vec::new())),
        ));
    }
    root.get_mut(key).expect("present")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_yaml_readers_wording_is_put_in_plain_words() {
        let (m, h) = plain_yaml_error(
            "multiple YAML documents detected; use from_str_multiple or from_str_multiple_with_options",
        );
        assert!(!m.contains("from_str") && m.contains("more than one YAML document"));
        assert!(h.is_some());
        let (m, _) = plain_yaml_error("budget breached: Depth { depth: 65 }");
        assert_eq!(m, "values are nested 65 levels deep, more than berth reads");
        assert_eq!(
            plain_yaml_error("mapping values are not allowed").0,
            "mapping values are not allowed"
        );
    }

    #[test]
    fn yaml_tags_are_found_where_values_start_only() {
        let text = "a: !Ref Name\nb: [x, !Sub y]\n- !GetAtt z\nc: \"!quoted\"\nd: echo hi!\ne: x # !comment\nf: !!str 1\n";
        let tags: Vec<String> = yaml_tags(text).into_iter().map(|(t, _)| t).collect();
        assert_eq!(tags, ["!Ref", "!Sub", "!GetAtt"]);
        assert_eq!(yaml_tags("a: !Ref N")[0].1, Pos::new(1, 4));
    }

    use super::context::GitInfo;
    use super::*;

    fn load_with_git(text: &str, dirty: bool) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(dir.path().join("stack.yaml"), "Parameters:\n  Image: {Type: String}\n  Lit: {Type: String}\n  Sha: {Type: String}\nResources:\n  T: {Type: AWS::SNS::Topic}\n").unwrap();
        let path = dir.path().join("berth.yaml");
        let src = SourceFile::new(path, text);
        let git = GitInfo {
            sha: "0123456789abcdef".into(),
            short_sha: "0123456".into(),
            branch: "main".into(),
            dirty,
        };
        let ctx = Context::new(dir.path(), Default::default(), "T".into()).with_git(Ok(git));
        load(&src, None, &ctx).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    #[test]
    fn commit_tags_get_dirty_suffix_only_when_the_tree_is_dirty() {
        let text = "version: 1\nimages:\n  web: {}\n";
        assert_eq!(load_with_git(text, false).images["web"].tags, ["0123456"]);
        assert_eq!(
            load_with_git(text, true).images["web"].tags,
            ["0123456-dirty"]
        );
        // Tags not made from the commit are left alone; the opt-out is honoured.
        let text = "version: 1\ndefaults: { tags: [\"${git.branch}\", \"v-${git.sha}\"] }\nimages:\n  web: {}\n";
        assert_eq!(
            load_with_git(text, true).images["web"].tags,
            ["main", "v-0123456789abcdef-dirty"]
        );
        let text = "version: 1\ndefaults: { dirty_suffix: false }\nimages:\n  web: {}\n";
        assert_eq!(load_with_git(text, true).images["web"].tags, ["0123456"]);
    }

    #[test]
    fn runtime_references_stay_for_later_and_escapes_survive() {
        let text = "version: 1\nimages:\n  web: { tags: [v1] }\ntargets:\n  s:\n    cloudformation:\n      stack: s\n      template: stack.yaml\n      parameters: { Image: \"${images.web.ref}\", Lit: \"$${not.a.ref}\", Sha: \"${git.short_sha}\" }\n";
        let p = load_with_git(text, false);
        let model::TargetKind::CloudFormation(c) = &p.targets["s"].kind else {
            panic!("cfn")
        };
        assert_eq!(c.parameters["Image"], "${images.web.ref}");
        assert_eq!(c.parameters["Lit"], "$${not.a.ref}");
        assert_eq!(c.parameters["Sha"], "0123456");
        assert_eq!(p.targets["s"].images, ["web"]);
        let mut v = interpolate::RuntimeValues::default();
        v.images
            .entry("web".into())
            .or_default()
            .insert("ref".into(), "r@sha256:1".into());
        assert_eq!(
            interpolate::render(&c.parameters["Lit"], &v).unwrap(),
            "${not.a.ref}"
        );
        assert_eq!(
            interpolate::render(&c.parameters["Image"], &v).unwrap(),
            "r@sha256:1"
        );
    }
}
