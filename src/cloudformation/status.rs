//! Stack states, typed: what a stack's status means for berth, decided in one place rather
//! than by the shape of the status text at each use.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackStatus};

/// What a stack's status means for a deploy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// An operation is running (cleanup included): wait.
    InProgress,
    /// Made by a change set that was never executed (a stack "in review"): create it.
    Review,
    /// The last operation succeeded.
    Complete,
    /// The last operation failed and was rolled back: what ran before runs again.
    RolledBack,
    /// The last operation (or its rollback) failed; the stack needs a person.
    Failed,
}

pub fn phase(status: &StackStatus) -> Phase {
    use StackStatus as S;
    match status {
        S::CreateComplete | S::UpdateComplete | S::ImportComplete => Phase::Complete,
        S::RollbackComplete | S::UpdateRollbackComplete | S::ImportRollbackComplete => {
            Phase::RolledBack
        }
        S::ReviewInProgress => Phase::Review,
        S::CreateInProgress
        | S::DeleteInProgress
        | S::ImportInProgress
        | S::ImportRollbackInProgress
        | S::RollbackInProgress
        | S::UpdateCompleteCleanupInProgress
        | S::UpdateInProgress
        | S::UpdateRollbackCompleteCleanupInProgress
        | S::UpdateRollbackInProgress => Phase::InProgress,
        S::CreateFailed
        | S::DeleteComplete
        | S::DeleteFailed
        | S::ImportRollbackFailed
        | S::RollbackFailed
        | S::UpdateFailed
        | S::UpdateRollbackFailed => Phase::Failed,
        // A status newer than this SDK: by CloudFormation's naming rule.
        other if other.as_str().ends_with("_IN_PROGRESS") => Phase::InProgress,
        _ => Phase::Failed,
    }
}

/// The phase of a stack (a stack without a status is treated as failed).
pub fn phase_of(s: &Stack) -> Phase {
    s.stack_status().map(phase).unwrap_or(Phase::Failed)
}

/// The status as CloudFormation writes it, for messages.
pub fn status_of(s: &Stack) -> String {
    s.stack_status()
        .map(|x| x.as_str().to_string())
        .unwrap_or_default()
}

/// Whether a resource event reports a failure.
pub fn resource_failed(status: &ResourceStatus) -> bool {
    use ResourceStatus as R;
    match status {
        R::CreateFailed
        | R::DeleteFailed
        | R::ImportFailed
        | R::ImportRollbackFailed
        | R::RollbackFailed
        | R::UpdateFailed
        | R::UpdateRollbackFailed => true,
        other => other.as_str().ends_with("_FAILED"),
    }
}

pub fn parameter_summary(s: &Stack) -> String {
    let mut ps: Vec<String> = s
        .parameters()
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p.parameter_key().unwrap_or(""),
                p.parameter_value().unwrap_or("")
            )
        })
        .collect();
    ps.sort();
    ps.join(", ")
}

pub fn outputs_of(s: &Stack) -> BTreeMap<String, String> {
    s.outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_string(),
                o.output_value().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_status_not_its_spelling() {
        assert_eq!(phase(&StackStatus::UpdateComplete), Phase::Complete);
        assert_eq!(
            phase(&StackStatus::UpdateRollbackComplete),
            Phase::RolledBack
        );
        assert_eq!(phase(&StackStatus::RollbackComplete), Phase::RolledBack);
        assert_eq!(phase(&StackStatus::ReviewInProgress), Phase::Review);
        assert_eq!(
            phase(&StackStatus::UpdateCompleteCleanupInProgress),
            Phase::InProgress
        );
        assert_eq!(phase(&StackStatus::UpdateRollbackFailed), Phase::Failed);
        assert_eq!(
            phase(&StackStatus::from("SOME_NEW_IN_PROGRESS")),
            Phase::InProgress
        );
        assert!(resource_failed(&ResourceStatus::CreateFailed));
        assert!(!resource_failed(&ResourceStatus::CreateComplete));
    }
}
