//! `run_before`: a one-off task of the new revision (a migration) that must exit 0 before
//! the service moves to it.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerOverride, LaunchType, Service, TaskOverride};
use serde_json::Value;

use super::Ecs;
use crate::aws::sdk_error;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::EcsTarget;

impl Ecs {
    /// Runs the `run_before` task and waits for it; Ok only when it exits 0.
    pub(super) async fn run_before(
        &self,
        client: &aws_sdk_ecs::Client,
        svc: &Service,
        e: &EcsTarget,
        td_arn: &str,
        td: &Value,
        ctx: &StepCtx,
    ) -> Result<()> {
        let Some(rb) = &e.run_before else {
            return Ok(());
        };
        ctx.progress(format!(
            "running the run_before task ({} {})",
            rb.container,
            rb.command.join(" ")
        ));
        let mut req = client
            .run_task()
            .cluster(&e.cluster)
            .task_definition(td_arn)
            .count(1)
            .started_by("berth")
            .overrides(
                TaskOverride::builder()
                    .container_overrides(
                        ContainerOverride::builder()
                            .name(&rb.container)
                            .set_command(Some(rb.command.clone()))
                            .build(),
                    )
                    .build(),
            )
            .set_network_configuration(svc.network_configuration().cloned());
        if !svc.capacity_provider_strategy().is_empty() {
            req =
                req.set_capacity_provider_strategy(Some(svc.capacity_provider_strategy().to_vec()));
        } else if let Some(lt) = svc.launch_type() {
            req = req.launch_type(lt.clone());
        } else {
            req = req.launch_type(LaunchType::Fargate);
        }
        let out = req.send().await.map_err(|err| {
            sdk_error(
                format!("starting the run_before task of `{}`", e.service),
                err,
            )
        })?;
        if let Some(f) = out.failures().first() {
            return Err(Error::failed(format!(
                "the run_before task could not start: {}",
                f.reason().unwrap_or("unknown reason")
            )));
        }
        let task = out
            .tasks()
            .first()
            .and_then(|t| t.task_arn())
            .ok_or_else(|| Error::failed("ECS started no run_before task"))?
            .to_string();
        let task_id = task.rsplit('/').next().unwrap_or(&task).to_string();
        // Where its output goes, so the user can read it.
        let logs = td
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(rb.container.as_str()))
            })
            .and_then(|c| c.pointer("/logConfiguration/options").cloned());
        if let Some(opts) = logs
            && let (Some(group), Some(prefix)) = (
                opts.get("awslogs-group").and_then(Value::as_str),
                opts.get("awslogs-stream-prefix").and_then(Value::as_str),
            )
        {
            ctx.log(format!(
                "run_before logs: group {group}, stream {prefix}/{}/{task_id}",
                rb.container
            ));
        }
        let started = Instant::now();
        loop {
            let out = client
                .describe_tasks()
                .cluster(&e.cluster)
                .tasks(&task)
                .send()
                .await
                .map_err(|err| sdk_error("watching the run_before task", err))?;
            if let Some(t) = out.tasks().first() {
                let status = t.last_status().unwrap_or("");
                if status == "STOPPED" {
                    let c = t
                        .containers()
                        .iter()
                        .find(|c| c.name() == Some(rb.container.as_str()));
                    let code = c.and_then(|c| c.exit_code());
                    let reason = c
                        .and_then(|c| c.reason())
                        .or(t.stopped_reason())
                        .unwrap_or("")
                        .to_string();
                    return match code {
                        Some(0) => {
                            ctx.log(format!("run_before task {task_id} exited 0"));
                            Ok(())
                        }
                        Some(n) => Err(Error::failed(format!("the run_before task {task_id} exited with code {n}; the service was not updated")).with_causes(vec![reason].into_iter().filter(|r| !r.is_empty()).collect())),
                        None => Err(Error::failed(format!("the run_before task {task_id} stopped without an exit code; the service was not updated")).with_causes(vec![reason])),
                    };
                }
                ctx.progress(format!(
                    "run_before task {task_id}: {}",
                    status.to_lowercase()
                ));
            }
            if started.elapsed() > rb.timeout {
                return Err(Error::failed(format!(
                    "the run_before task {task_id} did not stop within {}; the service was not updated",
                    humantime::format_duration(rb.timeout)
                )));
            }
            tokio::time::sleep(e.poll_interval.min(Duration::from_secs(2))).await;
        }
    }
}
