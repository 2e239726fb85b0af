//! The one rollback policy, for every kind of target.
//!
//! A deployer reports how its rollout ended as a [`Verdict`] and, where it can, how to undo
//! it; this module alone decides what that means for the run: a failure under
//! `rollback: auto` is undone and reported as a rollback (exit 3), a failure under
//! `rollback: never` is an error (exit 1) with the hint to roll back by hand, a rollback the
//! platform made by itself is a rollback, and running out of time is a timeout (exit 4) —
//! never anything else.

use super::executor::Outcome;
use super::ports::{Diagnosis, Failure, Rollout, Verdict};
use super::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::Rollback;

/// What a deploy did to a target: the versions before and after, and its outputs. Known
/// also when the deploy failed, so that the result says what was started.
#[derive(Clone, Debug, Default)]
pub struct Deployed {
    pub before: Option<String>,
    pub after: Option<String>,
    pub outputs: std::collections::BTreeMap<String, String>,
    pub diagnosis: Option<Diagnosis>,
}

/// Applies the target's rollback policy to a finished rollout: the step's outcome (or its
/// error), and what was deployed either way.
pub async fn settle(
    target: &str,
    policy: Rollback,
    r: Rollout,
    ctx: &StepCtx,
) -> (Result<Outcome>, Deployed) {
    // The evidence goes to the log first, so that it is read in CI however the run ends.
    for line in r.diagnosis.iter().flat_map(|d| d.lines()) {
        ctx.log(line.trim_start().to_string());
    }
    let mut d = Deployed {
        before: r.before,
        after: r.after,
        outputs: r.outputs,
        diagnosis: r.diagnosis,
    };
    let outcome = match r.verdict {
        Verdict::Unchanged => Ok(Outcome::Unchanged),
        Verdict::Completed => Ok(Outcome::Done),
        Verdict::RolledBack(why) => Ok(Outcome::RolledBack(why)),
        Verdict::TimedOut(why) => Ok(Outcome::TimedOut(why)),
        Verdict::Paused(stage) => Ok(Outcome::Paused(stage)),
        Verdict::Failed(f) => match (policy, r.undo) {
            (Rollback::Auto, Some(undo)) => {
                let to = undo.to();
                ctx.log(format!("{} failed: {}; rolling back to {to}", f.what, f.why));
                match undo.undo(ctx).await {
                    Ok((Verdict::Completed | Verdict::Unchanged, after)) => {
                        d.after = after.or(d.before.clone());
                        Ok(Outcome::RolledBack(format!(
                            "{}; berth rolled back to {to}",
                            f.why
                        )))
                    }
                    Ok((other, _)) => Err(Error::failed(format!(
                        "{} failed ({}), and so did the rollback to {to}",
                        f.what, f.why
                    ))
                    .with_causes(vec![describe(&other)])),
                    Err(e) => Err(Error::failed(format!(
                        "{} failed ({}), and so did the rollback to {to}",
                        f.what, f.why
                    ))
                    .with_causes(vec![e.to_string()])),
                }
            }
            // This run did not start a rollout it could undo: the failed one was started
            // before (an interrupted run, another runner), or created what failed.
            (Rollback::Auto, None) => Err(failed(&f).with_hint(format!(
                "this run has no earlier version of it to put back automatically; `berth rollback {target}` puts back the version berth recorded, or deploy a fixed one"
            ))),
            (Rollback::Never, _) => {
                let advice = f
                    .advice
                    .as_deref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default();
                Err(failed(&f).with_hint(format!(
                    "set `rollback: auto` to have berth put the previous version back{advice}; or fix it and deploy again, or `berth rollback {target}` now"
                )))
            }
        },
    };
    (outcome, d)
}

fn failed(f: &Failure) -> Error {
    Error::failed(format!("{} failed", f.what)).with_causes(vec![f.why.clone()])
}

/// A verdict in words, for the cause of a failed rollback.
pub fn describe(v: &Verdict) -> String {
    match v {
        Verdict::Unchanged => "nothing changed".into(),
        Verdict::Completed => "completed".into(),
        Verdict::RolledBack(why) => format!("rolled back: {why}"),
        Verdict::Failed(f) => format!("{} failed: {}", f.what, f.why),
        Verdict::TimedOut(why) => format!("timed out: {why}"),
        Verdict::Paused(stage) => format!("paused at {stage}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Event;
    use crate::engine::ports::Undo;
    use crate::engine::step::EventSink;
    use std::sync::{Arc, Mutex};

    struct Quiet;
    impl EventSink for Quiet {
        fn emit(&self, _: Event) {}
    }

    /// An undo that answers `verdict` and counts its calls.
    struct Back(Verdict, Arc<Mutex<usize>>);

    #[async_trait::async_trait]
    impl Undo for Back {
        fn to(&self) -> String {
            "web:1".into()
        }
        async fn undo(&self, _: &StepCtx) -> Result<(Verdict, Option<String>)> {
            *self.1.lock().unwrap() += 1;
            Ok((self.0.clone(), Some("web:3".into())))
        }
    }

    fn failed_rollout(undo: Option<Verdict>, calls: &Arc<Mutex<usize>>) -> Rollout {
        let mut r = Rollout::new(
            Verdict::Failed(Failure {
                what: "deployment of web:2".into(),
                why: "crash loop".into(),
                advice: None,
            }),
            Some("web:1".into()),
            Some("web:2".into()),
        );
        r.undo = undo.map(|v| Box::new(Back(v, calls.clone())) as Box<dyn Undo>);
        r
    }

    fn ctx() -> StepCtx {
        StepCtx::new("deploy:web", "web", Arc::new(Quiet))
    }

    #[tokio::test]
    async fn auto_undoes_a_failure_and_reports_a_rollback() {
        let calls = Arc::new(Mutex::new(0));
        let r = failed_rollout(Some(Verdict::Completed), &calls);
        let (outcome, d) = settle("web", Rollback::Auto, r, &ctx()).await;
        assert!(
            matches!(&outcome, Ok(Outcome::RolledBack(m)) if m == "crash loop; berth rolled back to web:1"),
            "{outcome:?}"
        );
        assert_eq!(d.after.as_deref(), Some("web:3"));
        assert_eq!(*calls.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn never_leaves_a_failure_as_an_error_and_does_not_undo() {
        let calls = Arc::new(Mutex::new(0));
        let r = failed_rollout(Some(Verdict::Completed), &calls);
        let (outcome, d) = settle("web", Rollback::Never, r, &ctx()).await;
        let e = outcome.unwrap_err();
        // What was started is known although the deploy failed.
        assert_eq!(
            (d.before.as_deref(), d.after.as_deref()),
            (Some("web:1"), Some("web:2"))
        );
        assert_eq!(e.exit_code(), crate::error::ExitCode::Failed);
        assert!(
            e.render(false).contains("berth rollback web"),
            "{}",
            e.render(false)
        );
        assert_eq!(*calls.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_failed_undo_is_an_error_naming_both() {
        let calls = Arc::new(Mutex::new(0));
        let r = failed_rollout(Some(Verdict::TimedOut("slow".into())), &calls);
        let e = settle("web", Rollback::Auto, r, &ctx())
            .await
            .0
            .unwrap_err();
        let text = e.render(false);
        assert!(text.contains("and so did the rollback to web:1"), "{text}");
        assert!(text.contains("timed out: slow"), "{text}");
    }

    #[tokio::test]
    async fn platform_rollbacks_and_timeouts_pass_through_unchanged_by_the_policy() {
        for (v, want) in [
            (Verdict::RolledBack("circuit breaker".into()), "rolled back"),
            (Verdict::TimedOut("still rolling".into()), "timed out"),
            (Verdict::Unchanged, "unchanged"),
            (Verdict::Completed, "done"),
        ] {
            let r = Rollout::new(v, None, None);
            let outcome = settle("web", Rollback::Auto, r, &ctx()).await.0.unwrap();
            let got = crate::engine::executor::StepStatus::Ok(outcome).label();
            assert_eq!(got, want);
        }
    }
}
