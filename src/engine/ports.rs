//! The small traits through which the engine reaches the outside world, and the plain data
//! they exchange. No AWS, bollard or kube type appears here: adapters translate.
//!
//! Pushing sits behind its own trait ([`ImagePusher`]) because it will get a second
//! implementation that talks to the registry directly instead of through the daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;

use super::step::StepCtx;
use crate::error::Result;

/// An image in the local Docker daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    /// The image id (`sha256:…`, the digest of its config).
    pub id: String,
}

#[derive(Clone, Debug)]
pub struct BuildRequest {
    pub image: String,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub platform: Option<String>,
    pub cache_from: Vec<String>,
    /// Network for RUN steps: `default`, `host` or `none` (None: the daemon's default).
    pub network: Option<String>,
    /// Build secrets (id -> source); a build with secrets goes through BuildKit.
    pub secrets: Vec<(String, SecretSource)>,
    pub no_cache: bool,
    pub pull: bool,
    /// Local names to tag the result with (`repository:tag`).
    pub tags: Vec<String>,
}

/// Where a build secret's value comes from. Only the source is kept: the value is read by
/// the builder when the build asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// Builds images (the Docker daemon).
#[async_trait]
pub trait ImageBuilder: Send + Sync {
    /// The content digest of what `req` would build (context, Dockerfile, args, …).
    async fn content_digest(&self, req: &BuildRequest) -> Result<String>;
    /// A local image carrying this content digest label, if the daemon has one.
    async fn find_local(&self, content_digest: &str) -> Result<Option<LocalImage>>;
    /// Builds; `content_digest` is stored as a label on the image.
    async fn build(
        &self,
        req: &BuildRequest,
        content_digest: &str,
        ctx: &StepCtx,
    ) -> Result<LocalImage>;
    /// Gives a local image another name (`repository:tag`).
    async fn tag(&self, image: &LocalImage, repository: &str, tag: &str) -> Result<()>;
}

/// Where and how to reach a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEndpoint {
    /// `https://…` (or `http://` for a local registry), from ECR's proxyEndpoint.
    pub base_url: String,
    /// The registry host as it appears in image references.
    pub host: String,
}

/// Registry credentials (never printed).
#[derive(Clone)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a repository should look like (from the pipeline's `ecr:` settings).
#[derive(Clone, Debug, Default)]
pub struct RepositorySpec {
    pub name: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub create: bool,
    pub scan_on_push: Option<bool>,
    pub immutable_tags: Option<bool>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
    /// (`AES256` or `KMS`, KMS key)
    pub encryption: Option<(String, Option<String>)>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct RepositoryInfo {
    /// As ECR reports it.
    pub uri: String,
    pub name: String,
    pub endpoint: RegistryEndpoint,
    pub immutable_tags: bool,
    pub created: bool,
    /// Human descriptions of settings brought in line (`scan on push: off → on`).
    pub changes: Vec<String>,
}

/// One vulnerability an image scan found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub name: String,
    /// As the scanner says: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED.
    pub severity: String,
    pub package: Option<String>,
    pub uri: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanState {
    NotStarted,
    InProgress,
    Complete(Vec<Finding>),
    Failed(String),
}

/// ECR: repositories and registry credentials.
#[async_trait]
pub trait Repositories: Send + Sync {
    /// The state of the image scan of `digest`.
    async fn scan(&self, spec: &RepositorySpec, digest: &str) -> Result<ScanState>;
    /// Starts a scan (when none started on push).
    async fn start_scan(&self, spec: &RepositorySpec, digest: &str) -> Result<()>;
    /// What `tag` of the repository is now, without changing anything (for `deploy`).
    async fn resolve(&self, spec: &RepositorySpec, tag: &str) -> Result<ImageRef>;
    /// Creates the repository if missing (when allowed) and brings its settings in line.
    async fn ensure(&self, spec: &RepositorySpec, ctx: &StepCtx) -> Result<RepositoryInfo>;
    /// Credentials for the registry that holds `spec`'s repository (cached until near expiry).
    async fn credentials(
        &self,
        spec: &RepositorySpec,
        endpoint: &RegistryEndpoint,
    ) -> Result<RegistryCredentials>;
}

/// A manifest in a registry.
#[derive(Clone, Debug)]
pub struct RemoteManifest {
    pub digest: String,
    pub media_type: String,
    pub body: Vec<u8>,
    /// The image config digest (= the local image id for images built by Docker).
    pub config_digest: Option<String>,
}

/// Reads (and re-tags) what a registry holds.
#[async_trait]
pub trait RegistryReader: Send + Sync {
    async fn manifest(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        reference: &str,
    ) -> Result<Option<RemoteManifest>>;
    /// The labels in an image's config.
    async fn labels(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        config_digest: &str,
    ) -> Result<BTreeMap<String, String>>;
    /// Puts an existing manifest under another tag (no layers move).
    async fn put_manifest(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        tag: &str,
        manifest: &RemoteManifest,
    ) -> Result<()>;
}

/// Pushes a local image to a repository under a tag.
#[async_trait]
pub trait ImagePusher: Send + Sync {
    async fn push(
        &self,
        image: &LocalImage,
        repository_uri: &str,
        tag: &str,
        creds: &RegistryCredentials,
        ctx: &StepCtx,
    ) -> Result<()>;
}

/// An image as a target deploys it: the repository and exactly which image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository URI as ECR reports it.
    pub uri: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// `uri@digest` when the digest is known (what deploys should pin), else `uri:tag`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.uri),
            (None, Some(t)) => format!("{}:{t}", self.uri),
            (None, None) => self.uri.clone(),
        }
    }
}

/// Everything a deployer needs for one target.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    pub target: crate::pipeline::model::Target,
    /// Image name -> what to deploy.
    pub images: BTreeMap<String, ImageRef>,
    /// For rendering `${images.…}` and `${targets.….outputs.…}` in templates.
    pub values: crate::pipeline::interpolate::RuntimeValues,
}

/// What a deploy (or rollback) did.
#[derive(Clone, Debug)]
pub struct Deployed {
    pub outcome: super::executor::Outcome,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Outputs later targets may reference (CloudFormation stack outputs).
    pub outputs: BTreeMap<String, String>,
}

/// What a target runs now (`berth status`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TargetState {
    pub revision: Option<String>,
    pub images: Vec<String>,
    pub rollout: String,
    pub detail: Vec<String>,
}

/// Deploys one kind of target.
#[async_trait]
pub trait Deployer: Send + Sync {
    /// What `deploy` would do, as lines for a plan, with read-only calls only.
    async fn plan(&self, req: &DeployRequest) -> Result<Vec<String>>;
    async fn deploy(&self, req: &DeployRequest, ctx: &StepCtx) -> Result<Deployed>;
    /// Puts the target back to what berth recorded before its last deploy.
    async fn rollback(
        &self,
        target: &crate::pipeline::model::Target,
        ctx: &StepCtx,
    ) -> Result<Deployed>;
    async fn status(&self, target: &crate::pipeline::model::Target) -> Result<TargetState>;
    /// The outputs the target has now (for plans of the targets that depend on it).
    async fn outputs(
        &self,
        _target: &crate::pipeline::model::Target,
    ) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
}
