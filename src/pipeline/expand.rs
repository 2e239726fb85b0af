//! Expanding static `${…}` references over the node tree, and checking runtime ones.
//!
//! Runtime references are only allowed in the few places that are rendered when their step
//! runs (CloudFormation parameters and tags, a `run_before` command, an ECS task definition
//! template file); anywhere else they would reach AWS as literal text, so they are an error
//! here. Template files get the same expansion as the pipeline file: static references now,
//! runtime ones checked and left for the render, errors pointing into the template.

use indexmap::IndexMap;

use super::context::Context;
use super::interpolate::{self, Reference, Segment, escape};
use super::node::{Node, Value};
use crate::error::{Diagnostic, suggest};
use crate::source::{Location, Pos, Source};

/// Image attributes a target can reference.
pub const IMAGE_ATTRS: [&str; 4] = ["uri", "digest", "ref", "tag"];

/// A runtime reference found inside a target, for the dependency checks in `validate`.
#[derive(Debug, Clone)]
pub struct RuntimeRef {
    pub target: String,
    pub reference: Reference,
    pub location: Location,
}

pub struct Expander<'a> {
    pub ctx: &'a Context,
    pub source: &'a Source,
    pub vars: IndexMap<String, String>,
    pub images: Vec<String>,
    pub targets: Vec<String>,
    pub dirty_suffix: bool,
    pub diags: Vec<Diagnostic>,
    pub runtime_refs: Vec<RuntimeRef>,
}

/// Paths (below `targets.NAME`) whose strings are rendered at run time.
fn runtime_allowed(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["targets", _, "cloudformation", "parameters" | "tags", _]
            | ["targets", _, "ecs", "run_before", "command", _]
            | ["targets", _, "ecs", "task_definition"]
            | ["targets", _, "eks", "manifests"]
    )
}

/// Line and column of a byte offset in a whole file.
fn pos_at(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Pos {
        line: line as u32,
        col: col as u32,
        offset: Some(offset as u32),
    }
}

/// Tags made from the commit get `-dirty` when the tree has uncommitted changes.
fn is_tag_path(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["images", _, "tags", _] | ["defaults", "tags", _]
    )
}

impl Expander<'_> {
    /// Expands every string under `node` (whose path from the root is `path`).
    pub fn walk(&mut self, node: &mut Node, path: &mut Vec<String>) {
        match &mut node.value {
            Value::Str(s) => {
                if s.contains('$')
                    && let Some(new) = self.expand(s, node.pos, path)
                {
                    *s = new;
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    self.walk(item, path);
                    path.pop();
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    path.push(k.name.clone());
                    self.walk(v, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Expands an ECS task definition template file of `target`: static references now,
    /// runtime ones checked (and recorded for the dependency checks) and kept, as escapes, for
    /// the render at deploy time. None when it has errors (they are in `diags`).
    pub fn expand_template(&mut self, file: &Source, target: &str) -> Option<String> {
        self.expand_file(file, &["targets", target, "ecs", "task_definition"])
    }

    /// A whole file the pipeline points at (a task definition template, a manifest),
    /// expanded like the pipeline file: static references resolved, runtime ones checked
    /// and kept for the deploy, literal text escaped so that the deploy's render leaves it
    /// as it is. Errors point into the file.
    pub fn expand_file(&mut self, file: &Source, at: &[&str]) -> Option<String> {
        let text = file.text.as_str();
        let path: Vec<String> = at.iter().map(|s| s.to_string()).collect();
        let segs = match interpolate::parse(text) {
            Ok(segs) => segs,
            Err(e) => {
                self.diags.push(Diagnostic::new(e.message).at(Location::new(
                    file,
                    pos_at(text, e.offset),
                    2,
                )));
                return None;
            }
        };
        let before = self.diags.len();
        let mut out = String::new();
        for seg in segs {
            match seg {
                Segment::Lit(l) => out.push_str(&escape(&l)),
                Segment::Ref(r) => {
                    let loc = Location::new(file, pos_at(text, r.offset), r.len);
                    if r.is_runtime() {
                        if self.check_runtime(&r, &loc, &path) {
                            out.push_str(&r.text());
                        }
                        continue;
                    }
                    match self.resolve(&r) {
                        Ok(v) => out.push_str(&escape(&v)),
                        Err((msg, hint)) => {
                            self.diags.push(Diagnostic::new(msg).at(loc).hint_opt(hint))
                        }
                    }
                }
            }
        }
        (self.diags.len() == before).then_some(out)
    }

    fn loc(&self, node_pos: crate::source::Pos, r_offset: usize, len: usize) -> Location {
        Location::new(
            self.source,
            interpolate::ref_pos(node_pos, &self.source.text, r_offset),
            len,
        )
    }

    fn expand(&mut self, s: &str, pos: crate::source::Pos, path: &[String]) -> Option<String> {
        let segs = match interpolate::parse(s) {
            Ok(segs) => segs,
            Err(e) => {
                self.diags
                    .push(Diagnostic::new(e.message).at(self.loc(pos, e.offset, 2)));
                return None;
            }
        };
        let keep_escaped = runtime_allowed(path);
        let mut out = String::new();
        let mut from_commit = false;
        for seg in segs {
            match seg {
                Segment::Lit(l) => out.push_str(&if keep_escaped { escape(&l) } else { l }),
                Segment::Ref(r) => {
                    let loc = self.loc(pos, r.offset, r.len);
                    if r.is_runtime() {
                        if self.check_runtime(&r, &loc, path) {
                            out.push_str(&r.text());
                        }
                        continue;
                    }
                    from_commit |= matches!(r.path.as_slice(), [a, b] if a == "git" && (b == "sha" || b == "short_sha"));
                    match self.resolve(&r) {
                        Ok(v) => out.push_str(&if keep_escaped { escape(&v) } else { v }),
                        Err((msg, hint)) => {
                            self.diags.push(Diagnostic::new(msg).at(loc).hint_opt(hint))
                        }
                    }
                }
            }
        }
        if from_commit
            && self.dirty_suffix
            && is_tag_path(path)
            && self.ctx.git().is_ok_and(|g| g.dirty)
        {
            out.push_str("-dirty");
        }
        Some(out)
    }

    fn resolve(&self, r: &Reference) -> Result<String, (String, Option<String>)> {
        let p: Vec<&str> = r.path.iter().map(String::as_str).collect();
        let text = r.text();
        match p.as_slice() {
            ["git", field] => {
                let git = self.ctx.git().map_err(|e| {
                    (format!("`{text}` needs a git repository: {e}"), Some("run berth in a git checkout, or use `${build.id}` or `${timestamp}`".into()))
                })?;
                match *field {
                    "sha" => Ok(git.sha.clone()),
                    "short_sha" => Ok(git.short_sha.clone()),
                    "branch" => Ok(git.branch.clone()),
                    "dirty" => Ok(git.dirty.to_string()),
                    _ => Err(unknown_field(&text, field, &["sha", "short_sha", "branch", "dirty"])),
                }
            }
            ["build", "id"] => Ok(self.ctx.build_id()),
            ["timestamp"] => Ok(self.ctx.timestamp().to_string()),
            ["env", name] => match (self.ctx.env(name), &r.default) {
                (Some(v), _) => Ok(v.to_string()),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err((
                    format!("environment variable `{name}` is not set"),
                    Some(format!("set it, or give a default: `${{env.{name}:-value}}`")),
                )),
            },
            ["vars", name] => self.vars.get(*name).cloned().ok_or_else(|| {
                let hint = match suggest(name, self.vars.keys().map(String::as_str)) {
                    Some(s) => s,
                    None if self.vars.is_empty() => "define it under `vars:` (or in the environment's `vars:`)".into(),
                    None => format!("defined vars: {}", self.vars.keys().cloned().collect::<Vec<_>>().join(", ")),
                };
                (format!("unknown variable `{name}` in `{text}`"), Some(hint))
            }),
            _ => Err((
                format!("unknown reference `{text}`"),
                Some("references are git.sha, git.short_sha, git.branch, build.id, timestamp, env.NAME, vars.NAME, images.NAME.uri|digest|ref|tag, targets.NAME.outputs.KEY; write `$${` for a literal `${` (a shell or CloudFormation variable)".into()),
            )),
        }
    }

    /// Checks a runtime reference; records it for the dependency checks. False when invalid.
    fn check_runtime(&mut self, r: &Reference, loc: &Location, path: &[String]) -> bool {
        let p: Vec<&str> = r.path.iter().map(String::as_str).collect();
        let text = r.text();
        let problem: Option<(String, Option<String>)> = match p.as_slice() {
            ["images", name, attr] => {
                if !self.images.iter().any(|i| i == name) {
                    Some((
                        format!("unknown image `{name}` in `{text}`"),
                        suggest_known(name, &self.images, "images"),
                    ))
                } else if !IMAGE_ATTRS.contains(attr) {
                    Some(unknown_field(&text, attr, &IMAGE_ATTRS))
                } else {
                    None
                }
            }
            ["targets", name, "outputs", _] => {
                if !self.targets.iter().any(|t| t == name) {
                    Some((
                        format!("unknown target `{name}` in `{text}`"),
                        suggest_known(name, &self.targets, "targets"),
                    ))
                } else {
                    None
                }
            }
            ["images", ..] => Some((
                format!("`{text}` is not a valid image reference"),
                Some("use `${images.NAME.uri}`, `.digest`, `.ref` or `.tag`".into()),
            )),
            _ => Some((
                format!("`{text}` is not a valid target reference"),
                Some("use `${targets.NAME.outputs.KEY}`".into()),
            )),
        };
        if let Some((msg, hint)) = problem {
            self.diags
                .push(Diagnostic::new(msg).at(loc.clone()).hint_opt(hint));
            return false;
        }
        if !runtime_allowed(path) {
            self.diags.push(
                Diagnostic::new(format!("`{text}` is only known while the pipeline runs and cannot be used here"))
                    .at(loc.clone())
                    .hint("use it in a CloudFormation target's `parameters` or `tags`, a `run_before` command, an ECS task definition template or a manifest"),
            );
            return false;
        }
        self.runtime_refs.push(RuntimeRef {
            target: path[1].clone(),
            reference: r.clone(),
            location: loc.clone(),
        });
        true
    }
}

fn unknown_field(text: &str, field: &str, allowed: &[&str]) -> (String, Option<String>) {
    let hint = match suggest(field, allowed.iter().copied()) {
        Some(s) => s,
        None => format!("allowed: {}", allowed.join(", ")),
    };
    (format!("unknown field `{field}` in `{text}`"), Some(hint))
}

fn suggest_known(name: &str, known: &[String], section: &str) -> Option<String> {
    Some(match suggest(name, known.iter().map(String::as_str)) {
        Some(s) => s,
        None if known.is_empty() => format!("this file defines no {section}"),
        None => format!("{section} in this file: {}", known.join(", ")),
    })
}
