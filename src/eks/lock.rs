//! The lock on an EKS target: the engine's lease ([`crate::engine::lease`]) kept as a
//! `coordination.k8s.io/v1` Lease, the object Kubernetes itself uses for leader election.
//!
//! The Lease is `berth-<target>` in the target's namespace (in `default` while that
//! namespace does not exist yet, as on a first deploy that creates it). `holderIdentity` is
//! `TOKEN OWNER`, and `renewTime` + `leaseDurationSeconds` is when it ends, so `kubectl get
//! lease` shows who holds it. Writes are conditional (create, or replace at the
//! resourceVersion read), so of two runs at once exactly one wins, at once.
//!
//! The identity berth deploys as needs get, create, update and delete on leases there.

use async_trait::async_trait;
use k8s_openapi::api::coordination::v1::{Lease as KubeLease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::connect::Connection;
use crate::engine::lease::{LEASE, Lease, LeaseStore, Seen, tag_safe};
use crate::error::Result;

pub struct LeaseObject {
    pub conn: Connection,
    pub namespace: String,
    pub name: String,
}

impl LeaseObject {
    /// The Lease for target `target` deploying into `namespace`.
    pub async fn for_target(conn: Connection, target: &str, namespace: &str) -> Result<Self> {
        let client = conn.client().await?;
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
        let exists = match namespaces.get_opt(namespace).await {
            Ok(n) => n.is_some(),
            // Namespaces are cluster-wide objects: an identity with a Role in its own
            // namespace only may not read them. Its namespace exists, then.
            Err(kube::Error::Api(s)) if s.code == 403 => true,
            Err(e) => {
                return Err(conn
                    .error(format!("cannot read namespace {namespace}"), e)
                    .await);
            }
        };
        let (namespace, name) = if exists {
            (namespace.to_string(), lease_name(&[target]))
        } else {
            ("default".to_string(), lease_name(&[namespace, target]))
        };
        Ok(LeaseObject {
            conn,
            namespace,
            name,
        })
    }

    async fn api(&self) -> Result<Api<KubeLease>> {
        Ok(Api::namespaced(self.conn.client().await?, &self.namespace))
    }

    fn doing(&self, what: &str) -> String {
        format!(
            "{what} (Lease {} in namespace {})",
            self.name, self.namespace
        )
    }
}

/// `berth-` and the parts, as a Kubernetes object name (lowercase, digits, `-`, ≤ 63).
fn lease_name(parts: &[&str]) -> String {
    let mut name: String = std::iter::once("berth")
        .chain(parts.iter().copied())
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

fn decode(l: &KubeLease) -> Lease {
    let spec = l.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.unwrap_or_default();
    let (token, owner) = holder.split_once(' ').unwrap_or((&holder, "another run"));
    let expires = match (spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(t)), Some(d)) if !token.is_empty() => {
            (t.as_second() + i64::from(d)).max(0) as u64
        }
        // Released, or written by something else: free.
        _ => 0,
    };
    Lease {
        token: token.to_string(),
        expires,
        owner: owner.to_string(),
    }
}

#[async_trait]
impl LeaseStore for LeaseObject {
    fn what(&self) -> String {
        format!("Lease {} in namespace {}", self.name, self.namespace)
    }

    async fn read(&self) -> Result<Option<Seen>> {
        match self.api().await?.get_opt(&self.name).await {
            Ok(l) => Ok(l.map(|l| Seen {
                lease: decode(&l),
                version: l.metadata.resource_version.clone(),
            })),
            Err(e) => Err(self.conn.error(self.doing("reading the lock"), e).await),
        }
    }

    async fn write(&self, lease: &Lease, seen: Option<&Seen>) -> Result<bool> {
        let now = Timestamp::now();
        let mut spec = LeaseSpec {
            holder_identity: Some(format!("{} {}", lease.token, tag_safe(&lease.owner))),
            lease_duration_seconds: Some(LEASE.as_secs() as i32),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        };
        if seen.is_none_or(|s| s.lease.token != lease.token) {
            spec.acquire_time = Some(MicroTime(now));
        }
        let object = KubeLease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: seen.and_then(|s| s.version.clone()),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "berth".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(spec),
        };
        let api = self.api().await?;
        let pp = PostParams {
            field_manager: Some(super::FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let written = match seen {
            Some(_) => api.replace(&self.name, &pp, &object).await,
            None => api.create(&pp, &object).await,
        };
        match written {
            Ok(_) => Ok(true),
            // Another run wrote first (AlreadyExists, or a newer resourceVersion).
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.conn.error(self.doing("taking the lock"), e).await),
        }
    }

    async fn remove(&self, seen: &Seen) -> Result<()> {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: seen.version.clone(),
                uid: None,
            }),
            ..Default::default()
        };
        match self.api().await?.delete(&self.name, &dp).await {
            Ok(_) => Ok(()),
            // Gone, or renewed or taken over since: not ours to remove.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(self.conn.error(self.doing("giving the lock back"), e).await),
        }
    }

    fn last_writer_wins(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_kubernetes_names() {
        assert_eq!(lease_name(&["web_API"]), "berth-web-api");
        assert_eq!(lease_name(&["shop", "web"]), "berth-shop-web");
        let long = "x".repeat(100);
        assert_eq!(lease_name(&[&long]).len(), 63);
    }

    #[test]
    fn a_released_or_foreign_lease_is_free() {
        let mut l = KubeLease::default();
        assert_eq!(decode(&l).expires, 0);
        l.spec = Some(LeaseSpec {
            holder_identity: Some("tok CI build 7".into()),
            lease_duration_seconds: Some(300),
            renew_time: Some(MicroTime(Timestamp::from_second(1_000).unwrap())),
            ..Default::default()
        });
        let d = decode(&l);
        assert_eq!(
            (d.token.as_str(), d.expires, d.owner.as_str()),
            ("tok", 1_300, "CI build 7")
        );
    }
}
