//! `berth build` and `berth push`: wiring the image steps to the Docker, ECR and registry
//! adapters, and reporting the result.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::Cli;
use crate::aws::{AwsConfigs, AwsSettings};
use crate::docker::Docker;
use crate::ecr::Ecr;
use crate::engine::executor::{self, Outcome, StepReport, StepRunner, StepStatus};
use crate::engine::images::{BuildOptions, ImageSteps, short};
use crate::engine::plan::{Plan, Step, StepKind};
use crate::engine::step::StepCtx;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{ErrorEntry, ImageResult, RunResult, RunStatus};
use crate::pipeline::Pipeline;
use crate::registry::RegistryClient;

/// Steps for `build` and `push` (deploy steps come with the deploy adapters).
pub struct ImageRunner {
    pub images: Arc<ImageSteps>,
    /// Whether builds are followed by pushes (so the registry is asked first).
    pub push: bool,
}

#[async_trait]
impl StepRunner for ImageRunner {
    fn describe(&self, step: &Step) -> String {
        match step.kind {
            StepKind::Build => "building".into(),
            StepKind::Push => "pushing".into(),
            StepKind::Deploy => "deploying".into(),
        }
    }

    async fn run(&self, step: &Step, ctx: &StepCtx) -> Result<Outcome> {
        match step.kind {
            StepKind::Build => self.images.build(&step.subject, self.push, ctx).await,
            StepKind::Push => self.images.push(&step.subject, ctx).await,
            StepKind::Deploy => Err(Error::failed(format!(
                "deploying `{}` is not implemented in this version of berth",
                step.subject
            ))),
        }
    }
}

pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

/// Labels describing this build (not its content, so they do not affect the content digest).
pub fn build_labels(p: &Pipeline) -> Vec<(String, String)> {
    let mut labels = vec![(
        "org.opencontainers.image.created".to_string(),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    )];
    let ctx = crate::pipeline::Context::from_process(&p.dir);
    if let Ok(g) = ctx.git() {
        labels.push((
            "org.opencontainers.image.revision".to_string(),
            g.sha.clone(),
        ));
    }
    labels.push(("dev.berth.project".to_string(), p.project.clone()));
    labels
}

pub async fn image_steps(
    cli: &Cli,
    p: Arc<Pipeline>,
    push: bool,
    options: BuildOptions,
) -> Result<Arc<ImageSteps>> {
    let docker = Arc::new(Docker::connect().await?);
    let mut steps = ImageSteps {
        pipeline: p.clone(),
        builder: docker.clone(),
        repositories: None,
        registry: None,
        pusher: None,
        options,
        extra_labels: build_labels(&p),
        state: Mutex::new(Default::default()),
    };
    if push {
        let configs = Arc::new(AwsConfigs::new(AwsSettings {
            region: cli.global.region.clone(),
            profile: cli.global.profile.clone(),
        }));
        steps.repositories = Some(Arc::new(Ecr::new(configs)));
        steps.registry = Some(Arc::new(RegistryClient::new()?));
        steps.pusher = Some(docker);
    }
    Ok(Arc::new(steps))
}
/// The worst status among the step reports (see docs/json-output.md for the order).
pub fn run_status(reports: &[StepReport], interrupted: bool) -> RunStatus {
    if interrupted {
        return RunStatus::Interrupted;
    }
    let mut status = RunStatus::Unchanged;
    for r in reports {
        let s = match &r.status {
            StepStatus::Ok(Outcome::Unchanged) => RunStatus::Unchanged,
            StepStatus::Ok(Outcome::Done) => RunStatus::Succeeded,
            StepStatus::Ok(Outcome::RolledBack(_)) => RunStatus::RolledBack,
            StepStatus::Ok(Outcome::TimedOut(_)) => RunStatus::TimedOut,
            StepStatus::Failed(_) | StepStatus::Skipped(_) => RunStatus::Failed,
            StepStatus::Interrupted => RunStatus::Interrupted,
        };
        status = status.max(s);
    }
    status
}

pub fn exit_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Unchanged | RunStatus::Succeeded => ExitCode::Success,
        RunStatus::Failed => ExitCode::Failed,
        RunStatus::RolledBack => ExitCode::RolledBack,
        RunStatus::TimedOut => ExitCode::TimedOut,
        RunStatus::Interrupted => ExitCode::Interrupted,
    }
}

pub fn image_results(p: &Pipeline, plan: &Plan, steps: &ImageSteps) -> Vec<ImageResult> {
    plan.images
        .iter()
        .map(|name| {
            let img = &p.images[name];
            let st = steps.state(name);
            ImageResult {
                name: name.clone(),
                repository_uri: st.repository.as_ref().map(|r| r.uri.clone()),
                repository: img.repository.clone(),
                tags: img.tags.clone(),
                digest: st.digest.clone(),
                built: st.built,
                pushed: st.pushed,
                findings: st.findings.clone(),
            }
        })
        .collect()
}

pub async fn run(
    cli: &Cli,
    printer: Arc<Printer>,
    p: Pipeline,
    plan: Plan,
    push: bool,
    options: BuildOptions,
    jobs: Option<usize>,
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = Arc::new(p);
    printer.set_names(plan.images.iter().map(String::as_str));
    let steps = image_steps(cli, p.clone(), push, options).await?;
    let runner = Arc::new(ImageRunner {
        images: steps.clone(),
        push,
    });
    let (reports, interrupted) = executor::execute(
        &plan,
        runner,
        printer.clone(),
        jobs.unwrap_or_else(default_jobs),
        false,
    )
    .await;
    printer.clear();

    let mut doc = RunResult::new(if push { "push" } else { "build" }, p.environment.clone());
    doc.images = image_results(&p, &plan, &steps);
    doc.status = run_status(&reports, interrupted);
    for r in &reports {
        if let StepStatus::Failed(e) = &r.status {
            printer.error(e);
            doc.errors
                .extend(e.diagnostics().iter().map(ErrorEntry::from));
        }
    }
    printer.human_result(&summary(&printer, &doc, &reports));
    let code = exit_code(doc.status);
    Ok((Some(doc), code))
}

fn summary(printer: &Printer, doc: &RunResult, reports: &[StepReport]) -> String {
    let w = doc.images.iter().map(|i| i.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for img in &doc.images {
        let failed = reports
            .iter()
            .find(|r| r.step.subject == img.name && !matches!(r.status, StepStatus::Ok(_)));
        let what = match failed {
            Some(r) => printer.red(&format!("{} ({})", r.status.label(), r.step.id())),
            None => {
                let built = if img.built { "built" } else { "not rebuilt" };
                match (&img.repository_uri, &img.digest) {
                    (Some(uri), Some(d)) => format!(
                        "{}, {} {uri}:{} @ {}",
                        built,
                        if img.pushed { "pushed to" } else { "already in" },
                        img.tags.join(","),
                        short(d)
                    ),
                    _ => format!("{built}, tagged {}:{}", img.repository, img.tags.join(",")),
                }
            }
        };
        out.push_str(&format!(
            "{} {:<w$}  {what}\n",
            if failed.is_some() {
                printer.red("✗")
            } else {
                printer.green("✓")
            },
            img.name
        ));
    }
    out
}
