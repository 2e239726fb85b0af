//! The lock on a target: a lease recorded on the target itself, so that runs on different
//! machines (two CI runners, a laptop) see each other with no infrastructure of their own.
//!
//! Where the lease lives is the adapter's business ([`LeaseStore`]: an ECS service tag, a
//! Kubernetes `Lease` object); the rules are the same everywhere and live here:
//! - a lease that is absent or expired is free: a run writes its own. A store that can write
//!   conditionally (Kubernetes' resourceVersion) says at once when another writer came
//!   first; one where the last writer wins (tags) is read back after a moment, and the loser
//!   sees someone else's token and waits;
//! - the holder renews its lease while it works ([`RENEW_EVERY`], for [`LEASE`] each time),
//!   so a long rollout keeps it, and a run that dies (killed, Ctrl-C) lets it expire;
//! - a run waits for a lease held by another run, with progress naming the holder, as long
//!   as the target's timeout allows (or not at all with `--no-wait-lock`), then fails
//!   clearly; it takes over a lease only once it has expired;
//! - a run gives back only its own lease: one that expired and was taken over is not ours.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::engine::ports::{Held, LockRequest};
use crate::engine::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};

/// How long a lease lasts unless renewed.
pub const LEASE: Duration = Duration::from_secs(300);
const RENEW_EVERY: Duration = Duration::from_secs(60);
/// How long a writer waits before reading its lease back where the last writer wins.
const SETTLE: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_secs(3);

/// A lease: whose it is and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The holding run's token ([`LockRequest::token`]).
    pub token: String,
    /// Unix time the lease ends unless renewed.
    pub expires: u64,
    /// Who holds it, for the message of a run that waits.
    pub owner: String,
}

impl Lease {
    /// `TOKEN EXPIRES OWNER`, in the characters tag values allow everywhere, at most 256.
    pub fn encode(&self) -> String {
        let mut v = format!("{} {} {}", self.token, self.expires, tag_safe(&self.owner));
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

    fn held_by_other(&self, token: &str) -> bool {
        self.token != token && self.expires > now()
    }
}

/// `owner` in the characters AWS tag values and Kubernetes strings all accept.
pub fn tag_safe(owner: &str) -> String {
    owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A lease as read, with the version a conditional write must name.
#[derive(Clone, Debug)]
pub struct Seen {
    pub lease: Lease,
    /// The store's version of the record (Kubernetes' resourceVersion); None for tags.
    pub version: Option<String>,
}

/// Where an adapter keeps a target's lease.
#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// The locked thing, for messages (`service shop-web`).
    fn what(&self) -> String;
    async fn read(&self) -> Result<Option<Seen>>;
    /// Writes `lease` over what was `seen`; false when the store knows that another writer
    /// came first (a conditional write that lost).
    async fn write(&self, lease: &Lease, seen: Option<&Seen>) -> Result<bool>;
    /// Removes the lease that was `seen`.
    async fn remove(&self, seen: &Seen) -> Result<()>;
    /// Whether a write can lose silently to one made at the same moment, so that it must be
    /// read back after a moment.
    fn last_writer_wins(&self) -> bool;
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Takes the lease in `store` for `req`, waiting until `deadline` while another run holds it.
pub async fn acquire(
    store: Arc<dyn LeaseStore>,
    req: &LockRequest,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<LeaseLock> {
    let mut announced = false;
    loop {
        let seen = store.read().await?;
        if let Some(s) = seen.as_ref().filter(|s| s.lease.held_by_other(&req.token)) {
            let l = &s.lease;
            let msg = format!(
                "{} is locked by {} (another berth run; its lease ends in {}s)",
                store.what(),
                l.owner,
                l.expires.saturating_sub(now())
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
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
            continue;
        }
        if let Some(s) = seen.as_ref().filter(|s| s.lease.token != req.token) {
            ctx.log(format!(
                "the lease of {} expired; taking it over",
                s.lease.owner
            ));
        }
        let lease = Lease {
            token: req.token.clone(),
            expires: now() + LEASE.as_secs(),
            owner: req.owner.clone(),
        };
        if !store.write(&lease, seen.as_ref()).await? {
            continue;
        }
        if store.last_writer_wins() {
            tokio::time::sleep(SETTLE).await;
            let won = store.read().await?;
            if won.is_none_or(|s| s.lease.token != req.token) {
                continue;
            }
        }
        return Ok(LeaseLock::hold(store, lease));
    }
}

/// A lease this run holds, renewed in the background until it is released or dropped.
pub struct LeaseLock {
    store: Arc<dyn LeaseStore>,
    token: String,
    renew: tokio::task::JoinHandle<()>,
}

impl LeaseLock {
    fn hold(store: Arc<dyn LeaseStore>, lease: Lease) -> Self {
        let token = lease.token.clone();
        let s = store.clone();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                // A failed renewal is tried again at the next tick; the lease has minutes
                // left. A lease that is no longer ours is not written over.
                if let Ok(Some(seen)) = s.read().await
                    && seen.lease.token == lease.token
                {
                    let next = Lease {
                        expires: now() + LEASE.as_secs(),
                        ..lease.clone()
                    };
                    let _ = s.write(&next, Some(&seen)).await;
                }
            }
        });
        LeaseLock {
            store,
            token,
            renew,
        }
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

#[async_trait]
impl Held for LeaseLock {
    async fn release(self: Box<Self>) -> Result<()> {
        self.renew.abort();
        if let Some(seen) = self
            .store
            .read()
            .await?
            .filter(|s| s.lease.token == self.token)
        {
            self.store.remove(&seen).await?;
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

    #[test]
    fn only_a_live_lease_of_another_run_holds() {
        let l = |token: &str, expires| Lease {
            token: token.into(),
            expires,
            owner: "o".into(),
        };
        assert!(l("a", now() + 60).held_by_other("b"));
        assert!(!l("a", now() + 60).held_by_other("a"));
        assert!(!l("a", 1).held_by_other("b"));
    }
}
