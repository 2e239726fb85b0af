//! Rendering and applying: manifests with images substituted (or the image patch of a
//! Deployment), a server-side dry run of every object first, then only the objects that
//! change, in an order that lets pods find their configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::{Value, json};

use super::connect::Connection;
use super::wait::{Workload, WorkloadKind};
use super::{Eks, FIELD_MANAGER, REVISION};
use crate::engine::ports::DeployRequest;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::manifest::{self, Manifest};
use crate::pipeline::model::{EksTarget, EksWorkload};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Create,
    Update(Vec<String>),
    Unchanged,
}

/// One object as berth will apply it.
pub(super) struct Planned {
    pub(super) label: String,
    pub(super) origin: String,
    pub(super) ar: ApiResource,
    pub(super) namespace: Option<String>,
    pub(super) name: String,
    pub(super) body: Value,
    pub(super) change: Change,
    /// The Deployment revision before the deploy (for rollback), when it is one.
    pub(super) revision_before: Option<i64>,
    pub(super) workload: Option<WorkloadKind>,
}

impl Planned {
    pub(super) fn api(&self, client: kube::Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &self.ar),
            None => Api::all_with(client, &self.ar),
        }
    }
    pub(super) fn workload(&self) -> Option<Workload> {
        Some(Workload {
            kind: self.workload?,
            namespace: self.namespace.clone()?,
            name: self.name.clone(),
        })
    }
}

/// Apply order: what others need first (namespaces, then configuration, then services),
/// workloads last, so that pods find their ConfigMaps.
pub(super) fn order(kind: &str) -> u8 {
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
pub(super) fn comparable(v: &Value) -> Value {
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

pub(super) fn revision_of(v: &Value) -> Option<i64> {
    v["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
}

pub(super) struct Prepared {
    pub(super) conn: Arc<Connection>,
    pub(super) objects: Vec<Planned>,
}

impl Eks {
    /// Connects, renders the objects and dry-runs each of them (no writes).
    pub(super) async fn prepare(
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
                    manifest::render(m, &req.values).map_err(|missing| {
                        Error::failed(format!(
                            "{} ({}): `{missing}` has no value",
                            m.label(),
                            m.origin()
                        ))
                        .with_hint("only images this target uses and outputs of targets it depends on can be referenced")
                    })?;
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
    pub(super) async fn dry_run(
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
    pub(super) async fn apply(&self, prepared: &Prepared, ctx: &StepCtx) -> Result<Vec<Workload>> {
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

pub(super) fn unknown_kind(m: &Manifest, conn: &Connection) -> Error {
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
pub(super) async fn patch_manifest(
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
