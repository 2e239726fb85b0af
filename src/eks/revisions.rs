//! Deployment revisions: what a target runs (for before/after and status), and putting a
//! Deployment back to the ReplicaSet template of an earlier revision, as
//! `kubectl rollout undo` does.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, PostParams};
use tokio::time::Instant;

use super::connect::Connection;
use super::rollout;
use super::wait::{self, Workload, WorkloadKind};
use super::{FIELD_MANAGER, REVISION};
use crate::engine::ports::{Failure, Undo, Verdict};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::{EksTarget, EksWorkload};

/// The ReplicaSets a Deployment controls (its revisions, as many as its
/// revisionHistoryLimit keeps).
pub(super) async fn owned_replica_sets(
    conn: &Connection,
    client: &kube::Client,
    namespace: &str,
    d: &Deployment,
) -> Result<Vec<ReplicaSet>> {
    let name = d.metadata.name.as_deref().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let selector = d
        .spec
        .as_ref()
        .map(|s| wait::selector_string(&s.selector))
        .unwrap_or_default();
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let list = match rss.list(&ListParams::default().labels(&selector)).await {
        Ok(l) => l,
        Err(e) => {
            return Err(conn
                .error(
                    format!("cannot list the ReplicaSets of Deployment {name}"),
                    e,
                )
                .await);
        }
    };
    Ok(list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect())
}

/// The Deployments a target manages (for status and rollback): from its manifests, or the
/// patched Deployment.
pub(super) fn deployments_of(e: &EksTarget) -> Vec<(String, String)> {
    match &e.workload {
        EksWorkload::Deployment { name, .. } => vec![(e.namespace.clone(), name.clone())],
        EksWorkload::Manifests { objects, .. } => objects
            .iter()
            .filter(|m| m.kind() == "Deployment" && m.api_version() == "apps/v1")
            .map(|m| {
                (
                    m.object["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or(&e.namespace)
                        .to_string(),
                    m.name().to_string(),
                )
            })
            .collect(),
    }
}

/// `web:3, api:7`, the Deployments' revisions, for before/after.
pub(super) fn revisions(list: &[(String, Option<i64>)]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(|(n, r)| format!("{n}:{}", r.map(|r| r.to_string()).unwrap_or("-".into())))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

pub(super) async fn current_revisions(
    conn: &Connection,
    deployments: &[(String, String)],
) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::new();
    let Ok(client) = conn.client().await else {
        return out;
    };
    for (ns, name) in deployments {
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let rev = api
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|d| rollout::revision(&d))
            .and_then(|r| r.parse().ok());
        out.push((name.clone(), rev));
    }
    out
}

/// Puts a Deployment's pod template back to that of an earlier revision (`to`, or the one
/// before the current), as `kubectl rollout undo` does. Returns (from, to) revisions.
pub(super) async fn undo(
    conn: &Connection,
    namespace: &str,
    name: &str,
    to: Option<i64>,
) -> Result<(i64, i64)> {
    let client = conn.client().await?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = match api.get(name).await {
        Ok(d) => d,
        Err(e) => {
            return Err(conn
                .error(format!("cannot read Deployment {name}"), e)
                .await);
        }
    };
    let current: i64 = rollout::revision(&d)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let mut candidates: Vec<(i64, ReplicaSet)> = owned_replica_sets(conn, &client, namespace, &d)
        .await?
        .into_iter()
        .filter_map(|rs| {
            let rev = rs
                .metadata
                .annotations
                .as_ref()?
                .get(REVISION)?
                .parse()
                .ok()?;
            Some((rev, rs))
        })
        .collect();
    candidates.sort_by_key(|(r, _)| *r);
    let pick = match to {
        Some(want) => candidates.into_iter().find(|(r, _)| *r == want),
        None => candidates.into_iter().rev().find(|(r, _)| *r < current),
    };
    let Some((to_rev, rs)) = pick else {
        return Err(Error::failed(format!(
            "Deployment {name} has no {} to roll back to",
            match to {
                Some(r) => format!("revision {r}"),
                None => format!("revision before {current}"),
            }
        ))
        .with_hint("the ReplicaSets of older revisions are gone (revisionHistoryLimit), or it was only ever deployed once"));
    };
    let Some(mut template) = rs.spec.and_then(|s| s.template) else {
        return Err(Error::failed(format!(
            "ReplicaSet of revision {to_rev} has no template"
        )));
    };
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    let mut new = d.clone();
    if let Some(spec) = new.spec.as_mut() {
        spec.template = template;
    }
    new.status = None;
    new.metadata.managed_fields = None;
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    if let Err(e) = api.replace(name, &pp, &new).await {
        return Err(conn
            .error(
                format!("cannot roll Deployment {name} back to revision {to_rev}"),
                e,
            )
            .await);
    }
    Ok((current, to_rev))
}

/// Waits for all of `workloads` together; the first failure wins, then a timeout.
pub(super) async fn wait_all(
    conn: &Connection,
    workloads: &[Workload],
    deadline: Instant,
    ctx: &StepCtx,
) -> Result<wait::Verdict> {
    use wait::Verdict;
    let results = futures_util::future::join_all(
        workloads.iter().map(|w| wait::wait(conn, w, deadline, ctx)),
    )
    .await;
    let mut timed_out = None;
    for r in results {
        match r? {
            Verdict::Done => {}
            Verdict::Failed(m) => return Ok(Verdict::Failed(m)),
            Verdict::TimedOut(m) => timed_out = Some(m),
        }
    }
    Ok(timed_out.map(Verdict::TimedOut).unwrap_or(Verdict::Done))
}

/// Puts the Deployments a failed deploy changed back to their previous revisions.
pub(super) struct EksUndo {
    pub(super) conn: Arc<Connection>,
    /// (namespace, name, label, revision before the deploy) of each changed Deployment.
    pub(super) deployments: Vec<(String, String, String, i64)>,
    pub(super) timeout: std::time::Duration,
}

#[async_trait]
impl Undo for EksUndo {
    fn to(&self) -> String {
        "the previous revision".into()
    }

    async fn undo(&self, ctx: &StepCtx) -> Result<(Verdict, Option<String>)> {
        let mut back = Vec::new();
        for (ns, name, label, rev) in &self.deployments {
            let (from, to) = undo(&self.conn, ns, name, Some(*rev)).await?;
            ctx.log(format!(
                "{label}: revision {from} → template of revision {to}"
            ));
            back.push(Workload {
                kind: WorkloadKind::Deployment,
                namespace: ns.clone(),
                name: name.clone(),
            });
        }
        let deadline = Instant::now() + self.timeout;
        let verdict = wait_all(&self.conn, &back, deadline, ctx).await?;
        let list: Vec<(String, String)> = self
            .deployments
            .iter()
            .map(|(ns, name, ..)| (ns.clone(), name.clone()))
            .collect();
        let after = revisions(&current_revisions(&self.conn, &list).await);
        Ok((ended(verdict, "the rollback"), after))
    }
}

/// A wait's verdict in the words every deployer uses.
pub(super) fn ended(v: wait::Verdict, what: &str) -> Verdict {
    match v {
        wait::Verdict::Done => Verdict::Completed,
        wait::Verdict::Failed(why) => Verdict::Failed(Failure {
            what: what.to_string(),
            why,
            advice: None,
        }),
        wait::Verdict::TimedOut(m) => Verdict::TimedOut(m),
    }
}
