//! The images an EKS target depends on, for `berth gc`: each Deployment's pod template, and
//! the templates of the ReplicaSets it keeps for `rollout undo` (and `berth rollback`), as
//! many as its revisionHistoryLimit leaves; and the pod templates of the other workloads
//! its manifests hold (StatefulSets, DaemonSets, Jobs, CronJobs, Pods), read live.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;

use super::Eks;
use super::connect::Connection;
use super::revisions::{deployments_of, owned_replica_sets};
use crate::engine::ports::{InUse, On};
use crate::error::Result;
use crate::pipeline::model::{EksTarget, EksWorkload};

impl Eks {
    pub(super) async fn images_in_use(&self, on: On<'_, EksTarget>) -> Result<Vec<InUse>> {
        let conn = Connection::open(&self.configs, on).await?;
        let client = conn.client().await?;
        let mut out = Vec::new();
        for (ns, name) in deployments_of(on.spec) {
            let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
            let d = match api.get_opt(&name).await {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => {
                    return Err(conn
                        .error(format!("cannot read Deployment {name}"), e)
                        .await);
                }
            };
            let spec = d.spec.as_ref();
            for image in template_images(spec.map(|s| &s.template)) {
                out.push(InUse {
                    reference: image,
                    by: format!("Deployment {ns}/{name}"),
                });
            }
            for rs in owned_replica_sets(&conn, &client, &ns, &d).await? {
                let rs_name = rs.metadata.name.clone().unwrap_or_default();
                for image in template_images(rs.spec.as_ref().and_then(|s| s.template.as_ref())) {
                    out.push(InUse {
                        reference: image,
                        by: format!("ReplicaSet {ns}/{rs_name}"),
                    });
                }
            }
        }
        self.other_workloads(on, &conn, &client, &mut out).await?;
        Ok(out)
    }

    /// The images of the manifests' workloads other than Deployments, as they are live.
    async fn other_workloads(
        &self,
        on: On<'_, EksTarget>,
        conn: &Connection,
        client: &kube::Client,
        out: &mut Vec<InUse>,
    ) -> Result<()> {
        let EksWorkload::Manifests { objects, .. } = &on.spec.workload else {
            return Ok(());
        };
        for m in objects.iter().filter(|m| {
            matches!(
                m.kind(),
                "StatefulSet" | "DaemonSet" | "Job" | "CronJob" | "Pod" | "ReplicaSet"
            )
        }) {
            let (group, version) = match m.api_version().split_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), m.api_version().to_string()),
            };
            let gvk = GroupVersionKind::gvk(&group, &version, m.kind());
            let (ar, _) = match kube::discovery::pinned_kind(client, &gvk).await {
                Ok(x) => x,
                Err(e) => {
                    return Err(conn
                        .error(format!("cannot read the API resources of {}", m.kind()), e)
                        .await);
                }
            };
            let ns = m.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&on.spec.namespace)
                .to_string();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
            let live = match api.get_opt(m.name()).await {
                Ok(Some(o)) => o,
                Ok(None) => continue,
                Err(e) => {
                    return Err(conn
                        .error(format!("cannot read {} {}", m.kind(), m.name()), e)
                        .await);
                }
            };
            let mut images = Vec::new();
            container_images(&live.data, &mut images);
            out.extend(images.into_iter().map(|image| InUse {
                reference: image,
                by: format!("{} {ns}/{}", m.kind(), m.name()),
            }));
        }
        Ok(())
    }
}

/// Every `image` of a `containers`, `initContainers` or `ephemeralContainers` list anywhere
/// in an object (a pod template sits at a different depth in each workload kind).
fn container_images(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if matches!(
                    k.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Some(list) = child.as_array()
                {
                    out.extend(
                        list.iter()
                            .filter_map(|c| c["image"].as_str().map(str::to_string)),
                    );
                } else {
                    container_images(child, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| container_images(i, out)),
        _ => {}
    }
}

/// The container and init container images of a pod template.
fn template_images(t: Option<&PodTemplateSpec>) -> Vec<String> {
    let Some(pod) = t.and_then(|t| t.spec.as_ref()) else {
        return Vec::new();
    };
    pod.init_containers
        .iter()
        .flatten()
        .chain(pod.containers.iter())
        .filter_map(|c| c.image.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn images_are_found_at_any_depth_of_a_workload() {
        let cron = serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "a", "image": "r/a:1"}],
            "containers": [{"name": "b", "image": "r/b@sha256:1"}]
        }}}}}});
        let mut out = Vec::new();
        super::container_images(&cron, &mut out);
        assert_eq!(out, ["r/a:1", "r/b@sha256:1"]);
    }
}
