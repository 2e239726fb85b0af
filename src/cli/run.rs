//! Dispatching commands and turning their outcome into output and an exit code.

use std::time::Instant;

use std::sync::Arc;

use clap::CommandFactory;

use super::images::{Mode, RunArgs};
use super::wiring::{Adapters, stated_account, uses_aws};
use super::{Cli, Command};
use std::collections::BTreeMap;

use crate::engine::images::{BuildOptions, ImagePlan, short};
use crate::engine::plan::{self, Plan, Scope, StepKind};
use crate::engine::ports::ImageRef;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{
    ErrorEntry, ImageAction, ImageResult, RunResult, RunStatus, StepResult, TargetResult,
    TargetStatus,
};
use crate::pipeline::model::{EksConnection, EksWorkload, TargetKind};
use crate::pipeline::{self, Pipeline};

/// Runs the command; prints its result and errors; returns the exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let printer = Arc::new(Printer::new(&cli.global.output_settings()));
    if cli.global.verbose > 0 {
        let p = printer.clone();
        crate::trace::install(cli.global.verbose, Box::new(move |l| p.trace(l)));
    }
    let started = Instant::now();
    let name = command_name(&cli.command);
    // Long-running commands handle Ctrl-C themselves (the executor reports what was started).
    let outcome = dispatch(&cli, &printer).await;
    match outcome {
        Ok((doc, code)) => {
            if let Some(mut doc) = doc {
                doc.duration_ms = started.elapsed().as_millis() as u64;
                printer.document(&doc);
            }
            code
        }
        Err(err) => {
            printer.error(&err);
            let mut doc = RunResult::new(name, cli.global.env.clone());
            doc.status = match err {
                Error::Interrupted => RunStatus::Interrupted,
                _ => RunStatus::Failed,
            };
            doc.errors = err.diagnostics().iter().map(ErrorEntry::from).collect();
            doc.duration_ms = started.elapsed().as_millis() as u64;
            printer.document(&doc);
            err.exit_code()
        }
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Validate => "validate",
        Command::Plan(_) => "plan",
        Command::Build(_) => "build",
        Command::Push(_) => "push",
        Command::Deploy(_) => "deploy",
        Command::Ship(_) => "ship",
        Command::Rollback(_) => "rollback",
        Command::Status(_) => "status",
        Command::Logs(_) => "logs",
        Command::Gc(_) => "gc",
        Command::IamPolicy(_) => "iam-policy",
        Command::Login(_) => "login",
        Command::EksToken(_) => "eks-token",
        Command::Doctor => "doctor",
        Command::Completions(_) => "completions",
        Command::GenerateDocs(_) => "generate-docs",
    }
}

type Outcome = Result<(Option<RunResult>, ExitCode)>;

async fn dispatch(cli: &Cli, printer: &Arc<Printer>) -> Outcome {
    match &cli.command {
        Command::Build(args) => {
            let options = BuildOptions {
                no_cache: args.build.no_cache,
                push_via: None,
                pull: args.build.pull,
            };
            images_run(
                cli,
                printer,
                Mode::Build,
                &args.images,
                options,
                args.run.jobs,
            )
            .await
        }
        Command::Push(args) => {
            let options = BuildOptions {
                no_cache: args.build.no_cache,
                push_via: args.push.push_via.map(Into::into),
                pull: args.build.pull,
            };
            images_run(
                cli,
                printer,
                Mode::Push,
                &args.images,
                options,
                args.run.jobs,
            )
            .await
        }
        Command::Deploy(args) if args.resume => {
            super::targets::resume(cli, printer, &args.targets).await
        }
        Command::Deploy(args) => {
            let run = RunArgs {
                mode: Mode::Deploy,
                names: &args.targets,
                image_overrides: &args.images,
                options: BuildOptions::default(),
                jobs: args.run.jobs,
                fail_fast: args.fail.fail_fast,
                no_wait_lock: args.lock.no_wait_lock,
                wait_until: args.wait_until,
            };
            super::images::run(cli, printer.clone(), run).await
        }
        Command::Ship(args) => {
            let options = BuildOptions {
                no_cache: args.build.no_cache,
                push_via: args.push.push_via.map(Into::into),
                pull: args.build.pull,
            };
            let run = RunArgs {
                mode: Mode::Ship,
                names: &args.targets,
                image_overrides: &args.images,
                options,
                jobs: args.run.jobs,
                fail_fast: args.fail.fail_fast,
                no_wait_lock: args.lock.no_wait_lock,
                wait_until: None,
            };
            super::images::run(cli, printer.clone(), run).await
        }
        Command::Rollback(args) => {
            super::targets::rollback(cli, printer, &args.target, !args.lock.no_wait_lock).await
        }
        Command::Status(args) => super::targets::status(cli, printer, &args.targets).await,
        Command::Logs(args) => super::logs::run(cli, printer, args).await,
        Command::Gc(args) => super::gc::run(cli, printer, args).await,
        Command::IamPolicy(args) => super::iam_policy::run(cli, printer, args).await,
        Command::Login(args) => super::login::run(cli, printer, args.print_password).await,
        Command::Doctor => super::doctor::run(cli, printer).await,
        Command::EksToken(args) => super::eks_token::run(cli, printer, args).await,
        Command::Validate => validate(cli, printer),
        Command::Plan(args) => plan(cli, printer, args).await,
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            clap_complete::generate(args.shell, &mut cmd, "berth", &mut std::io::stdout());
            Ok((None, ExitCode::Success))
        }
        Command::GenerateDocs(args) => {
            super::docs::generate(&args.dir, args.check, printer).map(|c| (None, c))
        }
    }
}

/// `plan`: the steps, and (unless `--static`) what each image and target would get.
async fn plan(cli: &Cli, printer: &Arc<Printer>, args: &super::PlanArgs) -> Outcome {
    let p = Arc::new(super::wiring::load(cli)?);
    // Images given by `--image` are neither built nor pushed, static plan or not.
    let overrides = crate::engine::deploy::parse_overrides(&p, &args.images)?;
    let overridden: Vec<String> = overrides.keys().cloned().collect();
    let plan = plan::build_plan(
        &p,
        Scope::Ship {
            targets: &args.targets,
            overridden: &overridden,
        },
    )?;
    let mut doc = static_document("plan", &p, &plan);
    doc.steps = plan
        .steps
        .iter()
        .map(|s| StepResult {
            id: s.id(),
            needs: s.needs.iter().map(|&i| plan.steps[i].id()).collect(),
        })
        .collect();
    let mut live: Vec<(String, Result<Vec<String>>)> = Vec::new();
    let mut probes: Vec<(String, Result<ImagePlan>)> = Vec::new();
    let adapters = Adapters::new(cli);
    if !args.static_only && !plan.targets.is_empty() {
        adapters.check_aws(&p, &plan.images, &plan.targets)?;
        // What the push would find decides what the deploys would get: an image
        // whose content ECR holds already is deployed by that digest.
        let images = adapters.image_steps(p.clone(), Default::default())?;
        let mut planned = BTreeMap::new();
        for i in &plan.images {
            let probe = images.probe(&p.images[i]).await;
            if let Ok(ImagePlan::InRegistry { uri, digest, .. }) = &probe {
                planned.insert(
                    i.clone(),
                    ImageRef {
                        uri: uri.clone(),
                        tag: p.images[i].tags.first().cloned(),
                        digest: Some(digest.clone()),
                    },
                );
            }
            probes.push((i.clone(), probe));
        }
        let deploys = adapters.deploy_steps(p.clone(), overrides, true)?;
        for t in &plan.targets {
            live.push((t.clone(), deploys.plan(&p.targets[t], &planned).await));
        }
    }
    show_plan(&p, &plan, printer, &probes, &live, args.static_only);
    let mut code = ExitCode::Success;
    for (name, r) in probes {
        let entry = doc
            .images
            .iter_mut()
            .find(|i| i.name == name)
            .expect("planned image");
        match r {
            Ok(ImagePlan::InRegistry {
                uri,
                digest,
                missing,
            }) => {
                entry.repository_uri = Some(uri);
                entry.digest = Some(digest);
                entry.plan = Some(if missing.is_empty() {
                    ImageAction::Unchanged
                } else {
                    ImageAction::Tag
                });
            }
            Ok(ImagePlan::Local) => entry.plan = Some(ImageAction::Push),
            Ok(ImagePlan::Build) => entry.plan = Some(ImageAction::Build),
            Err(e) => {
                printer.error(&e);
                doc.errors
                    .extend(e.diagnostics().iter().map(ErrorEntry::from));
                code = ExitCode::Failed;
            }
        }
    }
    for (name, r) in live {
        let entry = doc
            .targets
            .iter_mut()
            .find(|t| t.name == name)
            .expect("planned target");
        match r {
            Ok(lines) => entry.plan = Some(lines),
            Err(e) => {
                printer.error(&e);
                entry.error = Some(e.to_string());
                doc.errors
                    .extend(e.diagnostics().iter().map(ErrorEntry::from));
                code = ExitCode::Failed;
            }
        }
    }
    if code != ExitCode::Success {
        doc.status = RunStatus::Failed;
    }
    if !args.static_only {
        adapters.name_accounts(&p, &mut doc).await;
    }
    Ok((Some(doc), code))
}

/// `build` and `push`: image steps only.
async fn images_run(
    cli: &Cli,
    printer: &Arc<Printer>,
    mode: Mode,
    names: &[String],
    options: BuildOptions,
    jobs: Option<usize>,
) -> Outcome {
    let run = RunArgs {
        mode,
        names,
        image_overrides: &[],
        options,
        jobs,
        fail_fast: false,
        no_wait_lock: false,
        wait_until: None,
    };
    super::images::run(cli, printer.clone(), run).await
}

fn validate(cli: &Cli, printer: &Printer) -> Outcome {
    let source = pipeline::read(&cli.global.file)?;
    let ctx = super::wiring::context_for(&source);
    let envs = pipeline::validate_all(&source, &ctx)?;
    // The document describes the pipeline as selected (`-e`), like `plan` does.
    let p = pipeline::load(&source, cli.global.env.as_deref(), &ctx)?;
    for image in p.unused_images() {
        printer.warn(format!(
            "image `{image}` is used by no target: no container, manifest, template or parameter refers to it, so it is built and pushed but never deployed"
        ));
    }
    let envs_text = if envs.is_empty() {
        String::new()
    } else {
        format!("; environments checked: {}", envs.join(", "))
    };
    printer.human_result(&format!(
        "{} {} is valid: {} image{}, {} target{}{envs_text}\n",
        printer.green("✓"),
        source.display_path(),
        p.images.len(),
        plural(p.images.len()),
        p.targets.len(),
        plural(p.targets.len()),
    ));
    let plan = plan::build_plan(
        &p,
        Scope::Ship {
            targets: &[],
            overridden: &[],
        },
    )?;
    Ok((
        Some(static_document("validate", &p, &plan)),
        ExitCode::Success,
    ))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The JSON document for commands that do not touch anything (validate, static plan).
fn static_document(command: &str, p: &Pipeline, plan: &Plan) -> RunResult {
    let mut doc = RunResult::new(command, p.environment.clone());
    doc.images = plan
        .images
        .iter()
        .map(|i| {
            let img = &p.images[i];
            ImageResult {
                name: img.name.clone(),
                repository_uri: None,
                repository: img.repository.clone(),
                account: stated_account(&img.aws).0,
                region: stated_account(&img.aws).1,
                tags: img.tags.clone(),
                digest: None,
                built: false,
                builds: Vec::new(),
                pushed: false,
                findings: Vec::new(),
                plan: None,
            }
        })
        .collect();
    doc.targets = plan
        .targets
        .iter()
        .map(|t| {
            let target = &p.targets[t];
            TargetResult {
                name: t.clone(),
                kind: target.kind.name().to_string(),
                account: uses_aws(target)
                    .then(|| stated_account(&target.aws).0)
                    .flatten(),
                region: uses_aws(target)
                    .then(|| stated_account(&target.aws).1)
                    .flatten(),
                status: TargetStatus::Planned,
                before: None,
                after: None,
                duration_ms: 0,
                error: None,
                depends_on: target.depends_on.clone(),
                images: target.images.clone(),
                outputs: Default::default(),
                state: None,
                plan: None,
                paused_at: None,
                diagnosis: None,
            }
        })
        .collect();
    doc
}

/// One line describing where a target deploys.
pub fn describe_target(kind: &TargetKind) -> String {
    match kind {
        TargetKind::Ecs(e) => format!("ECS service {} in cluster {}", e.service, e.cluster),
        TargetKind::CloudFormation(c) => format!("CloudFormation stack {}", c.stack),
        TargetKind::Eks(k) => {
            let conn = match &k.connection {
                EksConnection::Cluster(c) => format!("EKS cluster {c}"),
                EksConnection::Context(c) => format!("kube context {c}"),
            };
            match &k.workload {
                EksWorkload::Manifests { files, .. } => format!(
                    "{} manifest file{} to {conn}, namespace {}",
                    files.len(),
                    plural(files.len()),
                    k.namespace
                ),
                EksWorkload::Deployment { name, .. } => {
                    format!("Deployment {name} on {conn}, namespace {}", k.namespace)
                }
            }
        }
    }
}

fn show_plan(
    p: &Pipeline,
    plan: &Plan,
    printer: &Printer,
    probes: &[(String, Result<ImagePlan>)],
    live: &[(String, Result<Vec<String>>)],
    static_only: bool,
) {
    let mut out = String::new();
    let env = p
        .environment
        .as_deref()
        .map(|e| format!(" (environment {e})"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{}{env}\n",
        printer.bold(&format!("Plan for {}", p.project))
    ));
    if !plan.images.is_empty() {
        out.push_str(&format!("\n{}\n", printer.bold("Images")));
        let w = plan.images.iter().map(String::len).max().unwrap_or(0);
        for i in &plan.images {
            let img = &p.images[i];
            let df = crate::source::display_path(&img.dockerfile);
            let tags = format!("tag{} {}", plural(img.tags.len()), img.tags.join(", "));
            let what = match probes.iter().find(|(n, _)| n == i).map(|(_, r)| r) {
                Some(Ok(ImagePlan::InRegistry {
                    digest, missing, ..
                })) if missing.is_empty() => format!(
                    "unchanged: {} holds this content as {} under every tag",
                    img.repository,
                    short(digest)
                ),
                Some(Ok(ImagePlan::InRegistry {
                    digest, missing, ..
                })) => format!(
                    "no build, no upload: {} holds this content as {}; add tag{} {}",
                    img.repository,
                    short(digest),
                    plural(missing.len()),
                    missing.join(", ")
                ),
                Some(Ok(ImagePlan::Local)) => format!(
                    "no build (the local image of this content is reused), push to {} with {tags}",
                    img.repository
                ),
                Some(Err(e)) => printer.red(&format!(
                    "cannot plan: {}",
                    e.to_string().lines().next().unwrap_or("")
                )),
                Some(Ok(ImagePlan::Build)) | None => {
                    format!("build {df}, push to {} with {tags}", img.repository)
                }
            };
            out.push_str(&format!("  {i:<w$}  {what}\n"));
        }
    }
    if !plan.targets.is_empty() {
        out.push_str(&format!("\n{}\n", printer.bold("Targets")));
        let w = plan.targets.iter().map(String::len).max().unwrap_or(0);
        for t in &plan.targets {
            let target = &p.targets[t];
            let mut after: Vec<String> = target.depends_on.clone();
            after.extend(
                target
                    .images
                    .iter()
                    .filter(|i| plan.images.contains(i))
                    .map(|i| format!("image {i}")),
            );
            let after = if after.is_empty() {
                String::new()
            } else {
                printer.dim(&format!("  (after {})", after.join(", ")))
            };
            out.push_str(&format!(
                "  {t:<w$}  {}{after}\n",
                describe_target(&target.kind)
            ));
            match live.iter().find(|(n, _)| n == t).map(|(_, r)| r) {
                Some(Ok(lines)) => {
                    for l in lines {
                        out.push_str(&format!("  {:<w$}    {l}\n", ""));
                    }
                }
                Some(Err(e)) => out.push_str(&format!(
                    "  {:<w$}    {}\n",
                    "",
                    printer.red(&format!(
                        "cannot plan: {}",
                        e.to_string().lines().next().unwrap_or("")
                    ))
                )),
                None => {}
            }
        }
    }
    out.push_str(&format!("\n{}\n", printer.bold("Steps")));
    for (n, s) in plan.steps.iter().enumerate() {
        let needs: Vec<String> = s.needs.iter().map(|&i| (i + 1).to_string()).collect();
        let verb = match s.kind {
            StepKind::Build => "build",
            StepKind::Push => "push",
            StepKind::Deploy => "deploy",
        };
        let wait = if needs.is_empty() {
            String::new()
        } else {
            printer.dim(&format!("  (after {})", needs.join(", ")))
        };
        out.push_str(&format!("  {:>2}. {verb} {}{wait}\n", n + 1, s.subject));
    }
    if static_only {
        out.push_str(
            &printer.dim("\nThis plan is static: berth has not asked AWS what is deployed now.\n"),
        );
    }
    printer.human_result(&out);
}
