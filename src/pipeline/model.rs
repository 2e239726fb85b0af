//! The validated pipeline: what the planner and the adapters work from.
//!
//! Everything here has been checked: names resolve, files exist, durations parse, each target
//! has exactly one kind, the dependency graph has no cycle. Strings that may hold runtime
//! references (`${images.web.uri}`, `${targets.api.outputs.Url}`) are kept as templates and
//! rendered with [`super::interpolate::render`] when their step runs.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

pub use super::reference::ImageRef;
use crate::source::{Pos, Source};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug)]
pub struct Pipeline {
    /// The pipeline file.
    pub source: Source,
    /// The folder relative paths are resolved against.
    pub dir: PathBuf,
    pub project: String,
    /// The environment selected with `-e`, if any.
    pub environment: Option<String>,
    /// Region, profile and role from `defaults` (after the environment), before CLI
    /// overrides.
    pub aws: AwsAccess,
    pub images: IndexMap<String, Image>,
    pub targets: IndexMap<String, Target>,
    /// The Docker Engines that build (`builders:`), always with [`DEFAULT_BUILDER`].
    pub builders: IndexMap<String, Builder>,
}

/// The builder every image uses unless it names another: the engine at `DOCKER_HOST` (or
/// the current Docker context), as the docker CLI finds it.
pub const DEFAULT_BUILDER: &str = "default";

/// A Docker Engine that builds images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Builder {
    pub name: String,
    pub endpoint: EngineEndpoint,
    /// What it builds natively, `os/arch[/variant]`.
    pub platform: String,
    /// Builds at once on this engine.
    pub concurrency: usize,
}

/// How to reach a Docker Engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEndpoint {
    /// `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`), else `DOCKER_CONTEXT` or
    /// the current context of the docker CLI, else the local socket.
    Default,
    /// `unix://…`, `tcp://…` (with client certificates when `tls` names their folder) or
    /// `ssh://[user@]host[:port]`.
    Host { host: String, tls: Option<PathBuf> },
    /// A docker CLI context, by name.
    Context(String),
}

impl std::fmt::Display for EngineEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineEndpoint::Default => f.write_str("DOCKER_HOST"),
            EngineEndpoint::Host { host, .. } => f.write_str(host),
            EngineEndpoint::Context(c) => write!(f, "docker context {c}"),
        }
    }
}

/// `os/arch[/variant]`.
pub fn valid_platform(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// Two names of one platform (`linux/arm64` is `linux/arm64/v8`).
pub fn same_platform(a: &str, b: &str) -> bool {
    let norm = |p: &str| p.strip_suffix("/v8").unwrap_or(p).to_string();
    norm(a) == norm(b)
}

/// The platform of this machine, as Docker names it (the default builder's, unless declared).
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

impl Pipeline {
    /// Images that no target deploys (no container, manifest, template or parameter refers
    /// to them), when there are targets: built and pushed, then never used — often a typo
    /// or a forgotten reference.
    pub fn unused_images(&self) -> Vec<&str> {
        if self.targets.is_empty() {
            return Vec::new();
        }
        self.images
            .keys()
            .filter(|i| !self.targets.values().any(|t| t.images.contains(i)))
            .map(String::as_str)
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Image {
    pub name: String,
    pub pos: Pos,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
    pub platform: Option<String>,
    /// `platforms:` — one image per platform, each built on a builder of that platform,
    /// pushed under the tags as an image index. Empty: one image (`platform` or the
    /// builder's own).
    pub platforms: Vec<String>,
    /// The builders it may be built on (its `builder:`, a pool expanded), in order.
    pub builders: Vec<String>,
    pub cache_from: Vec<String>,
    /// The tag of the registry build cache (`registry_cache`), made a valid tag.
    pub registry_cache: Option<String>,
    pub network: Option<BuildNetwork>,
    /// How the image goes to the registry.
    pub push_via: PushVia,
    /// How berth's own push compresses layers, and the manifest it writes.
    pub compression: Compression,
    pub manifest: ManifestFormat,
    /// Build secrets: id -> where the value comes from.
    pub secrets: IndexMap<String, SecretSource>,
    pub repository: String,
    /// Final tags (templates expanded, `-dirty` applied).
    pub tags: Vec<String>,
    /// Where the repository is and who reaches it (`ecr.role_arn` wins over `defaults`).
    pub aws: AwsAccess,
    pub ecr: EcrSettings,
}

/// Which AWS credentials and region one image's or target's calls use: the region and
/// profile as resolved from the file (CLI values still win), and the role assumed on top.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsAccess {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role: Option<AssumeRole>,
}

/// An IAM role berth assumes (STS AssumeRole) for the calls of an image or target.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssumeRole {
    pub arn: String,
    pub external_id: Option<String>,
    /// Default: `berth-<project>`.
    pub session_name: String,
    /// Default: one hour, STS's default.
    pub duration: Duration,
}

impl AssumeRole {
    /// The account in the role's ARN (`arn:aws:iam::ACCOUNT:role/NAME`).
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or("")
    }
}

#[derive(Clone, Debug)]
pub struct EcrSettings {
    pub create: bool,
    pub scan_on_push: Option<bool>,
    pub immutable_tags: Option<bool>,
    /// Policies as JSON text (files are read and checked at load time).
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
    pub encryption: Option<(EncryptionType, Option<String>)>,
    pub tags: IndexMap<String, String>,
    pub scan_gate: Option<ScanGate>,
    /// How targets in other regions or accounts get the image (None: they deploy it from
    /// this repository).
    pub replicate: Option<Replicate>,
    /// How long a deploy waits for a replica to arrive.
    pub replication_timeout: Duration,
}

impl Default for EcrSettings {
    fn default() -> Self {
        EcrSettings {
            create: false,
            scan_on_push: None,
            immutable_tags: None,
            lifecycle_policy: None,
            repository_policy: None,
            encryption: None,
            tags: IndexMap::new(),
            scan_gate: None,
            replicate: None,
            replication_timeout: Duration::from_secs(600),
        }
    }
}

/// How an image reaches the registries of targets in other regions or accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Replicate {
    /// ECR's own replication carries it: berth checks that the registry's replication
    /// rules cover the target's region and account, waits until the image is there, and
    /// deploys the replica.
    Ecr,
    /// berth copies it to the target's registry itself (the repository created there, with
    /// this image's `ecr` settings), registry to registry, before the deploy.
    Push,
}

#[derive(Clone, Debug)]
pub struct ScanGate {
    pub fail_on: Severity,
    pub ignore: Vec<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub pos: Pos,
    pub kind: TargetKind,
    /// Direct dependencies, in file order.
    pub depends_on: Vec<String>,
    /// Images this target deploys or references, in first-use order.
    pub images: Vec<String>,
    pub aws: AwsAccess,
}

#[derive(Clone, Debug)]
pub enum TargetKind {
    Ecs(EcsTarget),
    CloudFormation(CfnTarget),
    Eks(EksTarget),
}

impl TargetKind {
    /// What berth does when a rollout fails (CloudFormation rolls back by itself).
    pub fn rollback_policy(&self) -> Rollback {
        match self {
            TargetKind::Ecs(e) => e.rollback,
            TargetKind::Eks(k) => k.rollback,
            TargetKind::CloudFormation(_) => Rollback::Never,
        }
    }

    /// The kind's name as written in the file and in JSON results.
    pub fn name(&self) -> &'static str {
        match self {
            TargetKind::Ecs(_) => "ecs",
            TargetKind::CloudFormation(_) => "cloudformation",
            TargetKind::Eks(_) => "eks",
        }
    }
}

#[derive(Clone, Debug)]
pub struct EcsTarget {
    pub cluster: String,
    pub service: String,
    /// Container name -> image name.
    pub containers: IndexMap<String, String>,
    pub task_definition: Option<PathBuf>,
    /// The template with static references expanded; runtime ones are left for the render.
    pub task_definition_text: Option<String>,
    pub run_before: Option<RunBefore>,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub rollback: Rollback,
    /// Stop watching a service deployment (BLUE_GREEN, LINEAR, CANARY) once it reaches this
    /// stage; it goes on without berth (`berth deploy --continue` watches it again).
    pub wait_until: Option<DeploymentStage>,
    /// Deployment settings brought in line on the service (unset ones are left as they are).
    pub deployment: EcsDeployment,
}

/// The service's deployment settings the pipeline sets (`ecs.deployment`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EcsDeployment {
    pub strategy: Option<EcsStrategy>,
    pub bake_time_minutes: Option<i32>,
    /// Alarms that roll a deployment back (empty: none).
    pub alarms: Option<Vec<String>>,
    pub canary: Option<TrafficStep>,
    pub linear: Option<TrafficStep>,
}

impl EcsDeployment {
    pub fn is_empty(&self) -> bool {
        *self == EcsDeployment::default()
    }
}

/// A share of production traffic moved at a time, and how long it bakes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrafficStep {
    pub percent: f64,
    pub bake_time_minutes: Option<i32>,
}

/// An ECS deployment strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EcsStrategy {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl EcsStrategy {
    /// As ECS names it.
    pub fn as_str(self) -> &'static str {
        match self {
            EcsStrategy::Rolling => "ROLLING",
            EcsStrategy::BlueGreen => "BLUE_GREEN",
            EcsStrategy::Linear => "LINEAR",
            EcsStrategy::Canary => "CANARY",
        }
    }
}

/// A lifecycle stage of an ECS service deployment (the BLUE_GREEN, LINEAR and CANARY
/// strategies), in the order ECS goes through them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStage {
    ReconcileService,
    PreScaleUp,
    ScaleUp,
    PostScaleUp,
    TestTrafficShift,
    PostTestTrafficShift,
    ProductionTrafficShift,
    PostProductionTrafficShift,
    BakeTime,
    CleanUp,
}

impl DeploymentStage {
    pub const ALL: [DeploymentStage; 10] = [
        DeploymentStage::ReconcileService,
        DeploymentStage::PreScaleUp,
        DeploymentStage::ScaleUp,
        DeploymentStage::PostScaleUp,
        DeploymentStage::TestTrafficShift,
        DeploymentStage::PostTestTrafficShift,
        DeploymentStage::ProductionTrafficShift,
        DeploymentStage::PostProductionTrafficShift,
        DeploymentStage::BakeTime,
        DeploymentStage::CleanUp,
    ];

    /// As ECS names it (`TEST_TRAFFIC_SHIFT`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStage::ReconcileService => "RECONCILE_SERVICE",
            DeploymentStage::PreScaleUp => "PRE_SCALE_UP",
            DeploymentStage::ScaleUp => "SCALE_UP",
            DeploymentStage::PostScaleUp => "POST_SCALE_UP",
            DeploymentStage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            DeploymentStage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            DeploymentStage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            DeploymentStage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            DeploymentStage::BakeTime => "BAKE_TIME",
            DeploymentStage::CleanUp => "CLEAN_UP",
        }
    }

    /// The stage ECS names `name` (None for one berth does not know).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[derive(Clone, Debug)]
pub struct RunBefore {
    pub container: String,
    pub command: Vec<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct CfnTarget {
    pub stack: String,
    pub template: PathBuf,
    /// Parameter values are templates (may reference images and other targets' outputs).
    pub parameters: IndexMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: IndexMap<String, String>,
    pub role_arn: Option<String>,
    pub notification_arns: Vec<String>,
    pub termination_protection: Option<bool>,
    pub s3_bucket: Option<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum EksConnection {
    Cluster(String),
    Context(String),
}

#[derive(Clone, Debug)]
pub enum EksWorkload {
    /// Manifest files (folders expanded, sorted) applied with server-side apply, and the
    /// objects they hold, read once when the pipeline is loaded.
    Manifests {
        files: Vec<PathBuf>,
        objects: Vec<super::manifest::Manifest>,
    },
    /// Patch the images of an existing Deployment: name, container -> image name.
    Deployment {
        name: String,
        containers: IndexMap<String, String>,
    },
}

#[derive(Clone, Debug)]
pub struct EksTarget {
    pub connection: EksConnection,
    pub namespace: String,
    pub workload: EksWorkload,
    pub timeout: Duration,
    pub rollback: Rollback,
}

/// How an image is pushed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PushVia {
    /// berth's own push: layers compressed in parallel, uploaded as they are produced, never
    /// compressed or uploaded twice.
    #[default]
    Registry,
    /// The Docker daemon's `docker push`.
    Daemon,
}

/// How berth's own push compresses an image's layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip, level 1: what every runtime pulls.
    #[default]
    Gzip,
    /// zstd, level 3, under an OCI manifest: smaller and faster to unpack; pulled by
    /// containerd 1.5+ (EKS nodes), Docker Engine 23+ and Podman, not by Docker 20.10.
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The manifest format berth's own push writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    /// Docker image manifest v2, schema 2.
    #[default]
    Docker,
    /// OCI image manifest v1.
    Oci,
}

impl ManifestFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestFormat::Docker => "docker",
            ManifestFormat::Oci => "oci",
        }
    }
}

/// The network `RUN` steps of a build get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BuildNetwork {
    Default,
    Host,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
pub enum EncryptionType {
    AES256,
    KMS,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// As written in the file and reported by ECR.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollback {
    /// When the rollout fails, put the previous version back and wait for it.
    Auto,
    /// Leave a failed rollout as it is (ECS's circuit breaker may still roll back by itself).
    #[default]
    Never,
}

impl BuildNetwork {
    /// As the Docker Engine API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildNetwork::Default => "default",
            BuildNetwork::Host => "host",
            BuildNetwork::None => "none",
        }
    }
}

impl EncryptionType {
    /// As ECR names it.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionType::AES256 => "AES256",
            EncryptionType::KMS => "KMS",
        }
    }
}

impl Severity {
    /// A severity as ECR's scanner reports it (`UNDEFINED` and unknown words are none).
    pub fn from_ecr(s: &str) -> Option<Severity> {
        Some(match s {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MEDIUM" => Severity::Medium,
            "LOW" => Severity::Low,
            "INFORMATIONAL" => Severity::Informational,
            _ => return None,
        })
    }
}

/// Where a build secret's value comes from. Only the source is kept: the value is read by
/// the builder when the build asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}
