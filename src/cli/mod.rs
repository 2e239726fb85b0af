//! The command line: clap definitions. The doc comment on every field is its help text.
//!
//! Settings resolve CLI flag > `BERTH_*` environment variable > pipeline file > AWS SDK
//! defaults. The command set and flags are the contract in `docs/cli.md`; the reference and
//! man page there are generated from these definitions (`berth generate-docs`).

use std::path::PathBuf;

pub mod docs;
pub mod doctor;
pub mod eks_token;
mod gc;
mod iam_policy;
pub mod images;
pub mod login;
pub mod logs;
pub mod run;
pub mod targets;
pub mod wiring;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::model::DeploymentStage;

pub use crate::output::{ColorChoice, OutputFormat};

/// `berth --version`: the version, the commit and the build date (stamped by `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BERTH_COMMIT"),
    " ",
    env!("BERTH_BUILD_DATE"),
    ")"
);

/// Build container images, push them to Amazon ECR and deploy them to ECS, CloudFormation and
/// EKS — from one pipeline file.
#[derive(Debug, Parser)]
#[command(name = "berth", version = VERSION, about, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 success or nothing to do, 1 a step failed, 2 invalid input (nothing changed),\n3 rolled back, 4 timed out, 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Pipeline file to read.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        env = "BERTH_FILE",
        hide_env_values = true,
        value_name = "PATH",
        default_value = "berth.yaml"
    )]
    pub file: PathBuf,

    /// Environment to apply (a key of the pipeline file's `environments`).
    #[arg(
        short = 'e',
        long = "env",
        global = true,
        env = "BERTH_ENV",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub env: Option<String>,

    /// AWS region for every image and target, overriding the pipeline file.
    #[arg(
        long,
        global = true,
        env = "BERTH_REGION",
        hide_env_values = true,
        value_name = "REGION"
    )]
    pub region: Option<String>,

    /// AWS profile for every image and target, overriding the pipeline file.
    #[arg(
        long,
        global = true,
        env = "BERTH_PROFILE",
        hide_env_values = true,
        value_name = "PROFILE"
    )]
    pub profile: Option<String>,

    /// Output format: `human` (progress on stderr, summary on stdout), `json` (one document
    /// at the end) or `ndjson` (one event per line, then the document).
    #[arg(short = 'o', long, global = true, env = "BERTH_OUTPUT", hide_env_values = true, value_enum, default_value_t = OutputFormat::Human, value_name = "FORMAT")]
    pub output: OutputFormat,

    /// Show more on stderr: `-v` every step's log (build output, changes, rollout events)
    /// also on a terminal; `-vv` also every AWS API request with its answer and time.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Show only errors and the result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print plain lines instead of progress bars, even on a terminal.
    #[arg(long, global = true, env = "BERTH_NO_PROGRESS", hide_env_values = true)]
    pub no_progress: bool,

    /// When to use colours (`auto` follows the terminal and NO_COLOR).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl GlobalArgs {
    /// What the printer needs of the global flags.
    pub fn output_settings(&self) -> crate::output::Settings {
        crate::output::Settings {
            format: self.output,
            color: self.color,
            verbose: self.verbose,
            quiet: self.quiet,
            no_progress: self.no_progress,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the pipeline file and the files it references. Changes nothing; needs no AWS or
    /// Docker.
    Validate,

    /// Show what `ship` would do: images to build and their tags, and per target the change
    /// (read-only calls to AWS). Changes nothing.
    Plan(PlanArgs),

    /// Build images through the Docker daemon.
    Build(BuildArgs),

    /// Build images if needed, then push them to ECR (creating and configuring repositories).
    Push(PushArgs),

    /// Deploy images already in ECR (default: the tags the pipeline computes now).
    Deploy(DeployArgs),

    /// Build and push what the selected targets need, then deploy them in dependency order,
    /// in parallel where independent.
    Ship(ShipArgs),

    /// Put a target back to the state recorded before berth's last deploy of it.
    Rollback(RollbackArgs),

    /// Show what each target runs now: image refs, revision, rollout state.
    Status(SelectTargets),

    /// Show the last log lines of the containers a target runs now (its current revision's
    /// ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`.
    Logs(LogsArgs),

    /// Clean up the pipeline's ECR repositories: keep every image a target runs, is rolling
    /// out or could roll back to (in every environment, account and region the pipeline
    /// deploys to), the newest of each tag group and the young ones; list the rest, or
    /// delete them with `--delete`.
    Gc(GcArgs),

    /// Print the least-privilege IAM policy for this pipeline: one document per account or
    /// role, with exactly the actions berth calls and resources scoped to what the pipeline
    /// names, and the Kubernetes RBAC Role each EKS target needs.
    IamPolicy(IamPolicyArgs),

    /// Log the Docker daemon in to the pipeline's ECR registries.
    Login(LoginArgs),

    /// Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig
    /// that gets its tokens from berth: kubectl then needs no aws CLI.
    EksToken(EksTokenArgs),

    /// Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials,
    /// identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS
    /// targets; each failed check with a fix. Read-only. Exit 1 when a check failed.
    Doctor,

    /// Print a shell completion script.
    Completions(CompletionsArgs),

    /// Write the generated files: completions, man page, CLI reference, JSON Schema.
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

#[derive(Debug, Args)]
pub struct SelectTargets {
    /// Targets to include (default: all), plus the targets they depend on.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Targets to include (default: all), plus the targets they depend on.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Plan from the pipeline file alone, without asking AWS what runs now (no credentials
    /// needed).
    #[arg(long = "static")]
    pub static_only: bool,

    /// Plan the deploy of this image reference for an image instead of the computed tag
    /// (repeatable), as `deploy --image` would do it.
    #[arg(long = "image", value_name = "NAME=REF")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Images to build (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub build: BuildFlags,

    #[command(flatten)]
    pub run: RunFlags,
}

/// How images are built (`build`, `push`, `ship`).
#[derive(Debug, Args)]
pub struct BuildFlags {
    /// Build without the Docker layer cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Always pull newer versions of base images.
    #[arg(long)]
    pub pull: bool,
}

/// How images are pushed (`push`, `ship`).
#[derive(Debug, Args)]
pub struct PushFlags {
    /// How images are pushed, for every image (default: each image's `push_via`, else
    /// `registry`).
    #[arg(long, value_name = "HOW")]
    pub push_via: Option<PushViaArg>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Images to push (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub build: BuildFlags,

    #[command(flatten)]
    pub push: PushFlags,

    #[command(flatten)]
    pub run: RunFlags,
}

/// `--push-via`: how images are pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PushViaArg {
    /// berth's own push (parallel compression, layer cache, mounts).
    Registry,
    /// The Docker daemon's `docker push`.
    Daemon,
}

impl From<PushViaArg> for crate::pipeline::model::PushVia {
    fn from(a: PushViaArg) -> Self {
        match a {
            PushViaArg::Registry => Self::Registry,
            PushViaArg::Daemon => Self::Daemon,
        }
    }
}

/// How steps are run (every command that runs steps).
#[derive(Debug, Args)]
pub struct RunFlags {
    /// How many steps run at once, builds included (default: one build per CPU, and up to 16
    /// steps in all, since pushes and deploys mostly wait on the network).
    #[arg(
        short,
        long,
        env = "BERTH_JOBS",
        hide_env_values = true,
        value_name = "N"
    )]
    pub jobs: Option<usize>,
}

/// How a run treats the lock on a target that another berth run holds (`deploy`, `ship`,
/// `rollback`).
#[derive(Debug, Args)]
pub struct LockFlags {
    /// Fail at once when another berth run holds a target's lock, instead of waiting for it
    /// (for at most the target's timeout).
    #[arg(long, env = "BERTH_NO_WAIT_LOCK", hide_env_values = true)]
    pub no_wait_lock: bool,
}

/// What happens after a failure (`deploy`, `ship`).
#[derive(Debug, Args)]
pub struct FailFlags {
    /// Stop starting new steps after the first failure (running ones finish).
    #[arg(long)]
    pub fail_fast: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Targets to deploy (default: all), plus the targets they depend on.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Deploy this image reference for an image instead of the computed tag (repeatable), e.g.
    /// `--image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web@sha256:…`.
    #[arg(long = "image", value_name = "NAME=REF")]
    pub images: Vec<String>,

    /// Stop watching each ECS service deployment (BLUE_GREEN, LINEAR or CANARY strategy) once
    /// it reaches this lifecycle stage, e.g. TEST_TRAFFIC_SHIFT, and report it `paused`
    /// (overrides the targets' `wait_until`).
    #[arg(long, value_name = "STAGE", value_parser = parse_stage)]
    pub wait_until: Option<DeploymentStage>,

    /// Deploy nothing: follow the named targets' service deployments (left running by
    /// `wait_until`) to their end, and report how they ended.
    #[arg(long = "continue", conflicts_with_all = ["images", "wait_until"], requires = "targets")]
    pub resume: bool,

    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub fail: FailFlags,

    #[command(flatten)]
    pub lock: LockFlags,
}

#[derive(Debug, Args)]
pub struct ShipArgs {
    /// Targets to ship (default: all), plus the targets they depend on.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Deploy this image reference for an image instead of building it (repeatable).
    #[arg(long = "image", value_name = "NAME=REF")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub build: BuildFlags,

    #[command(flatten)]
    pub push: PushFlags,

    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub fail: FailFlags,

    #[command(flatten)]
    pub lock: LockFlags,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The target to roll back.
    #[arg(value_name = "TARGET")]
    pub target: String,

    #[command(flatten)]
    pub lock: LockFlags,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The target whose containers' logs to show.
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// How many of the last lines of each container to show.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub lines: usize,

    /// Keep showing new lines as they are logged, until interrupted (Ctrl-C).
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Images (names from `images`) whose repositories to clean up. Default: all.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    /// Keep the newest N images of each tag group.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep_newest: usize,

    /// Group tags by this regular expression's first capture group, e.g.
    /// `^(.+)-[0-9a-f]{7}$` for one group per branch of `BRANCH-SHA` tags; tags it does not
    /// match form one group. Default: one group.
    #[arg(long, value_name = "REGEX")]
    pub group_by: Option<String>,

    /// Keep images pushed less than this long ago (`0s`: none are kept for their age).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub keep_younger_than: String,

    /// How many replaced ECS task definition revisions count as rollback points (and how
    /// many of a family's newest revisions are kept).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub keep_revisions: usize,

    /// Delete the deletable images (without it, gc only lists them).
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Targets (with the images they deploy) to write the policy for. Default: every image
    /// and target.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Also allow what `berth gc --delete` calls (ecr:BatchDeleteImage, the task definition
    /// history of ECS targets).
    #[arg(long)]
    pub gc: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Print the registry password to stdout instead of logging the daemon in (like
    /// `aws ecr get-login-password`).
    #[arg(long)]
    pub print_password: bool,
}

#[derive(Debug, Args)]
pub struct EksTokenArgs {
    /// The EKS cluster's name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,

    /// Print a kubeconfig for the cluster (endpoint and CA from DescribeCluster, berth as the
    /// exec plugin) instead of a token.
    #[arg(long)]
    pub kubeconfig: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Folder of the repository to write into (`completions/` and `docs/` below it).
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Do not write; exit 1 when a generated file differs from what is on disk.
    #[arg(long)]
    pub check: bool,
}

/// A lifecycle stage as ECS names it (`TEST_TRAFFIC_SHIFT`; any case).
fn parse_stage(s: &str) -> std::result::Result<DeploymentStage, String> {
    DeploymentStage::from_name(&s.to_ascii_uppercase()).ok_or_else(|| {
        let names: Vec<&str> = DeploymentStage::ALL.iter().map(|s| s.as_str()).collect();
        format!("not an ECS deployment stage; one of: {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
