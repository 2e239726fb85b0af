//! Putting back what a failed deploy replaced (`rollback: auto`), and ECS rollout verdicts in
//! the words every deployer uses.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ecs::types::Service;

use super::{Ecs, rollout, short_td};
use crate::engine::ports::{Failure, Undo, Verdict};
use crate::engine::step::StepCtx;
use crate::error::Result;
use crate::pipeline::model::EcsTarget;

/// Moves a service back to the revision a deploy replaced (for `rollback: auto`).
pub(super) struct EcsUndo {
    pub config: SdkConfig,
    pub client: aws_sdk_ecs::Client,
    pub svc: Service,
    pub spec: EcsTarget,
    pub code_deploy: bool,
    /// The revision to go back to, and the one that failed.
    pub to: String,
    pub from: String,
}

#[async_trait]
impl Undo for EcsUndo {
    fn to(&self) -> String {
        short_td(&self.to).to_string()
    }

    async fn undo(&self, ctx: &StepCtx) -> Result<(Verdict, Option<String>)> {
        let deadline = Instant::now() + self.spec.timeout;
        let v = Ecs::rollout(
            &self.config,
            &self.client,
            &self.svc,
            &self.spec,
            self.code_deploy,
            &self.to,
            &self.from,
            None,
            ctx,
            deadline,
        )
        .await?;
        Ok(match v {
            rollout::Verdict::Completed => (Verdict::Completed, Some(self.to.clone())),
            other => (
                verdict(
                    other,
                    &self.spec,
                    &self.to,
                    "the rollback",
                    self.spec.timeout,
                ),
                None,
            ),
        })
    }
}

/// An ECS rollout verdict in the words every deployer uses.
pub(super) fn verdict(
    v: rollout::Verdict,
    e: &EcsTarget,
    td: &str,
    what: &str,
    timeout: Duration,
) -> Verdict {
    match v {
        rollout::Verdict::Completed => Verdict::Completed,
        rollout::Verdict::RolledBack {
            to_task_definition, ..
        } => Verdict::RolledBack(format!(
            "ECS rolled back to {} (the circuit breaker stopped {})",
            short_td(&to_task_definition),
            short_td(td)
        )),
        rollout::Verdict::Failed(why) => Verdict::Failed(Failure {
            what: format!("{what} of {} to service `{}`", short_td(td), e.service),
            why,
            advice: Some(
                "or enable the deployment circuit breaker with rollback on the service".into(),
            ),
        }),
        rollout::Verdict::Reverted {
            to_task_definition,
            why,
        } => Verdict::RolledBack(format!(
            "ECS rolled back to {}: {why}",
            short_td(&to_task_definition)
        )),
        rollout::Verdict::Paused { stage } => Verdict::Paused(stage),
        rollout::Verdict::InProgress { .. } => Verdict::TimedOut(format!(
            "{} was still rolling out after {}; it may still complete (check with `berth status`)",
            short_td(td),
            humantime::format_duration(timeout),
        )),
    }
}
