//! Images: build inputs, repository name, tags, ECR settings and build secrets.

use std::time::Duration;

use indexmap::IndexMap;

use super::super::model::*;
use super::super::raw;
use super::super::spanned::Spanned;
use super::{
    Defaults, Validator, clean_join, strings, valid_name, valid_repository_name, valid_tag,
};
use crate::error::{Diagnostic, quoted};

impl Validator<'_> {
    /// One image: its build inputs, repository, tags and ECR settings.
    pub(super) fn image(
        &mut self,
        name: &Spanned<String>,
        def: &raw::ImageDef,
        d: &Defaults,
    ) -> Image {
        let (project, default_tags) = (&d.project, &d.tags);
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
                    self.err(format!("`{}` is not a valid ECR repository name", quoted(&r.value)), self.at(r, r.value.len()), Some("use lowercase letters, digits, `.`, `_`, `-` and `/`, 2 to 256 characters".into()));
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
                self.err(format!("`{}` is not a valid image tag", quoted(&t.value)), self.at(t, t.value.chars().count()), Some("tags are up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`".into()));
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
            self.platform(p);
        }
        let (builders, platforms) = self.image_engines(name, def, &d.builder, &d.engines);
        let ecr = self.ecr(name, &def.ecr);
        let aws = self.access(&def.region, &def.profile, def.ecr.role(), &d.aws, project);
        let secrets = self.secrets(def);
        let (compression, manifest) = self.push_format(name, def);
        Image {
            name: name.value.clone(),
            pos: name.pos,
            context,
            dockerfile,
            target: def.target.as_ref().map(|t| t.value.clone()),
            build_args: strings(&def.build_args),
            labels: strings(&def.labels),
            platform: def.platform.as_ref().map(|p| p.value.clone()),
            platforms,
            builders,
            cache_from: def.cache_from.iter().map(|c| c.value.clone()).collect(),
            registry_cache: def.registry_cache.as_ref().map(|t| {
                if ecr.immutable_tags == Some(true) {
                    self.err(
                        format!("image `{}`: `registry_cache` needs a tag that moves, and the repository's tags are immutable", name.value),
                        self.at(t, t.value.chars().count()),
                        Some("remove `registry_cache`, or `ecr.immutable_tags`".into()),
                    );
                }
                as_tag(&t.value)
            }),
            network: def.network,
            push_via: def.push_via.unwrap_or_default(),
            compression,
            manifest,
            secrets,
            repository,
            tags,
            aws,
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
            replicate: e.replicate,
            replication_timeout: self.duration(&e.replication_timeout, Duration::from_secs(600)),
        }
    }

    /// An image's build secrets: each from an environment variable or a file.
    fn secrets(
        &mut self,
        def: &raw::ImageDef,
    ) -> IndexMap<String, super::super::model::SecretSource> {
        let dir = self.dir;
        let mut secrets = IndexMap::new();
        for (id, s) in &def.secrets {
            let source = match (&s.env, &s.file) {
                (Some(env), None) => super::super::model::SecretSource::Env(env.value.clone()),
                (None, Some(f)) => super::super::model::SecretSource::File(self.file(
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
}

/// `text` as an image tag: characters a tag cannot hold become `-` (a branch `feature/x`
/// gives `feature-x`), at most 128 characters, not starting with `.` or `-`.
pub fn as_tag(text: &str) -> String {
    let mut t: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if t.is_empty() || t.starts_with(['.', '-']) {
        t.insert(0, '_');
        t.truncate(128);
    }
    t
}

impl Validator<'_> {
    /// `compression` and `manifest`: zstd layers need an OCI manifest (Docker's has no media
    /// type for them), and both are berth's own push's to write, not `docker push`'s.
    fn push_format(
        &mut self,
        name: &Spanned<String>,
        def: &raw::ImageDef,
    ) -> (Compression, ManifestFormat) {
        let compression = def
            .compression
            .as_ref()
            .map(|c| c.value)
            .unwrap_or_default();
        let manifest = match (&def.manifest, compression) {
            (Some(m), Compression::Zstd) if m.value == ManifestFormat::Docker => {
                self.err(
                    format!("image `{}`: zstd layers need an OCI manifest", name.value),
                    self.at(m, "docker".len()),
                    Some("write `manifest: oci`, or leave `manifest` out".into()),
                );
                m.value
            }
            (Some(m), _) => m.value,
            (None, Compression::Zstd) => ManifestFormat::Oci,
            (None, Compression::Gzip) => ManifestFormat::Docker,
        };
        if def.push_via == Some(PushVia::Daemon) {
            let set = [
                def.compression
                    .as_ref()
                    .filter(|c| c.value != Compression::Gzip)
                    .map(|c| (c.pos, "compression", c.value.as_str())),
                def.manifest
                    .as_ref()
                    .filter(|m| m.value != ManifestFormat::Docker)
                    .map(|m| (m.pos, "manifest", m.value.as_str())),
            ];
            for (pos, key, value) in set.into_iter().flatten() {
                self.err(
                    format!("image `{}`: `{key}: {value}` needs berth's own push, and `push_via` is `daemon`", name.value),
                    self.at(&Spanned::new((), pos), value.len()),
                    Some(format!("remove `push_via: daemon` (docker push writes gzip layers and Docker manifests only), or `{key}`")),
                );
            }
        }
        (compression, manifest)
    }
}
