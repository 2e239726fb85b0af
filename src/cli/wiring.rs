//! The composition root: the one place that loads the pipeline for a command and builds the
//! adapters from the global flags (region and profile overrides, one AWS configuration
//! cache for the whole run), and hands them to the engine behind its ports.
//!
//! Building an adapter makes no call; each connects when a step first needs it (the Docker
//! daemon included), so a command gets every adapter and never meets a missing one.

use std::sync::Arc;

use super::Cli;
use crate::aws::{AwsConfigs, AwsSettings};
use crate::cloudformation::CloudFormation;
use crate::docker::Docker;
use crate::ecr::Ecr;
use crate::ecs::Ecs;
use crate::eks::Eks;
use crate::engine::builders::{Builders, Engine};
use crate::engine::deploy::{DeploySteps, Deployers};
use crate::engine::images::{BuildOptions, ImageSteps};
use crate::engine::ports::{ImageRef, LockRequest};
use crate::error::Result;
use crate::output::result::RunResult;
use crate::pipeline::model::{AwsAccess, EksConnection, EngineEndpoint, Target, TargetKind};
use crate::pipeline::{self, Context, Pipeline};
use crate::registry::RegistryClient;
use crate::registry::layers::LayerCache;
use crate::registry::push::RegistryPusher;

/// The account and region an access states without asking AWS: the role's account, the
/// region of the file or the CLI.
pub fn stated_account(access: &AwsAccess) -> (Option<String>, Option<String>) {
    (
        access.role.as_ref().map(|r| r.account().to_string()),
        access.region.clone(),
    )
}

/// Whether a target's calls go to AWS (a Kubernetes context may be anywhere).
pub fn uses_aws(t: &Target) -> bool {
    !matches!(&t.kind, TargetKind::Eks(e) if !matches!(e.connection, EksConnection::Cluster(_)))
}

/// Reads and validates the pipeline file the command line names, with its environment.
pub fn load(cli: &Cli) -> Result<Pipeline> {
    let source = pipeline::read(&cli.global.file)?;
    let ctx = context_for(&source);
    pipeline::load(&source, cli.global.env.as_deref(), &ctx)
}

/// The interpolation context of a pipeline file (its folder, git, the environment).
pub fn context_for(source: &crate::source::Source) -> Context {
    let dir = source
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    Context::from_process(dir)
}

/// Every adapter a command may use.
pub struct Adapters {
    pub configs: Arc<AwsConfigs>,
    pub ecr: Arc<Ecr>,
    pub docker: Arc<Docker>,
    pub deployers: Arc<Deployers>,
}

impl Adapters {
    pub fn new(cli: &Cli) -> Self {
        let configs = Arc::new(AwsConfigs::new(AwsSettings {
            region: cli.global.region.clone(),
            profile: cli.global.profile.clone(),
        }));
        Adapters {
            ecr: Arc::new(Ecr::new(configs.clone())),
            docker: Arc::new(Docker::new()),
            deployers: Arc::new(Deployers {
                ecs: Arc::new(Ecs::new(configs.clone())),
                cloudformation: Arc::new(CloudFormation::new(configs.clone())),
                eks: Arc::new(Eks::new(configs.clone())),
            }),
            configs,
        }
    }

    /// Names the account and region of each image and target in a result: who the
    /// credentials of its calls were (asked once per access, and only of one in use), else
    /// what the file says.
    pub async fn name_accounts(&self, p: &Pipeline, doc: &mut RunResult) {
        for i in &mut doc.images {
            if let Some(img) = p.images.get(&i.name) {
                (i.account, i.region) = self.account_of(&img.aws).await;
            }
        }
        for t in &mut doc.targets {
            match p.targets.get(&t.name) {
                Some(target) if uses_aws(target) => {
                    (t.account, t.region) = self.account_of(&target.aws).await;
                }
                _ => {}
            }
        }
    }

    pub async fn account_of(&self, access: &AwsAccess) -> (Option<String>, Option<String>) {
        match self.configs.identity(access).await {
            Some(id) => (Some(id.account), Some(id.region)),
            None => stated_account(&self.configs.effective(access)),
        }
    }

    /// Checks the AWS region and profile of every image and target a command will use,
    /// before it starts anything (an empty region or an unknown profile is exit 2).
    pub fn check_aws<'a>(
        &self,
        p: &Pipeline,
        images: impl IntoIterator<Item = &'a String>,
        targets: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        for i in images.into_iter().filter_map(|i| p.images.get(i)) {
            self.configs.check(&i.aws)?;
        }
        for t in targets.into_iter().filter_map(|t| p.targets.get(t)) {
            self.configs.check(&t.aws)?;
        }
        Ok(())
    }

    /// The build and push steps.
    pub fn image_steps(&self, p: Arc<Pipeline>, options: BuildOptions) -> Result<ImageSteps> {
        let extra_labels = build_labels(&p);
        let registry = Arc::new(RegistryClient::new()?);
        let cache = LayerCache::new();
        let engines = p
            .builders
            .values()
            .map(|b| {
                let docker = if b.endpoint == EngineEndpoint::Default {
                    self.docker.clone()
                } else {
                    Arc::new(self.docker.sibling(b))
                };
                let pusher = Arc::new(RegistryPusher {
                    client: registry.clone(),
                    exporter: docker.clone(),
                    cache: cache.clone(),
                });
                Engine::new(
                    b.name.clone(),
                    docker.address(),
                    b.platform.clone(),
                    b.concurrency,
                    docker.clone(),
                    pusher,
                    docker.clone(),
                    docker,
                )
            })
            .collect();
        Ok(ImageSteps {
            pipeline: p,
            builders: Arc::new(Builders::new(engines)),
            repositories: self.ecr.clone(),
            registry,
            options,
            extra_labels,
        })
    }

    /// The engines a pipeline's images build on, for `doctor`: name, and the engine.
    pub fn engines(&self, p: &Pipeline) -> Vec<(String, Arc<Docker>)> {
        let used: Vec<&String> = p.images.values().flat_map(|i| &i.builders).collect();
        p.builders
            .values()
            .filter(|b| used.contains(&&b.name))
            .map(|b| {
                let d = if b.endpoint == EngineEndpoint::Default {
                    self.docker.clone()
                } else {
                    Arc::new(self.docker.sibling(b))
                };
                (b.name.clone(), d)
            })
            .collect()
    }

    /// The deploy steps (and the live part of `plan`); `wait_lock` is false with
    /// `--no-wait-lock`.
    pub fn deploy_steps(
        &self,
        p: Arc<Pipeline>,
        overrides: std::collections::BTreeMap<String, ImageRef>,
        wait_lock: bool,
    ) -> Result<DeploySteps> {
        Ok(DeploySteps {
            pipeline: p,
            overrides,
            repositories: self.ecr.clone(),
            registry: Arc::new(RegistryClient::new()?),
            deployers: self.deployers.clone(),
            lock: lock_request(wait_lock),
        })
    }
}

/// This run's lock request: its own token, and who it is for runs that wait for it — the
/// CI build where there is one, and the machine and process.
pub fn lock_request(wait: bool) -> LockRequest {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .or_else(|| env("HOSTNAME"))
        .unwrap_or_else(|| "unknown-host".into());
    let build = env("CODEBUILD_BUILD_ID")
        .map(|b| format!("CodeBuild {b}"))
        .or_else(|| env("BUILD_TAG").map(|b| format!("Jenkins {b}")))
        .or_else(|| env("GITHUB_RUN_ID").map(|b| format!("GitHub run {b}")));
    let who = format!(
        "{}@{host} pid {}",
        env("USER").unwrap_or_else(|| "berth".into()),
        std::process::id()
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    LockRequest {
        owner: match build {
            Some(b) => format!("{b} ({who})"),
            None => who,
        },
        token: format!("{:x}{:x}", std::process::id(), nanos),
        wait,
    }
}

/// Labels describing this build (not its content, so they do not affect the content digest).
pub fn build_labels(p: &Pipeline) -> Vec<(String, String)> {
    let mut labels = vec![(
        "org.opencontainers.image.created".to_string(),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    )];
    let ctx = Context::from_process(&p.dir);
    if let Ok(g) = ctx.git() {
        labels.push((
            "org.opencontainers.image.revision".to_string(),
            g.sha.clone(),
        ));
    }
    labels.push(("dev.berth.project".to_string(), p.project.clone()));
    labels
}
