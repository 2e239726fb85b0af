//! The pipeline file as written: serde + JSON Schema types.
//!
//! These structs are the single description of the file format. The parser decodes them
//! (rejecting unknown keys), and `berth schema` turns them into the JSON Schema in
//! `docs/berth.schema.json`; the doc comments are the schema's descriptions. Checks that
//! need more than one value (references, files, cycles) happen afterwards in `validate`.

pub use super::model::{
    BuildNetwork, Compression, DeploymentStage, EcsStrategy, EncryptionType, ManifestFormat,
    PushVia, Replicate, Rollback, Severity,
};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::spanned::Spanned;

/// A berth pipeline file (format version 1).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "berth pipeline file")]
pub struct PipelineFile {
    /// Format version of this file. Must be 1.
    pub version: Spanned<u32>,
    /// Project name, used in default repository names (`<project>/<image>`) and labels.
    /// Default: the name of the folder holding this file.
    pub project: Option<Spanned<String>>,
    /// Settings every image and target inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// Variables for `${vars.NAME}`. Environments may override them.
    #[serde(default)]
    pub vars: IndexMap<Spanned<String>, Spanned<String>>,
    /// What to build and push; the key is the image name.
    #[serde(default)]
    pub images: IndexMap<Spanned<String>, ImageDef>,
    /// Where to deploy; the key is the target name. Exactly one kind (`ecs`,
    /// `cloudformation`, `eks`) per target.
    #[serde(default)]
    pub targets: IndexMap<Spanned<String>, TargetDef>,
    /// Named variations selected with `-e/--env NAME`, deep-merged over the base file.
    #[serde(default)]
    pub environments: IndexMap<Spanned<String>, EnvironmentDef>,
    /// Docker Engines that build images; the key is the builder's name. `default` is the
    /// engine at `DOCKER_HOST` (or the current Docker context), which every image uses
    /// unless it names another; declare it to set its platform or concurrency.
    #[serde(default)]
    pub builders: IndexMap<Spanned<String>, BuilderDef>,
    /// Named groups of builders (`pool: [a, b]`): an image whose `builder` names a pool is
    /// built on whichever of them has room first.
    #[serde(default)]
    pub pools: IndexMap<Spanned<String>, Vec<Spanned<String>>>,
}

/// A Docker Engine that builds: one of `host` or `context` (neither: the default engine).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuilderDef {
    /// The engine's address, as `DOCKER_HOST`: `unix:///path/docker.sock`,
    /// `tcp://host:2376` (with `tls`) or `ssh://[user@]host[:port]` (the remote user runs
    /// `docker system dial-stdio`; `ssh` uses your ssh config and agent).
    pub host: Option<Spanned<String>>,
    /// A docker CLI context (`docker context ls`), read from `~/.docker/contexts`.
    pub context: Option<Spanned<String>>,
    /// With a `tcp://` host: the folder holding the client certificate `cert.pem`, its key
    /// `key.pem` and the engine's CA `ca.pem` (as `DOCKER_CERT_PATH`), relative to the
    /// pipeline file.
    pub tls: Option<Spanned<String>>,
    /// What the engine builds natively, `os/arch[/variant]`, e.g. `linux/arm64`.
    /// Required for a declared builder; the default builder's is this machine's.
    pub platform: Option<Spanned<String>>,
    /// Builds at once on this engine. Default: 2 (the default builder: one per CPU).
    pub concurrency: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// AWS region. Default: the AWS SDK's resolution (AWS_REGION, the profile, ...).
    pub region: Option<Spanned<String>>,
    /// AWS profile from the shared config files.
    pub profile: Option<Spanned<String>>,
    /// An IAM role to assume (STS AssumeRole) for every image's repository and every target that sets no role of its own, e.g.
    /// `arn:aws:iam::222222222222:role/deploy`. The credentials of the profile (or the
    /// environment) must be allowed to assume it.
    pub role_arn: Option<Spanned<String>>,
    /// The external id the role's trust policy asks for (with `role_arn`).
    pub external_id: Option<Spanned<String>>,
    /// The role session name, seen in CloudTrail (with `role_arn`). Default: `berth-<project>`.
    pub session_name: Option<Spanned<String>>,
    /// How long the role's credentials last, 15m to 12h (with `role_arn`); berth refreshes
    /// them before they run out. Default: 1h.
    pub duration: Option<Spanned<String>>,
    /// The builder or pool every image builds on unless it names its own.
    pub builder: Option<Spanned<String>>,
    /// Tag templates applied to every image that does not set `tags`.
    /// Default: `["${git.short_sha}"]`.
    pub tags: Option<Vec<Spanned<String>>>,
    /// Append `-dirty` to tags made from `${git.sha}`/`${git.short_sha}` when the work tree
    /// has uncommitted changes. Default: true.
    pub dirty_suffix: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageDef {
    /// Build context folder, relative to the pipeline file. Default: the pipeline file's folder.
    pub context: Option<Spanned<String>>,
    /// Dockerfile path relative to the context (may point outside it). Default: `Dockerfile`.
    pub dockerfile: Option<Spanned<String>>,
    /// Multi-stage build target.
    pub target: Option<Spanned<String>>,
    /// Build arguments (`ARG`).
    #[serde(default)]
    pub build_args: IndexMap<Spanned<String>, Spanned<String>>,
    /// Image labels. berth adds OCI labels (source revision, created) and its content digest.
    #[serde(default)]
    pub labels: IndexMap<Spanned<String>, Spanned<String>>,
    /// Target platform, e.g. `linux/amd64`, passed to the engine (which may emulate it).
    pub platform: Option<Spanned<String>>,
    /// Build one image per platform, each on a builder of that platform (no emulation),
    /// and push them under the tags as one image index (a multi-arch image), e.g.
    /// `[linux/amd64, linux/arm64]`.
    pub platforms: Option<Vec<Spanned<String>>>,
    /// The builder or pool to build on. Default: `defaults.builder`, else `default` (for
    /// `platforms`: every builder of each platform).
    pub builder: Option<Spanned<String>>,
    /// Network for `RUN` steps, as `docker build --network`: `default`, `host` or `none`.
    pub network: Option<BuildNetwork>,
    /// How the image goes to the registry: `registry` (berth's own push, the default) or
    /// `daemon` (`docker push`, for registries berth's own push does not support).
    pub push_via: Option<PushVia>,
    /// How berth's own push compresses layers: `gzip` (the default, pulled by every runtime)
    /// or `zstd` (smaller, faster to unpack; needs containerd 1.5+ or Docker Engine 23+ to
    /// pull, and an OCI manifest).
    pub compression: Option<Spanned<Compression>>,
    /// The manifest berth's own push writes: `docker` (v2 schema 2, the default) or `oci`.
    /// Default with `compression: zstd`: `oci`.
    pub manifest: Option<Spanned<ManifestFormat>>,
    /// Image references to use as build cache sources.
    #[serde(default)]
    pub cache_from: Vec<Spanned<String>>,
    /// A tag berth keeps on this image's latest push (e.g. `cache-${git.branch}`) and pulls
    /// before building, as build cache: a fresh CI machine then reuses the layers of the
    /// branch's last build. Characters a tag cannot hold become `-`.
    pub registry_cache: Option<Spanned<String>>,
    /// Build secrets (secret id -> where its value comes from), for Dockerfile lines such as
    /// `RUN --mount=type=secret,id=npm_token …`. Built with BuildKit; the values never enter
    /// the image, its history or berth's output, and do not count in the content digest.
    #[serde(default)]
    pub secrets: IndexMap<Spanned<String>, SecretDef>,
    /// ECR repository name. Default: `<project>/<image name>`.
    pub repository: Option<Spanned<String>>,
    /// Tag templates. Default: `defaults.tags`.
    pub tags: Option<Vec<Spanned<String>>>,
    /// AWS region of the repository. Default: `defaults.region`.
    pub region: Option<Spanned<String>>,
    /// AWS profile for this image's repository. Default: `defaults.profile`.
    pub profile: Option<Spanned<String>>,
    /// Repository settings, applied when berth creates or updates the repository.
    #[serde(default)]
    pub ecr: EcrDef,
}

/// Where a build secret's value comes from: one of `env` or `file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretDef {
    /// An environment variable of the process running berth.
    pub env: Option<Spanned<String>>,
    /// A file, relative to the pipeline file.
    pub file: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcrDef {
    /// Create the repository if it is missing. Default: true.
    pub create: Option<bool>,
    /// Scan images on push.
    pub scan_on_push: Option<bool>,
    /// Make tags immutable.
    pub immutable_tags: Option<bool>,
    /// Lifecycle policy: a JSON file path, or the policy inline as a mapping.
    pub lifecycle_policy: Option<Spanned<PolicyDef>>,
    /// Repository policy (who may pull/push): a JSON file path, or inline.
    pub repository_policy: Option<Spanned<PolicyDef>>,
    /// Encryption at rest; only applied when the repository is created.
    pub encryption: Option<EncryptionDef>,
    /// Repository tags.
    #[serde(default)]
    pub tags: IndexMap<Spanned<String>, Spanned<String>>,
    /// Wait for the image scan and block deploys on findings.
    pub scan_gate: Option<ScanGateDef>,
    /// How targets in another region or account get this image: `ecr` — ECR's replication
    /// carries it; berth checks that the registry's replication rules cover the target's
    /// region and account, waits (up to `replication_timeout`) until the image is there, and
    /// deploys the replica; `push` — berth copies it to the target's registry itself before
    /// the deploy (blobs that are there already are not sent). Default: targets deploy it
    /// from this repository.
    pub replicate: Option<Replicate>,
    /// How long a deploy waits for a replica. Default: 10m.
    pub replication_timeout: Option<Spanned<String>>,
    /// An IAM role to assume (STS AssumeRole) for this image's repository (e.g. a shared-services account's ECR), e.g.
    /// `arn:aws:iam::222222222222:role/deploy`. The credentials of the profile (or the
    /// environment) must be allowed to assume it.
    pub role_arn: Option<Spanned<String>>,
    /// The external id the role's trust policy asks for (with `role_arn`).
    pub external_id: Option<Spanned<String>>,
    /// The role session name, seen in CloudTrail (with `role_arn`). Default: `berth-<project>`.
    pub session_name: Option<Spanned<String>>,
    /// How long the role's credentials last, 15m to 12h (with `role_arn`); berth refreshes
    /// them before they run out. Default: 1h.
    pub duration: Option<Spanned<String>>,
}

/// A policy document: a path to a JSON file (relative to the pipeline file), or inline.
#[derive(Debug, Clone)]
pub enum PolicyDef {
    File(String),
    Inline(serde_json::Value),
}

impl<'de> Deserialize<'de> for PolicyDef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PolicyDef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a file path or an inline policy (a mapping)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PolicyDef, E> {
                Ok(PolicyDef::File(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<PolicyDef, A::Error> {
                let v = serde_json::Value::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(PolicyDef::Inline(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for PolicyDef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PolicyDef".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A JSON policy file path relative to the pipeline file, or the policy inline.",
            "oneOf": [{"type": "string"}, {"type": "object"}]
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionDef {
    /// `AES256` (default) or `KMS`.
    #[serde(rename = "type")]
    pub kind: EncryptionType,
    /// KMS key id, ARN or alias (with `type: KMS`).
    pub kms_key: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanGateDef {
    /// Fail when a finding at or above this severity is found.
    pub fail_on: Severity,
    /// Finding names (CVE ids) to ignore.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// How long to wait for the scan to finish. Default: 10m.
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDef {
    /// Deploy to an ECS service.
    pub ecs: Option<Spanned<EcsDef>>,
    /// Deploy a CloudFormation stack through a change set.
    pub cloudformation: Option<Spanned<CloudFormationDef>>,
    /// Deploy to an EKS cluster (or any Kubernetes context).
    pub eks: Option<Spanned<EksDef>>,
    /// Targets that must be deployed before this one.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// AWS region. Default: `defaults.region`.
    pub region: Option<Spanned<String>>,
    /// AWS profile. Default: `defaults.profile`.
    pub profile: Option<Spanned<String>>,
    /// An IAM role to assume (STS AssumeRole) for this target's calls (e.g. a workload account), e.g.
    /// `arn:aws:iam::222222222222:role/deploy`. The credentials of the profile (or the
    /// environment) must be allowed to assume it.
    pub role_arn: Option<Spanned<String>>,
    /// The external id the role's trust policy asks for (with `role_arn`).
    pub external_id: Option<Spanned<String>>,
    /// The role session name, seen in CloudTrail (with `role_arn`). Default: `berth-<project>`.
    pub session_name: Option<Spanned<String>>,
    /// How long the role's credentials last, 15m to 12h (with `role_arn`); berth refreshes
    /// them before they run out. Default: 1h.
    pub duration: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsDef {
    /// Cluster name or ARN.
    pub cluster: Spanned<String>,
    /// Service name.
    pub service: Spanned<String>,
    /// Container name in the task definition -> image name from `images`.
    #[serde(default)]
    pub containers: IndexMap<Spanned<String>, Spanned<String>>,
    /// Task definition template file (JSON or YAML, with `${…}`). Default: clone the service's
    /// current revision.
    pub task_definition: Option<Spanned<String>>,
    /// A one-off task to run with the new revision before the service is updated.
    pub run_before: Option<RunBeforeDef>,
    /// How long to wait for the rollout. Default: 15m.
    pub timeout: Option<Spanned<String>>,
    /// How often to poll the service. Default: 5s.
    pub poll_interval: Option<Spanned<String>>,
    /// What to do when the rollout fails: `auto` or `never` (default).
    pub rollback: Option<Rollback>,
    /// For services with the BLUE_GREEN, LINEAR or CANARY strategy: stop watching once the
    /// service deployment reaches this lifecycle stage (e.g. `TEST_TRAFFIC_SHIFT`) and report
    /// the target `paused`; `berth deploy --continue` watches it to its end.
    pub wait_until: Option<DeploymentStage>,
    /// Deployment settings berth brings in line on the service before it deploys (unset ones
    /// are left as they are); `plan` shows what would change.
    pub deployment: Option<EcsDeploymentDef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsDeploymentDef {
    /// `ROLLING`, `BLUE_GREEN`, `LINEAR` or `CANARY`.
    pub strategy: Option<EcsStrategy>,
    /// How long the new revision runs with all production traffic before the old one is
    /// removed, in whole minutes (`10m`, `0m`).
    pub bake_time: Option<Spanned<String>>,
    /// CloudWatch alarms that roll a deployment back when they go off (`[]`: none).
    pub alarms: Option<Vec<String>>,
    /// For CANARY: the share of production traffic moved first, and how long it bakes.
    pub canary: Option<TrafficStepDef>,
    /// For LINEAR: the share moved at each step, and how long each step bakes.
    pub linear: Option<TrafficStepDef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficStepDef {
    /// Percent of production traffic (more than 0, less than 100).
    pub percent: Spanned<f64>,
    /// Whole minutes (`5m`).
    pub bake_time: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBeforeDef {
    /// Container of the new revision to run the command in.
    pub container: Spanned<String>,
    /// Command override.
    pub command: Vec<String>,
    /// How long to wait for the task to stop. Default: the target's timeout.
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudFormationDef {
    /// Stack name.
    pub stack: Spanned<String>,
    /// Template file (YAML or JSON), relative to the pipeline file.
    pub template: Spanned<String>,
    /// Template parameters. Parameters the template has but this map does not set keep their
    /// previous values on update.
    #[serde(default)]
    pub parameters: IndexMap<Spanned<String>, Spanned<String>>,
    /// Capabilities, e.g. `CAPABILITY_IAM`.
    #[serde(default)]
    pub capabilities: Vec<Spanned<String>>,
    /// Stack tags.
    #[serde(default)]
    pub tags: IndexMap<Spanned<String>, Spanned<String>>,
    /// IAM role CloudFormation assumes for the operation.
    pub role_arn: Option<Spanned<String>>,
    /// SNS topics for stack events.
    #[serde(default)]
    pub notification_arns: Vec<Spanned<String>>,
    /// Enable termination protection on the stack.
    pub termination_protection: Option<bool>,
    /// S3 bucket for templates larger than 51,200 bytes.
    pub s3_bucket: Option<Spanned<String>>,
    /// How long to wait for the stack operation. Default: 30m.
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EksDef {
    /// EKS cluster name (berth authenticates itself; no aws CLI or kubeconfig needed).
    pub cluster: Option<Spanned<String>>,
    /// A kubeconfig context instead of `cluster`.
    pub context: Option<Spanned<String>>,
    /// Namespace for namespaced objects without one. Default: `default`.
    pub namespace: Option<Spanned<String>>,
    /// Manifest files or folders, applied with server-side apply and image substitution.
    pub manifests: Option<Vec<Spanned<String>>>,
    /// An existing Deployment whose container images are patched (with `containers`).
    pub deployment: Option<Spanned<String>>,
    /// Container name -> image name, for `deployment`.
    #[serde(default)]
    pub containers: IndexMap<Spanned<String>, Spanned<String>>,
    /// How long to wait for the rollout. Default: 10m.
    pub timeout: Option<Spanned<String>>,
    /// What to do when the rollout fails: `auto` or `never` (default).
    pub rollback: Option<Rollback>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentDef {
    /// AWS region for this environment (overrides `defaults.region`).
    pub region: Option<Spanned<String>>,
    /// AWS profile for this environment (overrides `defaults.profile`).
    pub profile: Option<Spanned<String>>,
    /// Variables merged over the top-level `vars`.
    #[serde(default)]
    pub vars: IndexMap<Spanned<String>, Spanned<String>>,
    /// Deep-merged over `defaults`.
    pub defaults: Option<serde_json::Value>,
    /// Deep-merged over the base images (mappings merge, other values replace).
    #[serde(default)]
    pub images: IndexMap<Spanned<String>, serde_json::Value>,
    /// Deep-merged over the base targets (mappings merge, other values replace).
    #[serde(default)]
    pub targets: IndexMap<Spanned<String>, serde_json::Value>,
}
