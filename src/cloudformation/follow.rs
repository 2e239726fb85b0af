//! Following one stack operation (the one with our ClientRequestToken) to its end.
//!
//! Events are read for the log and for the root cause of a failure; the stack's own status
//! says when the operation is over. A throttled, failing or unreachable read is ridden out
//! until the deadline (the next poll tries again); any other error — no permission to read
//! events, a stack that is gone — is reported as what it is. Only the deadline passing is a
//! timeout.

use std::collections::HashSet;
use std::time::Instant;

use aws_sdk_cloudformation::types::{Stack, StackEvent};

use super::status::{Phase, phase_of, resource_failed, status_of};
use super::{CloudFormation, POLL};
use crate::aws::sdk_error;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::CfnTarget;

/// Where following an operation ended.
pub(super) enum Followed {
    /// The operation is over: the stack, and the first failure among our events
    /// (resource, reason) — the root cause, not the cascade of cancellations.
    Ended(Box<Stack>, Option<RootCause>),
    /// The deadline passed while the stack was still in this status.
    StillChanging(String),
}

/// The first failure of an operation: the resource (`Queue (AWS::SQS::Queue)`), why, and —
/// when the resource is a nested stack — that stack's id, where the real cause is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RootCause {
    pub resource: String,
    pub reason: String,
    pub nested_stack: Option<String>,
}

impl RootCause {
    pub fn of(ev: &StackEvent) -> Self {
        let rtype = ev.resource_type().unwrap_or("");
        let physical = ev.physical_resource_id().unwrap_or("");
        RootCause {
            resource: format!("{} ({rtype})", ev.logical_resource_id().unwrap_or("")),
            reason: ev.resource_status_reason().unwrap_or("").to_string(),
            nested_stack: (rtype == "AWS::CloudFormation::Stack"
                && physical.starts_with("arn:")
                && ev.stack_id() != Some(physical))
            .then(|| physical.to_string()),
        }
    }
}

/// The first failure among the events seen so far (cancellations only if nothing else).
#[derive(Default)]
pub(super) struct Failures {
    first: Option<RootCause>,
    first_cancelled: Option<RootCause>,
}

impl Failures {
    pub fn note(&mut self, ev: &StackEvent) {
        if !ev.resource_status().is_some_and(resource_failed) {
            return;
        }
        let reason = ev.resource_status_reason().unwrap_or("");
        let entry = RootCause::of(ev);
        if reason.contains("cancelled") {
            self.first_cancelled.get_or_insert(entry);
        } else {
            self.first.get_or_insert(entry);
        }
    }

    pub fn root_cause(self) -> Option<RootCause> {
        self.first.or(self.first_cancelled)
    }
}

impl CloudFormation {
    /// Follows the operation with token `token` to its end, or to `deadline`.
    pub(super) async fn follow(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        token: &str,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Followed> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut failures = Failures::default();
        let mut status = String::from("unknown");
        loop {
            match Self::new_events(client, c, token, &mut seen).await {
                Ok(events) => {
                    for ev in events {
                        log_event(&ev, ctx);
                        failures.note(&ev);
                    }
                }
                Err(e) => ride_out(e, deadline, ctx)?,
            }
            match Self::stack(client, &c.stack).await {
                Ok(Some(stack)) if phase_of(&stack) != Phase::InProgress => {
                    return Ok(Followed::Ended(Box::new(stack), failures.root_cause()));
                }
                Ok(Some(stack)) => {
                    status = status_of(&stack);
                    ctx.progress(format!("{}: {status}", c.stack));
                }
                Ok(None) => {
                    return Err(Error::failed(format!("stack `{}` disappeared", c.stack))
                        .with_kind(crate::error::ErrorKind::NotFound));
                }
                Err(e) => ride_out(e, deadline, ctx)?,
            }
            if Instant::now() >= deadline {
                return Ok(Followed::StillChanging(status));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Our operation's events not seen yet, oldest first. Events come newest first, paged;
    /// ours share the token.
    async fn new_events(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        token: &str,
        seen: &mut HashSet<String>,
    ) -> Result<Vec<StackEvent>> {
        let mut ours = Vec::new();
        let mut next: Option<String> = None;
        'pages: loop {
            let out = client
                .describe_stack_events()
                .stack_name(&c.stack)
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| sdk_error(format!("reading the events of stack `{}`", c.stack), e))?;
            for ev in out.stack_events() {
                let id = ev.event_id().unwrap_or_default();
                if seen.contains(id) {
                    break 'pages;
                }
                if ev.client_request_token() == Some(token) {
                    ours.push(ev.clone());
                }
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        ours.reverse();
        for ev in &ours {
            seen.insert(ev.event_id().unwrap_or_default().to_string());
        }
        Ok(ours)
    }
}

/// A transient error while waiting is logged and waited out (the next poll tries again);
/// any other error ends the wait as what it is.
fn ride_out(e: Error, deadline: Instant, ctx: &StepCtx) -> Result<()> {
    if e.kind().is_transient() && Instant::now() < deadline {
        let cause = e.diagnostics().remove(0).message.replace('\n', " ");
        ctx.log(format!("{cause}; trying again"));
        return Ok(());
    }
    Err(e)
}

fn log_event(ev: &StackEvent, ctx: &StepCtx) {
    let status = ev.resource_status().map(|s| s.as_str()).unwrap_or_default();
    let reason = ev.resource_status_reason().unwrap_or("");
    let logical = ev.logical_resource_id().unwrap_or("");
    ctx.log(format!(
        "{logical} {status}{}",
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    ));
}
