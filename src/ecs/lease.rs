//! The lock on a service: a lease kept as a tag on the service itself, so that runs on
//! different machines (two CI runners, a laptop) see each other with no infrastructure of
//! their own.
//!
//! The tag [`LOCK_TAG`] holds `TOKEN EXPIRES OWNER`: the holding run's token, the Unix time
//! its lease ends, and who it is (for the message of a run that waits). Rules:
//! - a lease that is absent or expired is free: a run writes its own, waits a moment and
//!   reads it back — the last writer wins, and the loser sees someone else's token and waits;
//! - the holder renews its lease while it works ([`RENEW_EVERY`], for [`LEASE`] each time),
//!   so a long rollout keeps it, and a run that dies (killed, Ctrl-C) lets it expire;
//! - a run waits for a lease held by another run, with progress naming the holder, as long
//!   as the target's timeout allows (or not at all with `--no-wait-lock`), then fails
//!   clearly; it takes over a lease only once it has expired.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;
use tokio::time::Instant;

use crate::aws::sdk_error;
use crate::engine::ports::{Held, LockRequest};
use crate::engine::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};

/// The service tag that holds the lease.
pub const LOCK_TAG: &str = "berth:lock";
/// How long a lease lasts unless renewed.
const LEASE: Duration = Duration::from_secs(300);
const RENEW_EVERY: Duration = Duration::from_secs(60);
/// How long a writer waits before reading its lease back (two writers at once: the last wins).
const SETTLE: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_secs(3);

/// A lease as the tag holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub token: String,
    pub expires: u64,
    pub owner: String,
}

impl Lease {
    /// `TOKEN EXPIRES OWNER`, in the characters ECS allows in tag values, at most 256.
    pub fn encode(&self) -> String {
        let owner: String = self
            .owner
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut v = format!("{} {} {owner}", self.token, self.expires);
        v.truncate(256);
        v
    }

    pub fn decode(value: &str) -> Option<Lease> {
        let mut parts = value.splitn(3, ' ');
        Some(Lease {
            token: parts.next()?.to_string(),
            expires: parts.next()?.parse().ok()?,
            owner: parts.next().unwrap_or("another run").to_string(),
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn read(client: &aws_sdk_ecs::Client, arn: &str) -> Result<Option<Lease>> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| sdk_error("reading the lock on the service", e))?;
    Ok(out
        .tags()
        .iter()
        .find(|t| t.key() == Some(LOCK_TAG))
        .and_then(|t| Lease::decode(t.value().unwrap_or(""))))
}

async fn write(client: &aws_sdk_ecs::Client, arn: &str, lease: &Lease) -> Result<()> {
    client
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key(LOCK_TAG).value(lease.encode()).build())
        .send()
        .await
        .map_err(|e| sdk_error("taking the lock on the service (tagging it)", e))?;
    Ok(())
}

/// Takes the lock on service `arn` for `req`, waiting until `deadline` while another run
/// holds it.
pub async fn acquire(
    client: &aws_sdk_ecs::Client,
    arn: &str,
    req: &LockRequest,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<EcsLock> {
    let mut announced = false;
    loop {
        match read(client, arn).await? {
            Some(l) if l.token != req.token && l.expires > now() => {
                let msg = format!(
                    "service is locked by {} (another berth run; its lease ends in {}s)",
                    l.owner,
                    l.expires - now()
                );
                if !req.wait || Instant::now() >= deadline {
                    return Err(Error::failed(msg)
                        .with_kind(ErrorKind::Conflict)
                        .with_hint(if req.wait {
                            "it is still deploying: try again when it is done (a lock of a run that died ends by itself within 5 minutes)"
                        } else {
                            "wait for it (leave out `--no-wait-lock`), or try again when it is done"
                        }));
                }
                if !announced {
                    ctx.log(format!("waiting for the lock: {msg}"));
                    announced = true;
                }
                ctx.progress(format!("waiting for the lock held by {}", l.owner));
                tokio::time::sleep(POLL).await;
            }
            held => {
                if let Some(l) = held.filter(|l| l.token != req.token) {
                    ctx.log(format!("the lease of {} expired; taking it over", l.owner));
                }
                let lease = Lease {
                    token: req.token.clone(),
                    expires: now() + LEASE.as_secs(),
                    owner: req.owner.clone(),
                };
                write(client, arn, &lease).await?;
                tokio::time::sleep(SETTLE).await;
                if read(client, arn)
                    .await?
                    .is_some_and(|l| l.token == req.token)
                {
                    return Ok(EcsLock::hold(client.clone(), arn.to_string(), lease));
                }
            }
        }
    }
}

/// A lease this run holds, renewed in the background until it is released or dropped.
pub struct EcsLock {
    client: aws_sdk_ecs::Client,
    arn: String,
    token: String,
    renew: tokio::task::JoinHandle<()>,
}

impl EcsLock {
    fn hold(client: aws_sdk_ecs::Client, arn: String, lease: Lease) -> Self {
        let token = lease.token.clone();
        let (c, a) = (client.clone(), arn.clone());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let next = Lease {
                    expires: now() + LEASE.as_secs(),
                    ..lease.clone()
                };
                // A failed renewal is tried again at the next tick; the lease has minutes left.
                let _ = write(&c, &a, &next).await;
            }
        });
        EcsLock {
            client,
            arn,
            token,
            renew,
        }
    }
}

impl Drop for EcsLock {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

#[async_trait]
impl Held for EcsLock {
    async fn release(self: Box<Self>) -> Result<()> {
        self.renew.abort();
        // Only our own lease is removed: one that expired and was taken over is not ours.
        if read(&self.client, &self.arn)
            .await?
            .is_some_and(|l| l.token == self.token)
        {
            self.client
                .untag_resource()
                .resource_arn(&self.arn)
                .tag_keys(LOCK_TAG)
                .send()
                .await
                .map_err(|e| sdk_error("giving the lock on the service back", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_trip_in_the_characters_tags_allow() {
        let l = Lease {
            token: "b1a2".into(),
            expires: 1_800_000_000,
            owner: "CodeBuild build shop:42 on runner#3 (pid 7)".into(),
        };
        let v = l.encode();
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)),
            "{v}"
        );
        let back = Lease::decode(&v).unwrap();
        assert_eq!((back.token.as_str(), back.expires), ("b1a2", 1_800_000_000));
        assert!(
            back.owner
                .starts_with("CodeBuild build shop:42 on runner-3")
        );
        assert_eq!(Lease::decode("garbage"), None);
    }
}
