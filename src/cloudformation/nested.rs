//! The root cause inside nested stacks. When the first failure of an operation is a nested
//! stack (`Embedded stack … was not successfully created`), the cause is in that stack's own
//! events: berth reads them (by the nested stack's id, which works after it was rolled back
//! and deleted) and takes the first failure there, down to a few levels.

use aws_sdk_cloudformation::types::StackEvent;

use super::follow::{Failures, RootCause};
use crate::aws::sdk_error;

/// How deep nested stacks are followed.
const MAX_DEPTH: usize = 3;
/// Event pages read per nested stack (newest first; a failed operation is recent).
const MAX_PAGES: usize = 3;

/// The failure that explains `top`: the innermost nested stack's first failure, with the
/// chain of stacks it sits in, as a sentence; and what could not be read.
pub(super) async fn explain(
    client: &aws_sdk_cloudformation::Client,
    top: RootCause,
) -> (String, Vec<String>) {
    let mut text = format!("{}: {}", top.resource, top.reason);
    let mut gaps = Vec::new();
    let mut at = top;
    for _ in 0..MAX_DEPTH {
        let Some(stack) = at.nested_stack.clone() else {
            break;
        };
        match first_failure(client, &stack).await {
            Ok(Some(inner)) => {
                text = format!(
                    "{} in nested stack {}: {}",
                    inner.resource,
                    short_stack(&stack),
                    inner.reason
                );
                at = inner;
            }
            Ok(None) => break,
            Err(gap) => {
                gaps.push(gap);
                break;
            }
        }
    }
    (text, gaps)
}

/// The first failure in a stack's most recent operation.
async fn first_failure(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Option<RootCause>, String> {
    let mut events: Vec<StackEvent> = Vec::new();
    let mut next = None;
    for _ in 0..MAX_PAGES {
        let out = client
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "the events of nested stack {} (cloudformation:DescribeStackEvents): {}",
                    short_stack(stack),
                    sdk_error("reading nested stack events", e).one_line()
                )
            })?;
        events.extend(out.stack_events().iter().cloned());
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    // Newest first: the last operation starts at the newest event that began one.
    let start = events
        .iter()
        .position(|e| {
            e.resource_type() == Some("AWS::CloudFormation::Stack")
                && e.physical_resource_id() == e.stack_id()
                && e.resource_status_reason() == Some("User Initiated")
        })
        .map(|i| i + 1)
        .unwrap_or(events.len());
    let mut failures = Failures::default();
    for ev in events[..start].iter().rev() {
        failures.note(ev);
    }
    Ok(failures.root_cause())
}

/// `arn:aws:cloudformation:…:stack/shop-Queue-1AB2/uuid` → `shop-Queue-1AB2`.
fn short_stack(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_stacks_are_named_short() {
        assert_eq!(
            short_stack("arn:aws:cloudformation:us-east-1:1:stack/shop-Queue-1AB2/0f-3c"),
            "shop-Queue-1AB2"
        );
    }
}
