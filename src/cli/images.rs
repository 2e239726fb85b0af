//! `berth build` and `berth push`: wiring the image steps to the Docker, ECR and registry
//! adapters, and reporting the result.

use std::sync::Arc;

use super::Cli;

use super::wiring::Adapters;
use crate::engine::deploy::parse_overrides;
use crate::engine::executor::{self, Outcome, StepReport, StepStatus};
use crate::engine::images::{BuildOptions, Built, Found, Pushed, short};
use crate::engine::plan::{self, Plan, Scope, StepKind};
use crate::engine::rollback::Deployed;
use crate::engine::runner::{PipelineRunner, StepOutput};
use crate::engine::step::Recorder;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{
    ErrorEntry, ImageBuild, ImageResult, RunResult, RunStatus, TargetResult, TargetStatus,
};
use crate::pipeline::Pipeline;
use crate::pipeline::model::{DeploymentStage, TargetKind};

/// A step's report in a pipeline run.
pub type Report = StepReport<StepOutput>;

/// `--jobs N`, or the default for this machine (see [`executor::Limits::for_machine`]).
/// With builders of other machines, builds at once go up to their slots in all: each
/// engine holds its builds to its own `concurrency`.
pub fn limits(jobs: Option<usize>, p: &Pipeline) -> executor::Limits {
    match jobs {
        Some(n) => executor::Limits::exactly(n),
        None => {
            let cpus = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2);
            let mut l = executor::Limits::for_machine(cpus);
            let used: Vec<&String> = p.images.values().flat_map(|i| &i.builders).collect();
            let slots: usize = p
                .builders
                .values()
                .filter(|b| used.contains(&&b.name))
                .map(|b| b.concurrency)
                .sum();
            l.builds = l.builds.max(slots);
            l.total = l.total.max(l.builds);
            l
        }
    }
}

/// The worst status among the step reports (see docs/json-output.md for the order).
pub fn run_status(reports: &[Report], interrupted: bool) -> RunStatus {
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
            StepStatus::Ok(Outcome::Paused(_)) => RunStatus::Paused,
            StepStatus::Failed(_) | StepStatus::Skipped(_) => RunStatus::Failed,
            StepStatus::Interrupted => RunStatus::Interrupted,
        };
        status = status.max(s);
    }
    status
}

pub fn exit_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Unchanged | RunStatus::Succeeded | RunStatus::Paused => ExitCode::Success,
        RunStatus::Failed => ExitCode::Failed,
        RunStatus::RolledBack => ExitCode::RolledBack,
        RunStatus::TimedOut => ExitCode::TimedOut,
        RunStatus::Interrupted => ExitCode::Interrupted,
    }
}

/// What each image step produced, by image.
fn outputs_of<'a>(reports: &'a [Report], name: &str) -> (Option<&'a Built>, Option<&'a Pushed>) {
    let mut built = None;
    let mut pushed = None;
    for r in reports.iter().filter(|r| r.step.subject == name) {
        match &r.output {
            Some(StepOutput::Built(b)) if r.step.kind == StepKind::Build => {
                built = Some(b.as_ref())
            }
            Some(StepOutput::Pushed(p)) if r.step.kind == StepKind::Push => {
                pushed = Some(p.as_ref())
            }
            _ => {}
        }
    }
    (built, pushed)
}

pub fn image_results(p: &Pipeline, plan: &Plan, reports: &[Report]) -> Vec<ImageResult> {
    plan.images
        .iter()
        .map(|name| {
            let img = &p.images[name];
            let (built, pushed) = outputs_of(reports, name);
            let in_registry = built.and_then(|b| match &b.found {
                Found::InRegistry {
                    repository,
                    manifest,
                    tags_present,
                    ..
                } => Some((repository, manifest, tags_present)),
                Found::Local { .. } | Found::Platforms { .. } => None,
            });
            let builds = match built.map(|b| &b.found) {
                Some(Found::Local { image, built, .. }) => vec![ImageBuild {
                    platform: img.platform.clone(),
                    builder: image.builder.clone(),
                    built: *built,
                }],
                Some(Found::Platforms { images, .. }) => images
                    .iter()
                    .map(|i| ImageBuild {
                        platform: Some(i.platform.clone()),
                        builder: i.image.builder.clone(),
                        built: i.built,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let repository_uri = pushed
                .map(|p| p.repository.uri.clone())
                .or_else(|| in_registry.map(|(r, ..)| r.uri.clone()));
            // The digest is known once it is pushed, or when every tag already held it.
            let digest = pushed.map(|p| p.digest.clone()).or_else(|| {
                in_registry
                    .filter(|(_, _, present)| present.len() == img.tags.len())
                    .map(|(_, m, _)| m.digest.clone())
            });
            ImageResult {
                name: name.clone(),
                repository_uri,
                repository: img.repository.clone(),
                account: None,
                region: None,
                tags: img.tags.clone(),
                digest,
                built: built.is_some_and(Built::was_built),
                builds,
                pushed: pushed.is_some_and(|p| p.pushed),
                findings: pushed.map(|p| p.findings.clone()).unwrap_or_default(),
                plan: None,
            }
        })
        .collect()
}

/// What a pipeline command covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Build,
    Push,
    Deploy,
    Ship,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Build => "build",
            Mode::Push => "push",
            Mode::Deploy => "deploy",
            Mode::Ship => "ship",
        }
    }
}

pub struct RunArgs<'a> {
    pub mode: Mode,
    /// Images (build, push) or targets (deploy, ship) named on the command line.
    pub names: &'a [String],
    pub image_overrides: &'a [String],
    pub options: BuildOptions,
    pub jobs: Option<usize>,
    pub fail_fast: bool,
    /// `--no-wait-lock`.
    pub no_wait_lock: bool,
    /// `--wait-until`: overrides every ECS target's `wait_until`.
    pub wait_until: Option<DeploymentStage>,
}

pub async fn run(
    cli: &Cli,
    printer: Arc<Printer>,
    args: RunArgs<'_>,
) -> Result<(Option<RunResult>, ExitCode)> {
    let mut p = super::wiring::load(cli)?;
    if let Some(stage) = args.wait_until {
        for t in p.targets.values_mut() {
            if let TargetKind::Ecs(e) = &mut t.kind {
                e.wait_until = Some(stage);
            }
        }
    }
    let p = Arc::new(p);
    let overrides = parse_overrides(&p, args.image_overrides)?;
    let overridden: Vec<String> = overrides.keys().cloned().collect();
    let scope = match args.mode {
        Mode::Build => Scope::Build(args.names),
        Mode::Push => Scope::Push(args.names),
        Mode::Deploy => Scope::Deploy(args.names),
        Mode::Ship => Scope::Ship {
            targets: args.names,
            overridden: &overridden,
        },
    };
    let plan = plan::build_plan(&p, scope)?;
    if args.mode != Mode::Build {
        crate::engine::images::check_push_via(&p, &plan.images, args.options.push_via)?;
    }
    printer.set_names(
        plan.images
            .iter()
            .chain(plan.targets.iter())
            .map(String::as_str),
    );

    let push = args.mode != Mode::Build;
    let adapters = Adapters::new(cli);
    let pushed = if push { &plan.images[..] } else { &[] };
    adapters.check_aws(&p, pushed, &plan.targets)?;
    let images = Arc::new(adapters.image_steps(p.clone(), args.options.clone())?);
    // A missing engine is said before any work starts (for a pool: when none answers).
    let lost = images
        .builders
        .ready_for(plan.images.iter().map(|i| &p.images[i]))
        .await?;
    for warning in lost {
        printer.warn(warning);
    }
    let runner = Arc::new(PipelineRunner {
        images,
        deploys: Arc::new(adapters.deploy_steps(p.clone(), overrides, !args.no_wait_lock)?),
        push,
    });
    let recorder = Arc::new(Recorder::new(printer.clone()));
    let (reports, interrupted) = executor::execute(
        &plan,
        runner,
        recorder.clone(),
        limits(args.jobs, &p),
        args.fail_fast,
    )
    .await;
    printer.clear();

    let mut doc = RunResult::new(args.mode.name(), p.environment.clone());
    doc.images = image_results(&p, &plan, &reports);
    doc.targets = target_results(&p, &plan, &reports, &recorder);
    adapters.name_accounts(&p, &mut doc).await;
    doc.status = run_status(&reports, interrupted);
    for r in &reports {
        if let StepStatus::Failed(e) = &r.status {
            printer.error(e);
            doc.errors
                .extend(e.diagnostics().iter().map(ErrorEntry::from));
        }
    }
    if interrupted {
        let running: Vec<String> = reports
            .iter()
            .filter(|r| matches!(r.status, StepStatus::Interrupted))
            .map(|r| r.step.id())
            .collect();
        let mut msg = format!(
            "interrupted; these steps were running and may still be in progress: {}",
            if running.is_empty() {
                "none".into()
            } else {
                running.join(", ")
            }
        );
        let targets: Vec<&str> = reports
            .iter()
            .filter(|r| {
                matches!(r.status, StepStatus::Interrupted) && r.step.kind == StepKind::Deploy
            })
            .map(|r| r.step.subject.as_str())
            .collect();
        if !targets.is_empty() {
            msg.push_str(&format!(
                "\nhint: check them with `berth status {}`",
                targets.join(" ")
            ));
        }
        printer.error(&Error::failed(msg));
    }
    printer.human_result(&summary(&printer, &doc, &reports));
    let code = exit_code(doc.status);
    Ok((Some(doc), code))
}

/// A target's status in the document, from its step's report and what its deployer said.
pub fn target_results(
    p: &Pipeline,
    plan: &Plan,
    reports: &[Report],
    recorder: &Recorder,
) -> Vec<TargetResult> {
    plan.targets
        .iter()
        .map(|name| {
            let t = &p.targets[name];
            let report = reports
                .iter()
                .find(|r| r.step.kind == StepKind::Deploy && &r.step.subject == name);
            // What the deploy reported, or — interrupted, or failed before it could — what
            // it said it was changing before it started.
            let deployed = report
                .and_then(|r| match &r.output {
                    Some(StepOutput::Deployed(d)) => Some(d.1.clone()),
                    _ => None,
                })
                .or_else(|| {
                    recorder.changing(name).map(|(before, after)| Deployed {
                        before,
                        after,
                        ..Default::default()
                    })
                });
            let (status, error) = match report.map(|r| &r.status) {
                Some(StepStatus::Ok(Outcome::Done)) => (TargetStatus::Deployed, None),
                Some(StepStatus::Ok(Outcome::Unchanged)) => (TargetStatus::Unchanged, None),
                Some(StepStatus::Ok(Outcome::RolledBack(m))) => {
                    (TargetStatus::RolledBack, Some(m.clone()))
                }
                Some(StepStatus::Ok(Outcome::TimedOut(m))) => {
                    (TargetStatus::TimedOut, Some(m.clone()))
                }
                Some(StepStatus::Ok(Outcome::Paused(_))) => (TargetStatus::Paused, None),
                Some(StepStatus::Failed(e)) => (TargetStatus::Failed, Some(e.to_string())),
                Some(StepStatus::Skipped(why)) => (TargetStatus::Skipped, Some(why.clone())),
                Some(StepStatus::Interrupted) => (TargetStatus::Failed, Some("interrupted".into())),
                None => (TargetStatus::Skipped, Some("not run".into())),
            };
            TargetResult {
                name: name.clone(),
                kind: t.kind.name().to_string(),
                account: None,
                region: None,
                status,
                before: deployed.as_ref().and_then(|d| d.before.clone()),
                after: deployed.as_ref().and_then(|d| d.after.clone()),
                duration_ms: report.map(|r| r.duration.as_millis() as u64).unwrap_or(0),
                error,
                depends_on: t.depends_on.clone(),
                images: t.images.clone(),
                paused_at: match report.map(|r| &r.status) {
                    Some(StepStatus::Ok(Outcome::Paused(stage))) => Some(stage.clone()),
                    _ => None,
                },
                diagnosis: deployed.as_ref().and_then(|d| d.diagnosis.clone()),
                outputs: deployed.map(|d| d.outputs).unwrap_or_default(),
                state: None,
                plan: None,
            }
        })
        .collect()
}

/// `remote`, or `linux/amd64 on default, linux/arm64 on graviton`: where an image was
/// built, when that is worth saying (not the default builder alone).
fn built_on(img: &ImageResult) -> Option<String> {
    let built: Vec<&ImageBuild> = img.builds.iter().filter(|b| b.built).collect();
    if built
        .iter()
        .all(|b| b.builder == "default" && b.platform.is_none())
    {
        return None;
    }
    Some(
        built
            .iter()
            .map(|b| match &b.platform {
                Some(p) if img.builds.len() > 1 => format!("{p} on `{}`", b.builder),
                _ => format!("`{}`", b.builder),
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn summary(printer: &Printer, doc: &RunResult, reports: &[Report]) -> String {
    let w = doc.images.iter().map(|i| i.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for img in &doc.images {
        let failed = reports
            .iter()
            .find(|r| r.step.subject == img.name && !matches!(r.status, StepStatus::Ok(_)));
        let what = match failed {
            Some(r) => printer.red(&format!("{} ({})", r.status.label(), r.step.id())),
            None => {
                let built = match built_on(img) {
                    Some(on) if img.builds.len() > 1 => format!("built ({on})"),
                    Some(on) if img.built => format!("built on {on}"),
                    _ if img.built => "built".to_string(),
                    _ => "not rebuilt".to_string(),
                };
                match (&img.repository_uri, &img.digest) {
                    (Some(uri), Some(d)) => format!(
                        "{}, {} {uri}:{} @ {}",
                        built,
                        if img.pushed {
                            "pushed to"
                        } else {
                            "already in"
                        },
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
    let w = doc.targets.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &doc.targets {
        let ok = matches!(t.status, TargetStatus::Deployed | TargetStatus::Unchanged);
        let mark = if ok {
            printer.green("✓")
        } else if t.status == TargetStatus::Paused {
            printer.yellow("‖")
        } else {
            printer.red("✗")
        };
        let status = serde_json::to_value(t.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
            .replace('_', " ");
        let revision = match (&t.before, &t.after) {
            (Some(b), Some(a)) if b != a => format!(": {} → {}", short_rev(b), short_rev(a)),
            (_, Some(a)) => format!(": {}", short_rev(a)),
            _ => String::new(),
        };
        let why = match (&t.error, &t.paused_at) {
            (_, Some(stage)) => format!(
                " at {stage}; `berth deploy --continue {}` follows it on",
                t.name
            ),
            (Some(e), _) if !ok => format!(" ({})", e.lines().next().unwrap_or("")),
            _ => String::new(),
        };
        out.push_str(&format!("{mark} {:<w$}  {status}{revision}{why}\n", t.name));
        for line in t.diagnosis.iter().flat_map(|d| d.lines()) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// `arn:…:task-definition/web:42` → `web:42`, for summaries.
fn short_rev(s: &str) -> &str {
    if s.starts_with("arn:") {
        s.rsplit('/').next().unwrap_or(s)
    } else {
        s
    }
}
