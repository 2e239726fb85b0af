//! How a deploy ends when there is nothing to register: the service already runs the wanted
//! content, and it is `unchanged` only once that content's rollout is over — one still in
//! progress (an interrupted run, another runner) is followed to its end, through the
//! service's deployments or its service deployment (staged strategies). Also: stopping a
//! running service deployment with rollback, and gathering the evidence of a rollout that did
//! not complete (see [`super::diagnose`]).

use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::Service;
use serde_json::Value;

use super::undo::verdict;
use super::{Ecs, PREVIOUS_TAG, Prepared, diagnose, rollout, service, short_td, stages};
use crate::engine::ports::{Failure, Rollout, Verdict};
use crate::engine::step::StepCtx;
use crate::error::Result;
use crate::pipeline::model::EcsTarget;

impl Ecs {
    /// The service already runs the wanted content: it is `unchanged` only once the rollout
    /// of that revision is over. One still in progress (an interrupted run, another runner)
    /// is followed to its end; one that failed is reported as failed.
    pub(super) async fn settle_current(
        &self,
        p: &Prepared,
        e: &EcsTarget,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Rollout> {
        let current = Some(p.current.clone());
        if stages::staged(&p.svc) {
            return self.settle_staged(p, e, ctx, deadline).await;
        }
        let Some(u) = service::unsettled(&p.svc).filter(|_| !p.code_deploy) else {
            ctx.progress(format!(
                "{} already runs this revision's content",
                short_td(&p.current)
            ));
            return Ok(Rollout::new(Verdict::Unchanged, current.clone(), current));
        };
        if let Some(why) = u.failed {
            let failure = Failure {
                what: format!(
                    "the earlier deployment {} of {} to service `{}`",
                    u.id,
                    short_td(&p.current),
                    e.service
                ),
                why: if why.is_empty() {
                    "it is FAILED".into()
                } else {
                    why
                },
                advice: Some("or deploy a fixed revision".into()),
            };
            let mut r = Rollout::new(Verdict::Failed(failure), current.clone(), current);
            explain(&mut r, p, e, &p.current, ctx).await;
            return Ok(r);
        }
        ctx.log(format!(
            "{} is still rolling out (deployment {}, started before this run); following it to its end",
            short_td(&p.current),
            u.id
        ));
        let seen = service::event_ids(&p.svc);
        let v = Self::follow(
            &p.client,
            e,
            &u.id,
            &p.current,
            &u.previous,
            seen,
            ctx,
            deadline,
        )
        .await?;
        let after = match &v {
            rollout::Verdict::RolledBack {
                to_task_definition, ..
            }
            | rollout::Verdict::Reverted {
                to_task_definition, ..
            } => Some(to_task_definition.clone()),
            _ => current.clone(),
        };
        let verdict = match v {
            rollout::Verdict::Completed => Verdict::Unchanged,
            other => verdict(other, e, &p.current, "the deployment", e.timeout),
        };
        let before = (!u.previous.is_empty()).then_some(u.previous);
        let mut r = Rollout::new(verdict, before, after);
        explain(&mut r, p, e, &p.current, ctx).await;
        Ok(r)
    }
}

/// The revision berth recorded as replaced by `tags`' task definition (None: not berth's).
pub(super) fn recorded_previous(tags: &[Value]) -> Option<String> {
    tags.iter()
        .find(|tag| tag.get("key").and_then(Value::as_str) == Some(PREVIOUS_TAG))
        .and_then(|tag| tag.get("value").and_then(Value::as_str))
        .map(str::to_string)
}

impl Ecs {
    /// [`Ecs::settle_current`] for a service that rolls out in stages: a service deployment
    /// of this revision still running is followed (to `wait_until`, as a deploy would).
    async fn settle_staged(
        &self,
        p: &Prepared,
        e: &EcsTarget,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Rollout> {
        let current = Some(p.current.clone());
        let running = match stages::current(&p.svc) {
            Some(arn) => {
                let sd = stages::describe(&p.client, &arn).await?;
                let v = stages::View::of(&sd);
                matches!(v.status.as_str(), "PENDING" | "IN_PROGRESS").then_some((arn, v))
            }
            None => None,
        };
        let Some((arn, v)) = running else {
            ctx.progress(format!(
                "{} already runs this revision's content",
                short_td(&p.current)
            ));
            return Ok(Rollout::new(Verdict::Unchanged, current.clone(), current));
        };
        ctx.log(format!(
            "service deployment {} of {} is still {} (at {}); following it",
            stages::short_sd(&arn),
            short_td(&p.current),
            v.status,
            v.stage.as_deref().unwrap_or("?")
        ));
        let previous = recorded_previous(&p.current_tags).unwrap_or_default();
        let sv = stages::follow(&p.client, e, &arn, &previous, e.wait_until, ctx, deadline).await?;
        let after = match &sv {
            rollout::Verdict::Reverted {
                to_task_definition, ..
            } => Some(to_task_definition.clone()),
            _ => current.clone(),
        };
        let verdict = match sv {
            rollout::Verdict::Completed => Verdict::Unchanged,
            other => verdict(other, e, &p.current, "the deployment", e.timeout),
        };
        let before = (!previous.is_empty()).then_some(previous);
        let mut r = Rollout::new(verdict, before, after);
        explain(&mut r, p, e, &p.current, ctx).await;
        Ok(r)
    }

    /// Stops the service's running service deployment with rollback and follows it back.
    pub(super) async fn stop_with_rollback(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        arn: &str,
        previous: &str,
        ctx: &StepCtx,
    ) -> Result<rollout::Verdict> {
        ctx.progress(format!(
            "stopping service deployment {} with rollback",
            stages::short_sd(arn)
        ));
        client
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|err| {
                crate::aws::sdk_error(
                    format!(
                        "stopping service deployment {} of service `{}`",
                        stages::short_sd(arn),
                        e.service
                    ),
                    err,
                )
            })?;
        ctx.log(format!(
            "asked ECS to stop service deployment {} and roll back",
            stages::short_sd(arn)
        ));
        let deadline = Instant::now() + e.timeout;
        match stages::follow(client, e, arn, previous, None, ctx, deadline).await? {
            rollout::Verdict::Reverted { .. } => {
                stages::rolled_back(client, e, arn, ctx, deadline).await
            }
            rollout::Verdict::Completed => Ok(rollout::Verdict::Failed(
                "the service deployment completed before it could be stopped".into(),
            )),
            other => Ok(other),
        }
    }
}

/// Gathers the evidence of a rollout of `td_arn` that did not complete (see [`diagnose`]).
pub(super) async fn explain(
    r: &mut Rollout,
    p: &Prepared,
    e: &EcsTarget,
    td_arn: &str,
    ctx: &StepCtx,
) {
    explain_with(r, &p.config, &p.client, &p.svc, e, td_arn, ctx).await;
}

pub(super) async fn explain_with(
    r: &mut Rollout,
    config: &SdkConfig,
    client: &aws_sdk_ecs::Client,
    svc: &Service,
    e: &EcsTarget,
    td_arn: &str,
    ctx: &StepCtx,
) {
    if matches!(
        r.verdict,
        Verdict::Completed | Verdict::Unchanged | Verdict::Paused(_)
    ) {
        return;
    }
    ctx.progress("gathering why: stopped tasks, their logs, target health");
    let d = diagnose::gather(config, client, e, svc, td_arn).await;
    r.diagnosis = (!d.is_empty()).then_some(d);
}
