//! Judging an ECS rollout from one DescribeServices answer.
//!
//! The `services-stable` waiter only checks "one deployment, running == desired", which is
//! also true right after ECS's circuit breaker has rolled a failed deployment back — so tools
//! built on it report rolled-back deploys as successes. berth follows *its own* deployment
//! (by the id UpdateService returned): success is that deployment being PRIMARY, COMPLETED
//! and alone; it failing, or another deployment becoming PRIMARY, is a failure or a rollback,
//! seen at the first poll after it happens. This is a pure function so that it is tested
//! over exact sequences of answers.

/// The parts of a deployment the judgement needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentView {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    /// IN_PROGRESS, COMPLETED or FAILED (absent for some controllers).
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    InProgress {
        running: i32,
        pending: i32,
        desired: i32,
        old_running: i32,
        failed_tasks: i32,
    },
    Completed,
    /// Another deployment became PRIMARY and runs the revision we replaced: ECS rolled back.
    RolledBack {
        to_deployment: String,
        to_task_definition: String,
    },
    /// Our deployment failed (or was replaced by someone else's).
    Failed(String),
    /// ECS rolled our service deployment back (an alarm, the circuit breaker, a stop with
    /// rollback): to what, and why, in ECS's words.
    Reverted {
        to_task_definition: String,
        why: String,
    },
    /// The service deployment reached the stage berth was asked to stop watching at.
    Paused {
        stage: String,
    },
}

impl Verdict {
    /// Still going, with no task counts to tell (CodeDeploy, service deployments).
    pub fn still_going() -> Self {
        Verdict::InProgress {
            running: 0,
            pending: 0,
            desired: 0,
            old_running: 0,
            failed_tasks: 0,
        }
    }
}

/// Circuit breaker threshold: half the desired count, clamped to 3..200.
pub fn failure_threshold(desired: i32) -> i32 {
    (desired / 2).clamp(3, 200)
}

pub fn judge(
    deployments: &[DeploymentView],
    ours: &str,
    previous_task_definition: &str,
    circuit_breaker: bool,
) -> Verdict {
    let primary = deployments.iter().find(|d| d.status == "PRIMARY");
    let Some(mine) = deployments.iter().find(|d| d.id == ours) else {
        return match primary {
            Some(p) if p.task_definition == previous_task_definition => Verdict::RolledBack {
                to_deployment: p.id.clone(),
                to_task_definition: p.task_definition.clone(),
            },
            Some(p) => Verdict::Failed(format!(
                "deployment {ours} disappeared; {} ({}) is PRIMARY now",
                p.id, p.task_definition
            )),
            None => Verdict::Failed(format!(
                "deployment {ours} disappeared and no deployment is PRIMARY"
            )),
        };
    };
    if mine.status != "PRIMARY" {
        return match primary {
            Some(p) if p.task_definition == previous_task_definition => Verdict::RolledBack {
                to_deployment: p.id.clone(),
                to_task_definition: p.task_definition.clone(),
            },
            Some(p) => Verdict::Failed(format!(
                "another deployment took over: {} with {}",
                p.id, p.task_definition
            )),
            None => Verdict::Failed(format!(
                "deployment {ours} is {} and no deployment is PRIMARY",
                mine.status
            )),
        };
    }
    if mine.rollout_state.as_deref() == Some("FAILED") {
        let why = mine
            .rollout_reason
            .clone()
            .unwrap_or_else(|| "the deployment failed".into());
        return Verdict::Failed(why);
    }
    if !circuit_breaker && mine.failed_tasks >= failure_threshold(mine.desired) {
        return Verdict::Failed(format!(
            "{} tasks of the new revision failed to start",
            mine.failed_tasks
        ));
    }
    let others: Vec<&DeploymentView> = deployments.iter().filter(|d| d.id != ours).collect();
    let done = match mine.rollout_state.as_deref() {
        Some(state) => state == "COMPLETED",
        // Without rollout states (older controllers): all tasks of ours running.
        None => mine.running == mine.desired && mine.pending == 0,
    };
    if done && others.is_empty() {
        return Verdict::Completed;
    }
    Verdict::InProgress {
        running: mine.running,
        pending: mine.pending,
        desired: mine.desired,
        old_running: others.iter().map(|d| d.running).sum(),
        failed_tasks: mine.failed_tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:41";
    const NEW: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:42";

    fn d(id: &str, status: &str, td: &str, running: i32, state: &str) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            desired: 2,
            running,
            pending: 2 - running,
            failed_tasks: 0,
            rollout_state: Some(state.into()),
            rollout_reason: None,
        }
    }

    /// `services-stable` would say "stable" as soon as one deployment runs `desired` tasks.
    fn services_stable(ds: &[DeploymentView]) -> bool {
        ds.len() == 1 && ds[0].running == ds[0].desired
    }

    #[test]
    fn a_normal_rollout_completes_only_when_ours_is_alone() {
        let seq = [
            vec![
                d("new", "PRIMARY", NEW, 0, "IN_PROGRESS"),
                d("old", "ACTIVE", OLD, 2, "COMPLETED"),
            ],
            vec![
                d("new", "PRIMARY", NEW, 2, "IN_PROGRESS"),
                d("old", "ACTIVE", OLD, 1, "COMPLETED"),
            ],
            vec![
                d("new", "PRIMARY", NEW, 2, "COMPLETED"),
                d("old", "ACTIVE", OLD, 0, "COMPLETED"),
            ],
            vec![d("new", "PRIMARY", NEW, 2, "COMPLETED")],
        ];
        let verdicts: Vec<Verdict> = seq.iter().map(|s| judge(s, "new", OLD, true)).collect();
        assert!(matches!(
            verdicts[0],
            Verdict::InProgress {
                running: 0,
                old_running: 2,
                ..
            }
        ));
        assert!(matches!(
            verdicts[1],
            Verdict::InProgress {
                running: 2,
                old_running: 1,
                ..
            }
        ));
        assert!(
            matches!(verdicts[2], Verdict::InProgress { .. }),
            "completed but the old one still drains"
        );
        assert_eq!(verdicts[3], Verdict::Completed);
    }

    #[test]
    fn a_circuit_breaker_rollback_is_not_a_success() {
        let seq = [
            vec![
                d("new", "PRIMARY", NEW, 0, "IN_PROGRESS"),
                d("old", "ACTIVE", OLD, 2, "COMPLETED"),
            ],
            // The flip: ECS starts a rollback deployment to the old revision.
            vec![
                d("rb", "PRIMARY", OLD, 2, "IN_PROGRESS"),
                d("new", "ACTIVE", NEW, 0, "FAILED"),
            ],
            // Later, only the rollback deployment is left, with every task running.
            vec![d("rb", "PRIMARY", OLD, 2, "COMPLETED")],
        ];
        assert!(matches!(
            judge(&seq[0], "new", OLD, true),
            Verdict::InProgress { .. }
        ));
        let rb = Verdict::RolledBack {
            to_deployment: "rb".into(),
            to_task_definition: OLD.into(),
        };
        assert_eq!(
            judge(&seq[1], "new", OLD, true),
            rb,
            "seen at the first poll after the flip"
        );
        assert_eq!(judge(&seq[2], "new", OLD, true), rb);
        assert!(
            services_stable(&seq[2]),
            "the waiter would have called this a success"
        );
    }

    #[test]
    fn a_failed_deployment_without_rollback_fails() {
        let mut failed = d("new", "PRIMARY", NEW, 0, "FAILED");
        failed.rollout_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let v = judge(
            &[failed, d("old", "ACTIVE", OLD, 2, "COMPLETED")],
            "new",
            OLD,
            true,
        );
        assert_eq!(
            v,
            Verdict::Failed("ECS deployment circuit breaker: tasks failed to start.".into())
        );
    }

    #[test]
    fn failing_tasks_without_a_circuit_breaker_fail_at_the_threshold() {
        let mut mine = d("new", "PRIMARY", NEW, 0, "IN_PROGRESS");
        mine.failed_tasks = 2;
        assert!(matches!(
            judge(&[mine.clone()], "new", OLD, false),
            Verdict::InProgress {
                failed_tasks: 2,
                ..
            }
        ));
        mine.failed_tasks = 3;
        assert!(matches!(
            judge(&[mine.clone()], "new", OLD, false),
            Verdict::Failed(_)
        ));
        // With the circuit breaker on, ECS decides; berth waits for its verdict.
        assert!(matches!(
            judge(&[mine], "new", OLD, true),
            Verdict::InProgress { .. }
        ));
    }

    #[test]
    fn someone_elses_deployment_taking_over_is_a_failure() {
        let other = "arn:aws:ecs:us-east-1:1:task-definition/web:43";
        let v = judge(
            &[
                d("x", "PRIMARY", other, 0, "IN_PROGRESS"),
                d("new", "ACTIVE", NEW, 2, "IN_PROGRESS"),
            ],
            "new",
            OLD,
            true,
        );
        assert!(matches!(v, Verdict::Failed(m) if m.contains("another deployment took over")));
    }

    #[test]
    fn threshold_is_half_desired_clamped() {
        assert_eq!(failure_threshold(1), 3);
        assert_eq!(failure_threshold(10), 5);
        assert_eq!(failure_threshold(1000), 200);
    }
}
