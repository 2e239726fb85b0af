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
use std::sync::{Arc, Mutex};

use super::executor::Outcome;
use super::ports::*;
use super::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::pipeline::model::Image;
use crate::pipeline::raw::Severity;

/// The label that carries an image's content digest.
pub const CONTENT_LABEL: &str = "dev.berth.content-digest";

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub no_cache: bool,
    pub pull: bool,
}

/// What berth knows about an image during a run.
#[derive(Clone, Debug, Default)]
pub struct ImageState {
    pub content_digest: Option<String>,
    pub local: Option<LocalImage>,
    pub repository: Option<RepositoryInfo>,
    pub credentials: Option<RegistryCredentials>,
    /// A manifest in the repository that holds this content, and the wanted tags it has.
    pub remote: Option<RemoteManifest>,
    pub tags_present: Vec<String>,
    pub built: bool,
    pub pushed: bool,
    /// The manifest digest in the registry, once known.
    pub digest: Option<String>,
    /// Findings that stopped the scan gate (at or above `fail_on`, not ignored).
    pub findings: Vec<Finding>,
}

pub struct ImageSteps {
    pub pipeline: Arc<Pipeline>,
    pub builder: Arc<dyn ImageBuilder>,
    pub repositories: Option<Arc<dyn Repositories>>,
    pub registry: Option<Arc<dyn RegistryReader>>,
    pub pusher: Option<Arc<dyn ImagePusher>>,
    pub options: BuildOptions,
    /// Labels berth adds that describe the build, not the content (revision, creation time).
    pub extra_labels: Vec<(String, String)>,
    pub state: Mutex<HashMap<String, ImageState>>,
}

pub fn repository_spec(img: &Image) -> RepositorySpec {
    RepositorySpec {
        name: img.repository.clone(),
        region: img.region.clone(),
        profile: img.profile.clone(),
        create: img.ecr.create,
        scan_on_push: img.ecr.scan_on_push,
        immutable_tags: img.ecr.immutable_tags,
        lifecycle_policy: img.ecr.lifecycle_policy.clone(),
        repository_policy: img.ecr.repository_policy.clone(),
        encryption: img
            .ecr
            .encryption
            .as_ref()
            .map(|(t, k)| (format!("{t:?}"), k.clone())),
        tags: img
            .ecr
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn missing(what: &str) -> Error {
    Error::failed(format!(
        "internal error: {what} is not available for this command"
    ))
}

impl ImageSteps {
    pub fn state(&self, image: &str) -> ImageState {
        self.state
            .lock()
            .expect("state lock")
            .get(image)
            .cloned()
            .unwrap_or_default()
    }

    fn update(&self, image: &str, f: impl FnOnce(&mut ImageState)) {
        f(self
            .state
            .lock()
            .expect("state lock")
            .entry(image.to_string())
            .or_default());
    }

    fn request(&self, img: &Image) -> BuildRequest {
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
            platform: img.platform.clone(),
            cache_from: img.cache_from.clone(),
            network: img.network.map(|n| {
                match n {
                    crate::pipeline::raw::BuildNetwork::Default => "default",
                    crate::pipeline::raw::BuildNetwork::Host => "host",
                    crate::pipeline::raw::BuildNetwork::None => "none",
                }
                .to_string()
            }),
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
    pub async fn build(&self, name: &str, for_push: bool, ctx: &StepCtx) -> Result<Outcome> {
        let img = self
            .pipeline
            .images
            .get(name)
            .ok_or_else(|| missing("the image"))?;
        let req = self.request(img);
        ctx.progress("hashing the build context");
        let digest = self.builder.content_digest(&req).await?;
        self.update(name, |s| s.content_digest = Some(digest.clone()));

        if for_push && !self.options.no_cache {
            let repos = self.repositories.as_ref().ok_or_else(|| missing("ECR"))?;
            let registry = self
                .registry
                .as_ref()
                .ok_or_else(|| missing("the registry client"))?;
            let spec = repository_spec(img);
            ctx.progress(format!("checking repository {}", spec.name));
            let repo = repos.ensure(&spec, ctx).await?;
            let creds = repos.credentials(&spec, &repo.endpoint).await?;
            let mut found: Option<RemoteManifest> = None;
            let mut present = Vec::new();
            let mut label_cache: HashMap<String, Option<String>> = HashMap::new();
            for tag in &img.tags {
                let Some(m) = registry
                    .manifest(&repo.endpoint, &creds, &repo.name, tag)
                    .await?
                else {
                    continue;
                };
                let Some(config) = m.config_digest.clone() else {
                    continue;
                };
                if !label_cache.contains_key(&config) {
                    let labels = registry
                        .labels(&repo.endpoint, &creds, &repo.name, &config)
                        .await?;
                    label_cache.insert(config.clone(), labels.get(CONTENT_LABEL).cloned());
                }
                if label_cache[&config].as_deref() == Some(digest.as_str()) {
                    present.push(tag.clone());
                    found.get_or_insert(m);
                }
            }
            let all = present.len() == img.tags.len();
            self.update(name, |s| {
                s.repository = Some(repo.clone());
                s.credentials = Some(creds.clone());
                s.digest = found.as_ref().filter(|_| all).map(|m| m.digest.clone());
                s.remote = found.clone();
                s.tags_present = present.clone();
            });
            if found.is_some() {
                ctx.progress(if all {
                    format!("{} already holds this content under every tag", repo.name)
                } else {
                    format!(
                        "{} holds this content under {}; the other tags will be added",
                        repo.name,
                        present.join(", ")
                    )
                });
                return Ok(Outcome::Unchanged);
            }
        }

        if !self.options.no_cache
            && let Some(local) = self.builder.find_local(&digest).await?
        {
            ctx.progress(format!(
                "reusing local image {} built from the same content",
                short(&local.id)
            ));
            for t in &img.tags {
                self.builder.tag(&local, &img.repository, t).await?;
            }
            self.update(name, |s| s.local = Some(local));
            return Ok(Outcome::Unchanged);
        }
        let mut req = req;
        req.labels.extend(self.extra_labels.iter().cloned());
        let local = self.builder.build(&req, &digest, ctx).await?;
        for t in &img.tags {
            self.builder.tag(&local, &img.repository, t).await?;
        }
        self.update(name, |s| {
            s.local = Some(local);
            s.built = true;
        });
        Ok(Outcome::Done)
    }

    /// The push step (after `build(…, for_push = true)`), then the scan gate if there is one.
    pub async fn push(&self, name: &str, ctx: &StepCtx) -> Result<Outcome> {
        let outcome = self.push_only(name, ctx).await?;
        self.scan_gate(name, ctx).await?;
        Ok(outcome)
    }

    /// Waits for the image scan and fails on findings at or above the gate's severity.
    async fn scan_gate(&self, name: &str, ctx: &StepCtx) -> Result<()> {
        let img = self
            .pipeline
            .images
            .get(name)
            .ok_or_else(|| missing("the image"))?;
        let Some(gate) = &img.ecr.scan_gate else {
            return Ok(());
        };
        let repos = self.repositories.as_ref().ok_or_else(|| missing("ECR"))?;
        let digest = self
            .state(name)
            .digest
            .ok_or_else(|| missing("the pushed digest"))?;
        let spec = repository_spec(img);
        let started = std::time::Instant::now();
        let mut asked_for_scan = false;
        let findings = loop {
            match repos.scan(&spec, &digest).await? {
                ScanState::Complete(f) => break f,
                ScanState::Failed(why) => {
                    return Err(Error::failed(format!(
                        "image `{name}`: the scan of {} failed, so the scan gate cannot pass",
                        short(&digest)
                    ))
                    .with_causes(vec![why]));
                }
                ScanState::NotStarted
                    if !asked_for_scan && started.elapsed() > SCAN_START_GRACE =>
                {
                    ctx.progress("no scan started on push; starting one");
                    repos.start_scan(&spec, &digest).await?;
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
            if started.elapsed() >= gate.timeout {
                return Err(Error::failed(format!("image `{name}`: the scan did not finish within {}", humantime::format_duration(gate.timeout)))
                    .with_hint("raise `ecr.scan_gate.timeout`, or check the repository's scanning configuration"));
            }
            tokio::time::sleep(SCAN_POLL).await;
        };
        let blocking: Vec<Finding> = findings
            .into_iter()
            .filter(|f| {
                severity(&f.severity).is_some_and(|s| s >= gate.fail_on)
                    && !gate.ignore.contains(&f.name)
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
                    f.severity,
                    f.package.as_deref().unwrap_or("")
                )
            })
            .collect();
        lines.insert(
            0,
            format!("{:<20} {:<13} {}", "FINDING", "SEVERITY", "PACKAGE"),
        );
        let n = blocking.len();
        self.update(name, |s| s.findings = blocking);
        Err(Error::failed(format!(
            "image `{name}` is stopped by its scan gate: {n} finding{} at or above {}\n  {}",
            if n == 1 { "" } else { "s" },
            gate.fail_on.as_str(),
            lines.join("\n  ")
        ))
        .with_hint("fix them, or accept them by name under `ecr.scan_gate.ignore`"))
    }

    async fn push_only(&self, name: &str, ctx: &StepCtx) -> Result<Outcome> {
        let img = self
            .pipeline
            .images
            .get(name)
            .ok_or_else(|| missing("the image"))?;
        let repos = self.repositories.as_ref().ok_or_else(|| missing("ECR"))?;
        let registry = self
            .registry
            .as_ref()
            .ok_or_else(|| missing("the registry client"))?;
        let pusher = self.pusher.as_ref().ok_or_else(|| missing("the pusher"))?;
        let mut st = self.state(name);
        let spec = repository_spec(img);
        let repo = match st.repository.clone() {
            Some(r) => r,
            None => repos.ensure(&spec, ctx).await?,
        };
        let creds = match st.credentials.clone() {
            Some(c) => c,
            None => repos.credentials(&spec, &repo.endpoint).await?,
        };

        // The content is there already: add the missing tags by re-tagging, move no layer.
        if let Some(remote) = st.remote.clone() {
            let missing_tags: Vec<&String> = img
                .tags
                .iter()
                .filter(|t| !st.tags_present.contains(t))
                .collect();
            if missing_tags.is_empty() {
                self.update(name, |s| s.digest = Some(remote.digest.clone()));
                return Ok(Outcome::Unchanged);
            }
            for t in &missing_tags {
                ctx.progress(format!("tagging {} as {t}", short(&remote.digest)));
                registry
                    .put_manifest(&repo.endpoint, &creds, &repo.name, t, &remote)
                    .await?;
            }
            self.update(name, |s| {
                s.digest = Some(remote.digest.clone());
                s.pushed = true;
            });
            return Ok(Outcome::Done);
        }

        let local = match st.local.take() {
            Some(l) => l,
            None => return Err(missing("the built image")),
        };
        let mut pushed_any = false;
        for tag in &img.tags {
            if let Some(m) = registry
                .manifest(&repo.endpoint, &creds, &repo.name, tag)
                .await?
            {
                if m.config_digest.as_deref() == Some(local.id.as_str()) {
                    ctx.progress(format!("{}:{tag} already holds this image", repo.name));
                    continue;
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
            }
            ctx.progress(format!("pushing {}:{tag}", repo.uri));
            pusher.push(&local, &repo.uri, tag, &creds, ctx).await?;
            pushed_any = true;
        }
        let first = img
            .tags
            .first()
            .ok_or_else(|| Error::failed(format!("image `{name}` has no tags")))?;
        let manifest = registry
            .manifest(&repo.endpoint, &creds, &repo.name, first)
            .await?
            .ok_or_else(|| {
                Error::failed(format!(
                    "{}:{first} is not in the registry after the push",
                    repo.name
                ))
            })?;
        self.update(name, |s| {
            s.digest = Some(manifest.digest.clone());
            s.pushed = pushed_any;
            s.repository = Some(repo.clone());
        });
        Ok(if pushed_any {
            Outcome::Done
        } else {
            Outcome::Unchanged
        })
    }
}

const SCAN_POLL: std::time::Duration = std::time::Duration::from_secs(3);
/// How long to wait for a scan-on-push to appear before starting a scan ourselves.
const SCAN_START_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

fn severity(s: &str) -> Option<Severity> {
    Some(match s {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        "INFORMATIONAL" => Severity::Informational,
        _ => return None,
    })
}

/// `sha256:0123456789ab…` → `0123456789ab`, for messages.
pub fn short(digest: &str) -> &str {
    let d = digest.strip_prefix("sha256:").unwrap_or(digest);
    &d[..d.len().min(12)]
}
