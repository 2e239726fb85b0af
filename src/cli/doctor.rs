//! `berth doctor`: checks what a CI job needs before it needs it — the pipeline file, the
//! Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses,
//! and Kubernetes access for EKS targets — and prints each with a fix. A pipeline that fails
//! on a new runner is then one command away from the reason, not three consoles.
//!
//! Every check is read-only and bounded (the SDK's timeouts and retries); a failed check does
//! not stop the others, and the command exits 1 when any failed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use super::Cli;
use crate::engine::ports::On;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{CheckResult, CheckStatus, RunResult, RunStatus};
use crate::pipeline::Pipeline;
use crate::pipeline::model::{AwsAccess, TargetKind};

pub async fn run(cli: &Cli, printer: &Arc<Printer>) -> Result<(Option<RunResult>, ExitCode)> {
    let mut checks = vec![CheckResult::ok(
        "berth",
        format!("berth {}", super::VERSION),
    )];
    let pipeline = pipeline_check(cli, &mut checks);
    let adapters = super::wiring::Adapters::new(cli);
    let engines = match &pipeline {
        Some(p) => adapters.engines(p),
        None => vec![("default".to_string(), adapters.docker.clone())],
    };
    for (name, engine) in engines {
        let check = if name == "default" {
            "docker".to_string()
        } else {
            format!("builder {name}")
        };
        checks.push(match engine.describe().await {
            Ok(d) => CheckResult::ok(&check, d),
            Err(e) if name == "default" => CheckResult::failed(&check, &e, "start the Docker daemon, or point DOCKER_HOST at one; in CodeBuild turn on privileged mode; in berth's container mount the host's socket (-v /var/run/docker.sock:/var/run/docker.sock)"),
            Err(e) => CheckResult::failed_hinted(&check, &e, "see docs/builders.md for setting up a remote engine"),
        });
    }
    for (access, services) in accounts(pipeline.as_ref()) {
        aws_checks(&adapters, &access, &services, &mut checks).await;
    }
    if let Some(p) = &pipeline {
        for t in p.targets.values() {
            if let TargetKind::Eks(spec) = &t.kind {
                let on = On { target: t, spec };
                let name = format!("kubernetes {}", t.name);
                checks.push(
                    match crate::eks::connect::check_access(&adapters.configs, on).await {
                        Ok(d) => CheckResult::ok(&name, d),
                        Err(e) => CheckResult::failed_hinted(&name, &e, "give the identity access to the cluster (an EKS access entry, or the aws-auth ConfigMap) with rights to get and patch the workload in its namespace"),
                    },
                );
            }
        }
    }
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .count();
    let mut out = String::new();
    for c in &checks {
        let mark = match c.status {
            CheckStatus::Ok => printer.green("✓"),
            CheckStatus::Failed => printer.red("✗"),
            CheckStatus::Skipped => "-".to_string(),
        };
        out.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("    fix: {fix}\n"));
        }
    }
    out.push_str(&if failed == 0 {
        format!("{} checks passed\n", checks.len())
    } else {
        format!("{failed} of {} checks failed\n", checks.len())
    });
    printer.human_result(&out);
    let mut doc = RunResult::new(
        "doctor",
        pipeline.as_ref().and_then(|p| p.environment.clone()),
    );
    doc.status = if failed == 0 {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    doc.checks = checks;
    let code = if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::Failed
    };
    Ok((Some(doc), code))
}

/// The pipeline file: loaded and valid, or why not (none at all is not a failure: the
/// other checks then cover what any pipeline needs).
fn pipeline_check(cli: &Cli, checks: &mut Vec<CheckResult>) -> Option<Pipeline> {
    let path = &cli.global.file;
    if !path.exists() {
        checks.push(CheckResult {
            name: "pipeline".into(),
            status: CheckStatus::Skipped,
            detail: format!(
                "no {} here: checking Docker and the default AWS identity",
                path.display()
            ),
            fix: None,
        });
        return None;
    }
    match super::wiring::load(cli) {
        Ok(p) => {
            checks.push(CheckResult::ok(
                "pipeline",
                format!(
                    "{}: {} image(s), {} target(s)",
                    path.display(),
                    p.images.len(),
                    p.targets.len()
                ),
            ));
            Some(p)
        }
        Err(e) => {
            checks.push(CheckResult::failed_hinted(
                "pipeline",
                &e,
                "run `berth validate` for every error with its line",
            ));
            None
        }
    }
}

/// The accesses (region, profile, role) the pipeline uses, each with the AWS services it
/// calls there; without a pipeline, the default identity and the services of every kind.
fn accounts(p: Option<&Pipeline>) -> Vec<(AwsAccess, BTreeSet<Service>)> {
    let Some(p) = p else {
        return vec![(AwsAccess::default(), Service::ALL.into_iter().collect())];
    };
    let mut out: Vec<(AwsAccess, BTreeSet<Service>)> = Vec::new();
    let mut add = |access: &AwsAccess, s: Service| match out.iter_mut().find(|(a, _)| a == access) {
        Some((_, set)) => {
            set.insert(s);
        }
        None => out.push((access.clone(), BTreeSet::from([s]))),
    };
    for img in p.images.values() {
        add(&img.aws, Service::Ecr);
    }
    for t in p.targets.values() {
        let s = match &t.kind {
            TargetKind::Ecs(_) => Service::Ecs,
            TargetKind::CloudFormation(_) => Service::CloudFormation,
            TargetKind::Eks(e)
                if matches!(
                    e.connection,
                    crate::pipeline::model::EksConnection::Cluster(_)
                ) =>
            {
                Service::Eks
            }
            TargetKind::Eks(_) => continue,
        };
        add(&t.aws, s);
    }
    out
}

pub use crate::aws::Service;

/// Region, identity and each service for one access (region, profile, role).
async fn aws_checks(
    adapters: &super::wiring::Adapters,
    access: &AwsAccess,
    services: &BTreeSet<Service>,
    checks: &mut Vec<CheckResult>,
) {
    let label = match (&access.profile, &access.role) {
        (_, Some(r)) => format!("aws (role {})", r.arn),
        (Some(p), None) => format!("aws (profile {p})"),
        (None, None) => "aws".to_string(),
    };
    let config = match adapters.configs.get(access).await {
        Ok(c) => c,
        Err(e) => {
            checks.push(CheckResult::failed(
                &label,
                &e,
                "check AWS_PROFILE and the shared config files (~/.aws/config)",
            ));
            return;
        }
    };
    let Some(region) = config.region().map(|r| r.to_string()) else {
        checks.push(CheckResult::failed(
            &format!("{label} region"),
            &Error::failed("no AWS region is set"),
            "set `defaults.region` in the pipeline file, AWS_REGION, or the profile's region",
        ));
        return;
    };
    match crate::aws::caller(&config).await {
        Ok(who) => checks.push(CheckResult::ok(
            &format!("{label} identity"),
            format!("{who} in {region}"),
        )),
        Err(e) => {
            checks.push(CheckResult::failed(
                &format!("{label} identity"),
                &e,
                "set AWS_PROFILE (and run `aws sso login` for SSO profiles), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the runner a role (CodeBuild's service role, an instance profile)",
            ));
            return;
        }
    }
    for s in services {
        let name = format!("{label} {} ({region})", s.name());
        let start = Instant::now();
        checks.push(match crate::aws::reach(&config, *s).await {
            Ok(()) => CheckResult::ok(
                &name,
                format!(
                    "{} answers ({} ms)",
                    crate::aws::endpoint(&config, s.endpoint_prefix()),
                    start.elapsed().as_millis()
                ),
            ),
            Err(e) => CheckResult::failed_hinted(
                &name,
                &e,
                &format!("allow the identity what docs/iam.md lists for {}, and check that the runner reaches {}", s.name(), crate::aws::endpoint(&config, s.endpoint_prefix())),
            ),
        });
    }
}
