//! Evidence for an ECS rollout that did not complete: the stopped tasks of the revision that
//! failed (why ECS stopped each, every container's exit code), the last lines each failed
//! container logged to CloudWatch Logs, and the load balancer's view of the service's
//! targets.
//!
//! It runs after the verdict is known and before it is reported, so it is bounded: a few
//! read calls, a time budget, and every call that fails (a missing permission, a throttle)
//! becomes one line in `gaps` naming the permission — never a second error that would hide
//! the first.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{DesiredStatus, Service, Task};
use serde_json::Value;

use super::Ecs;
use crate::aws::sdk_error;
use crate::engine::ports::{ContainerEvidence, Diagnosis, FailedUnit, TargetHealth, UnitKind};
use crate::pipeline::model::EcsTarget;

/// Log lines per failed container.
pub const LOG_LINES: i32 = 20;
/// Stopped tasks looked at, newest first.
const MAX_TASKS: usize = 3;
/// The most time gathering may add to a failed deploy.
const BUDGET: Duration = Duration::from_secs(8);

/// Gathers what explains why revision `td_arn` of the service did not roll out.
pub(super) async fn gather(
    config: &SdkConfig,
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    svc: &Service,
    td_arn: &str,
) -> Diagnosis {
    let mut d = Diagnosis::default();
    let done = tokio::time::timeout(BUDGET, collect(config, client, e, svc, td_arn, &mut d)).await;
    if done.is_err() {
        d.gaps.push(format!(
            "gathering evidence stopped after {}s; what was read by then is above",
            BUDGET.as_secs()
        ));
    }
    d
}

async fn collect(
    config: &SdkConfig,
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    svc: &Service,
    td_arn: &str,
    d: &mut Diagnosis,
) {
    match stopped_tasks(client, e, td_arn).await {
        Ok(tasks) if !tasks.is_empty() => {
            let logs = match Ecs::describe_td(config, td_arn).await {
                Ok((td, _)) => log_configs(&td),
                Err(err) => {
                    d.gaps.push(format!(
                        "container log settings (ecs:DescribeTaskDefinition): {}",
                        err.one_line()
                    ));
                    BTreeMap::new()
                }
            };
            for t in &tasks {
                d.units.push(unit(config, t, &logs, &mut d.gaps).await);
            }
        }
        Ok(_) => {}
        Err(gap) => d.gaps.push(gap),
    }
    for lb in svc.load_balancers() {
        if let Some(tg) = lb.target_group_arn() {
            match target_health(config, tg).await {
                Ok(mut h) => d.target_health.append(&mut h),
                Err(gap) => d.gaps.push(gap),
            }
        }
    }
}

/// The newest stopped tasks of revision `td_arn` (a gap line when they cannot be read).
async fn stopped_tasks(
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    td_arn: &str,
) -> Result<Vec<Task>, String> {
    let mut tasks = Ecs::tasks_of(client, e, DesiredStatus::Stopped, td_arn)
        .await
        .map_err(|err| {
            format!(
                "stopped tasks (ecs:ListTasks, ecs:DescribeTasks): {}",
                err.one_line()
            )
        })?;
    tasks.sort_by_key(|t| std::cmp::Reverse(t.stopped_at().map(|s| s.as_nanos())));
    tasks.truncate(MAX_TASKS);
    Ok(tasks)
}

/// Where each container logs with the awslogs driver: (region, group, stream prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AwsLogs {
    pub region: Option<String>,
    pub group: String,
    pub prefix: Option<String>,
}

impl AwsLogs {
    /// A CloudWatch Logs client in the log group's region.
    pub fn client(&self, config: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
        let config = match &self.region {
            Some(r) if config.region().map(|c| c.as_ref()) != Some(r.as_str()) => config
                .to_builder()
                .region(aws_config::Region::new(r.clone()))
                .build(),
            _ => config.clone(),
        };
        aws_sdk_cloudwatchlogs::Client::new(&config)
    }
}

pub(super) fn log_configs(td: &Value) -> BTreeMap<String, AwsLogs> {
    let mut out = BTreeMap::new();
    for c in td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let lc = &c["logConfiguration"];
        if lc["logDriver"].as_str() != Some("awslogs") {
            continue;
        }
        let opt = |k: &str| lc["options"][k].as_str().map(str::to_string);
        if let (Some(name), Some(group)) = (c["name"].as_str(), opt("awslogs-group")) {
            out.insert(
                name.to_string(),
                AwsLogs {
                    region: opt("awslogs-region"),
                    group,
                    prefix: opt("awslogs-stream-prefix"),
                },
            );
        }
    }
    out
}

async fn unit(
    config: &SdkConfig,
    t: &Task,
    logs: &BTreeMap<String, AwsLogs>,
    gaps: &mut Vec<String>,
) -> FailedUnit {
    let id = t
        .task_arn()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("?")
        .to_string();
    let mut containers = Vec::new();
    for c in t.containers() {
        let name = c.name().unwrap_or("?").to_string();
        let mut ev = ContainerEvidence {
            name: name.clone(),
            exit_code: c.exit_code(),
            reason: c.reason().map(str::to_string),
            log_source: None,
            log: Vec::new(),
        };
        // The log of a container that exited cleanly explains nothing.
        if c.exit_code() != Some(0)
            && let Some(l) = logs.get(&name)
        {
            match &l.prefix {
                Some(prefix) => {
                    let stream = format!("{prefix}/{name}/{id}");
                    match tail(config, l, &stream).await {
                        Ok(lines) => {
                            ev.log_source =
                                Some(format!("CloudWatch Logs {} {stream}", l.group));
                            ev.log = lines;
                        }
                        Err(gap) => gaps.push(gap),
                    }
                }
                None => gaps.push(format!(
                    "the log of container {name}: its awslogs settings have no awslogs-stream-prefix, so its stream is named after the container id and cannot be found"
                )),
            }
        }
        containers.push(ev);
    }
    FailedUnit {
        kind: UnitKind::Task,
        id,
        reason: t.stopped_reason().map(str::to_string),
        containers,
    }
}

/// The last [`LOG_LINES`] lines of a log stream, oldest first.
async fn tail(config: &SdkConfig, l: &AwsLogs, stream: &str) -> Result<Vec<String>, String> {
    let out = l
        .client(config)
        .get_log_events()
        .log_group_name(&l.group)
        .log_stream_name(stream)
        .limit(LOG_LINES)
        .start_from_head(false)
        .send()
        .await
        .map_err(|err| {
            format!(
                "the log stream {stream} in {} (logs:GetLogEvents): {}",
                l.group,
                sdk_error("reading log events", err).one_line()
            )
        })?;
    Ok(out
        .events()
        .iter()
        .filter_map(|e| e.message())
        .map(|m| m.trim_end().to_string())
        .collect())
}

/// The targets of a target group that are not healthy.
async fn target_health(config: &SdkConfig, tg: &str) -> Result<Vec<TargetHealth>, String> {
    let out = aws_sdk_elasticloadbalancingv2::Client::new(config)
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .map_err(|err| {
            format!(
                "target health of {} (elasticloadbalancing:DescribeTargetHealth): {}",
                short_tg(tg),
                sdk_error("reading target health", err).one_line()
            )
        })?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let h = d.target_health()?;
            let state = h.state()?.as_str().to_string();
            if state == "healthy" {
                return None;
            }
            let t = d.target()?;
            Some(TargetHealth {
                target_group: short_tg(tg).to_string(),
                target: match t.port() {
                    Some(p) => format!("{}:{p}", t.id().unwrap_or("?")),
                    None => t.id().unwrap_or("?").to_string(),
                },
                state,
                reason: h.reason().map(|r| r.as_str().to_string()),
                description: h.description().map(str::to_string),
            })
        })
        .collect())
}

/// `arn:…:targetgroup/web/0123` → `targetgroup/web/0123`.
fn short_tg(arn: &str) -> &str {
    arn.split_once(':')
        .and_then(|_| arn.rsplit(':').next())
        .unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn awslogs_settings_are_read_per_container() {
        let td = json!({"containerDefinitions": [
            {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}}},
            {"name": "side", "logConfiguration": {"logDriver": "fluentd", "options": {}}},
            {"name": "bare"}
        ]});
        let l = log_configs(&td);
        assert_eq!(l.len(), 1);
        assert_eq!(
            l["web"],
            AwsLogs {
                region: Some("eu-west-1".into()),
                group: "/ecs/web".into(),
                prefix: Some("ecs".into())
            }
        );
    }

    #[test]
    fn target_groups_are_named_short() {
        assert_eq!(
            short_tg("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/0123"),
            "targetgroup/web/0123"
        );
        assert_eq!(short_tg("web"), "web");
    }
}
