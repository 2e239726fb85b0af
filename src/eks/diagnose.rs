//! Evidence for a Kubernetes rollout that did not complete: the new revision's pods that are
//! not ready (those that will not come up first), each container's state and exit code, the
//! last lines it logged — the previous instance's for a container that restarted, which is
//! the one that crashed — and the pod's events.
//!
//! Bounded like the ECS one: a few reads, a time budget, and a read the identity may not make
//! is one line in `gaps` naming the RBAC permission, never a second error.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::api::{Api, ListParams, LogParams};

use super::connect::Connection;
use super::rollout::pod_failure;
use super::wait::{Workload, unready_new_pods};
use crate::engine::ports::{ContainerEvidence, Diagnosis, FailedUnit, UnitKind};

/// Log lines per container.
pub const LOG_LINES: i64 = 20;
/// Pods looked at, over all workloads.
const MAX_PODS: usize = 3;
/// Events kept per pod (the newest).
const MAX_EVENTS: usize = 5;
/// The most time gathering may add to a failed deploy.
const BUDGET: Duration = Duration::from_secs(8);

/// Gathers what explains why `workloads` did not roll out.
pub async fn gather(conn: &Connection, workloads: &[Workload]) -> Diagnosis {
    let mut d = Diagnosis::default();
    if tokio::time::timeout(BUDGET, collect(conn, workloads, &mut d))
        .await
        .is_err()
    {
        d.gaps.push(format!(
            "gathering evidence stopped after {}s; what was read by then is above",
            BUDGET.as_secs()
        ));
    }
    d
}

async fn collect(conn: &Connection, workloads: &[Workload], d: &mut Diagnosis) {
    for w in workloads {
        if d.units.len() >= MAX_PODS {
            break;
        }
        let pods = match unready_new_pods(conn, w).await {
            Ok(p) => p,
            Err(e) => {
                d.gaps.push(format!(
                    "the pods of {} (RBAC: list pods): {}",
                    w.label(),
                    e.one_line()
                ));
                continue;
            }
        };
        let Ok(client) = conn.client().await else {
            return;
        };
        for p in pods.iter().take(MAX_PODS - d.units.len()) {
            let pods: Api<Pod> = Api::namespaced(client.clone(), &w.namespace);
            d.units.push(unit(&pods, p, &mut d.gaps).await);
            let events: Api<Event> = Api::namespaced(client.clone(), &w.namespace);
            match pod_events(&events, p).await {
                Ok(mut lines) => d.events.append(&mut lines),
                Err(e) => d.gaps.push(format!(
                    "the events of pod {} (RBAC: list events): {e}",
                    name(p)
                )),
            }
        }
    }
}

fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or("?")
}

async fn unit(pods: &Api<Pod>, p: &Pod, gaps: &mut Vec<String>) -> FailedUnit {
    let status = p.status.as_ref();
    let mut containers = Vec::new();
    for c in status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        let mut ev = evidence(c);
        // A container that restarted: the previous instance is the one that failed. One
        // still waiting to start for the first time has no log yet.
        let running = c.state.as_ref().is_some_and(|s| s.waiting.is_none());
        if c.restart_count > 0 || running {
            let previous = c.restart_count > 0;
            let lp = LogParams {
                container: Some(c.name.clone()),
                tail_lines: Some(LOG_LINES),
                previous,
                ..Default::default()
            };
            match pods.logs(name(p), &lp).await {
                Ok(text) => {
                    ev.log_source = Some(if previous {
                        "the previous instance's log".into()
                    } else {
                        "its log".into()
                    });
                    ev.log = text.lines().map(str::to_string).collect();
                }
                Err(e) => gaps.push(format!(
                    "the log of container {} of pod {} (RBAC: get pods/log): {e}",
                    c.name,
                    name(p)
                )),
            }
        }
        containers.push(ev);
    }
    FailedUnit {
        kind: UnitKind::Pod,
        id: name(p).to_string(),
        reason: pod_failure(p).or_else(|| {
            status
                .and_then(|s| s.phase.clone())
                .map(|phase| format!("{phase}, not ready"))
        }),
        containers,
    }
}

/// A container's state: how its last instance ended and why it is not running.
fn evidence(c: &ContainerStatus) -> ContainerEvidence {
    let state = c.state.as_ref();
    let terminated = state
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()));
    let reason = state
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone())
        .or_else(|| terminated.and_then(|t| t.reason.clone()));
    ContainerEvidence {
        name: c.name.clone(),
        exit_code: terminated.map(|t| t.exit_code),
        reason,
        log_source: None,
        log: Vec::new(),
    }
}

/// The pod's newest events, oldest first: `BackOff: Back-off restarting … (×4)`.
async fn pod_events(events: &Api<Event>, p: &Pod) -> Result<Vec<String>, kube::Error> {
    let selector = format!("involvedObject.kind=Pod,involvedObject.name={}", name(p));
    let mut list = events
        .list(&ListParams::default().fields(&selector))
        .await?
        .items;
    list.sort_by(|a, b| {
        let t = |e: &Event| e.last_timestamp.clone().map(|t| t.0);
        t(a).cmp(&t(b))
    });
    let skip = list.len().saturating_sub(MAX_EVENTS);
    Ok(list
        .iter()
        .skip(skip)
        .map(|e| {
            let count = e
                .count
                .filter(|n| *n > 1)
                .map(|n| format!(" (×{n})"))
                .unwrap_or_default();
            format!(
                "pod {}: {}: {}{count}",
                name(p),
                e.reason.as_deref().unwrap_or("?"),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect())
}
