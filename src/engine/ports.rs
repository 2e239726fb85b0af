//! The small traits through which the engine reaches the outside world, and the plain data
//! they exchange. No AWS, bollard or kube type appears here: adapters translate.
//!
//! Pushing sits behind its own trait ([`ImagePusher`]) because it will get a second
//! implementation that talks to the registry directly instead of through the daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;

pub use super::diagnosis::{ContainerEvidence, Diagnosis, FailedUnit, TargetHealth, UnitKind};
use super::step::StepCtx;
use crate::error::Result;
use crate::pipeline::interpolate::RuntimeValues;
use crate::pipeline::model::Target;
pub use crate::pipeline::model::{
    AwsAccess, BuildNetwork, Compression, EncryptionType, ImageRef, ManifestFormat, SecretSource,
    Severity,
};

/// An image in the local Docker daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    /// The image id (`sha256:…`, the digest of its config).
    pub id: String,
    /// The builder (Docker Engine) that holds it.
    pub builder: String,
}

#[derive(Clone, Debug)]
pub struct BuildRequest {
    pub image: String,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// Labels that describe the build, not the content (revision, creation time): on the
    /// image, not in the content digest.
    pub build_labels: Vec<(String, String)>,
    pub platform: Option<String>,
    pub cache_from: Vec<String>,
    /// Network for RUN steps (None: the daemon's default).
    pub network: Option<BuildNetwork>,
    /// Build secrets (id -> source); a build with secrets goes through BuildKit.
    pub secrets: Vec<(String, SecretSource)>,
    pub no_cache: bool,
    pub pull: bool,
    /// Local names to tag the result with (`repository:tag`).
    pub tags: Vec<String>,
}

/// Builds images (the Docker daemon).
#[async_trait]
pub trait ImageBuilder: Send + Sync {
    /// Connects now, so that an engine that does not answer is said before any work.
    async fn ready(&self) -> Result<()>;
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
    /// Pulls `repository:tag` into the daemon; false when the registry has no such tag.
    async fn pull(&self, repository: &str, tag: &str, creds: &RegistryCredentials) -> Result<bool>;
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
    /// Region, profile and role of the repository's account.
    pub aws: AwsAccess,
    pub create: bool,
    pub scan_on_push: Option<bool>,
    pub immutable_tags: Option<bool>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
    /// Encryption type and KMS key.
    pub encryption: Option<(EncryptionType, Option<String>)>,
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
    /// As the scanner says it: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED.
    #[serde(rename = "severity")]
    pub reported_severity: String,
    /// The same, typed; none for UNDEFINED (and words berth does not know).
    #[serde(skip)]
    pub severity: Option<Severity>,
    pub package: Option<String>,
    pub uri: Option<String>,
}

impl Finding {
    /// A finding of the severity the scanner reported (fill in the rest).
    pub fn new(reported: &str) -> Self {
        Finding {
            name: String::new(),
            reported_severity: reported.to_string(),
            severity: Severity::from_ecr(reported),
            package: None,
            uri: None,
        }
    }

    pub fn severity_text(&self) -> &str {
        &self.reported_severity
    }
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
    /// The repository as it is, without creating or changing anything (None: it does not
    /// exist). For `plan`.
    async fn lookup(&self, spec: &RepositorySpec) -> Result<Option<RepositoryInfo>>;
    /// The manifest digests of the images pushed to the repository most recently, newest
    /// first, at most `limit` (empty when the repository does not exist).
    async fn recent(&self, spec: &RepositorySpec, limit: usize) -> Result<Vec<String>>;
    /// Creates the repository if missing (when allowed) and brings its settings in line.
    async fn ensure(&self, spec: &RepositorySpec, ctx: &StepCtx) -> Result<RepositoryInfo>;
    /// Credentials for the registry that holds `spec`'s repository (cached until near expiry).
    async fn credentials(
        &self,
        spec: &RepositorySpec,
        endpoint: &RegistryEndpoint,
    ) -> Result<RegistryCredentials>;
    /// Every image in the repository, with its tags, push time, size and (for an index) the
    /// manifests it names; None when the repository does not exist.
    async fn images(&self, spec: &RepositorySpec) -> Result<Option<Vec<StoredImage>>>;
    /// Deletes images by digest, in batches; returns the digests deleted (a digest ECR
    /// refuses is an error naming it, after the rest of its batch went).
    async fn delete(&self, spec: &RepositorySpec, digests: &[String]) -> Result<Vec<String>>;
    /// The account and region of the registry that holds `spec`'s repository.
    async fn registry_id(&self, spec: &RepositorySpec) -> Result<RegistryId>;
    /// Whether the registry's replication rules carry `spec`'s repository to `to`.
    async fn replication_covers(&self, spec: &RepositorySpec, to: &RegistryId) -> Result<bool>;
    /// The repository URI when `digest` is in `spec`'s repository (None: not, or not yet).
    async fn replica(&self, spec: &RepositorySpec, digest: &str) -> Result<Option<String>>;
}

/// A registry: the account and region it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryId {
    pub account: String,
    pub region: String,
}

pub use super::gc::StoredImage;

/// A manifest in a registry.
#[derive(Clone, Debug)]
pub struct RemoteManifest {
    pub digest: String,
    pub media_type: String,
    pub body: Vec<u8>,
    /// The image config digest (= the local image id for images built by Docker).
    pub config_digest: Option<String>,
}

impl RemoteManifest {
    /// The manifest format and layer compression of an image manifest (none for an index
    /// or an artifact berth does not know).
    pub fn format(&self) -> Option<PushFormat> {
        let json: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let manifest = match self.media_type.as_str() {
            "application/vnd.docker.distribution.manifest.v2+json" => ManifestFormat::Docker,
            "application/vnd.oci.image.manifest.v1+json" => ManifestFormat::Oci,
            _ => return None,
        };
        let zstd = json
            .get("layers")?
            .as_array()?
            .iter()
            .filter_map(|l| l.get("mediaType")?.as_str())
            .any(|t| t.ends_with("zstd"));
        let compression = if zstd {
            Compression::Zstd
        } else {
            Compression::Gzip
        };
        Some(PushFormat {
            compression,
            manifest,
        })
    }
}

/// What berth's own push writes: how layers are compressed, which manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushFormat {
    pub compression: Compression,
    pub manifest: ManifestFormat,
}

impl std::fmt::Display for PushFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} layers, {} manifest",
            self.compression.as_str(),
            self.manifest.as_str()
        )
    }
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
    /// Copies an image (and what it names) to another registry's repository, under its
    /// digest and `tag`; blobs already there are not sent. Returns the bytes sent.
    async fn copy(
        &self,
        from: &RegistryPlace,
        to: &RegistryPlace,
        digest: &str,
        tag: Option<&str>,
    ) -> Result<u64>;
}

/// A repository in a registry, with the credentials to reach it.
#[derive(Clone, Debug)]
pub struct RegistryPlace {
    pub endpoint: RegistryEndpoint,
    pub credentials: RegistryCredentials,
    pub repository: String,
}

/// Pushes a local image to a repository under a tag, or (`tag` None, one platform of an
/// image index) under its digest only.
#[async_trait]
pub trait ImagePusher: Send + Sync {
    /// Returns the digest of the manifest written, when the pusher knows it.
    async fn push(
        &self,
        image: &LocalImage,
        repository: &RepositoryInfo,
        tag: Option<&str>,
        creds: &RegistryCredentials,
        format: PushFormat,
        ctx: &StepCtx,
    ) -> Result<Option<String>>;
}

/// A local image that came from a registry: where it came from, and its layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledBase {
    /// The repository on the registry, without the host.
    pub repository: String,
    /// What it was pulled by: a manifest or an index digest.
    pub digest: String,
    /// The image id (its config digest), which picks the manifest out of an index.
    pub id: String,
    pub diff_ids: Vec<String>,
}

/// A local image's bytes, for a push of berth's own.
#[async_trait]
pub trait ImageExporter: Send + Sync {
    /// The image's layers, base first, by uncompressed digest (`diff id`).
    async fn diff_ids(&self, image: &LocalImage) -> Result<Vec<String>>;
    /// Local images pulled from registry `host` whose layers are the first ones of an image
    /// with layers `diff_ids` (its base, or a base of its base), the most layers first.
    async fn bases(&self, diff_ids: &[String], host: &str) -> Result<Vec<PulledBase>>;
    /// The image as the daemon exports it (`docker save`): a tar, streamed.
    async fn export(
        &self,
        image: &LocalImage,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>>;
}

/// One target as the deployer of its kind sees it: the settings every target has, and its
/// own kind's. The engine picks the deployer by the kind once, so a deployer never meets a
/// target of another kind.
pub struct On<'a, K> {
    pub target: &'a Target,
    pub spec: &'a K,
}

impl<K> Clone for On<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for On<'_, K> {}

/// Everything a deployer needs to deploy one target.
pub struct DeployRequest<'a, K> {
    pub on: On<'a, K>,
    /// Image name -> what to deploy.
    pub images: BTreeMap<String, ImageRef>,
    /// For rendering `${images.…}` and `${targets.….outputs.…}` in templates.
    pub values: RuntimeValues,
}

/// How a rollout (or a rollback) ended, in the same words for every kind of target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The target already was in the wanted state; nothing was changed.
    Unchanged,
    /// The new version runs.
    Completed,
    /// The platform put the previous version back by itself (the ECS circuit breaker, a
    /// CloudFormation rollback): why, in a sentence.
    RolledBack(String),
    /// The rollout failed and nothing has put the previous version back.
    Failed(Failure),
    /// Time ran out; the rollout may still complete.
    TimedOut(String),
    /// berth stopped watching at the stage it was asked to (`wait_until`); the rollout goes
    /// on, and `berth deploy --continue` watches it again. The stage, as the platform names it.
    Paused(String),
}

/// A failed rollout: what failed (`deployment of shop-web:12 to service `web``) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub what: String,
    pub why: String,
    /// What else the user can do about it on this kind of target, for the hint.
    pub advice: Option<String>,
}

/// What a deploy (or rollback) did: how it ended and the versions before and after.
pub struct Rollout {
    pub verdict: Verdict,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Outputs later targets may reference (CloudFormation stack outputs).
    pub outputs: BTreeMap<String, String>,
    /// How to put back what ran before, where the deployer can (for `rollback: auto`).
    pub undo: Option<Box<dyn Undo>>,
    /// The evidence of why it did not complete (a failure, a rollback, a timeout).
    pub diagnosis: Option<Diagnosis>,
    /// The stage the rollout was left at on request (`wait_until`): it goes on without berth.
    pub paused_at: Option<String>,
}

impl Rollout {
    pub fn new(verdict: Verdict, before: Option<String>, after: Option<String>) -> Self {
        Rollout {
            verdict,
            before,
            after,
            outputs: BTreeMap::new(),
            undo: None,
            diagnosis: None,
            paused_at: None,
        }
    }
}

/// Puts back the version a deploy replaced.
#[async_trait]
pub trait Undo: Send + Sync {
    /// What it goes back to, for messages (`shop-web:11`, `the previous revision`).
    fn to(&self) -> String;
    /// Goes back and waits; the verdict is about the rollback, `after` what runs then.
    async fn undo(&self, ctx: &StepCtx) -> Result<(Verdict, Option<String>)>;
}

/// One line a container logged (`berth logs`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// The task id or the pod name.
    pub unit: String,
    pub container: String,
    pub line: String,
}

/// What `berth logs` asks for: the last `lines` of each container, then (`follow`) new
/// lines as they come, until interrupted.
#[derive(Clone, Copy, Debug)]
pub struct LogRequest {
    pub lines: usize,
    pub follow: bool,
}

/// Where a deployer sends log lines as it reads them.
pub type LogSink<'a> = &'a (dyn Fn(LogLine) + Send + Sync);

/// What a target runs now (`berth status`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TargetState {
    pub revision: Option<String>,
    pub images: Vec<String>,
    pub rollout: String,
    pub detail: Vec<String>,
}

/// Who asks for a target's lock, and how long to wait for it.
#[derive(Clone, Debug)]
pub struct LockRequest {
    /// Who holds the lock, for the runs that wait for it (`CI build 42 on runner-3`).
    pub owner: String,
    /// This run's own token: a lease with it is ours.
    pub token: String,
    /// Wait while another run holds it (`--no-wait-lock`: fail at once instead).
    pub wait: bool,
}

/// A lock held on a target. Dropping it stops renewing the lease, which then expires;
/// `release` gives it back at once.
#[async_trait]
pub trait Held: Send + Sync {
    async fn release(self: Box<Self>) -> Result<()>;
}

/// An image reference a target depends on, and what of the target holds it
/// (`task definition shop:12`, `ReplicaSet web-5d8f`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InUse {
    pub reference: String,
    pub by: String,
}

/// Deploys targets of one kind `K` (`EcsTarget`, `CfnTarget`, `EksTarget`).
#[async_trait]
pub trait Deployer<K: Sync>: Send + Sync {
    /// What `deploy` would do, as lines for a plan, with read-only calls only.
    async fn plan(&self, req: &DeployRequest<'_, K>) -> Result<Vec<String>>;
    /// Deploys and follows the rollout to its end; the engine decides what a failure leads
    /// to (see `engine::rollback`).
    async fn deploy(&self, req: &DeployRequest<'_, K>, ctx: &StepCtx) -> Result<Rollout>;
    /// Puts the target back to what berth recorded before its last deploy.
    async fn rollback(&self, on: On<'_, K>, ctx: &StepCtx) -> Result<Rollout>;
    /// Reads the logs of the containers the target runs now (its current revision's tasks or
    /// pods) into `sink`. Kinds without containers say so.
    async fn logs(
        &self,
        on: On<'_, K>,
        _req: LogRequest,
        _sink: LogSink<'_>,
        _ctx: &StepCtx,
    ) -> Result<()> {
        Err(crate::error::Error::failed(format!(
            "target `{}` runs no containers berth can read logs from",
            on.target.name
        ))
        .with_hint("`berth logs` reads ECS services' CloudWatch Logs and Kubernetes pods' logs"))
    }
    /// Follows the rollout a deploy left running (`wait_until`) to its end, changing nothing
    /// (`berth deploy --continue`). Kinds without staged rollouts say so.
    async fn resume(&self, on: On<'_, K>, _ctx: &StepCtx) -> Result<Rollout> {
        Err(crate::error::Error::failed(format!(
            "target `{}` has no staged rollout to continue",
            on.target.name
        ))
        .with_hint("`--continue` follows ECS services with the BLUE_GREEN, LINEAR or CANARY deployment strategy that `wait_until` left running"))
    }
    async fn status(&self, on: On<'_, K>) -> Result<TargetState>;
    /// The image references the target depends on now (`berth gc` keeps them): what it
    /// runs, what is rolling out, and what a rollback would go back to; each with what
    /// references it. `history`: how many earlier revisions count as rollback points.
    async fn in_use(&self, on: On<'_, K>, history: usize) -> Result<Vec<InUse>>;
    /// The outputs the target has now (for plans of the targets that depend on it).
    async fn outputs(&self, _on: On<'_, K>) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    /// Whether deploying would change the target (read-only; a deploy that changes nothing
    /// needs no lock). Kinds without a lock need not say.
    async fn changes(&self, _req: &DeployRequest<'_, K>) -> Result<bool> {
        Ok(true)
    }
    /// Takes the target's lock for a deploy or rollback (waiting, bounded, while another
    /// run holds it); None where the kind has no lock yet.
    async fn lock(
        &self,
        _on: On<'_, K>,
        _req: &LockRequest,
        _ctx: &StepCtx,
    ) -> Result<Option<Box<dyn Held>>> {
        Ok(None)
    }
}
