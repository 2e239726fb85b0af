//! Following an ECS service deployment: services whose deployment strategy is BLUE_GREEN,
//! LINEAR or CANARY roll out through lifecycle stages (scale up the new revision, shift test
//! traffic, shift production traffic — at once, by a canary share, or in linear steps —, bake,
//! clean up), and ECS reports them on the service deployment, not on the service's
//! `deployments`. berth finds the service deployment UpdateService started (the service's
//! `currentServiceDeployment`) and follows it with DescribeServiceDeployments: each stage and
//! traffic move is reported as it is seen, `SUCCESSFUL` is success, and any rollback — an
//! alarm going off in bake time, the circuit breaker, someone stopping it with rollback — is
//! a rollback, named.
//!
//! `wait_until` stops the watch at a stage: the deployment goes on without berth, which
//! reports the target `paused` there (`berth deploy --continue` follows it again).

use std::time::Instant;

use aws_sdk_ecs::types::{DeploymentStrategy, Service, ServiceDeployment, ServiceDeploymentStatus};

use super::rollout::Verdict;
use crate::aws::sdk_error;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::{DeploymentStage, EcsTarget};

/// Whether the service rolls out through service deployments berth follows here.
pub fn staged(svc: &Service) -> bool {
    matches!(
        svc.deployment_configuration().and_then(|c| c.strategy()),
        Some(
            DeploymentStrategy::BlueGreen | DeploymentStrategy::Linear | DeploymentStrategy::Canary
        )
    )
}

/// What berth reads of one service deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub status: String,
    pub stage: Option<String>,
    pub production_traffic: Option<f64>,
    pub test_traffic: Option<f64>,
    pub reason: Option<String>,
    pub rollback_reason: Option<String>,
    pub triggered_alarms: Vec<String>,
}

impl View {
    pub fn of(sd: &ServiceDeployment) -> Self {
        let target = sd.target_service_revision();
        View {
            status: sd
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            stage: sd.lifecycle_stage().map(|s| s.as_str().to_string()),
            production_traffic: target.and_then(|t| t.requested_production_traffic_weight()),
            test_traffic: target.and_then(|t| t.requested_test_traffic_weight()),
            reason: sd.status_reason().map(str::to_string),
            rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_string),
            triggered_alarms: sd
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
        }
    }
}

/// How a service deployment stands, from one look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judged {
    Going,
    Done,
    /// ECS rolls it back (or has): why.
    RolledBack(String),
    Failed(String),
    /// At or past the stage berth was asked to stop watching at.
    Paused(String),
}

/// Judges one look at a service deployment; `wait_until` pauses at a stage.
pub fn judge(v: &View, wait_until: Option<DeploymentStage>) -> Judged {
    use ServiceDeploymentStatus as S;
    match S::from(v.status.as_str()) {
        S::Successful => Judged::Done,
        S::RollbackRequested | S::RollbackInProgress | S::RollbackSuccessful => {
            Judged::RolledBack(rollback_why(v))
        }
        S::RollbackFailed => Judged::Failed(format!(
            "ECS could not roll it back either: {}",
            v.reason.as_deref().unwrap_or("ROLLBACK_FAILED")
        )),
        S::Stopped | S::StopRequested => Judged::Failed(format!(
            "the service deployment was stopped: {}",
            v.reason.as_deref().unwrap_or("STOPPED")
        )),
        S::Pending | S::InProgress => {
            let at = v.stage.as_deref().and_then(DeploymentStage::from_name);
            match (wait_until, at) {
                (Some(w), Some(at)) if at >= w => Judged::Paused(at.as_str().to_string()),
                _ => Judged::Going,
            }
        }
        other => Judged::Failed(format!(
            "the service deployment is {} (a status berth does not know)",
            other.as_str()
        )),
    }
}

/// Why ECS rolled back: the alarms that went off, else its reason.
fn rollback_why(v: &View) -> String {
    if !v.triggered_alarms.is_empty() {
        let s = if v.triggered_alarms.len() == 1 {
            ""
        } else {
            "s"
        };
        let during = v
            .stage
            .as_deref()
            .map(|st| format!(" during {st}"))
            .unwrap_or_default();
        return format!(
            "alarm{s} {} went off{during}",
            v.triggered_alarms.join(", ")
        );
    }
    v.rollback_reason
        .clone()
        .or_else(|| v.reason.clone())
        .unwrap_or_else(|| "rolled back".into())
}

/// The service deployment UpdateService started, as the service names it.
pub fn current(svc: &Service) -> Option<String> {
    svc.current_service_deployment().map(str::to_string)
}

/// Reads one service deployment.
pub async fn describe(client: &aws_sdk_ecs::Client, arn: &str) -> Result<ServiceDeployment> {
    let out = client
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|err| sdk_error("reading the service deployment", err))?;
    out.service_deployments().first().cloned().ok_or_else(|| {
        Error::failed(format!(
            "ECS does not know the service deployment {}",
            short_sd(arn)
        ))
    })
}

/// `arn:…:service-deployment/cluster/service/abc` → `abc`.
pub fn short_sd(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Follows service deployment `arn` (of `td_arn`, replacing `previous`) to its end, the
/// stage `wait_until`, or the deadline. Transient errors are ridden out until the deadline.
#[allow(clippy::too_many_arguments)]
pub async fn follow(
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    arn: &str,
    previous: &str,
    wait_until: Option<DeploymentStage>,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<Verdict> {
    let mut seen: Option<(Option<String>, Option<f64>, Option<f64>)> = None;
    let mut last = String::new();
    loop {
        let Some(v) = look(client, e, arn, ctx, deadline).await? else {
            continue;
        };
        let now = (v.stage.clone(), v.production_traffic, v.test_traffic);
        if seen.as_ref() != Some(&now) {
            if let Some(stage) = &v.stage {
                ctx.stage(stage, v.production_traffic, v.test_traffic);
            }
            seen = Some(now);
        }
        match judge(&v, wait_until) {
            Judged::Done => return Ok(Verdict::Completed),
            Judged::RolledBack(why) => {
                return Ok(Verdict::Reverted {
                    to_task_definition: previous.to_string(),
                    why,
                });
            }
            Judged::Failed(why) => return Ok(Verdict::Failed(why)),
            Judged::Paused(stage) => return Ok(Verdict::Paused { stage }),
            Judged::Going => {}
        }
        let progress = format!(
            "service deployment {}: {} at {}",
            short_sd(arn),
            v.status,
            v.stage.as_deref().unwrap_or("?")
        );
        if progress != last {
            ctx.progress(progress.clone());
            last = progress;
        }
        if Instant::now() >= deadline {
            return Ok(Verdict::still_going());
        }
        tokio::time::sleep(e.poll_interval).await;
    }
}

/// One look at the service deployment; None after a transient error (waited out, try
/// again), which only ends the watch once the deadline has passed.
async fn look(
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    arn: &str,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<Option<View>> {
    match describe(client, arn).await {
        Ok(sd) => Ok(Some(View::of(&sd))),
        Err(err) if err.kind().is_transient() && Instant::now() < deadline => {
            ctx.log(format!("{}; trying again", err.one_line()));
            tokio::time::sleep(e.poll_interval).await;
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// Waits for a service deployment that is rolling back to be back (`Completed`), or for the
/// rollback to fail, or the deadline (`InProgress`).
pub async fn rolled_back(
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    arn: &str,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<Verdict> {
    loop {
        if let Some(v) = look(client, e, arn, ctx, deadline).await? {
            match ServiceDeploymentStatus::from(v.status.as_str()) {
                ServiceDeploymentStatus::RollbackSuccessful => return Ok(Verdict::Completed),
                ServiceDeploymentStatus::RollbackRequested
                | ServiceDeploymentStatus::RollbackInProgress => {
                    ctx.progress(format!(
                        "service deployment {}: {}",
                        short_sd(arn),
                        v.status
                    ));
                }
                _ => {
                    return Ok(Verdict::Failed(format!(
                        "the service deployment is {}{}",
                        v.status,
                        v.reason.map(|r| format!(": {r}")).unwrap_or_default()
                    )));
                }
            }
        }
        if Instant::now() >= deadline {
            return Ok(Verdict::still_going());
        }
        tokio::time::sleep(e.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Event;
    use crate::engine::step::EventSink;
    use aws_sdk_ecs::error::ErrorMetadata;
    use aws_sdk_ecs::operation::describe_service_deployments::{
        DescribeServiceDeploymentsError, DescribeServiceDeploymentsOutput,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::Arc;
    use std::time::Duration;

    struct Quiet;
    impl EventSink for Quiet {
        fn emit(&self, _: Event) {}
    }

    fn target() -> EcsTarget {
        EcsTarget {
            cluster: "c".into(),
            service: "web".into(),
            containers: Default::default(),
            task_definition: None,
            task_definition_text: None,
            run_before: None,
            timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(1),
            rollback: Default::default(),
            wait_until: None,
            deployment: Default::default(),
        }
    }

    fn error(code: &'static str) -> DescribeServiceDeploymentsError {
        DescribeServiceDeploymentsError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("from the mock")
                .build(),
        )
    }

    fn successful() -> DescribeServiceDeploymentsOutput {
        DescribeServiceDeploymentsOutput::builder()
            .service_deployments(
                ServiceDeployment::builder()
                    .status(ServiceDeploymentStatus::Successful)
                    .build(),
            )
            .build()
    }

    async fn follow_with(rule: aws_smithy_mocks::Rule) -> (Result<Verdict>, usize) {
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
        let ctx = StepCtx::new("deploy:t", "t", Arc::new(Quiet));
        let deadline = Instant::now() + Duration::from_secs(30);
        let v = follow(&client, &target(), "arn:sd", "old", None, &ctx, deadline).await;
        (v, rule.num_calls())
    }

    #[tokio::test]
    async fn a_throttled_look_mid_wait_is_ridden_out() {
        let rule = mock!(aws_sdk_ecs::Client::describe_service_deployments)
            .sequence()
            .error(|| error("ThrottlingException"))
            .output(successful)
            .build();
        let (v, calls) = follow_with(rule).await;
        assert_eq!(v.unwrap(), Verdict::Completed);
        assert!(calls >= 2, "{calls}");
    }

    #[tokio::test]
    async fn a_refused_look_mid_wait_is_that_error_not_a_timeout() {
        let rule = mock!(aws_sdk_ecs::Client::describe_service_deployments)
            .then_error(|| error("AccessDeniedException"));
        let (v, _) = follow_with(rule).await;
        let e = v.unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::AccessDenied, "{e}");
        assert!(
            e.one_line().contains("AccessDeniedException"),
            "{}",
            e.one_line()
        );
    }

    fn v(status: &str, stage: &str) -> View {
        View {
            status: status.into(),
            stage: Some(stage.into()),
            ..Default::default()
        }
    }

    #[test]
    fn statuses_map_to_verdicts() {
        assert_eq!(judge(&v("SUCCESSFUL", "CLEAN_UP"), None), Judged::Done);
        assert_eq!(judge(&v("IN_PROGRESS", "SCALE_UP"), None), Judged::Going);
        assert_eq!(
            judge(&v("PENDING", "RECONCILE_SERVICE"), None),
            Judged::Going
        );
        assert!(matches!(
            judge(&v("ROLLBACK_IN_PROGRESS", "SCALE_UP"), None),
            Judged::RolledBack(_)
        ));
        assert!(matches!(
            judge(&v("ROLLBACK_FAILED", "SCALE_UP"), None),
            Judged::Failed(m) if m.contains("could not roll it back")
        ));
        assert!(matches!(
            judge(&v("STOPPED", "SCALE_UP"), None),
            Judged::Failed(m) if m.contains("stopped")
        ));
    }

    #[test]
    fn wait_until_pauses_at_or_past_its_stage_only_while_it_runs() {
        let w = Some(DeploymentStage::TestTrafficShift);
        assert_eq!(judge(&v("IN_PROGRESS", "POST_SCALE_UP"), w), Judged::Going);
        assert_eq!(
            judge(&v("IN_PROGRESS", "TEST_TRAFFIC_SHIFT"), w),
            Judged::Paused("TEST_TRAFFIC_SHIFT".into())
        );
        // Polls may miss a short stage: the first stage past it pauses too.
        assert_eq!(
            judge(&v("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"), w),
            Judged::Paused("PRODUCTION_TRAFFIC_SHIFT".into())
        );
        // A deployment that ended before berth saw the stage ended.
        assert_eq!(judge(&v("SUCCESSFUL", "CLEAN_UP"), w), Judged::Done);
    }

    #[test]
    fn a_rollback_names_the_alarm_that_went_off() {
        let mut r = v("ROLLBACK_IN_PROGRESS", "BAKE_TIME");
        r.triggered_alarms = vec!["shop-5xx".into()];
        r.rollback_reason = Some("CloudWatch alarm(s) shop-5xx went into ALARM".into());
        assert_eq!(
            judge(&r, None),
            Judged::RolledBack("alarm shop-5xx went off during BAKE_TIME".into())
        );
        let mut cb = v("ROLLBACK_SUCCESSFUL", "SCALE_UP");
        cb.rollback_reason = Some("Circuit breaker triggered".into());
        assert_eq!(
            judge(&cb, None),
            Judged::RolledBack("Circuit breaker triggered".into())
        );
    }
}
