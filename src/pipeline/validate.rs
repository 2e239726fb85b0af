//! From the decoded file to the validated [`Pipeline`]: the checks that need more than one
//! value — names that must resolve, files that must exist, exactly one kind per target, a
//! dependency graph without cycles. Every problem found is collected, not just the first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use super::expand::RuntimeRef;
use super::model::*;
use super::raw::{self, PipelineFile, PolicyDef};
use super::spanned::Spanned;
use crate::error::{Diagnostic, suggest};
use crate::source::{Location, Pos, Source, SourceFile};

pub struct Validator<'a> {
    pub source: &'a Source,
    pub dir: &'a Path,
    pub diags: Vec<Diagnostic>,
}

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
        if !full.is_file() {
            let why = if full.is_dir() {
                "is a folder, not a file"
            } else {
                "does not exist"
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
                let text = match std::fs::read_to_string(&full) {
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
    ) {
        let Ok(text) = std::fs::read_to_string(template) else {
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

/// What `defaults` gives every image.
struct Defaults {
    project: String,
    region: Option<String>,
    profile: Option<String>,
    tags: Option<Vec<Spanned<String>>>,
}

impl Validator<'_> {
    /// One image: its build inputs, repository, tags and ECR settings.
    fn image(&mut self, name: &Spanned<String>, def: &raw::ImageDef, d: &Defaults) -> Image {
        let (project, region, profile, default_tags) = (&d.project, &d.region, &d.profile, &d.tags);
        let dir = self.dir;
        if !valid_name(&name.value) {
            self.err(
                format!("image name `{}` is not valid", name.value),
                self.at(name, name.value.len()),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        let context = match &def.context {
            Some(c) => {
                let p = self.path(&c.value);
                if !p.is_dir() {
                    self.err(
                        format!(
                            "build context `{}` is not a folder",
                            crate::source::display_path(&p)
                        ),
                        self.at(c, c.value.chars().count()),
                        Some("`context` is relative to the pipeline file".into()),
                    );
                }
                p
            }
            None => clean_join(dir, "."),
        };
        let dockerfile = match &def.dockerfile {
            Some(d) => self.file(d, &context, "Dockerfile", "the build context"),
            None => {
                let p = context.join("Dockerfile");
                if context.is_dir() && !p.is_file() {
                    self.err(
                        format!(
                            "image `{}` has no Dockerfile: `{}` does not exist",
                            name.value,
                            crate::source::display_path(&p)
                        ),
                        self.at(name, name.value.len()),
                        Some("add one, or set `dockerfile:` (relative to the context)".into()),
                    );
                }
                p
            }
        };
        let repository = match &def.repository {
            Some(r) => {
                if !valid_repository_name(&r.value) {
                    self.err(format!("`{}` is not a valid ECR repository name", r.value), self.at(r, r.value.len()), Some("use lowercase letters, digits, `.`, `_`, `-` and `/`, 2 to 256 characters".into()));
                }
                r.value.clone()
            }
            None => format!("{project}/{}", name.value.to_ascii_lowercase()),
        };
        let mut tags = Vec::new();
        for t in def
            .tags
            .as_ref()
            .or(default_tags.as_ref())
            .into_iter()
            .flatten()
        {
            if !valid_tag(&t.value) {
                self.err(format!("`{}` is not a valid image tag", t.value), self.at(t, t.value.chars().count()), Some("tags are up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`".into()));
            } else if !tags.contains(&t.value) {
                tags.push(t.value.clone());
            }
        }
        if def.tags.is_some() && tags.is_empty() && self.diags.is_empty() {
            self.err(
                format!("image `{}` has an empty tag list", name.value),
                self.at(name, name.value.len()),
                Some("give at least one tag, or remove `tags:` to use the defaults".into()),
            );
        }
        if let Some(p) = &def.platform {
            let parts: Vec<&str> = p.value.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                self.err(
                    format!("`{}` is not a platform", p.value),
                    self.at(p, p.value.len()),
                    Some("write os/arch[/variant], like `linux/amd64` or `linux/arm64`".into()),
                );
            }
        }
        let ecr = self.ecr(name, &def.ecr);
        let secrets = self.secrets(def);
        Image {
            name: name.value.clone(),
            pos: name.pos,
            context,
            dockerfile,
            target: def.target.as_ref().map(|t| t.value.clone()),
            build_args: strings(&def.build_args),
            labels: strings(&def.labels),
            platform: def.platform.as_ref().map(|p| p.value.clone()),
            cache_from: def.cache_from.iter().map(|c| c.value.clone()).collect(),
            network: def.network,
            secrets,
            repository,
            tags,
            region: def
                .region
                .as_ref()
                .map(|r| r.value.clone())
                .or_else(|| region.clone()),
            profile: def
                .profile
                .as_ref()
                .map(|r| r.value.clone())
                .or_else(|| profile.clone()),
            ecr,
        }
    }

    /// An image's `ecr:` settings.
    fn ecr(&mut self, name: &Spanned<String>, e: &raw::EcrDef) -> EcrSettings {
        let encryption = e.encryption.as_ref().map(|enc| {
            match (enc.kind, &enc.kms_key) {
                (raw::EncryptionType::KMS, None) => self.diags.push(
                    Diagnostic::new(format!(
                        "image `{}`: KMS encryption needs `kms_key`",
                        name.value
                    ))
                    .at(self.at(name, name.value.len())),
                ),
                (raw::EncryptionType::AES256, Some(k)) => self.err(
                    "`kms_key` only applies to `type: KMS`",
                    self.at(k, k.value.len()),
                    None,
                ),
                _ => {}
            }
            (enc.kind, enc.kms_key.as_ref().map(|k| k.value.clone()))
        });
        let scan_gate = e.scan_gate.as_ref().map(|g| ScanGate {
            fail_on: g.fail_on,
            ignore: g.ignore.clone(),
            timeout: self.duration(&g.timeout, Duration::from_secs(600)),
        });
        if scan_gate.is_some() && e.scan_on_push == Some(false) {
            self.err(
                format!(
                    "image `{}` has a scan gate but `scan_on_push: false`",
                    name.value
                ),
                self.at(name, name.value.len()),
                Some(
                    "set `ecr.scan_on_push: true`, or the gate waits for a scan that never starts"
                        .into(),
                ),
            );
        }
        EcrSettings {
            create: e.create.unwrap_or(true),
            scan_on_push: e.scan_on_push,
            immutable_tags: e.immutable_tags,
            lifecycle_policy: self.policy(&e.lifecycle_policy, "lifecycle policy", true),
            repository_policy: self.policy(&e.repository_policy, "repository policy", false),
            encryption,
            tags: strings(&e.tags),
            scan_gate,
        }
    }

    /// An image's build secrets: each from an environment variable or a file.
    fn secrets(&mut self, def: &raw::ImageDef) -> IndexMap<String, super::model::SecretSource> {
        let dir = self.dir;
        let mut secrets = IndexMap::new();
        for (id, s) in &def.secrets {
            let source = match (&s.env, &s.file) {
                (Some(env), None) => super::model::SecretSource::Env(env.value.clone()),
                (None, Some(f)) => super::model::SecretSource::File(self.file(
                    f,
                    dir,
                    "secret file",
                    "the pipeline file",
                )),
                _ => {
                    self.err(
                        format!("secret `{}` needs one of `env` or `file`", id.value),
                        self.at(id, id.value.len()),
                        Some(
                            "`env: NAME` reads an environment variable, `file: path` a file".into(),
                        ),
                    );
                    continue;
                }
            };
            secrets.insert(id.value.clone(), source);
        }
        secrets
    }

    /// One target: its kind, the images it uses, what it depends on.
    #[allow(clippy::too_many_arguments)]
    fn target(
        &mut self,
        name: &Spanned<String>,
        def: &raw::TargetDef,
        images: &IndexMap<String, Image>,
        target_names: &[String],
        defaults: &Defaults,
        runtime_refs: &[RuntimeRef],
        templates: &std::collections::HashMap<String, String>,
    ) -> Option<Target> {
        let image_names: Vec<String> = images.keys().cloned().collect();
        let loc = self.at(name, name.value.len());
        let mut kinds = Vec::new();
        if let Some(e) = &def.ecs {
            kinds.push(("ecs", e.pos));
        }
        if let Some(c) = &def.cloudformation {
            kinds.push(("cloudformation", c.pos));
        }
        if let Some(k) = &def.eks {
            kinds.push(("eks", k.pos));
        }
        if kinds.len() > 1 {
            let names: Vec<&str> = kinds.iter().map(|k| k.0).collect();
            self.err(format!("target `{}` has {} kinds ({}); a target deploys to exactly one", name.value, kinds.len(), names.join(", ")), loc.clone(), Some("split it into one target per kind, linked with `depends_on` if the order matters".into()));
            return None;
        }
        let mut used_images: Vec<String> = Vec::new();
        let kind = if let Some(e) = &def.ecs {
            self.ecs_target(name, e, &image_names, &mut used_images, templates)
        } else if let Some(c) = &def.cloudformation {
            self.cfn_target(c)
        } else if let Some(k) = &def.eks {
            self.eks_target(name, k, images, &mut used_images)
        } else {
            self.err(
                format!("target `{}` has no kind", name.value),
                loc,
                Some("add one of `ecs:`, `cloudformation:` or `eks:`".into()),
            );
            return None;
        };
        for r in runtime_refs.iter().filter(|r| r.target == name.value) {
            if let [a, img, _] = r.reference.path.as_slice()
                && a == "images"
                && !used_images.contains(img)
            {
                used_images.push(img.clone());
            }
        }
        let mut depends_on = Vec::new();
        for d in &def.depends_on {
            if d.value == name.value {
                self.err(
                    format!("target `{}` depends on itself", name.value),
                    self.at(d, d.value.len()),
                    None,
                );
            } else if !target_names.contains(&d.value) {
                let hint = suggest(&d.value, target_names.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!("targets in this file: {}", target_names.join(", "))
                    });
                self.err(
                    format!("unknown target `{}` in `depends_on`", d.value),
                    self.at(d, d.value.len()),
                    Some(hint),
                );
            } else if !depends_on.contains(&d.value) {
                depends_on.push(d.value.clone());
            }
        }
        Some(Target {
            name: name.value.clone(),
            pos: name.pos,
            kind,
            depends_on,
            images: used_images,
            region: def
                .region
                .as_ref()
                .map(|r| r.value.clone())
                .or_else(|| defaults.region.clone()),
            profile: def
                .profile
                .as_ref()
                .map(|r| r.value.clone())
                .or_else(|| defaults.profile.clone()),
        })
    }

    /// The images a container map names: each must be one of the pipeline's; the used ones
    /// are added to `used` in first-use order.
    fn containers(
        &mut self,
        m: &IndexMap<Spanned<String>, Spanned<String>>,
        image_names: &[String],
        used: &mut Vec<String>,
    ) {
        for img in m.values() {
            if image_names.contains(&img.value) {
                if !used.contains(&img.value) {
                    used.push(img.value.clone());
                }
            } else {
                let hint = suggest(&img.value, image_names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("images in this file: {}", image_names.join(", ")));
                self.err(
                    format!("unknown image `{}`", img.value),
                    self.at(img, img.value.len()),
                    Some(hint),
                );
            }
        }
    }

    fn ecs_target(
        &mut self,
        name: &Spanned<String>,
        e: &Spanned<raw::EcsDef>,
        image_names: &[String],
        used_images: &mut Vec<String>,
        templates: &std::collections::HashMap<String, String>,
    ) -> TargetKind {
        let dir = self.dir;
        self.containers(&e.containers, image_names, used_images);
        let timeout = self.duration(&e.timeout, Duration::from_secs(900));
        TargetKind::Ecs(EcsTarget {
            cluster: e.cluster.value.clone(),
            service: e.service.value.clone(),
            containers: strings(&e.containers),
            task_definition: e
                .task_definition
                .as_ref()
                .map(|t| self.file(t, dir, "task definition template", "the pipeline file")),
            task_definition_text: templates.get(&name.value).cloned(),
            run_before: e.run_before.as_ref().map(|r| RunBefore {
                container: r.container.value.clone(),
                command: r.command.clone(),
                timeout: self.duration(&r.timeout, timeout),
            }),
            timeout,
            poll_interval: self.duration(&e.poll_interval, Duration::from_secs(5)),
            rollback: e.rollback.unwrap_or_default(),
        })
    }

    fn cfn_target(&mut self, c: &Spanned<raw::CloudFormationDef>) -> TargetKind {
        let dir = self.dir;
        for cap in &c.capabilities {
            if !CAPABILITIES.contains(&cap.value.as_str()) {
                let hint = suggest(&cap.value, CAPABILITIES)
                    .unwrap_or_else(|| format!("allowed: {}", CAPABILITIES.join(", ")));
                self.err(
                    format!("unknown capability `{}`", cap.value),
                    self.at(cap, cap.value.len()),
                    Some(hint),
                );
            }
        }
        let template = self.file(
            &c.template,
            dir,
            "CloudFormation template",
            "the pipeline file",
        );
        self.template_parameters(&template, &c.parameters);
        TargetKind::CloudFormation(CfnTarget {
            stack: c.stack.value.clone(),
            template,
            parameters: strings(&c.parameters),
            capabilities: c.capabilities.iter().map(|s| s.value.clone()).collect(),
            tags: strings(&c.tags),
            role_arn: c.role_arn.as_ref().map(|s| s.value.clone()),
            notification_arns: c
                .notification_arns
                .iter()
                .map(|s| s.value.clone())
                .collect(),
            termination_protection: c.termination_protection,
            s3_bucket: c.s3_bucket.as_ref().map(|s| s.value.clone()),
            timeout: self.duration(&c.timeout, Duration::from_secs(1800)),
        })
    }

    fn eks_target(
        &mut self,
        name: &Spanned<String>,
        k: &Spanned<raw::EksDef>,
        images: &IndexMap<String, Image>,
        used_images: &mut Vec<String>,
    ) -> TargetKind {
        let (source, image_names) = (self.source, &images.keys().cloned().collect::<Vec<_>>());
        let kloc = Location::new(source, k.pos, 1);
        let connection = match (&k.cluster, &k.context) {
            (Some(c), None) => EksConnection::Cluster(c.value.clone()),
            (None, Some(c)) => EksConnection::Context(c.value.clone()),
            (Some(_), Some(c)) => {
                self.err("`cluster` and `context` are alternatives; set one", self.at(c, 7), Some("`cluster` makes berth authenticate to EKS itself; `context` uses a kubeconfig context".into()));
                EksConnection::Context(c.value.clone())
            }
            (None, None) => {
                self.err(
                    format!("eks target `{}` needs `cluster` or `context`", name.value),
                    kloc.clone(),
                    None,
                );
                EksConnection::Context(String::new())
            }
        };
        let workload = match (&k.manifests, &k.deployment) {
            (Some(ms), None) => {
                if !k.containers.is_empty() {
                    self.err("`containers` goes with `deployment`; manifests get their images by repository name", kloc.clone(), None);
                }
                let mut files = Vec::new();
                for m in ms {
                    let p = self.path(&m.value);
                    if p.is_dir() {
                        let mut found = manifest_files(&p);
                        if found.is_empty() {
                            self.err(
                                format!(
                                    "manifest folder `{}` has no .yaml, .yml or .json files",
                                    crate::source::display_path(&p)
                                ),
                                self.at(m, m.value.len()),
                                None,
                            );
                        }
                        files.append(&mut found);
                    } else if p.is_file() {
                        files.push(p);
                    } else {
                        self.err(
                            format!(
                                "manifest `{}` does not exist",
                                crate::source::display_path(&p)
                            ),
                            self.at(m, m.value.len()),
                            Some("paths are relative to the pipeline file".into()),
                        );
                    }
                }
                // The images the target deploys are those its manifests name (by
                // repository or key); reading them now also finds broken YAML before
                // anything runs.
                let objects = match super::manifest::load(&files) {
                    Ok(mut objects) => {
                        let repos: Vec<(String, String)> = images
                            .iter()
                            .map(|(k, i): (&String, &Image)| (k.clone(), i.repository.clone()))
                            .collect();
                        for img in super::manifest::referenced(&mut objects, &repos) {
                            if !used_images.contains(&img) {
                                used_images.push(img);
                            }
                        }
                        objects
                    }
                    Err(e) => {
                        let at = ms
                            .first()
                            .map(|m| self.at(m, m.value.len()))
                            .unwrap_or(kloc.clone());
                        let d = e.diagnostics().remove(0);
                        self.err(d.message, at, d.hint);
                        Vec::new()
                    }
                };
                EksWorkload::Manifests { files, objects }
            }
            (None, Some(d)) => {
                if k.containers.is_empty() {
                    self.err(
                        "`deployment` needs `containers` (container name -> image name)",
                        self.at(d, d.value.len()),
                        None,
                    );
                }
                self.containers(&k.containers, image_names, used_images);
                EksWorkload::Deployment {
                    name: d.value.clone(),
                    containers: strings(&k.containers),
                }
            }
            (Some(_), Some(d)) => {
                self.err(
                    "`manifests` and `deployment` are alternatives; set one",
                    self.at(d, d.value.len()),
                    None,
                );
                EksWorkload::Manifests {
                    files: Vec::new(),
                    objects: Vec::new(),
                }
            }
            (None, None) => {
                self.err(
                    format!(
                        "eks target `{}` needs `manifests` or `deployment`",
                        name.value
                    ),
                    kloc.clone(),
                    None,
                );
                EksWorkload::Manifests {
                    files: Vec::new(),
                    objects: Vec::new(),
                }
            }
        };
        TargetKind::Eks(EksTarget {
            connection,
            namespace: k
                .namespace
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_else(|| "default".into()),
            workload,
            timeout: self.duration(&k.timeout, Duration::from_secs(600)),
            rollback: k.rollback.unwrap_or_default(),
        })
    }
}

pub fn build(
    file: PipelineFile,
    source: &Source,
    dir: &Path,
    environment: Option<String>,
    runtime_refs: &[RuntimeRef],
    templates: &std::collections::HashMap<String, String>,
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
        region: file.defaults.region.as_ref().map(|r| r.value.clone()),
        profile: file.defaults.profile.as_ref().map(|r| r.value.clone()),
        tags: file.defaults.tags.clone(),
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
            templates,
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
            region: defaults.region,
            profile: defaults.profile,
            images,
            targets,
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

/// Manifest files in a folder (recursively), sorted so that apply order is stable.
pub fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
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
