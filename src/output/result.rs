//! The final JSON document: the contract scripts rely on (see `docs/json-output.md`).
//!
//! Fields named in the CLI contract are always present (null when unknown). berth adds
//! fields (`environment`, `errors`, `steps`, per-entry details) but never renames or drops
//! one. A test pins the full set of fields.

use serde::Serialize;

use crate::error::Diagnostic;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Unchanged,
    Succeeded,
    /// A target's rollout was left running at the stage asked for (`--wait-until`).
    Paused,
    Failed,
    RolledBack,
    TimedOut,
    Interrupted,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Only in `plan` output: what would be deployed.
    Planned,
    Deployed,
    Unchanged,
    Failed,
    RolledBack,
    TimedOut,
    /// Left rolling out at the stage asked for (`wait_until`); see `paused_at`.
    Paused,
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub berth: u32,
    /// The command that produced this document (`ship`, `plan`, ...).
    pub command: String,
    pub status: RunStatus,
    pub environment: Option<String>,
    pub images: Vec<ImageResult>,
    pub targets: Vec<TargetResult>,
    /// Steps in the order they can run, with what each one waits for (`plan` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepResult>,
    pub errors: Vec<ErrorEntry>,
    /// The log lines read, in the order they were read (`logs` only, without `--follow`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<crate::engine::ports::LogLine>,
    /// What `doctor` checked, in order (`doctor` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The IAM policy documents, one per account or role (`iam-policy` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyResult>,
    /// The Kubernetes RBAC Roles of EKS targets (`iam-policy` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rbac: Vec<RbacResult>,
    /// Each repository `gc` looked at, with a verdict per image (`gc` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gc: Vec<GcRepository>,
    pub duration_ms: u64,
}

/// One IAM policy document and whose it is.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyResult {
    /// The role berth assumes for these calls; null for the base credentials.
    pub role: Option<String>,
    pub profile: Option<String>,
    /// `*` when berth could not tell (no credentials where `iam-policy` ran).
    pub account: String,
    pub region: String,
    /// The images and targets these permissions are for.
    pub for_images: Vec<String>,
    pub for_targets: Vec<String>,
    pub policy: crate::iam::Policy,
}

/// A Kubernetes Role (and the target it is for).
#[derive(Clone, Debug, Serialize)]
pub struct RbacResult {
    pub target: String,
    pub role: serde_json::Value,
}

/// One repository `berth gc` looked at.
#[derive(Clone, Debug, Serialize)]
pub struct GcRepository {
    /// The pipeline image (the first, when several share the repository).
    pub image: String,
    pub repository: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Newest first.
    pub images: Vec<GcImage>,
    /// How many may be deleted, and their bytes (ECR's compressed sizes).
    pub deletable: usize,
    pub deletable_bytes: u64,
    /// How many were deleted (`--delete` only), and their bytes.
    pub deleted: usize,
    pub bytes_freed: u64,
}

/// One image and what `gc` does with it.
#[derive(Clone, Debug, Serialize)]
pub struct GcImage {
    pub digest: String,
    pub tags: Vec<String>,
    /// RFC 3339, when ECR says.
    pub pushed_at: Option<String>,
    pub size: Option<u64>,
    pub action: GcAction,
    /// Why it is kept: `{"reason": "in_use", "by": [...]}`, `newest` (with `group`),
    /// `young`, `part_of` (with `index`) or `signature_of` (with `subject`); null when it
    /// may go.
    pub keep: Option<crate::engine::gc::Keep>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GcAction {
    Keep,
    /// Deletable (a dry run).
    Delete,
    Deleted,
}

/// One check of `berth doctor`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// What was checked: `docker`, `aws identity`, `aws ECS (us-east-1)`, `kubernetes web`…
    pub name: String,
    pub status: CheckStatus,
    /// What was found, or what failed.
    pub detail: String,
    /// How to fix a failed check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Failed,
    Skipped,
}

impl CheckResult {
    pub fn ok(name: &str, detail: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failed check: the error's message and causes as the detail, and `fix`.
    pub fn failed(name: &str, e: &crate::error::Error, fix: &str) -> Self {
        Self::failed_with(name, e, fix.to_string())
    }

    /// A failed check whose error knows its own fix best (a missing permission, named): its
    /// hint, else `fallback`.
    pub fn failed_hinted(name: &str, e: &crate::error::Error, fallback: &str) -> Self {
        Self::failed_with(name, e, e.hint().unwrap_or(fallback).to_string())
    }

    fn failed_with(name: &str, e: &crate::error::Error, fix: String) -> Self {
        CheckResult {
            name: name.to_string(),
            status: CheckStatus::Failed,
            detail: e.one_line(),
            fix: Some(fix),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageResult {
    pub name: String,
    /// Repository URI as ECR reports it; null until berth has asked ECR.
    pub repository_uri: Option<String>,
    /// Repository name in ECR.
    pub repository: String,
    /// The AWS account of the repository (the role's, when one is assumed); null when berth
    /// made no call there and no role names it.
    pub account: Option<String>,
    /// The repository's region; null when neither the file, the CLI nor a call set it.
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub digest: Option<String>,
    pub built: bool,
    /// Where the image is locally, per platform: the builder that built it now or already
    /// had it. Empty when the registry already held the content (nothing local was used).
    pub builds: Vec<ImageBuild>,
    pub pushed: bool,
    /// Scan findings that stopped the scan gate (empty when it passed or there is none).
    pub findings: Vec<crate::engine::ports::Finding>,
    /// What a push would do (`plan` only, unless `--static`): `unchanged` (ECR holds this
    /// content under every tag), `tag` (ECR holds it; tags are added), `push` (the daemon
    /// holds it; no build) or `build`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<ImageAction>,
}

/// One local image of a result: its platform (null: the builder's own), the builder that
/// holds it, and whether it was built in this run.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ImageBuild {
    pub platform: Option<String>,
    pub builder: String,
    pub built: bool,
}

/// What a push would do with an image (`plan`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImageAction {
    Unchanged,
    Tag,
    Push,
    Build,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetResult {
    pub name: String,
    pub kind: String,
    /// The AWS account the target's calls went to (the role's, when one is assumed); null
    /// for a Kubernetes context outside AWS, or when no call was made and no role names it.
    pub account: Option<String>,
    /// The target's region; null as for `account`.
    pub region: Option<String>,
    pub status: TargetStatus,
    pub before: Option<String>,
    pub after: Option<String>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub depends_on: Vec<String>,
    pub images: Vec<String>,
    /// Outputs a deploy produced (CloudFormation stack outputs), for later targets and scripts.
    pub outputs: std::collections::BTreeMap<String, String>,
    /// What deploying would do (`plan` only, unless `--static`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
    /// What the target runs now (`status` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::engine::ports::TargetState>,
    /// The deployment stage berth stopped watching at (`wait_until`), else null.
    pub paused_at: Option<String>,
    /// Why the rollout failed, was rolled back or timed out, as the platform tells it (null
    /// when it completed or nothing could be gathered).
    pub diagnosis: Option<crate::engine::ports::Diagnosis>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub id: String,
    pub needs: Vec<String>,
}

/// An error as data: message, and where it is when it is about a file.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorEntry {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub hint: Option<String>,
}

impl From<&Diagnostic> for ErrorEntry {
    fn from(d: &Diagnostic) -> Self {
        let known = d.location.as_ref().filter(|l| l.pos.is_known());
        ErrorEntry {
            message: d.message.clone(),
            file: d.location.as_ref().map(|l| l.source.display_path()),
            line: known.map(|l| l.pos.line),
            column: known.map(|l| l.pos.col),
            hint: d.hint.clone(),
        }
    }
}

impl RunResult {
    pub fn new(command: &str, environment: Option<String>) -> Self {
        RunResult {
            berth: 1,
            command: command.to_string(),
            status: RunStatus::Succeeded,
            environment,
            images: Vec::new(),
            targets: Vec::new(),
            steps: Vec::new(),
            errors: Vec::new(),
            logs: Vec::new(),
            checks: Vec::new(),
            policies: Vec::new(),
            rbac: Vec::new(),
            gc: Vec::new(),
            duration_ms: 0,
        }
    }
}
