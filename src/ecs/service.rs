//! The service: reading it, moving it to a revision, and following that deployment.

use std::collections::HashSet;
use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{DesiredStatus, Service};

use super::rollout::{self, DeploymentView, judge};
use super::{Ecs, codedeploy, short_td, stages};
use crate::aws::sdk_error;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::{DeploymentStage, EcsTarget};

pub(super) fn views(svc: &Service) -> Vec<DeploymentView> {
    svc.deployments()
        .iter()
        .map(|d| DeploymentView {
            id: d.id().unwrap_or_default().to_string(),
            status: d.status().unwrap_or_default().to_string(),
            task_definition: d.task_definition().unwrap_or_default().to_string(),
            desired: d.desired_count(),
            running: d.running_count(),
            pending: d.pending_count(),
            failed_tasks: d.failed_tasks(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_string()),
            rollout_reason: d.rollout_state_reason().map(str::to_string),
        })
        .collect()
}

fn circuit_breaker(svc: &Service) -> (bool, bool) {
    svc.deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker())
        .map(|b| (b.enable(), b.rollback()))
        .unwrap_or((false, false))
}

/// The ids of a service's events (those shown so far are history).
pub(super) fn event_ids(svc: &Service) -> HashSet<String> {
    svc.events()
        .iter()
        .filter_map(|ev| ev.id().map(str::to_string))
        .collect()
}

/// A rollout of the service's current revision that is not over yet: the deployment to
/// follow and the revision it replaces (empty when none is left).
pub(super) struct Unsettled {
    pub id: String,
    pub previous: String,
    /// The deployment already failed (no circuit breaker rolled it back).
    pub failed: Option<String>,
}

/// Whether the current revision's PRIMARY deployment is still rolling out (or failed):
/// then the service is not yet in the state that revision asks for.
pub(super) fn unsettled(svc: &Service) -> Option<Unsettled> {
    let ds = views(svc);
    let current = svc.task_definition()?;
    let primary = ds
        .iter()
        .find(|d| d.status == "PRIMARY" && d.task_definition == current)?;
    let previous = ds
        .iter()
        .find(|d| d.id != primary.id)
        .map(|d| d.task_definition.clone())
        .unwrap_or_default();
    match primary.rollout_state.as_deref() {
        Some("FAILED") => Some(Unsettled {
            id: primary.id.clone(),
            previous,
            failed: Some(primary.rollout_reason.clone().unwrap_or_default()),
        }),
        Some("IN_PROGRESS") => Some(Unsettled {
            id: primary.id.clone(),
            previous,
            failed: None,
        }),
        // No rollout state (older controllers): other deployments still draining.
        None if ds.len() > 1 => Some(Unsettled {
            id: primary.id.clone(),
            previous,
            failed: None,
        }),
        _ => None,
    }
}

impl Ecs {
    pub(super) async fn service(client: &aws_sdk_ecs::Client, e: &EcsTarget) -> Result<Service> {
        let out = client
            .describe_services()
            .cluster(&e.cluster)
            .services(&e.service)
            .send()
            .await
            .map_err(|err| {
                let not_found = err
                    .as_service_error()
                    .is_some_and(|s| s.is_cluster_not_found_exception());
                let e2 = sdk_error(
                    format!(
                        "looking up ECS service `{}` in cluster `{}`",
                        e.service, e.cluster
                    ),
                    err,
                );
                if not_found {
                    e2.with_hint(format!(
                        "there is no cluster `{}` in this account and region",
                        e.cluster
                    ))
                } else {
                    e2
                }
            })?;
        match out.services().iter().find(|s| s.status() != Some("INACTIVE")) {
            Some(s) => Ok(s.clone()),
            None => Err(Error::failed(format!("ECS service `{}` does not exist in cluster `{}`", e.service, e.cluster))
                .with_hint("create the service first (berth updates services; it does not create them), or check the region")),
        }
    }

    /// Moves the service to `td_arn` with its deployment controller, and follows it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn rollout(
        config: &SdkConfig,
        client: &aws_sdk_ecs::Client,
        svc: &Service,
        e: &EcsTarget,
        code_deploy: bool,
        td_arn: &str,
        previous: &str,
        wait_until: Option<DeploymentStage>,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<rollout::Verdict> {
        if code_deploy {
            codedeploy::roll(config, svc, e, td_arn, previous, ctx, deadline).await
        } else {
            Self::roll(client, e, td_arn, previous, wait_until, ctx, deadline).await
        }
    }

    /// Updates the service to `td_arn` and follows that deployment to its end (or, for a
    /// service deployment, to the stage `wait_until`).
    pub async fn roll(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        td_arn: &str,
        previous: &str,
        wait_until: Option<DeploymentStage>,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<rollout::Verdict> {
        // Events up to now are history; only new ones are shown.
        let seen = event_ids(&Self::service(client, e).await?);
        let out = client
            .update_service()
            .cluster(&e.cluster)
            .service(&e.service)
            .task_definition(td_arn)
            .send()
            .await
            .map_err(|err| sdk_error(format!("updating ECS service `{}`", e.service), err))?;
        let svc = out
            .service()
            .ok_or_else(|| Error::failed("UpdateService returned no service"))?;
        if stages::staged(svc) {
            let arn = stages::current(svc).ok_or_else(|| {
                Error::failed("UpdateService started no service deployment of the new revision")
            })?;
            let strategy = svc
                .deployment_configuration()
                .and_then(|c| c.strategy())
                .map(|s| s.as_str())
                .unwrap_or("?");
            ctx.log(format!(
                "service deployment {} started ({}, {strategy})",
                stages::short_sd(&arn),
                short_td(td_arn)
            ));
            return stages::follow(client, e, &arn, previous, wait_until, ctx, deadline).await;
        }
        let ours = svc
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY") && d.task_definition() == Some(td_arn))
            .and_then(|d| d.id())
            .ok_or_else(|| {
                Error::failed("UpdateService started no deployment of the new revision")
            })?
            .to_string();
        ctx.log(format!("deployment {ours} started ({})", short_td(td_arn)));
        Self::follow(client, e, &ours, td_arn, previous, seen, ctx, deadline).await
    }

    /// Follows deployment `ours` (of `td_arn`, replacing `previous`) to its end or the
    /// deadline. A transient error reading the service is ridden out until the deadline.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn follow(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        ours: &str,
        td_arn: &str,
        previous: &str,
        mut seen: HashSet<String>,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<rollout::Verdict> {
        let mut last_failed = 0;
        loop {
            let svc = match Self::service(client, e).await {
                Ok(svc) => svc,
                Err(err) if err.kind().is_transient() && Instant::now() < deadline => {
                    ctx.log(format!(
                        "{}; trying again",
                        err.diagnostics().remove(0).message
                    ));
                    tokio::time::sleep(e.poll_interval).await;
                    continue;
                }
                Err(err) => return Err(err),
            };
            let mut new_events: Vec<_> = svc
                .events()
                .iter()
                .filter(|ev| ev.id().is_some_and(|id| !seen.contains(id)))
                .collect();
            new_events.reverse();
            for ev in new_events {
                seen.insert(ev.id().unwrap_or_default().to_string());
                ctx.log(ev.message().unwrap_or_default().to_string());
            }
            let (enabled, _) = circuit_breaker(&svc);
            let verdict = judge(&views(&svc), ours, previous, enabled);
            let rollout::Verdict::InProgress {
                running,
                pending,
                desired,
                old_running,
                failed_tasks,
            } = &verdict
            else {
                return Ok(verdict);
            };
            let failed = if *failed_tasks > 0 {
                format!(", {failed_tasks} failed")
            } else {
                String::new()
            };
            ctx.progress(format!("{}: {running}/{desired} running, {pending} pending{failed}; old: {old_running} running", short_td(td_arn)));
            if *failed_tasks > last_failed {
                last_failed = *failed_tasks;
                for r in Self::stopped_reasons(client, e, ours).await {
                    ctx.log(format!("task stopped: {r}"));
                }
            }
            // Out of time: the caller reports a timeout; the deployment may still finish.
            if Instant::now() >= deadline {
                return Ok(verdict);
            }
            tokio::time::sleep(e.poll_interval).await;
        }
    }

    /// Why tasks of a deployment stopped (distinct reasons, at most three).
    async fn stopped_reasons(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        deployment: &str,
    ) -> Vec<String> {
        let Ok(list) = client
            .list_tasks()
            .cluster(&e.cluster)
            .service_name(&e.service)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .await
        else {
            return vec![];
        };
        if list.task_arns().is_empty() {
            return vec![];
        }
        let Ok(tasks) = client
            .describe_tasks()
            .cluster(&e.cluster)
            .set_tasks(Some(list.task_arns().to_vec()))
            .send()
            .await
        else {
            return vec![];
        };
        let mut reasons: Vec<String> = Vec::new();
        for t in tasks
            .tasks()
            .iter()
            .filter(|t| t.started_by() == Some(deployment))
        {
            let container = t
                .containers()
                .iter()
                .find_map(|c| {
                    c.reason()
                        .map(|r| format!(" ({}: {r})", c.name().unwrap_or("?")))
                })
                .unwrap_or_default();
            let r = format!("{}{container}", t.stopped_reason().unwrap_or("stopped"));
            if !reasons.contains(&r) && reasons.len() < 3 {
                reasons.push(r);
            }
        }
        reasons
    }
}

impl Ecs {
    /// The service's tasks with `status` that run revision `td_arn` (every revision when it is
    /// empty; of the first 100 ECS lists), as DescribeTasks answers them.
    pub(super) async fn tasks_of(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        status: DesiredStatus,
        td_arn: &str,
    ) -> Result<Vec<aws_sdk_ecs::types::Task>> {
        let list = client
            .list_tasks()
            .cluster(&e.cluster)
            .service_name(&e.service)
            .desired_status(status.clone())
            .send()
            .await
            .map_err(|err| {
                sdk_error(
                    format!(
                        "listing the {} tasks of service `{}`",
                        status.as_str().to_lowercase(),
                        e.service
                    ),
                    err,
                )
            })?;
        if list.task_arns().is_empty() {
            return Ok(Vec::new());
        }
        let out = client
            .describe_tasks()
            .cluster(&e.cluster)
            .set_tasks(Some(list.task_arns().iter().take(100).cloned().collect()))
            .send()
            .await
            .map_err(|err| {
                sdk_error(format!("reading the tasks of service `{}`", e.service), err)
            })?;
        Ok(out
            .tasks()
            .iter()
            .filter(|t| td_arn.is_empty() || t.task_definition_arn() == Some(td_arn))
            .cloned()
            .collect())
    }
}
