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

pub mod connect;
pub mod rollout;
pub mod token;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::aws::AwsConfigs;
use crate::engine::ports::{
    DeployRequest, Deployer, Failure, On, Rollout, TargetState, Undo, Verdict,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::manifest::{self, Manifest};
use crate::pipeline::model::{EksTarget, EksWorkload};
use connect::Connection;
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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Create,
    Update(Vec<String>),
    Unchanged,
}

/// One object as berth will apply it.
struct Planned {
    label: String,
    origin: String,
    ar: ApiResource,
    namespace: Option<String>,
    name: String,
    body: Value,
    change: Change,
    /// The Deployment revision before the deploy (for rollback), when it is one.
    revision_before: Option<i64>,
    workload: Option<WorkloadKind>,
}

impl Planned {
    fn api(&self, client: kube::Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &self.ar),
            None => Api::all_with(client, &self.ar),
        }
    }
    fn workload(&self) -> Option<Workload> {
        Some(Workload {
            kind: self.workload?,
            namespace: self.namespace.clone()?,
            name: self.name.clone(),
        })
    }
}

/// Apply order: what others need first (namespaces, then configuration, then services),
/// workloads last, so that pods find their ConfigMaps.
fn order(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount"
        | "Secret"
        | "ConfigMap"
        | "PersistentVolumeClaim"
        | "Role"
        | "ClusterRole"
        | "RoleBinding"
        | "ClusterRoleBinding" => 2,
        "Service" => 3,
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" | "Pod" | "ReplicaSet" => 5,
        _ => 4,
    }
}

/// What differs between the live object and the dry-run result, ignoring what the server
/// keeps for itself (status, versions, field ownership).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(md) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "managedFields",
                "resourceVersion",
                "generation",
                "uid",
                "creationTimestamp",
            ] {
                md.remove(k);
            }
        }
    }
    crate::jsondiff::normalize(&v)
}

fn revision_of(v: &Value) -> Option<i64> {
    v["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
}

struct Prepared {
    conn: Arc<Connection>,
    objects: Vec<Planned>,
}

impl Eks {
    /// Connects, renders the objects and dry-runs each of them (no writes).
    async fn prepare(
        &self,
        req: &DeployRequest<'_, EksTarget>,
        ctx: Option<&StepCtx>,
    ) -> Result<Prepared> {
        let e = req.on.spec;
        let conn = Arc::new(Connection::open(&self.configs, req.on).await?);
        if let Some(ctx) = ctx {
            ctx.progress(format!("connecting to {}", conn.describe()));
        }
        let client = conn.client().await?;
        let mut manifests = match &e.workload {
            EksWorkload::Manifests { objects, .. } => {
                let mut ms = objects.clone();
                for m in &mut ms {
                    for line in manifest::substitute(m, &req.images) {
                        if let Some(ctx) = ctx {
                            ctx.log(format!("{}: image {line}", m.label()));
                        }
                    }
                }
                ms
            }
            EksWorkload::Deployment { name, containers } => {
                vec![patch_manifest(&conn, &client, e, name, containers, req).await?]
            }
        };
        manifests.sort_by_key(|m| order(m.kind()));
        let namespaces_created: Vec<String> = manifests
            .iter()
            .filter(|m| m.kind() == "Namespace")
            .map(|m| m.name().to_string())
            .collect();
        let mut kinds: BTreeMap<(String, String), (ApiResource, bool)> = BTreeMap::new();
        let mut resolved = Vec::new();
        for m in manifests {
            let key = (m.api_version().to_string(), m.kind().to_string());
            if !kinds.contains_key(&key) {
                let (group, version) = match m.api_version().split_once('/') {
                    Some((g, v)) => (g.to_string(), v.to_string()),
                    None => (String::new(), m.api_version().to_string()),
                };
                let gvk = GroupVersionKind::gvk(&group, &version, m.kind());
                let found = kube::discovery::pinned_kind(&client, &gvk).await;
                let (ar, caps) = match found {
                    Ok(x) => x,
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        return Err(unknown_kind(&m, &conn));
                    }
                    Err(kube::Error::Discovery(_)) => return Err(unknown_kind(&m, &conn)),
                    Err(err) => {
                        return Err(conn
                            .error(
                                format!("cannot read the API resources of {}", conn.describe()),
                                err,
                            )
                            .await);
                    }
                };
                kinds.insert(key.clone(), (ar, caps.scope == Scope::Namespaced));
            }
            let (ar, namespaced) = kinds[&key].clone();
            resolved.push((m, ar, namespaced));
        }
        // The dry runs are independent reads as far as the cluster is concerned: all at once.
        let results =
            futures_util::future::join_all(resolved.into_iter().map(|(m, ar, namespaced)| {
                self.dry_run(
                    &conn,
                    &client,
                    m,
                    ar,
                    namespaced,
                    &e.namespace,
                    &namespaces_created,
                )
            }))
            .await;
        // The first failure in apply order, whichever answered first: the same error every run.
        let objects = results.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(Prepared { conn, objects })
    }

    /// Dry-runs one object and says what applying it would change.
    #[allow(clippy::too_many_arguments)]
    async fn dry_run(
        &self,
        conn: &Connection,
        client: &kube::Client,
        mut m: Manifest,
        ar: ApiResource,
        namespaced: bool,
        default_ns: &str,
        namespaces_created: &[String],
    ) -> Result<Planned> {
        let namespace = namespaced.then(|| {
            m.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_ns)
                .to_string()
        });
        if let Some(ns) = &namespace {
            m.object["metadata"]["namespace"] = Value::String(ns.clone());
        } else if let Some(md) = m.object["metadata"].as_object_mut() {
            md.remove("namespace");
        }
        let mut p = Planned {
            label: m.label(),
            origin: m.origin(),
            ar,
            namespace,
            name: m.name().to_string(),
            body: m.object.clone(),
            change: Change::Unchanged,
            revision_before: None,
            workload: WorkloadKind::from_kind(m.api_version(), m.kind()),
        };
        let api = p.api(client.clone());
        let where_ = match &p.namespace {
            Some(ns) => format!("{} in namespace {ns} of {}", p.label, conn.describe()),
            None => format!("{} in {}", p.label, conn.describe()),
        };
        let live = match api.get_opt(&p.name).await {
            Ok(l) => l.map(|o| serde_json::to_value(o).unwrap_or_default()),
            Err(e) => return Err(conn.error(format!("cannot read {where_}"), e).await),
        };
        p.revision_before = live.as_ref().and_then(revision_of);
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let dry = match api.patch(&p.name, &params, &Patch::Apply(&p.body)).await {
            Ok(o) => serde_json::to_value(o).unwrap_or_default(),
            Err(kube::Error::Api(s))
                if s.code == 404
                    && p.namespace.as_ref().is_some_and(|ns| {
                        s.message
                            .contains(&format!("namespaces \"{ns}\" not found"))
                    }) =>
            {
                let ns = p.namespace.clone().unwrap_or_default();
                if namespaces_created.contains(&ns) {
                    p.change = Change::Create;
                    return Ok(p);
                }
                return Err(Error::failed(format!(
                    "cannot apply {} ({}): namespace {ns} does not exist in {}",
                    p.label,
                    p.origin,
                    conn.describe()
                ))
                .with_hint(format!(
                    "create it first (`kubectl create namespace {ns}`) or add a Namespace manifest to the target"
                )));
            }
            Err(e) => {
                return Err(conn
                    .error(format!("the cluster refuses {} ({})", where_, p.origin), e)
                    .await);
            }
        };
        p.change = match &live {
            None => Change::Create,
            Some(l) => {
                let changes = crate::jsondiff::diff(&comparable(l), &comparable(&dry));
                if changes.is_empty() {
                    Change::Unchanged
                } else {
                    Change::Update(changes)
                }
            }
        };
        Ok(p)
    }

    /// Applies the objects that change; returns the workloads to wait for.
    async fn apply(&self, prepared: &Prepared, ctx: &StepCtx) -> Result<Vec<Workload>> {
        let client = prepared.conn.client().await?;
        let mut touched = Vec::new();
        for p in &prepared.objects {
            let verb = match &p.change {
                Change::Unchanged => {
                    ctx.log(format!("{} unchanged", p.label));
                    continue;
                }
                Change::Create => "created",
                Change::Update(_) => "configured",
            };
            let api = p.api(client.clone());
            let params = PatchParams::apply(FIELD_MANAGER).force();
            if let Err(e) = api.patch(&p.name, &params, &Patch::Apply(&p.body)).await {
                return Err(prepared
                    .conn
                    .error(format!("cannot apply {} ({})", p.label, p.origin), e)
                    .await);
            }
            ctx.log(format!("{} {verb}", p.label));
            if let Change::Update(lines) = &p.change {
                for l in lines.iter().take(20) {
                    ctx.log(format!("  {l}"));
                }
            }
            touched.extend(p.workload());
        }
        Ok(touched)
    }
}

fn unknown_kind(m: &Manifest, conn: &Connection) -> Error {
    Error::failed(format!(
        "{} is a {} ({}), which {} does not know",
        m.origin(),
        m.kind(),
        m.api_version(),
        conn.describe()
    ))
    .with_hint("check apiVersion and kind, or install the CRD that defines it first")
}

/// The apply configuration for `deployment:` + `containers:` mode: only the images.
async fn patch_manifest(
    conn: &Connection,
    client: &kube::Client,
    e: &EksTarget,
    name: &str,
    containers: &indexmap::IndexMap<String, String>,
    req: &DeployRequest<'_, EksTarget>,
) -> Result<Manifest> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &e.namespace);
    let live = match api.get_opt(name).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err(Error::failed(format!(
                "Deployment {name} does not exist in namespace {} of {}",
                e.namespace,
                conn.describe()
            ))
            .with_hint("`deployment:` patches an existing Deployment; create it first, or deploy it from `manifests:`"));
        }
        Err(err) => {
            return Err(conn
                .error(
                    format!("cannot read Deployment {name} in namespace {}", e.namespace),
                    err,
                )
                .await);
        }
    };
    let names: Vec<String> = live
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let mut list = Vec::new();
    for (container, image) in containers {
        if !names.contains(container) {
            let hint = crate::error::suggest(container, names.iter().map(String::as_str))
                .unwrap_or_else(|| format!("its containers: {}", names.join(", ")));
            return Err(
                Error::failed(format!("Deployment {name} has no container `{container}`"))
                    .with_hint(hint),
            );
        }
        let Some(r) = req.images.get(image) else {
            return Err(Error::failed(format!("no image reference for `{image}`")));
        };
        list.push(json!({"name": container, "image": r.reference()}));
    }
    Ok(Manifest {
        file: std::path::PathBuf::from("(deployment patch)"),
        document: 1,
        object: json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": e.namespace},
            "spec": {"template": {"spec": {"containers": list}}}
        }),
    })
}

/// The Deployments a target manages (for status and rollback): from its manifests, or the
/// patched Deployment.
fn deployments_of(e: &EksTarget) -> Vec<(String, String)> {
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
fn revisions(list: &[(String, Option<i64>)]) -> Option<String> {
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

async fn current_revisions(
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
async fn undo(
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
    let mut candidates: Vec<(i64, ReplicaSet)> = list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
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
async fn wait_all(
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
struct EksUndo {
    conn: Arc<Connection>,
    /// (namespace, name, label, revision before the deploy) of each changed Deployment.
    deployments: Vec<(String, String, String, i64)>,
    timeout: std::time::Duration,
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
fn ended(v: wait::Verdict, what: &str) -> Verdict {
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
            ctx.progress(format!(
                "{} objects already as the manifests say",
                prepared.objects.len()
            ));
            return Ok(Rollout::new(
                Verdict::Unchanged,
                revisions(&before),
                revisions(&before),
            ));
        }
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
            for c in d
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .map(|s| s.containers.clone())
                .unwrap_or_default()
            {
                state.images.push(format!(
                    "{name}/{}: {}",
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
