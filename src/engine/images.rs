//! The build and push steps, written against the traits in [`super::ports`].
//!
//! Skipping work is the point: an image is described by a *content digest* over everything
//! that goes into it (see `docker::context`), stored as the label [`CONTENT_LABEL`].
//! - `build` reuses a local image with that label instead of building again;
//! - before building for a push, the registry is asked what the wanted tags hold: when they
//!   already hold an image with our content label, nothing is built or pushed (`unchanged`);
//!   when only some do, the others are added by re-tagging the manifest (no layer moves);
//! - a tag that already points at the very image we have (same config digest) is not pushed
//!   again — which also makes re-pushing to an immutable tag succeed when nothing changed,
//!   while a different image under an immutable tag is an error that names both.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::try_join_all;

use super::executor::{Outcome, Ran};
use super::ports::*;
use super::step::StepCtx;
use crate::error::{Diagnostic, Error, Result};
use crate::pipeline::Pipeline;
use crate::pipeline::model::{Image, PushVia};

/// The label that carries an image's content digest.
pub const CONTENT_LABEL: &str = "dev.berth.content-digest";

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub no_cache: bool,
    pub pull: bool,
    /// `--push-via`: overrides every image's `push_via`.
    pub push_via: Option<PushVia>,
}

/// What a build step hands to the push step.
#[derive(Clone, Debug)]
pub struct Built {
    pub image: String,
    pub content_digest: String,
    pub found: Found,
}

/// Where the content of a build step is.
#[derive(Clone, Debug)]
pub enum Found {
    /// The registry already holds this content, under the wanted tags in `tags_present`
    /// (for a push: nothing is built; missing tags are added by re-tagging).
    InRegistry {
        repository: RepositoryInfo,
        credentials: RegistryCredentials,
        manifest: RemoteManifest,
        tags_present: Vec<String>,
    },
    /// A local image: built now (`built`) or reused from an earlier build of this content.
    Local {
        image: LocalImage,
        built: bool,
        /// The repository and credentials, when the registry was asked first (for a push).
        registry: Option<(RepositoryInfo, RegistryCredentials)>,
    },
    /// One local image per platform (`platforms:`), on the builders that made them.
    Platforms {
        images: Vec<PlatformImage>,
        registry: Option<(RepositoryInfo, RegistryCredentials)>,
    },
}

impl Built {
    pub fn was_built(&self) -> bool {
        match &self.found {
            Found::Local { built, .. } => *built,
            Found::Platforms { images, .. } => images.iter().any(|i| i.built),
            Found::InRegistry { .. } => false,
        }
    }
}

/// The content a manifest must hold.
pub enum Wanted<'a> {
    /// One image with this content digest.
    One(&'a str),
    /// An index with exactly these (platform, content digest) images.
    Platforms(&'a [(String, String)]),
}

/// One platform's image, on the builder that built (or holds) it.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    pub platform: String,
    pub image: LocalImage,
    pub built: bool,
}

/// What a push step hands to the deploys: exactly which image is in the registry.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub image: String,
    pub repository: RepositoryInfo,
    /// The manifest digest in the registry.
    pub digest: String,
    /// Whether anything was written to the registry (layers, manifests, tags).
    pub pushed: bool,
    /// Findings that stopped the scan gate (at or above `fail_on`, not ignored).
    pub findings: Vec<Finding>,
}

/// What pushing an image would do (`plan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImagePlan {
    /// The repository holds this content: nothing to build or upload; `missing` are the
    /// wanted tags to add (by re-tagging, no layer moves).
    InRegistry {
        uri: String,
        digest: String,
        missing: Vec<String>,
    },
    /// The daemon has an image of this content: push it, no build.
    Local,
    /// Build, then push.
    Build,
}

/// How many of the images pushed last are searched for an image of the same content.
const RECENT_IMAGES: usize = 10;

/// The content label of image configs already read, by config digest.
#[derive(Default)]
pub(super) struct LabelCache(HashMap<String, Option<String>>);

impl LabelCache {
    pub(super) async fn content(
        &mut self,
        steps: &ImageSteps,
        repo: &RepositoryInfo,
        creds: &RegistryCredentials,
        m: &RemoteManifest,
    ) -> Result<Option<String>> {
        let Some(config) = &m.config_digest else {
            return Ok(None);
        };
        if let Some(c) = self.0.get(config) {
            return Ok(c.clone());
        }
        let labels = steps
            .registry
            .labels(&repo.endpoint, creds, &repo.name, config)
            .await?;
        let c = labels.get(CONTENT_LABEL).cloned();
        self.0.insert(config.clone(), c.clone());
        Ok(c)
    }
}

/// The image steps. Every adapter is there whatever the command: building them is free (no
/// call is made until a step needs one), so no step can meet a missing adapter.
pub struct ImageSteps {
    pub pipeline: Arc<Pipeline>,
    /// The Docker Engines, each with its own push paths (berth's, and the engine's own).
    pub builders: Arc<super::builders::Builders>,
    pub repositories: Arc<dyn Repositories>,
    pub registry: Arc<dyn RegistryReader>,
    pub options: BuildOptions,
    /// Labels berth adds that describe the build, not the content (revision, creation time).
    pub extra_labels: Vec<(String, String)>,
}

pub fn repository_spec(img: &Image) -> RepositorySpec {
    RepositorySpec {
        name: img.repository.clone(),
        aws: img.aws.clone(),
        create: img.ecr.create,
        scan_on_push: img.ecr.scan_on_push,
        immutable_tags: img.ecr.immutable_tags,
        lifecycle_policy: img.ecr.lifecycle_policy.clone(),
        repository_policy: img.ecr.repository_policy.clone(),
        encryption: img.ecr.encryption.clone(),
        tags: img
            .ecr
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

impl ImageSteps {
    pub(super) fn request(&self, img: &Image) -> BuildRequest {
        let mut labels: Vec<(String, String)> = img
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        BuildRequest {
            image: img.name.clone(),
            context: img.context.clone(),
            dockerfile: img.dockerfile.clone(),
            target: img.target.clone(),
            build_args: img
                .build_args
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            labels,
            build_labels: Vec::new(),
            platform: img.platform.clone(),
            cache_from: img.cache_from.clone(),
            network: img.network,
            secrets: img
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            no_cache: self.options.no_cache,
            pull: self.options.pull,
            tags: img
                .tags
                .iter()
                .map(|t| format!("{}:{t}", img.repository))
                .collect(),
        }
    }

    /// The build step. With `for_push`, first asks the registry whether the work is done.
    pub async fn build(&self, img: &Image, for_push: bool, ctx: &StepCtx) -> Ran<Built> {
        match self.build_inner(img, for_push, ctx).await {
            Ok((outcome, built)) => Ran::new(Ok(outcome), Some(built)),
            Err(e) => Ran::failed(e),
        }
    }

    async fn build_inner(
        &self,
        img: &Image,
        for_push: bool,
        ctx: &StepCtx,
    ) -> Result<(Outcome, Built)> {
        let req = self.request(img);
        for (name, _) in req.build_args.iter().filter(|(n, _)| looks_secret(n)) {
            ctx.warn(format!(
                "build arg `{name}` looks like a secret: build args are kept in the image (`docker history` shows them); pass it with `secrets:` instead"
            ));
        }
        if !img.platforms.is_empty() {
            return self.build_platforms(img, for_push, ctx).await;
        }
        ctx.progress("hashing the build context");
        let digest = self.builders.content_digest(&req).await?;
        let done = |found| Built {
            image: img.name.clone(),
            content_digest: digest.clone(),
            found,
        };
        let registry = match self
            .registry_first(img, &Wanted::One(&digest), for_push, ctx)
            .await?
        {
            Ok(found) => return Ok((Outcome::Unchanged, done(found))),
            Err(registry) => registry,
        };
        let (local, built) = self
            .local_image(img, req, &digest, registry.as_ref(), None, ctx)
            .await?;
        let outcome = if built {
            Outcome::Done
        } else {
            Outcome::Unchanged
        };
        Ok((
            outcome,
            done(Found::Local {
                image: local,
                built,
                registry,
            }),
        ))
    }

    /// An image of this content on one of the image's builders (for `platform`, with
    /// `platforms`): one a builder already has, else a new build on the first builder with
    /// a free slot. True when it was built now. Tagged with the wanted tags either way.
    pub(super) async fn local_image(
        &self,
        img: &Image,
        mut req: BuildRequest,
        digest: &str,
        registry: Option<&(RepositoryInfo, RegistryCredentials)>,
        platform: Option<&str>,
        ctx: &StepCtx,
    ) -> Result<(LocalImage, bool)> {
        let candidates = self.builders.candidates(img, platform);
        let found = if self.options.no_cache {
            None
        } else {
            self.find_local(&candidates, digest, ctx).await?
        };
        let (local, built) = match found {
            Some(local) => {
                ctx.progress(format!(
                    "reusing local image {} built from the same content{}",
                    short(&local.id),
                    self.on(&local)
                ));
                (local, false)
            }
            None => {
                req.build_labels = self.extra_labels.clone();
                let local = self
                    .builders
                    .build_somewhere(&img.name, &candidates, ctx, |engine| {
                        let mut req = req.clone();
                        Box::pin(async move {
                            if let Some(tag) = &img.registry_cache
                                && !self.options.no_cache
                                && let Some(r) =
                                    self.pull_cache(img, tag, registry, &engine, ctx).await
                            {
                                req.cache_from.push(r);
                            }
                            engine.builder.build(&req, digest, ctx).await
                        })
                    })
                    .await?;
                (local, true)
            }
        };
        let engine = self.builders.of(&local)?;
        for t in &img.tags {
            engine.builder.tag(&local, &img.repository, t).await?;
        }
        Ok((local, built))
    }

    /// ` on builder `x``, when the image is not on the default builder.
    fn on(&self, local: &LocalImage) -> String {
        if local.builder == crate::pipeline::model::DEFAULT_BUILDER {
            String::new()
        } else {
            format!(" on builder `{}`", local.builder)
        }
    }

    /// A local image carrying this content on one of `candidates`, asked all at once. An
    /// engine that does not answer is passed over here: the build finds out for sure.
    async fn find_local(
        &self,
        candidates: &[Arc<super::builders::Engine>],
        digest: &str,
        ctx: &StepCtx,
    ) -> Result<Option<LocalImage>> {
        // Engines lost earlier in the run are not asked again.
        let candidates: Vec<_> = candidates
            .iter()
            .filter(|e| !self.builders.is_lost(&e.name))
            .cloned()
            .collect();
        let answers =
            futures_util::future::join_all(candidates.iter().map(|e| e.builder.find_local(digest)))
                .await;
        for (engine, answer) in candidates.iter().zip(answers) {
            match answer {
                Ok(Some(local)) => return Ok(Some(local)),
                Ok(None) => {}
                Err(e)
                    if candidates.len() > 1 && e.kind() == crate::error::ErrorKind::Unreachable =>
                {
                    ctx.log(format!("builder `{}` did not answer: {e}", engine.name));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// For a push (unless `--no-cache`), asks the repository first: `Ok` with what it holds
    /// when it holds the wanted content (nothing to build), else `Err` with the repository
    /// and credentials the push will use (None when it was not asked).
    pub(super) async fn registry_first(
        &self,
        img: &Image,
        wanted: &Wanted<'_>,
        for_push: bool,
        ctx: &StepCtx,
    ) -> Result<std::result::Result<Found, Option<(RepositoryInfo, RegistryCredentials)>>> {
        if !for_push || self.options.no_cache {
            return Ok(Err(None));
        }
        let (repository, credentials, hit) = self.in_registry(img, wanted, ctx).await?;
        Ok(match hit {
            Some((manifest, tags_present)) => Ok(Found::InRegistry {
                repository,
                credentials,
                manifest,
                tags_present,
            }),
            None => Err(Some((repository, credentials))),
        })
    }

    /// Asks the repository whether it holds this content already: the first such manifest
    /// and the wanted tags that hold it.
    async fn in_registry(
        &self,
        img: &Image,
        wanted: &Wanted<'_>,
        ctx: &StepCtx,
    ) -> Result<(
        RepositoryInfo,
        RegistryCredentials,
        Option<(RemoteManifest, Vec<String>)>,
    )> {
        let spec = repository_spec(img);
        ctx.progress(format!("checking repository {}", spec.name));
        let repo = self.repositories.ensure(&spec, ctx).await?;
        let creds = self.repositories.credentials(&spec, &repo.endpoint).await?;
        let found = self.find_content(img, &repo, &creds, wanted).await?;
        if let Some((m, present)) = &found {
            ctx.progress(if present.len() == img.tags.len() {
                format!("{} already holds this content under every tag", repo.name)
            } else if present.is_empty() {
                format!(
                    "{} holds this content as {} (pushed before under other tags); the tags will be added",
                    repo.name,
                    short(&m.digest)
                )
            } else {
                format!(
                    "{} holds this content under {}; the other tags will be added",
                    repo.name,
                    present.join(", ")
                )
            });
        }
        Ok((repo, creds, found))
    }

    /// The manifest in `repo` whose image carries content digest `digest`, and the wanted
    /// tags that hold it. The wanted tags are asked first; then the images pushed most
    /// recently, so that a commit that changed nothing in the image (a new `${git.sha}`
    /// tag, the same content) re-tags instead of building again.
    pub(super) async fn find_content(
        &self,
        img: &Image,
        repo: &RepositoryInfo,
        creds: &RegistryCredentials,
        wanted: &Wanted<'_>,
    ) -> Result<Option<(RemoteManifest, Vec<String>)>> {
        let mut labels = LabelCache::default();
        let mut found: Option<RemoteManifest> = None;
        let mut present = Vec::new();
        let mut asked = Vec::new();
        for tag in &img.tags {
            let Some(m) = self
                .registry
                .manifest(&repo.endpoint, creds, &repo.name, tag)
                .await?
            else {
                continue;
            };
            asked.push(m.digest.clone());
            if self
                .holds_content(img, repo, creds, &m, wanted, &mut labels)
                .await?
            {
                present.push(tag.clone());
                found.get_or_insert(m);
            }
        }
        if found.is_some() {
            return Ok(found.map(|m| (m, present)));
        }
        // The recent images are asked all at once (a manifest and a config each): this runs
        // before every build of new content, so its cost is round trips, not bytes.
        let spec = repository_spec(img);
        let recent: Vec<String> = self
            .repositories
            .recent(&spec, RECENT_IMAGES)
            .await?
            .into_iter()
            .filter(|d| !asked.contains(d))
            .collect();
        let found = try_join_all(recent.iter().map(|d| async move {
            let Some(m) = self
                .registry
                .manifest(&repo.endpoint, creds, &repo.name, d)
                .await?
            else {
                return Ok(None);
            };
            let mut own = LabelCache::default();
            let holds = self
                .holds_content(img, repo, creds, &m, wanted, &mut own)
                .await?;
            Ok::<_, Error>(holds.then_some(m))
        }))
        .await?;
        // The newest one that holds it.
        Ok(found.into_iter().flatten().next().map(|m| (m, Vec::new())))
    }

    /// What `push` would do for `img`, with read-only calls only (for `plan`): whether the
    /// registry or the daemon already has its content.
    pub async fn probe(&self, img: &Image) -> Result<ImagePlan> {
        if !img.platforms.is_empty() {
            return self.probe_platforms(img).await;
        }
        let req = self.request(img);
        let digest = self.builders.content_digest(&req).await?;
        if !self.options.no_cache
            && let Some(plan) = self.probe_registry(img, &Wanted::One(&digest)).await?
        {
            return Ok(plan);
        }
        // The daemon is only asked when the registry does not have it; a daemon that does
        // not answer means the plan cannot tell, which is not an error of the plan.
        let candidates = self.builders.candidates(img, None);
        if !self.options.no_cache
            && let Ok(Some(_)) = self
                .find_local(&candidates, &digest, &StepCtx::quiet())
                .await
        {
            return Ok(ImagePlan::Local);
        }
        Ok(ImagePlan::Build)
    }

    /// What the repository holds of `wanted`, read-only (for `plan`): None when it holds
    /// nothing of it (or does not exist).
    pub(super) async fn probe_registry(
        &self,
        img: &Image,
        wanted: &Wanted<'_>,
    ) -> Result<Option<ImagePlan>> {
        let spec = repository_spec(img);
        let Some(repo) = self.repositories.lookup(&spec).await? else {
            return Ok(None);
        };
        let creds = self.repositories.credentials(&spec, &repo.endpoint).await?;
        let Some((m, present)) = self.find_content(img, &repo, &creds, wanted).await? else {
            return Ok(None);
        };
        let missing = img
            .tags
            .iter()
            .filter(|t| !present.contains(t))
            .cloned()
            .collect();
        Ok(Some(ImagePlan::InRegistry {
            uri: repo.uri,
            digest: m.digest,
            missing,
        }))
    }

    /// Pulls the registry build cache (`registry_cache`) into the daemon; the reference to
    /// build with, or None when there is none yet. The cache only ever saves work, so a
    /// cache that cannot be pulled is a warning, not a failure.
    async fn pull_cache(
        &self,
        img: &Image,
        tag: &str,
        registry: Option<&(RepositoryInfo, RegistryCredentials)>,
        engine: &super::builders::Engine,
        ctx: &StepCtx,
    ) -> Option<String> {
        let (repo, creds) = match registry {
            Some((r, c)) => (r.clone(), c.clone()),
            None => {
                let spec = repository_spec(img);
                let repo = self.repositories.lookup(&spec).await.ok()??;
                let creds = self
                    .repositories
                    .credentials(&spec, &repo.endpoint)
                    .await
                    .ok()?;
                (repo, creds)
            }
        };
        ctx.progress(format!("pulling the build cache {}:{tag}", repo.uri));
        match engine.builder.pull(&repo.uri, tag, &creds).await {
            Ok(true) => Some(format!("{}:{tag}", repo.uri)),
            Ok(false) => {
                ctx.log(format!("no build cache at {}:{tag} yet", repo.uri));
                None
            }
            Err(e) => {
                ctx.warn(format!("building without the registry cache: {e}"));
                None
            }
        }
    }

    /// Points the registry cache tag at what was pushed (no layer moves).
    async fn keep_cache(&self, img: &Image, pushed: &Pushed, ctx: &StepCtx) -> Result<()> {
        let Some(tag) = &img.registry_cache else {
            return Ok(());
        };
        let (spec, repo) = (repository_spec(img), &pushed.repository);
        let creds = self.repositories.credentials(&spec, &repo.endpoint).await?;
        let now = self
            .registry
            .manifest(&repo.endpoint, &creds, &repo.name, tag)
            .await?;
        if now.is_some_and(|m| m.digest == pushed.digest) {
            return Ok(());
        }
        let Some(m) = self
            .registry
            .manifest(&repo.endpoint, &creds, &repo.name, &pushed.digest)
            .await?
        else {
            return Ok(());
        };
        ctx.progress(format!("keeping the build cache as {}:{tag}", repo.uri));
        self.registry
            .put_manifest(&repo.endpoint, &creds, &repo.name, tag, &m)
            .await
    }

    /// The push step, with what its build step found, then the scan gate if there is one.
    /// A gate that stops the image still hands over what was pushed and the findings.
    pub async fn push(&self, img: &Image, built: &Built, ctx: &StepCtx) -> Ran<Pushed> {
        let (outcome, pushed) = match self.push_only(img, built, ctx).await {
            Ok(r) => r,
            Err(e) => return Ran::failed(e),
        };
        if let Err(e) = self.keep_cache(img, &pushed, ctx).await {
            ctx.warn(format!("the registry build cache tag was not moved: {e}"));
        }
        match self.scan_gate(img, &pushed.digest, ctx).await {
            Ok(()) => Ran::new(Ok(outcome), Some(pushed)),
            Err((e, findings)) => Ran::new(Err(e), Some(Pushed { findings, ..pushed })),
        }
    }

    /// Waits for the image scan and fails on findings at or above the gate's severity.
    async fn scan_gate(
        &self,
        img: &Image,
        digest: &str,
        ctx: &StepCtx,
    ) -> std::result::Result<(), (Error, Vec<Finding>)> {
        let Some(gate) = &img.ecr.scan_gate else {
            return Ok(());
        };
        let name = &img.name;
        let findings = self
            .scan_findings(img, digest, gate.timeout, ctx)
            .await
            .map_err(|e| (e, Vec::new()))?;
        let blocking: Vec<Finding> = findings
            .into_iter()
            .filter(|f| {
                f.severity.is_some_and(|s| s >= gate.fail_on) && !gate.ignore.contains(&f.name)
            })
            .collect();
        if blocking.is_empty() {
            ctx.log(format!(
                "scan gate passed: nothing at or above {}",
                gate.fail_on.as_str()
            ));
            return Ok(());
        }
        let mut lines: Vec<String> = blocking
            .iter()
            .map(|f| {
                format!(
                    "{:<20} {:<13} {}",
                    f.name,
                    f.severity_text(),
                    f.package.as_deref().unwrap_or("")
                )
            })
            .collect();
        lines.insert(
            0,
            format!("{:<20} {:<13} {}", "FINDING", "SEVERITY", "PACKAGE"),
        );
        let n = blocking.len();
        let e = Error::failed(format!(
            "image `{name}` is stopped by its scan gate: {n} finding{} at or above {}\n  {}",
            if n == 1 { "" } else { "s" },
            gate.fail_on.as_str(),
            lines.join("\n  ")
        ))
        .with_hint("fix them, or accept them by name under `ecr.scan_gate.ignore`");
        Err((e, blocking))
    }

    /// The findings of the scan of `digest`, once the scan is complete (starting one when
    /// none started on push).
    async fn scan_findings(
        &self,
        img: &Image,
        digest: &str,
        timeout: std::time::Duration,
        ctx: &StepCtx,
    ) -> Result<Vec<Finding>> {
        let spec = repository_spec(img);
        let started = std::time::Instant::now();
        let mut asked_for_scan = false;
        loop {
            match self.repositories.scan(&spec, digest).await? {
                ScanState::Complete(f) => return Ok(f),
                ScanState::Failed(why) => {
                    return Err(Error::failed(format!(
                        "image `{}`: the scan of {} failed, so the scan gate cannot pass",
                        img.name,
                        short(digest)
                    ))
                    .with_causes(vec![why]));
                }
                ScanState::NotStarted
                    if !asked_for_scan && started.elapsed() > SCAN_START_GRACE =>
                {
                    ctx.progress("no scan started on push; starting one");
                    self.repositories.start_scan(&spec, digest).await?;
                    asked_for_scan = true;
                }
                state => ctx.progress(format!(
                    "waiting for the image scan ({}, {}s)",
                    if state == ScanState::NotStarted {
                        "not started yet"
                    } else {
                        "in progress"
                    },
                    started.elapsed().as_secs()
                )),
            }
            if started.elapsed() >= timeout {
                return Err(Error::failed(format!("image `{}`: the scan did not finish within {}", img.name, humantime::format_duration(timeout)))
                    .with_kind(crate::error::ErrorKind::TimedOut)
                    .with_hint("raise `ecr.scan_gate.timeout`, or check the repository's scanning configuration"));
            }
            tokio::time::sleep(SCAN_POLL).await;
        }
    }

    async fn push_only(
        &self,
        img: &Image,
        built: &Built,
        ctx: &StepCtx,
    ) -> Result<(Outcome, Pushed)> {
        let pushed = |repository: RepositoryInfo, digest: String, pushed: bool| Pushed {
            image: img.name.clone(),
            repository,
            digest,
            pushed,
            findings: Vec::new(),
        };
        let (local, registry) = match &built.found {
            Found::InRegistry {
                repository,
                credentials,
                manifest,
                tags_present,
            } => {
                let wrote = self
                    .retag(img, repository, credentials, manifest, tags_present, ctx)
                    .await?;
                let outcome = if wrote {
                    Outcome::Done
                } else {
                    Outcome::Unchanged
                };
                return Ok((
                    outcome,
                    pushed(repository.clone(), manifest.digest.clone(), wrote),
                ));
            }
            Found::Local {
                image, registry, ..
            } => (image, registry),
            Found::Platforms { images, registry } => {
                return self.push_platforms(img, images, registry, ctx).await;
            }
        };
        let spec = repository_spec(img);
        let (repo, creds) = match registry.clone() {
            Some(r) => r,
            None => {
                let repo = self.repositories.ensure(&spec, ctx).await?;
                let creds = self.repositories.credentials(&spec, &repo.endpoint).await?;
                (repo, creds)
            }
        };
        let engine = self.builders.of(local)?;
        let mut pushed_any = false;
        // Once one tag is pushed, the others are that manifest under another name: no layer
        // is looked at again.
        let mut pushed_manifest: Option<RemoteManifest> = None;
        for tag in &img.tags {
            if self.holds(img, &repo, &creds, tag, local, ctx).await? {
                continue;
            }
            if let Some(m) = &pushed_manifest {
                engine.builder.tag(local, &repo.uri, tag).await?;
                ctx.progress(format!("tagging {} as {tag}", short(&m.digest)));
                self.registry
                    .put_manifest(&repo.endpoint, &creds, &repo.name, tag, m)
                    .await?;
                continue;
            }
            ctx.progress(format!("pushing {}:{tag}", repo.uri));
            // The local image gets the name it has in the registry, as `docker push` needs and
            // as people expect after a push (`docker run URI:TAG`).
            engine.builder.tag(local, &repo.uri, tag).await?;
            let pusher = match self.options.push_via.unwrap_or(img.push_via) {
                PushVia::Registry => &engine.pusher,
                PushVia::Daemon => &engine.daemon_pusher,
            };
            pusher
                .push(local, &repo, Some(tag), &creds, push_format(img), ctx)
                .await?;
            pushed_any = true;
            pushed_manifest = self
                .registry
                .manifest(&repo.endpoint, &creds, &repo.name, tag)
                .await?;
        }
        let first = img
            .tags
            .first()
            .ok_or_else(|| Error::failed(format!("image `{}` has no tags", img.name)))?;
        let manifest = self
            .registry
            .manifest(&repo.endpoint, &creds, &repo.name, first)
            .await?
            .ok_or_else(|| {
                Error::failed(format!(
                    "{}:{first} is not in the registry after the push",
                    repo.name
                ))
            })?;
        let outcome = if pushed_any {
            Outcome::Done
        } else {
            Outcome::Unchanged
        };
        Ok((outcome, pushed(repo, manifest.digest, pushed_any)))
    }

    /// Adds the wanted tags the registry lacks to a manifest it holds (no layer moves);
    /// true when it wrote any.
    async fn retag(
        &self,
        img: &Image,
        repo: &RepositoryInfo,
        creds: &RegistryCredentials,
        manifest: &RemoteManifest,
        present: &[String],
        ctx: &StepCtx,
    ) -> Result<bool> {
        let mut wrote = false;
        for t in img.tags.iter().filter(|t| !present.contains(t)) {
            ctx.progress(format!("tagging {} as {t}", short(&manifest.digest)));
            self.registry
                .put_manifest(&repo.endpoint, creds, &repo.name, t, manifest)
                .await?;
            wrote = true;
        }
        Ok(wrote)
    }

    /// Whether `tag` already holds the very image `local`; an immutable tag that holds
    /// another image is an error naming both.
    async fn holds(
        &self,
        img: &Image,
        repo: &RepositoryInfo,
        creds: &RegistryCredentials,
        tag: &str,
        local: &LocalImage,
        ctx: &StepCtx,
    ) -> Result<bool> {
        let Some(m) = self
            .registry
            .manifest(&repo.endpoint, creds, &repo.name, tag)
            .await?
        else {
            return Ok(false);
        };
        if m.config_digest.as_deref() == Some(local.id.as_str()) {
            let wanted = push_format(img);
            match m.format() {
                Some(f) if f != wanted && !repo.immutable_tags => {
                    ctx.progress(format!(
                        "{}:{tag} holds this image as {f}; pushing it as {wanted}",
                        repo.name
                    ));
                    return Ok(false);
                }
                _ => {}
            }
            ctx.progress(format!("{}:{tag} already holds this image", repo.name));
            return Ok(true);
        }
        if repo.immutable_tags {
            return Err(Error::failed(format!(
                "tag `{tag}` of {} is immutable and already points at another image",
                repo.name
            ))
            .with_causes(vec![
                format!("in the repository: {} (image {})", m.digest, m.config_digest.as_deref().unwrap_or("unknown")),
                format!("this build:        image {}", local.id),
            ])
            .with_hint("use a tag that changes with the content, such as `${git.short_sha}`, or make the repository's tags mutable"));
        }
        Ok(false)
    }
}

/// What berth's own push writes for `img`.
pub fn push_format(img: &Image) -> PushFormat {
    PushFormat {
        compression: img.compression,
        manifest: img.manifest,
    }
}

/// Whether a manifest the registry holds is in the form `img` wants (an image pushed with
/// gzip layers does not stand in for one that is to have zstd layers). What berth cannot
/// read the format of counts.
pub(super) fn in_format(img: &Image, m: &RemoteManifest) -> bool {
    m.format().is_none_or(|f| f == push_format(img))
}

/// `--push-via daemon` for images whose format only berth's own push writes: refused
/// before any work starts.
pub fn check_push_via(p: &Pipeline, images: &[String], push_via: Option<PushVia>) -> Result<()> {
    if push_via != Some(PushVia::Daemon) {
        return Ok(());
    }
    let bad: Vec<String> = images
        .iter()
        .filter_map(|name| p.images.get(name))
        .filter(|img| push_format(img) != PushFormat::default() || !img.platforms.is_empty())
        .map(|img| match img.platforms.is_empty() {
            true => format!("`{}` ({})", img.name, push_format(img)),
            false => format!(
                "`{}` (an image index of {} platforms)",
                img.name,
                img.platforms.len()
            ),
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        Diagnostic::new(format!(
            "`--push-via daemon` cannot push image(s) {}: docker push writes one platform's image, with gzip layers and a Docker manifest",
            bad.join(", ")
        ))
        .hint("leave out `--push-via daemon` for these images"),
    ))
}

const SCAN_POLL: std::time::Duration = std::time::Duration::from_secs(3);
/// How long to wait for a scan-on-push to appear before starting a scan ourselves.
const SCAN_START_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a build arg's name says it holds a secret (`DB_PASSWORD`, `NPM_TOKEN`, …).
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "SECRET",
        "KEY",
        "CREDENTIALS",
    ]
    .iter()
    .any(|w| n == *w || n.ends_with(&format!("_{w}")))
}

/// `sha256:0123456789ab…` → `0123456789ab`, for messages.
pub fn short(digest: &str) -> &str {
    let d = digest.strip_prefix("sha256:").unwrap_or(digest);
    &d[..d.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn secret_looking_build_args_are_recognised() {
        for n in ["DB_PASSWORD", "npm_token", "AWS_SECRET", "API_KEY", "TOKEN"] {
            assert!(looks_secret(n), "{n}");
        }
        for n in ["VERSION", "KEYCLOAK_URL", "TOKENIZER", "BUILD_ID"] {
            assert!(!looks_secret(n), "{n}");
        }
    }
}
