//! From the decoded file to the validated [`Pipeline`]: the checks that need more than one
//! value — names that must resolve, files that must exist, exactly one kind per target, a
//! dependency graph without cycles. Every problem found is collected, not just the first.

mod access;
mod builders;
mod images;
mod targets;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use super::expand::RuntimeRef;
use super::model::*;
use super::raw::{PipelineFile, PolicyDef};
use super::spanned::Spanned;
use crate::error::{Diagnostic, suggest};
use crate::source::{Location, Pos, Source, SourceFile};

pub struct Validator<'a> {
    pub source: &'a Source,
    pub dir: &'a Path,
    pub diags: Vec<Diagnostic>,
}

/// The longest wait berth accepts: longer is a typo (and would overflow a deadline).
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

fn strings(m: &IndexMap<Spanned<String>, Spanned<String>>) -> IndexMap<String, String> {
    m.iter()
        .map(|(k, v)| (k.value.clone(), v.value.clone()))
        .collect()
}

/// ECR repository names: lowercase path components separated by `.`, `_`, `-`, joined by `/`.
pub fn valid_repository_name(name: &str) -> bool {
    let comp_ok = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            })
    };
    (2..=256).contains(&name.len()) && name.split('/').all(comp_ok)
}

/// Docker tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Validator<'_> {
    fn at<T>(&self, s: &Spanned<T>, len: usize) -> Location {
        Location::new(self.source, s.pos, len)
    }

    fn err(&mut self, msg: impl Into<String>, loc: Location, hint: Option<String>) {
        self.diags.push(Diagnostic::new(msg).at(loc).hint_opt(hint));
    }

    fn duration(&mut self, d: &Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(d) = d else { return default };
        match humantime::parse_duration(d.value.trim()) {
            Ok(v) if v > MAX_DURATION => {
                self.err(
                    format!("`{}` is longer than berth waits for anything", d.value),
                    self.at(d, d.value.chars().count()),
                    Some("durations are at most 7 days (`7d`)".into()),
                );
                default
            }
            Ok(v) if !v.is_zero() => v,
            _ => {
                self.err(
                    format!("`{}` is not a duration", d.value),
                    self.at(d, d.value.chars().count()),
                    Some("write a number with a unit, like `90s`, `15m` or `1h 30m`".into()),
                );
                default
            }
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        clean_join(self.dir, p)
    }

    /// A file that must exist (Dockerfile, template, task definition).
    fn file(&mut self, p: &Spanned<String>, base: &Path, what: &str, relative_to: &str) -> PathBuf {
        let full = clean_join(base, &p.value);
        let too_big = std::fs::metadata(&full)
            .is_ok_and(|m| m.is_file() && m.len() > crate::source::MAX_FILE_BYTES);
        if !full.is_file() || too_big {
            let why = if full.is_dir() {
                "is a folder, not a file".to_string()
            } else if too_big {
                format!(
                    "is larger than {} MiB, the most berth reads of a file",
                    crate::source::MAX_FILE_BYTES / 1024 / 1024
                )
            } else if full.exists() {
                "is not a regular file (a device or pipe)".to_string()
            } else {
                "does not exist".to_string()
            };
            self.err(
                format!("{what} `{}` {why}", crate::source::display_path(&full)),
                self.at(p, p.value.chars().count()),
                Some(format!(
                    "the path is relative to {relative_to} ({})",
                    rel(base)
                )),
            );
        }
        full
    }

    fn policy(
        &mut self,
        p: &Option<Spanned<PolicyDef>>,
        what: &str,
        lifecycle: bool,
    ) -> Option<String> {
        let p = p.as_ref()?;
        let (json, loc_source): (serde_json::Value, Option<Source>) = match &p.value {
            PolicyDef::Inline(v) => (v.clone(), None),
            PolicyDef::File(f) => {
                let full = self.path(f);
                let text = match crate::source::read_text(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        self.err(
                            format!(
                                "{what} file `{}` cannot be read: {e}",
                                crate::source::display_path(&full)
                            ),
                            self.at(p, f.chars().count()),
                            Some("paths are relative to the pipeline file".into()),
                        );
                        return None;
                    }
                };
                // A file that is not JSON at all (a token, a key pasted by mistake) is not
                // shown: only JSON that is broken gets its line quoted in the error.
                if !text.trim_start().starts_with(['{', '[']) {
                    self.err(
                        format!(
                            "{what} file `{}` is not JSON (it does not start with `{{`); its content is not shown",
                            crate::source::display_path(&full)
                        ),
                        self.at(p, f.chars().count()),
                        Some("point at a JSON policy document, or write the policy inline".into()),
                    );
                    return None;
                }
                let src = SourceFile::new(full.clone(), text);
                match serde_json::from_str(&src.text) {
                    Ok(v) => (v, Some(src)),
                    Err(e) => {
                        let loc =
                            Location::new(&src, Pos::new(e.line() as u32, e.column() as u32), 1);
                        let msg = e.to_string();
                        let msg = msg
                            .rsplit_once(" at line ")
                            .map(|(m, _)| m.to_string())
                            .unwrap_or(msg);
                        self.err(
                            format!(
                                "{what} `{}` is not valid JSON: {msg}",
                                crate::source::display_path(&full)
                            ),
                            loc,
                            None,
                        );
                        return None;
                    }
                }
            }
        };
        if lifecycle {
            if let Err(problem) = check_lifecycle_policy(&json) {
                let loc = match &loc_source {
                    Some(src) => Location::new(src, Pos::UNKNOWN, 1),
                    None => self.at(p, 1),
                };
                self.err(format!("{what} is not a valid ECR lifecycle policy: {problem}"), loc, Some("see https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html".into()));
            }
        } else if !json.is_object() {
            self.err(format!("{what} must be a JSON object"), self.at(p, 1), None);
        }
        Some(json.to_string())
    }
}

impl Validator<'_> {
    /// A CloudFormation template must load (YAML with short-form tags, or JSON), and every
    /// parameter the pipeline sets must be one the template declares.
    fn template_parameters(
        &mut self,
        template: &Path,
        set: &IndexMap<Spanned<String>, Spanned<String>>,
        capabilities: &[Spanned<String>],
        at: Location,
    ) {
        let Ok(text) = crate::source::read_text(template) else {
            return;
        };
        let src = SourceFile::new(template.to_path_buf(), text);
        let root = match super::node::parse(&src.text) {
            Ok(n) => n,
            Err((msg, pos)) => {
                self.diags.push(
                    Diagnostic::new(format!(
                        "CloudFormation template `{}` is not valid YAML or JSON: {msg}",
                        crate::source::display_path(template)
                    ))
                    .at(Location::new(&src, pos, 1)),
                );
                return;
            }
        };
        let shown = crate::source::display_path(template);
        let resources = root
            .get("Resources")
            .and_then(|r| r.as_map())
            .unwrap_or(&[]);
        if resources.is_empty() {
            self.diags.push(
                Diagnostic::new(format!(
                    "CloudFormation template `{shown}` has no `Resources`"
                ))
                .at(Location::new(&src, root.pos, 1))
                .hint("CloudFormation refuses a template without at least one resource"),
            );
        }
        let types = resources.iter().filter_map(|(_, r)| {
            let named = |keys: &[&str]| {
                r.get("Properties")
                    .is_some_and(|p| keys.iter().any(|k| p.get(k).is_some()))
            };
            let t = r.get("Type").and_then(super::node::Node::scalar_text)?;
            Some((t.to_string(), named))
        });
        let have = |c: &str| capabilities.iter().any(|x| x.value == c);
        let mut needed: Option<(&str, String)> = None;
        for (t, named) in types {
            let names = match t.as_str() {
                "AWS::IAM::Role" => &["RoleName"][..],
                "AWS::IAM::ManagedPolicy" => &["ManagedPolicyName"][..],
                "AWS::IAM::User" => &["UserName"][..],
                "AWS::IAM::Group" => &["GroupName"][..],
                "AWS::IAM::InstanceProfile" => &["InstanceProfileName"][..],
                "AWS::IAM::Policy" | "AWS::IAM::AccessKey" | "AWS::IAM::UserToGroupAddition" => {
                    &[][..]
                }
                _ => continue,
            };
            if !names.is_empty() && named(names) {
                needed = Some(("CAPABILITY_NAMED_IAM", t));
                break;
            }
            needed.get_or_insert(("CAPABILITY_IAM", t));
        }
        if let Some((cap, t)) = needed
            && !have("CAPABILITY_NAMED_IAM")
            && (cap == "CAPABILITY_NAMED_IAM" || !have("CAPABILITY_IAM"))
        {
            self.err(
                format!("template `{shown}` creates IAM resources ({t}), which CloudFormation only does with {cap}"),
                at,
                Some(format!("add `capabilities: [{cap}]` to the target, to acknowledge it")),
            );
        }
        let declared: Vec<String> = root
            .get("Parameters")
            .and_then(|p| p.as_map())
            .map(|m| m.iter().map(|(k, _)| k.name.clone()).collect())
            .unwrap_or_default();
        for k in set.keys() {
            if !declared.contains(&k.value) {
                let hint =
                    suggest(&k.value, declared.iter().map(String::as_str)).unwrap_or_else(|| {
                        if declared.is_empty() {
                            "the template declares no Parameters".to_string()
                        } else {
                            format!("the template's parameters: {}", declared.join(", "))
                        }
                    });
                self.err(
                    format!(
                        "parameter `{}` is not a parameter of template `{}`",
                        k.value,
                        crate::source::display_path(template)
                    ),
                    self.at(k, k.value.len()),
                    Some(hint),
                );
            }
        }
    }
}

/// The checks ECR applies to a lifecycle policy, done before any call so that a malformed
/// policy never leaves a half-configured repository behind.
pub fn check_lifecycle_policy(v: &serde_json::Value) -> Result<(), String> {
    let rules = v
        .get("rules")
        .and_then(|r| r.as_array())
        .ok_or("it needs a `rules` list")?;
    if rules.is_empty() {
        return Err("`rules` is empty".into());
    }
    let mut priorities = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        let n = i + 1;
        let prio = r
            .get("rulePriority")
            .and_then(|p| p.as_u64())
            .ok_or(format!("rule {n} needs an integer `rulePriority`"))?;
        if !priorities.insert(prio) {
            return Err(format!("rule {n}: rulePriority {prio} is used twice"));
        }
        let sel = r
            .get("selection")
            .ok_or(format!("rule {n} needs a `selection`"))?;
        let status = sel.get("tagStatus").and_then(|s| s.as_str()).unwrap_or("");
        if !["tagged", "untagged", "any"].contains(&status) {
            return Err(format!(
                "rule {n}: selection.tagStatus must be tagged, untagged or any"
            ));
        }
        if status == "tagged"
            && sel.get("tagPrefixList").is_none()
            && sel.get("tagPatternList").is_none()
        {
            return Err(format!(
                "rule {n}: tagStatus `tagged` needs tagPrefixList or tagPatternList"
            ));
        }
        match sel.get("countType").and_then(|s| s.as_str()) {
            Some("imageCountMoreThan") => {}
            Some("sinceImagePushed") => {
                if sel.get("countUnit").and_then(|s| s.as_str()) != Some("days") {
                    return Err(format!(
                        "rule {n}: countType sinceImagePushed needs countUnit `days`"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "rule {n}: selection.countType must be imageCountMoreThan or sinceImagePushed"
                ));
            }
        }
        if sel
            .get("countNumber")
            .and_then(|c| c.as_u64())
            .is_none_or(|c| c == 0)
        {
            return Err(format!(
                "rule {n}: selection.countNumber must be a positive integer"
            ));
        }
        if r.get("action")
            .and_then(|a| a.get("type"))
            .and_then(|t| t.as_str())
            != Some("expire")
        {
            return Err(format!("rule {n}: action.type must be `expire`"));
        }
    }
    Ok(())
}

/// `base` joined with `rel`, without `.` components and with `..` resolved lexically, so
/// messages show `services/web/Dockerfile` rather than `services/web/./Dockerfile`.
pub fn clean_join(base: &Path, rel: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn rel(p: &Path) -> String {
    let s = crate::source::display_path(p);
    if s.is_empty() { ".".into() } else { s }
}

const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

/// Files the pipeline points at, expanded when it was loaded: task definition templates by
/// target name, manifests by path.
#[derive(Default)]
pub struct Expanded {
    pub templates: std::collections::HashMap<String, String>,
    pub manifests: std::collections::HashMap<PathBuf, String>,
}

/// What `defaults` gives every image.
struct Defaults {
    project: String,
    aws: AwsAccess,
    tags: Option<Vec<Spanned<String>>>,
    builder: Option<Spanned<String>>,
    engines: builders::Engines,
}

pub fn build(
    file: PipelineFile,
    source: &Source,
    dir: &Path,
    environment: Option<String>,
    runtime_refs: &[RuntimeRef],
    expanded: &Expanded,
) -> Result<Pipeline, Vec<Diagnostic>> {
    let mut v = Validator {
        source,
        dir,
        diags: Vec::new(),
    };

    if file.version.value != 1 {
        v.err(
            format!("unsupported pipeline format version {}", file.version.value),
            v.at(&file.version, 1),
            Some("this berth reads `version: 1`".into()),
        );
    }

    let project = match &file.project {
        Some(p) => {
            if !valid_repository_name(&p.value) || p.value.contains('/') {
                v.err(
                    format!(
                        "project name `{}` cannot be used in repository names",
                        p.value
                    ),
                    v.at(p, p.value.len()),
                    Some("use lowercase letters, digits, `.`, `_` and `-`".into()),
                );
            }
            p.value.clone()
        }
        None => default_project(dir),
    };

    let defaults = Defaults {
        project: project.clone(),
        aws: AwsAccess {
            region: file.defaults.region.as_ref().map(|r| r.value.clone()),
            profile: file.defaults.profile.as_ref().map(|r| r.value.clone()),
            role: v.role(file.defaults.role(), &project),
        },
        tags: file.defaults.tags.clone(),
        builder: file.defaults.builder.clone(),
        engines: v.engines(&file),
    };

    // Images.
    let mut images = IndexMap::new();
    for (name, def) in &file.images {
        let img = v.image(name, def, &defaults);
        images.insert(name.value.clone(), img);
    }

    // Targets.
    let target_names: Vec<String> = file.targets.keys().map(|k| k.value.clone()).collect();
    let mut targets = IndexMap::new();
    for (name, def) in &file.targets {
        let t = v.target(
            name,
            def,
            &images,
            &target_names,
            &defaults,
            runtime_refs,
            expanded,
        );
        if let Some(t) = t {
            targets.insert(name.value.clone(), t);
        }
    }

    // Cycles, reported once each, at the `depends_on` entry that closes them.
    if let Some(cycle) = find_cycle(&targets) {
        let last = &cycle[cycle.len() - 2];
        let first = &cycle[cycle.len() - 1];
        let pos = file
            .targets
            .get(last.as_str())
            .and_then(|d| d.depends_on.iter().find(|x| &x.value == first))
            .map(|s| s.pos)
            .unwrap_or(Pos::UNKNOWN);
        v.err(
            format!("dependency cycle: {}", cycle.join(" → ")),
            Location::new(source, pos, first.len()),
            Some("remove one of these `depends_on` entries".into()),
        );
    } else {
        // Outputs can only be read from targets that are deployed before.
        for r in runtime_refs {
            if let [t, other, ..] = r.reference.path.as_slice()
                && t == "targets"
                && targets.contains_key(other)
                && !depends_transitively(&targets, &r.target, other)
            {
                v.diags.push(
                    Diagnostic::new(format!(
                        "target `{}` reads an output of `{other}` but does not depend on it",
                        r.target
                    ))
                    .at(r.location.clone())
                    .hint(format!(
                        "add `{other}` to `targets.{}.depends_on`",
                        r.target
                    )),
                );
            }
        }
    }

    if v.diags.is_empty() {
        Ok(Pipeline {
            source: source.clone(),
            dir: dir.to_path_buf(),
            project,
            environment,
            aws: defaults.aws,
            images,
            targets,
            builders: defaults.engines.builders,
        })
    } else {
        Err(v.diags)
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn default_project(dir: &Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| "app".into());
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if cleaned.len() < 2 {
        "app".into()
    } else {
        cleaned
    }
}

fn depends_transitively(targets: &IndexMap<String, Target>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(t) = stack.pop() {
        if !seen.insert(t.clone()) {
            continue;
        }
        for d in targets
            .get(&t)
            .map(|t| t.depends_on.as_slice())
            .unwrap_or(&[])
        {
            if d == to {
                return true;
            }
            stack.push(d.clone());
        }
    }
    false
}

/// The first dependency cycle, as a path that starts and ends with the same target.
pub fn find_cycle(targets: &IndexMap<String, Target>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: &str,
        targets: &IndexMap<String, Target>,
        marks: &mut IndexMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Active => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(n.to_string(), Mark::Active);
        path.push(n.to_string());
        for d in targets
            .get(n)
            .map(|t| t.depends_on.as_slice())
            .unwrap_or(&[])
        {
            if let Some(c) = visit(d, targets, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = IndexMap::new();
    for name in targets.keys() {
        if let Some(c) = visit(name, targets, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        assert!(valid_repository_name("shop/web"));
        assert!(valid_repository_name("a-b.c_d/e"));
        assert!(!valid_repository_name("Shop/web"));
        assert!(!valid_repository_name("shop//web"));
        assert!(!valid_repository_name("a"));
    }

    #[test]
    fn tags() {
        assert!(valid_tag("1a2b3c4-dirty"));
        assert!(valid_tag("v1.2.3"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag("a/b"));
        assert!(!valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn lifecycle_policy_checks() {
        let ok = serde_json::json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30}, "action": {"type": "expire"}}]});
        assert!(check_lifecycle_policy(&ok).is_ok());
        let bad = serde_json::json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan"}, "action": {"type": "expire"}}]});
        assert!(
            check_lifecycle_policy(&bad)
                .unwrap_err()
                .contains("countNumber")
        );
        assert!(check_lifecycle_policy(&serde_json::json!({})).is_err());
    }
}
