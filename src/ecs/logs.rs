//! `berth logs` for an ECS service: the running tasks of the revision the service runs now,
//! each container that logs with the awslogs driver read from its CloudWatch Logs stream
//! (`<prefix>/<container>/<task id>`): the last N lines, then — following — new lines as
//! they come, polled with each stream's forward token, as `aws logs tail --follow` does.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::DesiredStatus;

use super::diagnose::{AwsLogs, log_configs};
use super::{Ecs, short_td};
use crate::aws::sdk_error;
use crate::engine::ports::{LogLine, LogRequest, LogSink};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::EcsTarget;

/// How often a follow asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// One container's stream.
struct Stream {
    task: String,
    container: String,
    logs: AwsLogs,
    name: String,
    /// Where the next read starts (the last answer's forward token).
    token: Option<String>,
}

pub(super) async fn read(
    config: &SdkConfig,
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    req: LogRequest,
    sink: LogSink<'_>,
    ctx: &StepCtx,
) -> Result<()> {
    let svc = Ecs::service(client, e).await?;
    let td_arn = svc.task_definition().unwrap_or_default().to_string();
    let (td, _) = Ecs::describe_td(config, &td_arn).await?;
    let configs = log_configs(&td);
    if configs.is_empty() {
        return Err(Error::failed(format!(
            "no container of {} logs with the awslogs driver",
            short_td(&td_arn)
        ))
        .with_hint("berth reads container logs from CloudWatch Logs: set `logConfiguration` with `logDriver: awslogs` and an `awslogs-stream-prefix` in the task definition"));
    }
    let tasks = running_tasks(client, e, &td_arn).await?;
    if tasks.is_empty() {
        return Err(Error::failed(format!(
            "service `{}` runs no task of {} now",
            e.service,
            short_td(&td_arn)
        ))
        .with_hint("`berth status` shows what the service runs"));
    }
    let mut streams = Vec::new();
    for task in &tasks {
        for (container, l) in &configs {
            match &l.prefix {
                Some(prefix) => streams.push(Stream {
                    task: task.clone(),
                    container: container.clone(),
                    logs: l.clone(),
                    name: format!("{prefix}/{container}/{task}"),
                    token: None,
                }),
                None => ctx.log(format!(
                    "container {container} has no awslogs-stream-prefix: its stream is named after the container id, which berth cannot find"
                )),
            }
        }
    }
    ctx.progress(format!(
        "reading {} log streams of {} tasks",
        streams.len(),
        tasks.len()
    ));
    for s in &mut streams {
        next(config, s, Some(req.lines), sink).await?;
    }
    if !req.follow {
        return Ok(());
    }
    // Until interrupted: Ctrl-C ends the run.
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        for s in &mut streams {
            next(config, s, None, sink).await?;
        }
    }
}

/// The ids of the service's running tasks of revision `td_arn`.
async fn running_tasks(
    client: &aws_sdk_ecs::Client,
    e: &EcsTarget,
    td_arn: &str,
) -> Result<Vec<String>> {
    Ok(Ecs::tasks_of(client, e, DesiredStatus::Running, td_arn)
        .await?
        .iter()
        .filter_map(|t| t.task_arn()?.rsplit('/').next().map(str::to_string))
        .collect())
}

/// Reads the stream's next lines: the last `tail` ones at first, then what came since.
async fn next(
    config: &SdkConfig,
    s: &mut Stream,
    tail: Option<usize>,
    sink: LogSink<'_>,
) -> Result<()> {
    let mut call = s
        .logs
        .client(config)
        .get_log_events()
        .log_group_name(&s.logs.group)
        .log_stream_name(&s.name);
    call = match (&s.token, tail) {
        (Some(token), _) => call.next_token(token).start_from_head(true),
        (None, Some(n)) => call.limit(n.clamp(1, 10_000) as i32).start_from_head(false),
        (None, None) => call.start_from_head(true),
    };
    let out = match call.send().await {
        Ok(out) => out,
        // A task that has logged nothing yet has no stream yet.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(());
        }
        Err(err) => {
            return Err(sdk_error(
                format!("reading log stream {} in {}", s.name, s.logs.group),
                err,
            ));
        }
    };
    for ev in out.events() {
        sink(LogLine {
            unit: s.task.clone(),
            container: s.container.clone(),
            line: ev.message().unwrap_or_default().trim_end().to_string(),
        });
    }
    if let Some(t) = out.next_forward_token() {
        s.token = Some(t.to_string());
    }
    Ok(())
}
