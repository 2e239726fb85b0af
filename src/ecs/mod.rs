//! The ECS adapter: new task definition revisions, service updates, and a rollout watch that
//! tells the truth (see [`rollout`]).
//!
//! Task definitions are handled as JSON documents, not SDK structs: a clone must keep every
//! field of the current revision (including ones newer than the SDK), and a template is the
//! user's own `register-task-definition` document, sent as written after `${…}` rendering.
//! Services, tasks and events go through the typed SDK.
//!
//! The revision a deploy replaced is recorded as the tag `berth:previous-task-definition` on
//! the new revision, so `berth rollback` works from any machine, without local state.
//!
//! Files: `service` reads the service and moves it to a revision, following the rollout
//! (`rollout` judges it); `stages` follows service deployments (BLUE_GREEN, LINEAR, CANARY)
//! and `settings` compares their deployment settings; `codedeploy` drives CODE_DEPLOY
//! services; `settle` ends a deploy that registers nothing; `undo` puts back a failed one;
//! `diagnose` gathers why a rollout did not complete and `logs` reads containers' logs;
//! `in_use` lists the images `gc` must keep; `run_before`, `lease` and `task_definition`
//! do what they say.

pub mod codedeploy;
mod diagnose;
mod in_use;
pub mod lease;
mod logs;
pub mod rollout;
mod run_before;
mod service;
mod settings;
mod settle;
mod stages;
pub mod task_definition;
mod undo;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ecs::types::{DeploymentControllerType, Service};
use serde_json::{Value, json};

use crate::aws::AwsConfigs;
use crate::engine::ports::{
    DeployRequest, Deployer, Held, InUse, LockRequest, LogRequest, LogSink, On, Rollout,
    TargetState, Verdict,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::jsondiff::diff;
use crate::pipeline::model::{EcsTarget, Target};
use service::views;
use settle::{explain, explain_with, recorded_previous};
pub use task_definition::{registrable, set_images, with_defaults};
use undo::{EcsUndo, verdict};

/// Where berth records the revision a deploy replaced.
pub const PREVIOUS_TAG: &str = "berth:previous-task-definition";
pub struct Ecs {
    configs: Arc<AwsConfigs>,
}

/// The task definition's short name (`web:42`) for messages.
fn short_td(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl Ecs {
    pub fn new(configs: Arc<AwsConfigs>) -> Self {
        Ecs { configs }
    }

    async fn config(&self, t: &Target) -> Result<SdkConfig> {
        self.configs.get(&t.aws).await
    }
}

/// What a deploy would do, worked out with read-only calls.
struct Prepared {
    config: SdkConfig,
    client: aws_sdk_ecs::Client,
    svc: Service,
    code_deploy: bool,
    current: String,
    current_tags: Vec<Value>,
    new_td: Value,
    changes: Vec<String>,
    /// The service's deploymentConfiguration with the pipeline's settings, when they differ,
    /// and how.
    settings: Option<aws_sdk_ecs::types::DeploymentConfiguration>,
    setting_changes: Vec<String>,
}

impl Ecs {
    async fn prepare(&self, req: &DeployRequest<'_, EcsTarget>) -> Result<Prepared> {
        let (t, e) = (req.on.target, req.on.spec);
        // Images per container, by digest, checked against the template before any call.
        // Every image a container names is in the request: the engine resolves each image
        // of the target (`Target::images` lists the containers' images).
        let mut images = BTreeMap::new();
        for (container, image) in &e.containers {
            let r = req.images.get(image).ok_or_else(|| {
                Error::failed(format!(
                    "container `{container}` of `{}` runs image `{image}`, which this deploy was given no reference for",
                    t.name
                ))
            })?;
            images.insert(container.clone(), r.reference());
        }
        let template = Self::template(req, e)?;
        if let Some(td) = &template {
            let mut probe = td.clone();
            set_images(&mut probe, &images, &t.name)?;
        }
        let config = self.config(t).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, e).await?;
        let code_deploy = match svc.deployment_controller().map(|c| c.r#type()) {
            Some(DeploymentControllerType::CodeDeploy) => true,
            Some(DeploymentControllerType::Ecs) | None => false,
            Some(other) => {
                return Err(Error::failed(format!("service `{}` uses the {} deployment controller, which berth does not drive", e.service, other.as_str()))
                    .with_hint("berth deploys services with the ECS (rolling) or CODE_DEPLOY (blue/green) deployment controller"));
            }
        };
        let current = svc
            .task_definition()
            .ok_or_else(|| {
                Error::failed(format!("service `{}` has no task definition", e.service))
            })?
            .to_string();
        let (current_td, current_tags) = Self::describe_td(&config, &current).await?;
        let mut new_td = template.unwrap_or_else(|| registrable(&current_td));
        set_images(&mut new_td, &images, &t.name)?;
        let changes = diff(&registrable(&current_td), &with_defaults(&new_td));
        let (settings, setting_changes) =
            settings::bring_in_line(svc.deployment_configuration(), &e.deployment);
        if code_deploy && !setting_changes.is_empty() {
            return Err(Error::failed(format!(
                "service `{}` is deployed by CodeDeploy, so ECS deployment settings do not apply to it",
                e.service
            ))
            .with_hint("remove `deployment:` from the target, or move the service to the ECS deployment controller"));
        }
        Ok(Prepared {
            config,
            client,
            svc,
            code_deploy,
            current,
            current_tags,
            new_td,
            changes,
            settings: (!setting_changes.is_empty()).then_some(settings),
            setting_changes,
        })
    }
}

impl Ecs {
    /// The plan lines of moving the service to a new revision.
    fn plan_rollout(p: &Prepared, e: &EcsTarget) -> Vec<String> {
        let strategy = e
            .deployment
            .strategy
            .map(|s| s.as_str().to_string())
            .or_else(|| {
                p.svc
                    .deployment_configuration()
                    .and_then(|c| c.strategy())
                    .map(|s| s.as_str().to_string())
            })
            .filter(|s| s != "ROLLING");
        let how = match (p.code_deploy, strategy) {
            (true, _) => "a CodeDeploy blue/green deployment".to_string(),
            (false, Some(s)) => format!("a {s} service deployment"),
            (false, None) => "a rolling update".to_string(),
        };
        let mut lines = vec![format!(
            "register a new revision of {} and move service {} to it with {how}",
            short_td(&p.current),
            e.service
        )];
        if let Some(rb) = &e.run_before {
            lines.push(format!(
                "first run `{}` in container {} and go on only if it exits 0",
                rb.command.join(" "),
                rb.container
            ));
        }
        lines.extend(p.changes.iter().map(|c| format!("  {c}")));
        lines
    }

    /// Sends the service's deployment settings brought in line (no new deployment starts).
    async fn apply_settings(
        client: &aws_sdk_ecs::Client,
        e: &EcsTarget,
        settings: &aws_sdk_ecs::types::DeploymentConfiguration,
        changes: &[String],
        ctx: &StepCtx,
    ) -> Result<()> {
        ctx.progress("bringing the service's deployment settings in line");
        client
            .update_service()
            .cluster(&e.cluster)
            .service(&e.service)
            .deployment_configuration(settings.clone())
            .send()
            .await
            .map_err(|err| {
                crate::aws::sdk_error(
                    format!(
                        "changing the deployment settings of service `{}`",
                        e.service
                    ),
                    err,
                )
            })?;
        for c in changes {
            ctx.log(format!("deployment setting: {c}"));
        }
        Ok(())
    }
}

#[async_trait]
impl Deployer<EcsTarget> for Ecs {
    async fn plan(&self, req: &DeployRequest<'_, EcsTarget>) -> Result<Vec<String>> {
        let p = self.prepare(req).await?;
        let e = req.on.spec;
        let settings = p
            .setting_changes
            .iter()
            .map(|c| format!("  deployment setting: {c}"));
        if !p.setting_changes.is_empty() {
            let mut lines = vec![format!(
                "bring the deployment settings of service {} in line",
                e.service
            )];
            lines.extend(settings);
            if !p.changes.is_empty() {
                lines.extend(Self::plan_rollout(&p, e));
            }
            return Ok(lines);
        }
        if p.changes.is_empty() {
            return Ok(vec![format!(
                "no change: service {} runs {} with these images",
                e.service,
                short_td(&p.current)
            )]);
        }
        Ok(Self::plan_rollout(&p, e))
    }

    async fn deploy(&self, req: &DeployRequest<'_, EcsTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let e = req.on.spec;
        let deadline = Instant::now() + e.timeout;
        ctx.progress(format!("reading service {} in {}", e.service, e.cluster));
        let p = self.prepare(req).await?;
        if let Some(settings) = &p.settings {
            Self::apply_settings(&p.client, e, settings, &p.setting_changes, ctx).await?;
            if p.changes.is_empty() {
                let current = Some(p.current.clone());
                return Ok(Rollout::new(Verdict::Completed, current.clone(), current));
            }
        }
        if p.changes.is_empty() {
            return self.settle_current(&p, e, ctx, deadline).await;
        }
        for c in &p.changes {
            ctx.log(format!("task definition: {c}"));
        }
        let mut tags: Vec<Value> = p
            .current_tags
            .iter()
            .filter(|tag| tag.get("key").and_then(Value::as_str) != Some(PREVIOUS_TAG))
            .cloned()
            .collect();
        tags.push(json!({"key": PREVIOUS_TAG, "value": p.current}));
        ctx.progress("registering the new task definition revision");
        let new_arn = Self::register(&p.config, &p.new_td, tags).await?;
        ctx.log(format!("registered {}", short_td(&new_arn)));
        ctx.changing(Some(&p.current), Some(&new_arn));
        self.run_before(&p.client, &p.svc, e, &new_arn, &p.new_td, ctx)
            .await?;
        let v = Self::rollout(
            &p.config,
            &p.client,
            &p.svc,
            e,
            p.code_deploy,
            &new_arn,
            &p.current,
            e.wait_until,
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
            } => to_task_definition.clone(),
            _ => new_arn.clone(),
        };
        let mut r = Rollout::new(
            verdict(v, e, &new_arn, "deployment", e.timeout),
            Some(p.current.clone()),
            Some(after),
        );
        explain(&mut r, &p, e, &new_arn, ctx).await;
        r.undo = Some(Box::new(EcsUndo {
            config: p.config,
            client: p.client,
            svc: p.svc,
            spec: e.clone(),
            code_deploy: p.code_deploy,
            to: p.current,
            from: new_arn,
        }));
        Ok(r)
    }

    async fn rollback(&self, on: On<'_, EcsTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let e = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, e).await?;
        let current = svc.task_definition().unwrap_or_default().to_string();
        let (_, tags) = Self::describe_td(&config, &current).await?;
        let previous = recorded_previous(&tags)
            .ok_or_else(|| {
                Error::failed(format!("{} was not deployed by berth, so there is no recorded previous revision", short_td(&current)))
                    .with_hint(format!("berth records the replaced revision as the tag `{PREVIOUS_TAG}` on the revisions it registers"))
            })?;
        // A service deployment still running is stopped with rollback: ECS puts back what ran
        // before it, and no second deployment is started on top of it.
        if stages::staged(&svc)
            && let Some(arn) = stages::current(&svc)
            && matches!(
                stages::View::of(&stages::describe(&client, &arn).await?)
                    .status
                    .as_str(),
                "PENDING" | "IN_PROGRESS"
            )
        {
            let v = Self::stop_with_rollback(&client, e, &arn, &previous, ctx).await?;
            let verdict = verdict(v, e, &previous, "the rollback", e.timeout);
            let after = Self::service(&client, e)
                .await
                .ok()
                .and_then(|s| s.task_definition().map(str::to_string));
            return Ok(Rollout::new(verdict, Some(current), after));
        }
        ctx.progress(format!(
            "rolling back from {} to {}",
            short_td(&current),
            short_td(&previous)
        ));
        let deadline = Instant::now() + e.timeout;
        let code_deploy = svc
            .deployment_controller()
            .is_some_and(|c| c.r#type() == &DeploymentControllerType::CodeDeploy);
        let v = Self::rollout(
            &config,
            &client,
            &svc,
            e,
            code_deploy,
            &previous,
            &current,
            None,
            ctx,
            deadline,
        )
        .await?;
        Ok(Rollout::new(
            verdict(v, e, &previous, "the rollback", e.timeout),
            Some(current),
            Some(previous),
        ))
    }

    async fn logs(
        &self,
        on: On<'_, EcsTarget>,
        req: LogRequest,
        sink: LogSink<'_>,
        ctx: &StepCtx,
    ) -> Result<()> {
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        logs::read(&config, &client, on.spec, req, sink, ctx).await
    }

    async fn resume(&self, on: On<'_, EcsTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let e = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, e).await?;
        let arn = stages::current(&svc).filter(|_| stages::staged(&svc)).ok_or_else(|| {
            Error::failed(format!(
                "service `{}` has no service deployment to continue",
                e.service
            ))
            .with_hint("`--continue` follows services with the BLUE_GREEN, LINEAR or CANARY deployment strategy; deploy this one with `berth deploy`")
        })?;
        let current = svc.task_definition().unwrap_or_default().to_string();
        let (_, tags) = Self::describe_td(&config, &current).await?;
        let previous = recorded_previous(&tags).unwrap_or_default();
        ctx.log(format!(
            "following service deployment {} of {}",
            stages::short_sd(&arn),
            short_td(&current)
        ));
        let deadline = Instant::now() + e.timeout;
        let v = stages::follow(&client, e, &arn, &previous, None, ctx, deadline).await?;
        let after = Self::service(&client, e)
            .await
            .ok()
            .and_then(|s| s.task_definition().map(str::to_string));
        let before = (!previous.is_empty()).then_some(previous);
        let mut r = Rollout::new(
            verdict(v, e, &current, "the deployment", e.timeout),
            before,
            after,
        );
        explain_with(&mut r, &config, &client, &svc, e, &current, ctx).await;
        Ok(r)
    }

    async fn changes(&self, req: &DeployRequest<'_, EcsTarget>) -> Result<bool> {
        let p = self.prepare(req).await?;
        Ok(!p.changes.is_empty() || !p.setting_changes.is_empty())
    }

    async fn lock(
        &self,
        on: On<'_, EcsTarget>,
        req: &LockRequest,
        ctx: &StepCtx,
    ) -> Result<Option<Box<dyn Held>>> {
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, on.spec).await?;
        let store = lease::TagStore {
            client,
            arn: svc.service_arn().unwrap_or_default().to_string(),
            name: on.spec.service.clone(),
        };
        let deadline = Instant::now() + on.spec.timeout;
        let held =
            crate::engine::lease::acquire(Arc::new(store), req, ctx, deadline.into()).await?;
        Ok(Some(Box::new(held)))
    }

    async fn in_use(&self, on: On<'_, EcsTarget>, history: usize) -> Result<Vec<InUse>> {
        self.images_in_use(on, history).await
    }

    async fn status(&self, on: On<'_, EcsTarget>) -> Result<TargetState> {
        let e = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, e).await?;
        let current = svc.task_definition().unwrap_or_default().to_string();
        let (td, _) = Self::describe_td(&config, &current).await?;
        let images = td
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        Some(format!(
                            "{}={}",
                            c.get("name")?.as_str()?,
                            c.get("image")?.as_str()?
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ds = views(&svc);
        let primary = ds.iter().find(|d| d.status == "PRIMARY");
        let rollout = match (primary, ds.len()) {
            (Some(p), 1) => p.rollout_state.clone().unwrap_or_else(|| "STEADY".into()),
            (Some(p), n) => format!(
                "{} ({n} deployments)",
                p.rollout_state
                    .clone()
                    .unwrap_or_else(|| "IN_PROGRESS".into())
            ),
            (None, _) => "UNKNOWN".into(),
        };
        let mut detail: Vec<String> = ds
            .iter()
            .map(|d| {
                format!(
                    "{} {} {} {}/{} running",
                    d.id,
                    d.status,
                    short_td(&d.task_definition),
                    d.running,
                    d.desired
                )
            })
            .collect();
        let mut rollout = rollout;
        // A staged service: its service deployment says where the rollout is.
        if stages::staged(&svc)
            && let Some(arn) = stages::current(&svc)
        {
            let v = stages::View::of(&stages::describe(&client, &arn).await?);
            let at = v.stage.as_deref().unwrap_or("?");
            let traffic = v
                .production_traffic
                .map(|p| format!(", production traffic {p}%"))
                .unwrap_or_default();
            detail.push(format!(
                "service deployment {}: {} at {at}{traffic}",
                stages::short_sd(&arn),
                v.status
            ));
            if matches!(v.status.as_str(), "PENDING" | "IN_PROGRESS") {
                rollout = format!("{} at {at}", v.status);
            }
        }
        Ok(TargetState {
            revision: Some(current),
            images,
            rollout,
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::task_definition::READ_ONLY;
    use super::*;
    use crate::engine::events::Event;
    use crate::engine::step::EventSink;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{
        Deployment, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::time::Duration;

    struct Quiet;
    impl EventSink for Quiet {
        fn emit(&self, _: Event) {}
    }

    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:1";
    const NEW: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:2";

    fn dep(
        id: &str,
        status: &str,
        td: &str,
        running: i32,
        state: DeploymentRolloutState,
    ) -> Deployment {
        Deployment::builder()
            .id(id)
            .status(status)
            .task_definition(td)
            .desired_count(2)
            .running_count(running)
            .pending_count(2 - running)
            .rollout_state(state)
            .build()
    }

    fn svc(deployments: Vec<Deployment>) -> Service {
        let cb = DeploymentCircuitBreaker::builder()
            .enable(true)
            .rollback(true)
            .build();
        Service::builder()
            .service_name("web")
            .status("ACTIVE")
            .set_deployments(Some(deployments))
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(cb)
                    .build(),
            )
            .build()
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
            rollback: crate::pipeline::raw::Rollback::Never,
            wait_until: None,
            deployment: Default::default(),
        }
    }

    /// Drives the rollout watch with exact DescribeServices answers; returns the verdict and
    /// how many DescribeServices calls it made (the first one reads the event history).
    async fn watch(polls: Vec<Service>) -> (rollout::Verdict, usize) {
        use DeploymentRolloutState::*;
        let mut seq = mock!(aws_sdk_ecs::Client::describe_services).sequence();
        seq = seq.output(|| {
            DescribeServicesOutput::builder()
                .services(svc(vec![dep("old", "PRIMARY", OLD, 2, Completed)]))
                .build()
        });
        for s in polls {
            seq = seq.output(move || {
                DescribeServicesOutput::builder()
                    .services(s.clone())
                    .build()
            });
        }
        let describe = seq.build();
        let update = mock!(aws_sdk_ecs::Client::update_service).then_output(|| {
            UpdateServiceOutput::builder()
                .service(svc(vec![
                    dep("new", "PRIMARY", NEW, 0, InProgress),
                    dep("old", "ACTIVE", OLD, 2, Completed),
                ]))
                .build()
        });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &update]);
        let ctx = StepCtx::new("deploy:t", "t", Arc::new(Quiet));
        let v = Ecs::roll(
            &client,
            &target(),
            NEW,
            OLD,
            None,
            &ctx,
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .unwrap();
        (v, describe.num_calls())
    }

    #[tokio::test]
    async fn mocked_rollout_completes_when_ours_is_alone() {
        use DeploymentRolloutState::*;
        let (v, calls) = watch(vec![
            svc(vec![
                dep("new", "PRIMARY", NEW, 1, InProgress),
                dep("old", "ACTIVE", OLD, 1, Completed),
            ]),
            svc(vec![
                dep("new", "PRIMARY", NEW, 2, Completed),
                dep("old", "ACTIVE", OLD, 0, Completed),
            ]),
            svc(vec![dep("new", "PRIMARY", NEW, 2, Completed)]),
        ])
        .await;
        assert_eq!(v, rollout::Verdict::Completed);
        assert_eq!(calls, 4);
    }

    #[tokio::test]
    async fn mocked_circuit_breaker_rollback_is_seen_at_the_first_poll_after_the_flip() {
        use DeploymentRolloutState::*;
        let (v, calls) = watch(vec![
            svc(vec![
                dep("new", "PRIMARY", NEW, 0, InProgress),
                dep("old", "ACTIVE", OLD, 2, Completed),
            ]),
            svc(vec![
                dep("rb", "PRIMARY", OLD, 2, InProgress),
                dep("new", "ACTIVE", NEW, 0, Failed),
            ]),
            svc(vec![dep("rb", "PRIMARY", OLD, 2, Completed)]),
        ])
        .await;
        assert_eq!(
            v,
            rollout::Verdict::RolledBack {
                to_deployment: "rb".into(),
                to_task_definition: OLD.into()
            }
        );
        assert_eq!(
            calls, 3,
            "one history read, one poll before the flip, one after"
        );
    }

    #[tokio::test]
    async fn mocked_rollback_already_finished_is_still_a_rollback() {
        // What `services-stable` calls stable: one deployment, running == desired.
        use DeploymentRolloutState::*;
        let (v, _) = watch(vec![svc(vec![dep("rb", "PRIMARY", OLD, 2, Completed)])]).await;
        assert!(matches!(v, rollout::Verdict::RolledBack { .. }), "{v:?}");
    }

    fn td() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:7",
            "family": "web", "revision": 7, "status": "ACTIVE",
            "requiresAttributes": [{"name": "x"}], "compatibilities": ["FARGATE"],
            "registeredAt": 1.0, "registeredBy": "me",
            "cpu": "256", "memory": "512", "volumes": [],
            "containerDefinitions": [
                {"name": "web", "image": "r/web:1", "essential": true, "environment": []},
                {"name": "log", "image": "r/log:1"}
            ]
        })
    }

    #[test]
    fn ecs_verdicts_map_to_the_shared_words() {
        let e = target();
        let td = "arn:aws:ecs:r:1:task-definition/web:2";
        let t = Duration::from_secs(60);
        assert_eq!(
            verdict(rollout::Verdict::Completed, &e, td, "deployment", t),
            Verdict::Completed
        );
        let rb = verdict(
            rollout::Verdict::RolledBack {
                to_deployment: "d".into(),
                to_task_definition: "arn:aws:ecs:r:1:task-definition/web:1".into(),
            },
            &e,
            td,
            "deployment",
            t,
        );
        assert_eq!(
            rb,
            Verdict::RolledBack(
                "ECS rolled back to web:1 (the circuit breaker stopped web:2)".into()
            )
        );
        let Verdict::Failed(f) = verdict(
            rollout::Verdict::Failed("3 tasks failed".into()),
            &e,
            td,
            "deployment",
            t,
        ) else {
            panic!("a failure")
        };
        assert_eq!(f.what, "deployment of web:2 to service `web`");
        assert!(f.advice.unwrap().contains("circuit breaker"));
        let in_progress = rollout::Verdict::InProgress {
            running: 1,
            pending: 1,
            desired: 2,
            old_running: 2,
            failed_tasks: 0,
        };
        assert!(matches!(
            verdict(in_progress, &e, td, "deployment", t),
            Verdict::TimedOut(m) if m.contains("may still complete")
        ));
    }

    #[test]
    fn templates_get_the_defaults_ecs_stores() {
        let t = json!({"networkMode": "awsvpc", "containerDefinitions": [
            {"name": "web", "image": "x", "portMappings": [{"containerPort": 8080}]},
            {"name": "side", "image": "y", "cpu": 128, "essential": false}]});
        let d = with_defaults(&t);
        assert_eq!(d["containerDefinitions"][0]["cpu"], 0);
        assert_eq!(d["containerDefinitions"][0]["essential"], true);
        assert_eq!(
            d["containerDefinitions"][0]["portMappings"][0],
            json!({"containerPort": 8080, "protocol": "tcp", "hostPort": 8080})
        );
        assert_eq!(d["containerDefinitions"][1]["cpu"], 128, "set values stay");
        assert_eq!(d["containerDefinitions"][1]["essential"], false);
        assert_eq!(with_defaults(&json!({}))["networkMode"], "bridge");
    }

    #[test]
    fn cloning_drops_read_only_fields_and_keeps_the_rest() {
        let r = registrable(&td());
        for k in READ_ONLY {
            assert!(r.get(k).is_none(), "{k}");
        }
        assert_eq!(r["cpu"], "256");
        assert_eq!(r["containerDefinitions"][1]["image"], "r/log:1");
    }

    #[test]
    fn same_images_mean_no_change_and_a_new_image_is_one_change() {
        let current = registrable(&td());
        let mut same = current.clone();
        set_images(
            &mut same,
            &BTreeMap::from([("web".to_string(), "r/web:1".to_string())]),
            "t",
        )
        .unwrap();
        assert!(diff(&current, &same).is_empty());
        let mut new = current.clone();
        set_images(
            &mut new,
            &BTreeMap::from([("web".to_string(), "r/web@sha256:abc".to_string())]),
            "t",
        )
        .unwrap();
        assert_eq!(
            diff(&current, &new),
            ["containerDefinitions[web].image: r/web:1 → r/web@sha256:abc"]
        );
    }

    #[test]
    fn an_unknown_container_is_an_error_naming_the_real_ones() {
        let mut t = registrable(&td());
        let e = set_images(
            &mut t,
            &BTreeMap::from([("wbe".to_string(), "x".to_string())]),
            "svc",
        )
        .unwrap_err();
        let text = e.render(false);
        assert!(text.contains("has no container `wbe`"), "{text}");
        assert!(text.contains("did you mean `web`?"), "{text}");
    }
}
