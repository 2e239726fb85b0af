//! The ECR adapter: repositories (created if missing, settings brought in line) and registry
//! credentials.
//!
//! One GetAuthorizationToken per (region, profile) per run, cached until five minutes before
//! it expires (tokens last 12 hours). The registry's address and scheme come from ECR's
//! answers (`repositoryUri`, `proxyEndpoint`), never from a hostname built by string.

mod listing;
mod replication;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration,
    ImageTagMutability, Repository, ScanStatus, Tag,
};
use base64::Engine as _;
use tokio::sync::Mutex;

use crate::aws::{AwsConfigs, sdk_error};
use crate::engine::ports::{
    Finding, ImageRef, RegistryCredentials, RegistryEndpoint, RegistryId, Repositories,
    RepositoryInfo, RepositorySpec, ScanState, StoredImage,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};

type Key = crate::engine::ports::AwsAccess;

struct Token {
    creds: RegistryCredentials,
    endpoint: String,
    expires: SystemTime,
}

pub struct Ecr {
    configs: Arc<AwsConfigs>,
    tokens: Mutex<HashMap<Key, Arc<Token>>>,
}

/// How many pages of DescribeImages (1,000 images each) berth reads to find recent images.
const RECENT_PAGES: usize = 5;

/// The repository, or None when it does not exist.
async fn describe_repository(
    client: &aws_sdk_ecr::Client,
    spec: &RepositorySpec,
) -> Result<Option<Repository>> {
    match client
        .describe_repositories()
        .repository_names(&spec.name)
        .send()
        .await
    {
        Ok(out) => Ok(out.repositories().first().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(
            format!("looking up ECR repository `{}`", spec.name),
            e,
        )),
    }
}

fn key(spec: &RepositorySpec) -> Key {
    spec.aws.clone()
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The change to report when a policy ECR has differs from the wanted one (None: same).
fn policy_change(what: &str, have: Option<&str>, want: &str) -> Option<String> {
    match have {
        Some(h) if same_json(h, want) => None,
        Some(_) => Some(format!("{what} updated")),
        None => Some(format!("{what} set")),
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

impl Ecr {
    pub fn new(configs: Arc<AwsConfigs>) -> Self {
        Ecr {
            configs,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, spec: &RepositorySpec) -> Result<aws_sdk_ecr::Client> {
        let cfg = self.configs.get(&spec.aws).await?;
        Ok(aws_sdk_ecr::Client::new(&cfg))
    }

    async fn token(&self, spec: &RepositorySpec) -> Result<Arc<Token>> {
        let mut tokens = self.tokens.lock().await;
        if let Some(t) = tokens.get(&key(spec))
            && t.expires > SystemTime::now() + Duration::from_secs(300)
        {
            return Ok(t.clone());
        }
        let client = self.client(spec).await?;
        let out = client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| sdk_error("getting an ECR authorization token", e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| Error::failed("ECR returned no authorization data"))?;
        let raw = data
            .authorization_token()
            .ok_or_else(|| Error::failed("ECR returned no authorization token"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::failed("ECR's authorization token is not base64 text"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| Error::failed("ECR's authorization token is not `user:password`"))?;
        let endpoint = data
            .proxy_endpoint()
            .ok_or_else(|| Error::failed("ECR returned no proxy endpoint"))?
            .to_string();
        let expires = data
            .expires_at()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(12 * 3600));
        let t = Arc::new(Token {
            creds: RegistryCredentials {
                username: user.to_string(),
                password: password.to_string(),
            },
            endpoint,
            expires,
        });
        tokens.insert(key(spec), t.clone());
        Ok(t)
    }

    /// The registry endpoint for a repository URI, with the scheme of ECR's proxy endpoint.
    async fn endpoint(&self, spec: &RepositorySpec, uri: &str) -> Result<RegistryEndpoint> {
        let token = self.token(spec).await?;
        let host = uri.split('/').next().unwrap_or(uri).to_string();
        let scheme = if token.endpoint.starts_with("http://") {
            "http"
        } else {
            "https"
        };
        Ok(RegistryEndpoint {
            base_url: format!("{scheme}://{host}"),
            host,
        })
    }

    async fn create(
        &self,
        client: &aws_sdk_ecr::Client,
        spec: &RepositorySpec,
    ) -> Result<Repository> {
        let mut req = client.create_repository().repository_name(&spec.name);
        if let Some(s) = spec.scan_on_push {
            req = req.image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(s)
                    .build(),
            );
        }
        if let Some(i) = spec.immutable_tags {
            req = req.image_tag_mutability(if i {
                ImageTagMutability::Immutable
            } else {
                ImageTagMutability::Mutable
            });
        }
        if let Some((kind, key)) = &spec.encryption {
            let kind = match kind {
                crate::pipeline::model::EncryptionType::KMS => EncryptionType::Kms,
                crate::pipeline::model::EncryptionType::AES256 => EncryptionType::Aes256,
            };
            let enc = EncryptionConfiguration::builder()
                .encryption_type(kind)
                .set_kms_key(key.clone())
                .build()
                .map_err(|e| Error::failed(e.to_string()))?;
            req = req.encryption_configuration(enc);
        }
        for (k, v) in &spec.tags {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| Error::failed(e.to_string()))?,
            );
        }
        let out = req.send().await.map_err(|e| {
            let denied = e.as_service_error().and_then(|s| aws_sdk_ecr::error::ProvideErrorMetadata::code(s)).is_some_and(|c| c.starts_with("AccessDenied"));
            let err = sdk_error(format!("creating ECR repository `{}`", spec.name), e);
            if denied { err.with_hint("the identity may not create repositories (ecr:CreateRepository); create it once by hand, or grant the permission") } else { err }
        })?;
        out.repository()
            .cloned()
            .ok_or_else(|| Error::failed("ECR created the repository but did not describe it"))
    }

    /// Brings an existing (or just created) repository's settings in line; returns what changed.
    async fn reconcile(
        &self,
        client: &aws_sdk_ecr::Client,
        spec: &RepositorySpec,
        repo: &Repository,
        created: bool,
    ) -> Result<Vec<String>> {
        let mut changes = Vec::new();
        if !created {
            Self::reconcile_settings(client, spec, repo, &mut changes).await?;
        }
        Self::reconcile_policies(client, spec, &mut changes).await?;
        if !created && !spec.tags.is_empty() {
            Self::reconcile_tags(client, spec, repo, &mut changes).await?;
        }
        Ok(changes)
    }

    /// Scan on push and tag immutability (encryption can only be reported).
    async fn reconcile_settings(
        client: &aws_sdk_ecr::Client,
        spec: &RepositorySpec,
        repo: &Repository,
        changes: &mut Vec<String>,
    ) -> Result<()> {
        let name = spec.name.as_str();
        if let Some(want) = spec.scan_on_push {
            let have = repo
                .image_scanning_configuration()
                .map(|c| c.scan_on_push())
                .unwrap_or(false);
            if have != want {
                client
                    .put_image_scanning_configuration()
                    .repository_name(name)
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(want)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| sdk_error(format!("setting scan on push for `{name}`"), e))?;
                changes.push(format!("scan on push: {} → {}", on_off(have), on_off(want)));
            }
        }
        if let Some(want) = spec.immutable_tags {
            let have = matches!(
                repo.image_tag_mutability(),
                Some(ImageTagMutability::Immutable)
            );
            if have != want {
                let m = if want {
                    ImageTagMutability::Immutable
                } else {
                    ImageTagMutability::Mutable
                };
                client
                    .put_image_tag_mutability()
                    .repository_name(name)
                    .image_tag_mutability(m)
                    .send()
                    .await
                    .map_err(|e| sdk_error(format!("setting tag immutability for `{name}`"), e))?;
                changes.push(format!(
                    "immutable tags: {} → {}",
                    on_off(have),
                    on_off(want)
                ));
            }
        }
        if let Some((kind, _)) = &spec.encryption {
            let have = repo
                .encryption_configuration()
                .map(|c| c.encryption_type().as_str())
                .unwrap_or("AES256");
            let kind = kind.as_str();
            if have != kind {
                changes.push(format!("encryption is {have}, not {kind}: it can only be chosen when a repository is created (not changed)"));
            }
        }
        Ok(())
    }

    /// The lifecycle and repository policies.
    async fn reconcile_policies(
        client: &aws_sdk_ecr::Client,
        spec: &RepositorySpec,
        changes: &mut Vec<String>,
    ) -> Result<()> {
        let name = spec.name.as_str();
        if let Some(want) = &spec.lifecycle_policy {
            let have = match client
                .get_lifecycle_policy()
                .repository_name(name)
                .send()
                .await
            {
                Ok(o) => o.lifecycle_policy_text().map(str::to_string),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_lifecycle_policy_not_found_exception()) =>
                {
                    None
                }
                Err(e) => {
                    return Err(sdk_error(
                        format!("reading the lifecycle policy of `{name}`"),
                        e,
                    ));
                }
            };
            if let Some(change) = policy_change("lifecycle policy", have.as_deref(), want) {
                client
                    .put_lifecycle_policy()
                    .repository_name(name)
                    .lifecycle_policy_text(want)
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(format!("setting the lifecycle policy of `{name}`"), e)
                    })?;
                changes.push(change);
            }
        }
        if let Some(want) = &spec.repository_policy {
            let have = match client
                .get_repository_policy()
                .repository_name(name)
                .send()
                .await
            {
                Ok(o) => o.policy_text().map(str::to_string),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_repository_policy_not_found_exception()) =>
                {
                    None
                }
                Err(e) => {
                    return Err(sdk_error(
                        format!("reading the repository policy of `{name}`"),
                        e,
                    ));
                }
            };
            if let Some(change) = policy_change("repository policy", have.as_deref(), want) {
                client
                    .set_repository_policy()
                    .repository_name(name)
                    .policy_text(want)
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(format!("setting the repository policy of `{name}`"), e)
                    })?;
                changes.push(change);
            }
        }
        Ok(())
    }

    /// The repository's tags (tags set by others are left alone).
    async fn reconcile_tags(
        client: &aws_sdk_ecr::Client,
        spec: &RepositorySpec,
        repo: &Repository,
        changes: &mut Vec<String>,
    ) -> Result<()> {
        let name = spec.name.as_str();
        let arn = repo.repository_arn().unwrap_or_default();
        let out = client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading the tags of `{name}`"), e))?;
        let have: BTreeMap<&str, &str> = out.tags().iter().map(|t| (t.key(), t.value())).collect();
        let wrong: Vec<(&String, &String)> = spec
            .tags
            .iter()
            .filter(|(k, v)| have.get(k.as_str()) != Some(&v.as_str()))
            .collect();
        if !wrong.is_empty() {
            let mut req = client.tag_resource().resource_arn(arn);
            for (k, v) in &wrong {
                req = req.tags(
                    Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                        .map_err(|e| Error::failed(e.to_string()))?,
                );
            }
            req.send()
                .await
                .map_err(|e| sdk_error(format!("tagging `{name}`"), e))?;
            changes.push(format!(
                "tags set: {}",
                wrong
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

impl Ecr {
    /// The registry host (from ECR's proxy endpoint) and credentials, for `berth login`.
    /// What berth knows of a repository, from ECR's description of it.
    async fn info(
        &self,
        spec: &RepositorySpec,
        repo: &Repository,
        created: bool,
        changes: Vec<String>,
    ) -> Result<RepositoryInfo> {
        let uri = repo
            .repository_uri()
            .ok_or_else(|| Error::failed(format!("ECR did not report a URI for `{}`", spec.name)))?
            .to_string();
        let endpoint = self.endpoint(spec, &uri).await?;
        Ok(RepositoryInfo {
            uri,
            name: spec.name.clone(),
            endpoint,
            immutable_tags: spec.immutable_tags.unwrap_or(matches!(
                repo.image_tag_mutability(),
                Some(ImageTagMutability::Immutable)
            )),
            created,
            changes,
        })
    }

    pub async fn login(&self, spec: &RepositorySpec) -> Result<(String, RegistryCredentials)> {
        let t = self.token(spec).await?;
        let host = t
            .endpoint
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Ok((host, t.creds.clone()))
    }
}

#[async_trait]
impl Repositories for Ecr {
    async fn ensure(&self, spec: &RepositorySpec, ctx: &StepCtx) -> Result<RepositoryInfo> {
        let client = self.client(spec).await?;
        let existing = describe_repository(&client, spec).await?;
        let (repo, created) = match existing {
            Some(r) => (r, false),
            None if spec.create => {
                ctx.progress(format!("creating repository {}", spec.name));
                (self.create(&client, spec).await?, true)
            }
            None => {
                return Err(Error::failed(format!(
                    "ECR repository `{}` does not exist",
                    spec.name
                ))
                .with_hint(
                    "create it, or set `ecr.create: true` for this image so berth creates it",
                ));
            }
        };
        let changes = self.reconcile(&client, spec, &repo, created).await?;
        if created {
            ctx.log(format!("created repository {}", spec.name));
        }
        for c in &changes {
            if c.contains("can only be chosen") {
                ctx.warn(format!("repository {}: {c}", spec.name));
            } else {
                ctx.log(format!("repository {}: {c}", spec.name));
            }
        }
        self.info(spec, &repo, created, changes).await
    }

    async fn lookup(&self, spec: &RepositorySpec) -> Result<Option<RepositoryInfo>> {
        let client = self.client(spec).await?;
        match describe_repository(&client, spec).await? {
            Some(repo) => Ok(Some(self.info(spec, &repo, false, Vec::new()).await?)),
            None => Ok(None),
        }
    }

    async fn recent(&self, spec: &RepositorySpec, limit: usize) -> Result<Vec<String>> {
        let client = self.client(spec).await?;
        // DescribeImages cannot sort: read a bounded number of pages and sort here. A
        // repository with more images than that is searched among the ones read.
        let mut images: Vec<(i64, String)> = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..RECENT_PAGES {
            let Some(out) = listing::images_page(&client, spec, next.take()).await? else {
                return Ok(Vec::new());
            };
            for d in out.image_details() {
                if let Some(digest) = d.image_digest() {
                    let at = d
                        .image_pushed_at()
                        .map(|t| t.as_nanos() as i64)
                        .unwrap_or(0);
                    images.push((at, digest.to_string()));
                }
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        images.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        images.dedup_by(|a, b| a.1 == b.1);
        Ok(images.into_iter().take(limit).map(|(_, d)| d).collect())
    }

    async fn scan(&self, spec: &RepositorySpec, digest: &str) -> Result<ScanState> {
        let client = self.client(spec).await?;
        let id = ImageIdentifier::builder().image_digest(digest).build();
        let mut findings = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = match client
                .describe_image_scan_findings()
                .repository_name(&spec.name)
                .image_id(id.clone())
                .set_next_token(next.clone())
                .send()
                .await
            {
                Ok(o) => o,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_scan_not_found_exception()) =>
                {
                    return Ok(ScanState::NotStarted);
                }
                // Right after a push the image may not be visible to the API yet (ECR is
                // eventually consistent; in the rig the registry tells the emulator a moment
                // later): that is a scan still to come, and the gate's timeout bounds the wait.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_image_not_found_exception()) =>
                {
                    return Ok(ScanState::InProgress);
                }
                Err(e) => {
                    return Err(sdk_error(
                        format!("reading the scan findings of {}@{digest}", spec.name),
                        e,
                    ));
                }
            };
            match out.image_scan_status().and_then(|s| s.status()) {
                Some(ScanStatus::Complete) => {}
                Some(ScanStatus::Failed | ScanStatus::UnsupportedImage) => {
                    let why = out
                        .image_scan_status()
                        .and_then(|s| s.description())
                        .unwrap_or("the scan failed")
                        .to_string();
                    return Ok(ScanState::Failed(why));
                }
                _ => return Ok(ScanState::InProgress),
            }
            if let Some(f) = out.image_scan_findings() {
                for x in f.findings() {
                    let attr = |k: &str| {
                        x.attributes()
                            .iter()
                            .find(|a| a.key() == k)
                            .and_then(|a| a.value())
                            .map(str::to_string)
                    };
                    let package = match (attr("package_name"), attr("package_version")) {
                        (Some(n), Some(v)) => Some(format!("{n} {v}")),
                        (n, _) => n,
                    };
                    findings.push(Finding {
                        name: x.name().unwrap_or("unnamed").to_string(),
                        package,
                        uri: x.uri().map(str::to_string),
                        ..Finding::new(x.severity().map(|s| s.as_str()).unwrap_or("UNDEFINED"))
                    });
                }
                for x in f.enhanced_findings() {
                    let details = x.package_vulnerability_details();
                    findings.push(Finding {
                        name: details
                            .and_then(|d| Some(d.vulnerability_id()?.to_string()))
                            .or_else(|| x.title().map(str::to_string))
                            .unwrap_or_else(|| "unnamed".into()),
                        package: details
                            .and_then(|d| d.vulnerable_packages().first())
                            .map(|p| {
                                format!("{} {}", p.name().unwrap_or("?"), p.version().unwrap_or(""))
                            }),
                        uri: details.and_then(|d| d.source_url()).map(str::to_string),
                        ..Finding::new(x.severity().unwrap_or("UNDEFINED"))
                    });
                }
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(ScanState::Complete(findings));
            }
        }
    }

    async fn resolve(&self, spec: &RepositorySpec, tag: &str) -> Result<ImageRef> {
        let client = self.client(spec).await?;
        let repo = describe_repository(&client, spec).await?;
        let missing = || {
            Error::failed(format!("{}:{tag} is not in ECR", spec.name))
                .with_hint("push it first (`berth push`), deploy with `berth ship`, or name an image with `--image NAME=REF`")
        };
        let repo = repo.ok_or_else(missing)?;
        let out = match client
            .describe_images()
            .repository_name(&spec.name)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_image_not_found_exception()) =>
            {
                return Err(missing());
            }
            Err(e) => return Err(sdk_error(format!("looking up {}:{tag}", spec.name), e)),
        };
        let digest = out
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_string)
            .ok_or_else(missing)?;
        Ok(ImageRef {
            uri: repo.repository_uri().unwrap_or_default().to_string(),
            tag: Some(tag.to_string()),
            digest: Some(digest),
        })
    }

    async fn start_scan(&self, spec: &RepositorySpec, digest: &str) -> Result<()> {
        let client = self.client(spec).await?;
        client
            .start_image_scan()
            .repository_name(&spec.name)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .map_err(|e| sdk_error(format!("starting a scan of {}@{digest}", spec.name), e))?;
        Ok(())
    }

    async fn credentials(
        &self,
        spec: &RepositorySpec,
        _endpoint: &RegistryEndpoint,
    ) -> Result<RegistryCredentials> {
        Ok(self.token(spec).await?.creds.clone())
    }

    async fn images(&self, spec: &RepositorySpec) -> Result<Option<Vec<StoredImage>>> {
        self.list_images(spec).await
    }

    async fn delete(&self, spec: &RepositorySpec, digests: &[String]) -> Result<Vec<String>> {
        self.delete_images(spec, digests).await
    }

    async fn registry_id(&self, spec: &RepositorySpec) -> Result<RegistryId> {
        Ecr::registry_id(self, spec).await
    }

    async fn replication_covers(&self, spec: &RepositorySpec, to: &RegistryId) -> Result<bool> {
        Ecr::replication_covers(self, spec, to).await
    }

    async fn replica(&self, spec: &RepositorySpec, digest: &str) -> Result<Option<String>> {
        Ecr::replica(self, spec, digest).await
    }
}
