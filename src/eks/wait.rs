//! Waiting for workloads to roll out, by watch: the workload itself (by name) and its pods
//! (by the workload's selector), each watch bounded in time so that a fresh token is used for
//! the next one. Every event is judged with [`super::rollout`]; nothing polls on a timer.

use std::fmt::Debug;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::connect::Connection;
use super::rollout::{self, Progress};
use crate::engine::step::StepCtx;
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn from_kind(group_version: &str, kind: &str) -> Option<Self> {
        match (group_version, kind) {
            ("apps/v1", "Deployment") => Some(WorkloadKind::Deployment),
            ("apps/v1", "StatefulSet") => Some(WorkloadKind::StatefulSet),
            ("apps/v1", "DaemonSet") => Some(WorkloadKind::DaemonSet),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl Workload {
    pub fn label(&self) -> String {
        format!("{:?}/{}", self.kind, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Failed(String),
    TimedOut(String),
}

/// What the waiting needs to know of a workload type.
trait Watched:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    fn judge(&self) -> Progress;
    fn selector(&self) -> Option<&LabelSelector>;
}

impl Watched for Deployment {
    fn judge(&self) -> Progress {
        rollout::deployment(self)
    }
    fn selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

impl Watched for StatefulSet {
    fn judge(&self) -> Progress {
        rollout::statefulset(self)
    }
    fn selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

impl Watched for DaemonSet {
    fn judge(&self) -> Progress {
        rollout::daemonset(self)
    }
    fn selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

/// `a=b,c in (d,e)` from a LabelSelector.
pub fn selector_string(s: &LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// Waits for one workload until `deadline`.
pub async fn wait(
    conn: &Connection,
    w: &Workload,
    deadline: Instant,
    ctx: &StepCtx,
) -> Result<Verdict> {
    match w.kind {
        WorkloadKind::Deployment => wait_for::<Deployment>(conn, w, deadline, ctx).await,
        WorkloadKind::StatefulSet => wait_for::<StatefulSet>(conn, w, deadline, ctx).await,
        WorkloadKind::DaemonSet => wait_for::<DaemonSet>(conn, w, deadline, ctx).await,
    }
}

/// Which pods belong to the revision being rolled out.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NewPods {
    /// Not known yet (the controller has not seen the change): judge no pod.
    Unknown,
    /// Pods with this label.
    Labelled(String, String),
    /// Every pod of the selector (DaemonSets).
    All,
}

fn observed(obj: &serde_json::Value) -> bool {
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    obj["status"]["observedGeneration"].as_i64().unwrap_or(0) >= generation
}

/// What decides which pods are the new ones: the revision and what the controller saw.
fn revision_key(
    obj: &serde_json::Value,
) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    (
        obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"].clone(),
        obj["status"]["observedGeneration"].clone(),
        obj["status"]["updateRevision"].clone(),
    )
}

/// The pods of the workload's newest revision, when they can be told.
async fn new_pods(client: &kube::Client, w: &Workload, obj: &serde_json::Value) -> NewPods {
    if !observed(obj) {
        return NewPods::Unknown;
    }
    if w.kind == WorkloadKind::DaemonSet {
        return NewPods::All;
    }
    match new_pods_label(client, w, obj).await {
        Some((k, v)) => NewPods::Labelled(k, v),
        None => NewPods::Unknown,
    }
}

/// The label that marks pods of the workload's newest revision, when it can be told.
async fn new_pods_label(
    client: &kube::Client,
    w: &Workload,
    obj: &serde_json::Value,
) -> Option<(String, String)> {
    match w.kind {
        WorkloadKind::Deployment => {
            let d: Deployment = serde_json::from_value(obj.clone()).ok()?;
            let rev = rollout::revision(&d)?;
            let uid = d.metadata.uid.clone()?;
            let sel = selector_string(&d.spec.as_ref()?.selector);
            let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &w.namespace);
            let list = rss.list(&ListParams::default().labels(&sel)).await.ok()?;
            list.items.into_iter().find_map(|rs| {
                let owned = rs
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == uid && o.controller == Some(true));
                let same = rs
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                    == Some(&rev);
                let hash = rs
                    .metadata
                    .labels
                    .as_ref()?
                    .get("pod-template-hash")?
                    .clone();
                (owned && same).then(|| ("pod-template-hash".to_string(), hash))
            })
        }
        WorkloadKind::StatefulSet => {
            let s: StatefulSet = serde_json::from_value(obj.clone()).ok()?;
            let rev = s.status?.update_revision?;
            Some(("controller-revision-hash".into(), rev))
        }
        WorkloadKind::DaemonSet => None,
    }
}

/// The workload as JSON, and its pod selector.
async fn current<K: Watched>(
    client: &kube::Client,
    w: &Workload,
) -> std::result::Result<(serde_json::Value, Option<String>), kube::Error> {
    let obj = Api::<K>::namespaced(client.clone(), &w.namespace)
        .get(&w.name)
        .await?;
    let selector = obj.selector().map(selector_string);
    Ok((serde_json::to_value(&obj).unwrap_or_default(), selector))
}

/// The pods of the workload's newest revision that are not ready, those that will not come
/// up first (for a diagnosis). None when the newest revision's pods cannot be told yet.
pub async fn unready_new_pods(conn: &Connection, w: &Workload) -> Result<Vec<Pod>> {
    let mut unready: Vec<Pod> = new_revision_pods(conn, w)
        .await?
        .into_iter()
        .filter(|p| !rollout::pod_ready(p))
        .collect();
    unready.sort_by_key(|p| rollout::pod_failure(p).is_none());
    Ok(unready)
}

/// The pods of the workload's newest revision (none while they cannot be told).
pub async fn new_revision_pods(conn: &Connection, w: &Workload) -> Result<Vec<Pod>> {
    let client = conn.client().await?;
    let got = match w.kind {
        WorkloadKind::Deployment => current::<Deployment>(&client, w).await,
        WorkloadKind::StatefulSet => current::<StatefulSet>(&client, w).await,
        WorkloadKind::DaemonSet => current::<DaemonSet>(&client, w).await,
    };
    let (value, selector) = match got {
        Ok(v) => v,
        Err(e) => return Err(conn.error(format!("cannot read {}", w.label()), e).await),
    };
    let label = new_pods(&client, w, &value).await;
    let Some(selector) = selector.filter(|_| label != NewPods::Unknown) else {
        return Ok(Vec::new());
    };
    let pods: Api<Pod> = Api::namespaced(client, &w.namespace);
    let listed = match pods.list(&ListParams::default().labels(&selector)).await {
        Ok(l) => l,
        Err(e) => {
            return Err(conn
                .error(format!("cannot list the pods of {}", w.label()), e)
                .await);
        }
    };
    Ok(listed
        .items
        .into_iter()
        .filter(|p| pod_is_new(p, &label))
        .collect())
}

fn pod_is_new(p: &Pod, which: &NewPods) -> bool {
    match which {
        NewPods::Labelled(k, v) => p.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v),
        NewPods::All => true,
        NewPods::Unknown => false,
    }
}

/// The verdict when `p` decides the rollout; otherwise shows a new waiting message.
fn settle(p: Progress, w: &Workload, ctx: &StepCtx, last: &mut String) -> Option<Verdict> {
    match p {
        Progress::Done => Some(Verdict::Done),
        Progress::Failed(m) => Some(Verdict::Failed(m)),
        Progress::Waiting(m) => {
            if m != *last {
                ctx.progress(format!("{}: {m}", w.label()));
                *last = m;
            }
            None
        }
    }
}

/// A throttled, failing or unreachable API server is waited out (a pause, then the caller
/// starts over) until the deadline; any other error ends the wait as what it is.
async fn ride_out(e: crate::error::Error, deadline: Instant, ctx: &StepCtx) -> Result<()> {
    if e.kind().is_transient() && Instant::now() < deadline {
        ctx.log(format!(
            "{}; trying again",
            e.diagnostics().remove(0).message
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        return Ok(());
    }
    Err(e)
}

/// A watch that failed mid-way: said, then a pause before watching again (an expired
/// resourceVersion, 410, is the normal end of a long watch and needs none).
async fn watch_failed(w: &Workload, why: &str, ctx: &StepCtx) {
    if why.starts_with("410 ") {
        return;
    }
    ctx.log(format!(
        "the watch of {} failed ({why}); trying again",
        w.label()
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn wait_for<K: Watched>(
    conn: &Connection,
    w: &Workload,
    deadline: Instant,
    ctx: &StepCtx,
) -> Result<Verdict> {
    let mut last = String::from("waiting for the rollout");
    loop {
        if Instant::now() >= deadline {
            return Ok(Verdict::TimedOut(format!("{}: {last}", w.label())));
        }
        let client = conn.client().await?;
        let api: Api<K> = Api::namespaced(client.clone(), &w.namespace);
        let obj = match api.get(&w.name).await {
            Ok(o) => o,
            Err(e) => {
                let e = conn.error(format!("cannot read {}", w.label()), e);
                ride_out(e.await, deadline, ctx).await?;
                continue;
            }
        };
        let value = serde_json::to_value(&obj).unwrap_or_default();
        if let Some(v) = settle(obj.judge(), w, ctx, &mut last) {
            return Ok(v);
        }
        let Some(selector) = obj.selector().map(selector_string) else {
            return Ok(Verdict::Failed(format!("{} has no selector", w.label())));
        };
        let label = new_pods(&client, w, &value).await;
        let seen = revision_key(&value);
        let pods: Api<Pod> = Api::namespaced(client.clone(), &w.namespace);
        let listed = match pods.list(&ListParams::default().labels(&selector)).await {
            Ok(l) => l,
            Err(e) => {
                let e = conn.error(format!("cannot list the pods of {}", w.label()), e);
                ride_out(e.await, deadline, ctx).await?;
                continue;
            }
        };
        for p in &listed.items {
            if pod_is_new(p, &label)
                && let Some(why) = rollout::pod_failure(p)
            {
                return Ok(Verdict::Failed(why));
            }
        }
        // Watch both until something decides, the watch ends, or the deadline passes.
        let secs = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(240))
            .as_secs()
            .max(1) as u32;
        let rv = obj.meta().resource_version.clone().unwrap_or_default();
        let wp = WatchParams::default()
            .fields(&format!("metadata.name={}", w.name))
            .timeout(secs);
        let mut objects = match api.watch(&wp, &rv).await {
            Ok(s) => s.boxed(),
            Err(e) => {
                let e = conn.error(format!("cannot watch {}", w.label()), e);
                ride_out(e.await, deadline, ctx).await?;
                continue;
            }
        };
        let pods_rv = listed.metadata.resource_version.clone().unwrap_or_default();
        let mut pod_events = match pods
            .watch(
                &WatchParams::default().labels(&selector).timeout(secs),
                &pods_rv,
            )
            .await
        {
            Ok(s) => s.boxed(),
            Err(e) => {
                let e = conn.error(format!("cannot watch the pods of {}", w.label()), e);
                ride_out(e.await, deadline, ctx).await?;
                continue;
            }
        };
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                ev = objects.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(o) | WatchEvent::Modified(o))) => {
                        if let Some(v) = settle(o.judge(), w, ctx, &mut last) {
                            return Ok(v);
                        }
                        // Once the controller has seen the change, its new pods can be told
                        // apart: start over to judge those already there. (Only a new
                        // revision or observed generation can change which pods those are,
                        // so most events cost no lookup.)
                        let v = serde_json::to_value(&o).unwrap_or_default();
                        if revision_key(&v) != seen && new_pods(&client, w, &v).await != label {
                            break;
                        }
                    }
                    Ok(Some(WatchEvent::Deleted(_))) => {
                        return Ok(Verdict::Failed(format!("{} was deleted during the rollout", w.label())));
                    }
                    Ok(Some(WatchEvent::Bookmark(_))) => {}
                    // The watch ended (its timeout, an expired version): start over.
                    Ok(None) => break,
                    // It failed (an API server answering 429 or 5xx, a dropped connection):
                    // start over after a pause, saying so; the reads that start over meet
                    // any lasting error as what it is.
                    Ok(Some(WatchEvent::Error(e))) => {
                        watch_failed(w, &format!("{} {}", e.code, e.message), ctx).await;
                        break;
                    }
                    Err(e) => {
                        watch_failed(w, &e.to_string(), ctx).await;
                        break;
                    }
                },
                ev = pod_events.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        if pod_is_new(&p, &label) && let Some(why) = rollout::pod_failure(&p) {
                            return Ok(Verdict::Failed(why));
                        }
                    }
                    Ok(Some(WatchEvent::Error(e))) => {
                        watch_failed(w, &format!("{} {}", e.code, e.message), ctx).await;
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        watch_failed(w, &e.to_string(), ctx).await;
                        break;
                    }
                },
                _ = &mut sleep => {
                    return Ok(Verdict::TimedOut(format!("{}: {last}", w.label())));
                }
            }
        }
    }
}
