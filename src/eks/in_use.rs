//! The images an EKS target depends on, for `berth gc`: each Deployment's pod template, and
//! the templates of the ReplicaSets it keeps for `rollout undo` (and `berth rollback`), as
//! many as its revisionHistoryLimit leaves.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, ListParams};

use super::connect::Connection;
use super::revisions::deployments_of;
use super::{Eks, wait};
use crate::engine::ports::{InUse, On};
use crate::error::Result;
use crate::pipeline::model::EksTarget;

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
            let uid = d.metadata.uid.clone().unwrap_or_default();
            let selector = spec
                .map(|s| wait::selector_string(&s.selector))
                .unwrap_or_default();
            let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
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
            for rs in list.items.iter().filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == uid)
            }) {
                let rs_name = rs.metadata.name.clone().unwrap_or_default();
                for image in template_images(rs.spec.as_ref().and_then(|s| s.template.as_ref())) {
                    out.push(InUse {
                        reference: image,
                        by: format!("ReplicaSet {ns}/{rs_name}"),
                    });
                }
            }
        }
        Ok(out)
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
