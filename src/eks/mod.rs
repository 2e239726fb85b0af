//! The EKS / Kubernetes deployer.
//!
//! Two ways to deploy: `manifests` (files applied with server-side apply, field manager
//! `berth`, images substituted as `pipeline-file.md` says) or `deployment` + `containers`
//! (only the images of an existing Deployment change, also by server-side apply so berth owns
//! just those fields).
//!
//! Every object is first applied as a server-side dry run. That one pass validates all of
//! them (a 403, a 422 or a missing namespace stops the deploy before anything is written),
//! gives the plan its diff, and tells which objects would change: only those are applied,
//! so a re-run with nothing new makes no Kubernetes write at all. The workloads that changed
//! are then waited for together ([`wait`]); on failure `rollback: auto` puts each changed
//! Deployment back to the ReplicaSet template of its previous revision, as
//! `kubectl rollout undo` does, and waits for that too.

mod apply;
pub mod connect;
mod diagnose;
mod in_use;
mod lock;
mod logs;
mod revisions;
pub mod rollout;
pub mod token;
pub mod wait;

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use tokio::time::Instant;

use crate::aws::AwsConfigs;
use crate::engine::ports::{
    DeployRequest, Deployer, Held, InUse, LockRequest, LogRequest, LogSink, On, Rollout,
    TargetState, Verdict,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::EksTarget;
use apply::Change;
use connect::Connection;
use revisions::{EksUndo, current_revisions, deployments_of, ended, revisions, undo, wait_all};
use wait::{Workload, WorkloadKind};

/// The field manager berth applies as.
pub const FIELD_MANAGER: &str = "berth";
const REVISION: &str = "deployment.kubernetes.io/revision";

pub struct Eks {
    configs: Arc<AwsConfigs>,
}

impl Eks {
    pub fn new(configs: Arc<AwsConfigs>) -> Self {
        Eks { configs }
    }
}

#[async_trait]
impl Deployer<EksTarget> for Eks {
    async fn plan(&self, req: &DeployRequest<'_, EksTarget>) -> Result<Vec<String>> {
        let p = self.prepare(req, None).await?;
        let mut lines = Vec::new();
        let unchanged = p
            .objects
            .iter()
            .filter(|o| o.change == Change::Unchanged)
            .count();
        for o in &p.objects {
            match &o.change {
                Change::Create => lines.push(format!("create {}  ({})", o.label, o.origin)),
                Change::Update(changes) => {
                    lines.push(format!("update {}", o.label));
                    lines.extend(changes.iter().map(|c| format!("  {c}")));
                }
                Change::Unchanged => {}
            }
        }
        if lines.is_empty() {
            lines.push(format!(
                "no change: the {unchanged} objects in {} are as the manifests say",
                p.conn.describe()
            ));
        } else if unchanged > 0 {
            lines.push(format!("{unchanged} other objects unchanged"));
        }
        Ok(lines)
    }

    async fn deploy(&self, req: &DeployRequest<'_, EksTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let (t, e) = (req.on.target, req.on.spec);
        let deadline = Instant::now() + e.timeout;
        let prepared = self.prepare(req, Some(ctx)).await?;
        // The Deployments, where they live and the revision each ran before.
        let (deployments, before): (Vec<(String, String)>, Vec<(String, Option<i64>)>) = prepared
            .objects
            .iter()
            .filter(|o| o.workload == Some(WorkloadKind::Deployment))
            .filter_map(|o| {
                let ns = o.namespace.clone()?;
                Some(((ns, o.name.clone()), (o.name.clone(), o.revision_before)))
            })
            .unzip();
        if prepared
            .objects
            .iter()
            .all(|o| o.change == Change::Unchanged)
        {
            // As the manifests say, but `unchanged` only once their rollouts are over: one
            // still going (an interrupted run, another runner) is followed to its end.
            let workloads: Vec<Workload> = prepared
                .objects
                .iter()
                .filter_map(|o| o.workload())
                .collect();
            let verdict = match wait_all(&prepared.conn, &workloads, deadline, ctx).await? {
                wait::Verdict::Done => Verdict::Unchanged,
                other => ended(other, &format!("the rollout of `{}`", t.name)),
            };
            ctx.progress(format!(
                "{} objects already as the manifests say",
                prepared.objects.len()
            ));
            let after = current_revisions(&prepared.conn, &deployments).await;
            let mut r = Rollout::new(verdict, revisions(&before), revisions(&after));
            explain(&mut r, &prepared.conn, &workloads, ctx).await;
            return Ok(r);
        }
        ctx.changing(revisions(&before).as_deref(), None);
        ctx.progress("applying");
        let touched = self.apply(&prepared, ctx).await?;
        ctx.progress(format!("waiting for {} workloads", touched.len()));
        let verdict = match wait_all(&prepared.conn, &touched, deadline, ctx).await? {
            wait::Verdict::TimedOut(m) => Verdict::TimedOut(format!(
                "the rollout did not finish within {}: {m}; it may still complete (berth status {})",
                humantime::format_duration(e.timeout),
                t.name
            )),
            other => ended(other, &format!("the rollout of `{}`", t.name)),
        };
        let after = current_revisions(&prepared.conn, &deployments).await;
        let mut r = Rollout::new(verdict, revisions(&before), revisions(&after));
        explain(&mut r, &prepared.conn, &touched, ctx).await;
        let mut back = Vec::new();
        for o in &prepared.objects {
            if o.workload != Some(WorkloadKind::Deployment) || o.change == Change::Unchanged {
                continue;
            }
            // A Deployment this deploy created has no earlier revision to return to.
            if let (Some(rev), Some(ns)) = (o.revision_before, &o.namespace) {
                back.push((ns.clone(), o.name.clone(), o.label.clone(), rev));
            }
        }
        if !back.is_empty() {
            r.undo = Some(Box::new(EksUndo {
                conn: prepared.conn.clone(),
                deployments: back,
                timeout: e.timeout,
            }));
        }
        Ok(r)
    }

    async fn rollback(&self, on: On<'_, EksTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let e = on.spec;
        let deadline = Instant::now() + e.timeout;
        let conn = Connection::open(&self.configs, on).await?;
        let deployments = deployments_of(e);
        if deployments.is_empty() {
            return Err(Error::failed(format!(
                "target `{}` has no Deployment to roll back",
                on.target.name
            ))
            .with_hint("rollback returns Deployments to their previous ReplicaSet; other kinds have no revisions"));
        }
        let before = current_revisions(&conn, &deployments).await;
        let mut back = Vec::new();
        for (ns, name) in &deployments {
            ctx.progress(format!("rolling Deployment/{name} back"));
            let (from, to) = undo(&conn, ns, name, None).await?;
            ctx.log(format!(
                "Deployment/{name}: revision {from} → template of revision {to}"
            ));
            back.push(Workload {
                kind: WorkloadKind::Deployment,
                namespace: ns.clone(),
                name: name.clone(),
            });
        }
        let verdict = match wait_all(&conn, &back, deadline, ctx).await? {
            wait::Verdict::TimedOut(m) => {
                Verdict::TimedOut(format!("the rollback did not finish in time: {m}"))
            }
            other => ended(other, &format!("the rollback of `{}`", on.target.name)),
        };
        let after = current_revisions(&conn, &deployments).await;
        Ok(Rollout::new(verdict, revisions(&before), revisions(&after)))
    }

    async fn logs(
        &self,
        on: On<'_, EksTarget>,
        req: LogRequest,
        sink: LogSink<'_>,
        ctx: &StepCtx,
    ) -> Result<()> {
        let conn = Connection::open(&self.configs, on).await?;
        logs::read(&conn, on.spec, req, sink, ctx).await
    }

    async fn changes(&self, req: &DeployRequest<'_, EksTarget>) -> Result<bool> {
        let p = self.prepare(req, None).await?;
        Ok(p.objects.iter().any(|o| o.change != Change::Unchanged))
    }

    async fn lock(
        &self,
        on: On<'_, EksTarget>,
        req: &LockRequest,
        ctx: &StepCtx,
    ) -> Result<Option<Box<dyn Held>>> {
        let deadline = Instant::now() + on.spec.timeout;
        let conn = Connection::open(&self.configs, on).await?;
        let store =
            lock::LeaseObject::for_target(conn, &on.target.name, &on.spec.namespace).await?;
        let held = crate::engine::lease::acquire(Arc::new(store), req, ctx, deadline).await?;
        Ok(Some(Box::new(held)))
    }

    async fn in_use(&self, on: On<'_, EksTarget>, _history: usize) -> Result<Vec<InUse>> {
        // Kubernetes keeps the history itself (revisionHistoryLimit): every ReplicaSet counts.
        self.images_in_use(on).await
    }

    async fn status(&self, on: On<'_, EksTarget>) -> Result<TargetState> {
        let e = on.spec;
        let conn = Connection::open(&self.configs, on).await?;
        let client = conn.client().await?;
        let mut state = TargetState::default();
        let mut revs = Vec::new();
        let mut rollouts = Vec::new();
        for (ns, name) in deployments_of(e) {
            let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
            let d = match api.get_opt(&name).await {
                Ok(Some(d)) => d,
                Ok(None) => {
                    state
                        .detail
                        .push(format!("Deployment/{name}: not found in namespace {ns}"));
                    rollouts.push("missing".to_string());
                    continue;
                }
                Err(err) => {
                    return Err(conn
                        .error(format!("cannot read Deployment {name}"), err)
                        .await);
                }
            };
            let rev = rollout::revision(&d);
            revs.push(format!("{name}:{}", rev.as_deref().unwrap_or("-")));
            // Init containers too: they run images the deploy substituted as well.
            let pod = d.spec.as_ref().and_then(|s| s.template.spec.as_ref());
            let init = pod
                .and_then(|p| p.init_containers.clone())
                .unwrap_or_default();
            let main = pod.map(|p| p.containers.clone()).unwrap_or_default();
            for (c, kind) in init
                .into_iter()
                .map(|c| (c, " (init)"))
                .chain(main.into_iter().map(|c| (c, "")))
            {
                state.images.push(format!(
                    "{name}/{}{kind}: {}",
                    c.name,
                    c.image.unwrap_or_default()
                ));
            }
            let s = d.status.clone().unwrap_or_default();
            state.detail.push(format!(
                "Deployment/{name}: {}/{} ready, {} updated",
                s.ready_replicas.unwrap_or(0),
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                s.updated_replicas.unwrap_or(0)
            ));
            rollouts.push(match rollout::deployment(&d) {
                rollout::Progress::Done => "complete".to_string(),
                rollout::Progress::Waiting(m) => format!("in progress ({m})"),
                rollout::Progress::Failed(m) => format!("failed ({m})"),
            });
        }
        state.revision = (!revs.is_empty()).then(|| revs.join(", "));
        rollouts.dedup();
        state.rollout = rollouts.join("; ");
        Ok(state)
    }
}

/// Gathers the evidence of a rollout that did not complete (see [`diagnose`]).
async fn explain(r: &mut Rollout, conn: &Connection, workloads: &[Workload], ctx: &StepCtx) {
    if matches!(
        r.verdict,
        Verdict::Completed | Verdict::Unchanged | Verdict::Paused(_)
    ) {
        return;
    }
    ctx.progress("gathering why: failing pods, their events and logs");
    let d = diagnose::gather(conn, workloads).await;
    r.diagnosis = (!d.is_empty()).then_some(d);
}
