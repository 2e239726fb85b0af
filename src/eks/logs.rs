//! `berth logs` for a Kubernetes target: the pods of each Deployment's newest revision, every
//! container's last N lines (`kubectl logs --tail`), then — following — each container's log
//! stream (`kubectl logs -f`), merged line by line as they come.

use futures_util::io::AsyncBufReadExt;
use futures_util::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::connect::Connection;
use super::revisions::deployments_of;
use super::wait::{Workload, WorkloadKind, new_revision_pods};
use crate::engine::ports::{LogLine, LogRequest, LogSink};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::EksTarget;

pub(super) async fn read(
    conn: &Connection,
    e: &EksTarget,
    req: LogRequest,
    sink: LogSink<'_>,
    ctx: &StepCtx,
) -> Result<()> {
    let client = conn.client().await?;
    // (namespace, pod, container) of every container of the newest revisions' pods.
    let mut sources = Vec::new();
    for (namespace, name) in deployments_of(e) {
        let w = Workload {
            kind: WorkloadKind::Deployment,
            namespace,
            name,
        };
        for p in new_revision_pods(conn, &w).await? {
            let pod = p.metadata.name.clone().unwrap_or_default();
            for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                sources.push((w.namespace.clone(), pod.clone(), c.name.clone()));
            }
        }
    }
    if sources.is_empty() {
        return Err(Error::failed("no pod of the target's Deployments runs now")
            .with_hint("`berth status` shows what the target runs"));
    }
    ctx.progress(format!("reading the logs of {} containers", sources.len()));
    let tail = Some(req.lines as i64);
    if !req.follow {
        for (ns, pod, container) in &sources {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let lp = LogParams {
                container: Some(container.clone()),
                tail_lines: tail,
                ..Default::default()
            };
            let text = match api.logs(pod, &lp).await {
                Ok(t) => t,
                Err(err) => {
                    return Err(conn
                        .error(format!("cannot read the log of {pod}/{container}"), err)
                        .await);
                }
            };
            for line in text.lines() {
                sink(LogLine {
                    unit: pod.clone(),
                    container: container.clone(),
                    line: line.to_string(),
                });
            }
        }
        return Ok(());
    }
    let mut streams = Vec::new();
    for (ns, pod, container) in sources {
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let lp = LogParams {
            container: Some(container.clone()),
            tail_lines: tail,
            follow: true,
            ..Default::default()
        };
        let reader = match api.log_stream(&pod, &lp).await {
            Ok(r) => r,
            Err(err) => {
                return Err(conn
                    .error(format!("cannot follow the log of {pod}/{container}"), err)
                    .await);
            }
        };
        streams.push(
            reader
                .lines()
                .map(move |l| (pod.clone(), container.clone(), l))
                .boxed(),
        );
    }
    let mut merged = stream::select_all(streams);
    while let Some((unit, container, line)) = merged.next().await {
        match line {
            Ok(line) => sink(LogLine {
                unit,
                container,
                line,
            }),
            Err(err) => {
                return Err(Error::failed(format!(
                    "the log stream of {unit}/{container} broke off"
                ))
                .with_causes(vec![err.to_string()]));
            }
        }
    }
    Ok(())
}
