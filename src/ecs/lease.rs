//! The lock on a service: the engine's lease ([`crate::engine::lease`]) kept as the tag
//! [`LOCK_TAG`] on the service itself. Tags are written unconditionally (the last writer
//! wins), so the engine reads a fresh lease back before it trusts it.

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;

use crate::aws::sdk_error;
use crate::engine::lease::{Lease, LeaseStore, Seen};
use crate::error::Result;

/// The service tag that holds the lease.
pub const LOCK_TAG: &str = "berth:lock";

/// The lease tag of one service.
pub struct TagStore {
    pub client: aws_sdk_ecs::Client,
    pub arn: String,
    pub name: String,
}

#[async_trait]
impl LeaseStore for TagStore {
    fn what(&self) -> String {
        format!("service {}", self.name)
    }

    async fn read(&self) -> Result<Option<Seen>> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(&self.arn)
            .send()
            .await
            .map_err(|e| sdk_error("reading the lock on the service", e))?;
        Ok(out
            .tags()
            .iter()
            .find(|t| t.key() == Some(LOCK_TAG))
            .and_then(|t| Lease::decode(t.value().unwrap_or("")))
            .map(|lease| Seen {
                lease,
                version: None,
            }))
    }

    async fn write(&self, lease: &Lease, _seen: Option<&Seen>) -> Result<bool> {
        self.client
            .tag_resource()
            .resource_arn(&self.arn)
            .tags(Tag::builder().key(LOCK_TAG).value(lease.encode()).build())
            .send()
            .await
            .map_err(|e| sdk_error("taking the lock on the service (tagging it)", e))?;
        Ok(true)
    }

    async fn remove(&self, _seen: &Seen) -> Result<()> {
        self.client
            .untag_resource()
            .resource_arn(&self.arn)
            .tag_keys(LOCK_TAG)
            .send()
            .await
            .map_err(|e| sdk_error("giving the lock on the service back", e))?;
        Ok(())
    }

    fn last_writer_wins(&self) -> bool {
        true
    }
}
