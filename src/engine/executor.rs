//! Runs a plan: every step as soon as the steps it needs are done, at most `jobs` at once.
//!
//! A failed step skips everything that depends on it (transitively); independent branches go
//! on, unless `fail_fast` is set, in which case nothing new starts after the first failure.
//! Ctrl-C stops waiting: running steps are cancelled and reported as interrupted, together
//! with what had finished, so the caller can say exactly what was started.
//!
//! Steps hand typed outputs to the steps that need them: a step gets the outputs of its
//! `needs` (a push gets its build's, a deploy its images' pushes and its dependencies'
//! deploys), so data flows along the plan's edges and nowhere else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::task::JoinSet;

use super::events::{Event, EventKind};
use super::plan::{Plan, Step};
use super::step::{EventSink, StepCtx};
use crate::error::{Error, Result};

/// How a step ended, when it did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It changed something (built, pushed, deployed).
    Done,
    /// Nothing needed doing.
    Unchanged,
    /// The deployment failed and was put back (by berth or by AWS).
    RolledBack(String),
    /// It did not finish in time; it may still be in progress.
    TimedOut(String),
    /// It reached the stage it was asked to stop watching at (a deployment's stage name).
    Paused(String),
}

#[derive(Debug)]
pub enum StepStatus {
    Ok(Outcome),
    Failed(Error),
    Skipped(String),
    Interrupted,
}

impl StepStatus {
    pub fn label(&self) -> &'static str {
        match self {
            StepStatus::Ok(Outcome::Done) => "done",
            StepStatus::Ok(Outcome::Unchanged) => "unchanged",
            StepStatus::Ok(Outcome::RolledBack(_)) => "rolled back",
            StepStatus::Ok(Outcome::TimedOut(_)) => "timed out",
            StepStatus::Ok(Outcome::Paused(_)) => "paused",
            StepStatus::Failed(_) => "failed",
            StepStatus::Skipped(_) => "skipped",
            StepStatus::Interrupted => "interrupted",
        }
    }

    /// True when steps that need this one may run.
    fn lets_dependents_run(&self) -> bool {
        matches!(self, StepStatus::Ok(Outcome::Done | Outcome::Unchanged))
    }
}

#[derive(Debug)]
pub struct StepReport<O> {
    pub step: Step,
    pub status: StepStatus,
    pub duration: Duration,
    /// What the step produced: also after a failure, when it has something to tell (the
    /// digest a scan gate stopped, the revisions of a deploy that failed).
    pub output: Option<O>,
}

/// How a step ended and what it produced.
pub struct Ran<O> {
    pub result: Result<Outcome>,
    pub output: Option<O>,
}

impl<O> Ran<O> {
    pub fn new(result: Result<Outcome>, output: Option<O>) -> Self {
        Ran { result, output }
    }

    /// A step that failed before it had anything to tell.
    pub fn failed(e: crate::error::Error) -> Self {
        Ran {
            result: Err(e),
            output: None,
        }
    }
}

/// Runs one step.
#[async_trait]
pub trait StepRunner: Send + Sync + 'static {
    /// What steps hand to the steps that need them.
    type Output: Clone + Send + Sync + 'static;
    /// What the step is about to do, for the `step_started` event.
    fn describe(&self, step: &Step) -> String;
    /// Runs `step` with the outputs of the steps it needs (in the order of `step.needs`).
    async fn run(&self, step: &Step, inputs: Vec<Self::Output>, ctx: &StepCtx)
    -> Ran<Self::Output>;
}

enum State<O> {
    Pending,
    Running,
    Finished(StepReport<O>),
}

impl<O> State<O> {
    fn output(&self) -> Option<&O> {
        match self {
            State::Finished(r) => r.output.as_ref(),
            _ => None,
        }
    }
}

fn emit_finished(sink: &Arc<dyn EventSink>, step: &Step, status: &StepStatus, duration: Duration) {
    let error = match status {
        StepStatus::Failed(e) => Some(e.to_string()),
        StepStatus::Skipped(why) => Some(why.clone()),
        StepStatus::Ok(Outcome::RolledBack(m) | Outcome::TimedOut(m)) => Some(m.clone()),
        StepStatus::Ok(Outcome::Paused(stage)) => Some(format!("paused at {stage}")),
        _ => None,
    };
    sink.emit(Event::now(EventKind::StepFinished {
        step: step.id(),
        subject: step.subject.clone(),
        status: status.label().to_string(),
        duration_ms: duration.as_millis() as u64,
        error,
    }));
}

/// How many steps may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Steps of any kind.
    pub total: usize,
    /// Builds among them.
    pub builds: usize,
}

impl Limits {
    /// `--jobs N`: at most N steps of any kind, builds included.
    pub fn exactly(n: usize) -> Self {
        Limits {
            total: n.max(1),
            builds: n.max(1),
        }
    }

    /// The default: builds use the CPU and the disk, so one per CPU; pushes and deploys
    /// mostly wait on the network (a rollout takes minutes of nothing), so up to 16 steps
    /// run at once in all.
    pub fn for_machine(cpus: usize) -> Self {
        Limits {
            total: cpus.max(16),
            builds: cpus.max(1),
        }
    }
}

/// Runs `plan`; returns a report per step (in plan order) and whether the user interrupted.
pub async fn execute<R: StepRunner>(
    plan: &Plan,
    runner: Arc<R>,
    sink: Arc<dyn EventSink>,
    limits: Limits,
    fail_fast: bool,
) -> (Vec<StepReport<R::Output>>, bool) {
    let jobs = limits.total.max(1);
    let mut running_builds = 0usize;
    let n = plan.steps.len();
    let mut states: Vec<State<R::Output>> = (0..n).map(|_| State::Pending).collect();
    let mut started_at: Vec<Option<Instant>> = vec![None; n];
    let mut set: JoinSet<(usize, Ran<R::Output>)> = JoinSet::new();
    // Which step each task runs, so that a panic is reported on the step that panicked.
    let mut task_step: std::collections::HashMap<tokio::task::Id, usize> = Default::default();
    let mut running = 0usize;
    let mut failed = false;
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    loop {
        // Settle pending steps: skip those whose inputs failed, start those that are ready.
        // Plans are in topological order, so one forward pass sees every need settled first.
        for i in 0..n {
            if !matches!(states[i], State::Pending) {
                continue;
            }
            let step = &plan.steps[i];
            let blocker = step.needs.iter().find_map(|&d| match &states[d] {
                State::Finished(r) if !r.status.lets_dependents_run() => Some(plan.steps[d].id()),
                _ => None,
            });
            if let Some(b) = blocker {
                let status = StepStatus::Skipped(format!("{b} did not succeed"));
                emit_finished(&sink, step, &status, Duration::ZERO);
                states[i] = State::Finished(StepReport {
                    step: step.clone(),
                    status,
                    duration: Duration::ZERO,
                    output: None,
                });
                continue;
            }
            if fail_fast && failed {
                let status =
                    StepStatus::Skipped("not started after a failure (--fail-fast)".into());
                emit_finished(&sink, step, &status, Duration::ZERO);
                states[i] = State::Finished(StepReport {
                    step: step.clone(),
                    status,
                    duration: Duration::ZERO,
                    output: None,
                });
                continue;
            }
            let ready = step
                .needs
                .iter()
                .all(|&d| matches!(states[d], State::Finished(_)));
            let is_build = step.kind == super::plan::StepKind::Build;
            if ready && running < jobs && (!is_build || running_builds < limits.builds.max(1)) {
                let ctx = StepCtx::new(step.id(), step.subject.clone(), sink.clone());
                sink.emit(Event::now(EventKind::StepStarted {
                    step: step.id(),
                    subject: step.subject.clone(),
                    action: runner.describe(step),
                }));
                let inputs: Vec<R::Output> = step
                    .needs
                    .iter()
                    .filter_map(|&d| states[d].output().cloned())
                    .collect();
                let (runner, step) = (runner.clone(), step.clone());
                let handle = set.spawn(async move { (i, runner.run(&step, inputs, &ctx).await) });
                task_step.insert(handle.id(), i);
                states[i] = State::Running;
                started_at[i] = Some(Instant::now());
                running += 1;
                running_builds += usize::from(is_build);
            }
        }
        if running == 0 {
            break;
        }
        tokio::select! {
            joined = set.join_next() => {
                let Some(joined) = joined else { break };
                let (i, ran) = match joined {
                    Ok((i, ran)) => (i, ran),
                    Err(e) => {
                        // A panicking step is a bug; report it on that step rather than crash.
                        let Some(&i) = task_step.get(&e.id()) else { continue };
                        (i, Ran::failed(Error::failed(format!("berth crashed while running this step (a bug; please report it): {e}"))))
                    }
                };
                running -= 1;
                if plan.steps[i].kind == super::plan::StepKind::Build {
                    running_builds -= 1;
                }
                let status = match ran.result {
                    Ok(o) => StepStatus::Ok(o),
                    Err(Error::Interrupted) => StepStatus::Interrupted,
                    Err(e) => StepStatus::Failed(e),
                };
                if !status.lets_dependents_run() {
                    failed = true;
                }
                let duration = started_at[i].map(|t| t.elapsed()).unwrap_or_default();
                emit_finished(&sink, &plan.steps[i], &status, duration);
                states[i] = State::Finished(StepReport { step: plan.steps[i].clone(), status, duration, output: ran.output });
            }
            _ = &mut ctrl_c => {
                interrupted = true;
                set.abort_all();
                for (i, s) in states.iter_mut().enumerate() {
                    let status = match s {
                        State::Running => StepStatus::Interrupted,
                        State::Pending => StepStatus::Skipped("not started (interrupted)".into()),
                        State::Finished(_) => continue,
                    };
                    let duration = started_at[i].map(|t| t.elapsed()).unwrap_or_default();
                    emit_finished(&sink, &plan.steps[i], &status, duration);
                    *s = State::Finished(StepReport { step: plan.steps[i].clone(), status, duration, output: None });
                }
                break;
            }
        }
    }
    let reports = states
        .into_iter()
        .map(|s| match s {
            State::Finished(r) => r,
            // Unreachable: the loop only ends when nothing runs and nothing is pending.
            _ => unreachable!("every step is settled when the executor returns"),
        })
        .collect();
    (reports, interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::StepKind;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<Event>>);
    impl EventSink for Collect {
        fn emit(&self, e: Event) {
            self.0.lock().unwrap().push(e);
        }
    }

    /// Fails the steps named in `fail`; records start order; sleeps a little.
    struct Fake {
        fail: Vec<&'static str>,
        order: Mutex<Vec<String>>,
        live: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
        inputs: Mutex<Vec<(String, Vec<String>)>>,
    }

    #[async_trait]
    impl StepRunner for Fake {
        type Output = String;
        fn describe(&self, s: &Step) -> String {
            s.id()
        }
        async fn run(&self, s: &Step, inputs: Vec<String>, _: &StepCtx) -> Ran<String> {
            self.inputs.lock().unwrap().push((s.id(), inputs.clone()));
            Ran::new(self.step(s).await, Some(format!("out of {}", s.id())))
        }
    }

    impl Fake {
        async fn step(&self, s: &Step) -> Result<Outcome> {
            use std::sync::atomic::Ordering::SeqCst;
            self.order.lock().unwrap().push(s.id());
            let now = self.live.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            if s.subject == "panics" {
                panic!("a bug in a step");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.live.fetch_sub(1, SeqCst);
            if self.fail.contains(&s.subject.as_str()) {
                Err(Error::failed("boom"))
            } else {
                Ok(Outcome::Done)
            }
        }
    }

    fn step(kind: StepKind, subject: &str, needs: Vec<usize>) -> Step {
        Step {
            kind,
            subject: subject.into(),
            needs,
        }
    }

    /// a -> b -> c, and an independent d.
    fn plan() -> Plan {
        Plan {
            steps: vec![
                step(StepKind::Build, "a", vec![]),
                step(StepKind::Push, "b", vec![0]),
                step(StepKind::Deploy, "c", vec![1]),
                step(StepKind::Deploy, "d", vec![]),
            ],
            ..Default::default()
        }
    }

    fn fake(fail: Vec<&'static str>) -> Arc<Fake> {
        Arc::new(Fake {
            fail,
            order: Mutex::new(vec![]),
            live: 0.into(),
            peak: 0.into(),
            inputs: Mutex::new(vec![]),
        })
    }

    #[tokio::test]
    async fn failure_skips_dependents_but_not_independent_steps() {
        let f = fake(vec!["a"]);
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let (r, interrupted) =
            execute(&plan(), f.clone(), sink.clone(), Limits::exactly(4), false).await;
        assert!(!interrupted);
        assert!(matches!(r[0].status, StepStatus::Failed(_)));
        assert!(matches!(&r[1].status, StepStatus::Skipped(w) if w.contains("build:a")));
        assert!(matches!(&r[2].status, StepStatus::Skipped(w) if w.contains("push:b")));
        assert!(matches!(r[3].status, StepStatus::Ok(Outcome::Done)));
        let finished = sink
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::StepFinished { .. }))
            .count();
        assert_eq!(finished, 4, "every step reports how it ended");
    }

    #[tokio::test]
    async fn a_panicking_step_is_reported_on_itself_not_on_another_running_step() {
        // `a` is running (and started first) when `panics` panics.
        let plan = Plan {
            steps: vec![
                step(StepKind::Deploy, "a", vec![]),
                step(StepKind::Deploy, "panics", vec![]),
            ],
            ..Default::default()
        };
        let f = fake(vec![]);
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let (r, _) = execute(&plan, f, sink, Limits::exactly(2), false).await;
        assert!(
            matches!(r[0].status, StepStatus::Ok(Outcome::Done)),
            "{:?}",
            r[0].status
        );
        assert!(
            matches!(&r[1].status, StepStatus::Failed(e) if e.to_string().contains("a bug")),
            "{:?}",
            r[1].status
        );
    }

    #[tokio::test]
    async fn fail_fast_starts_nothing_new() {
        let f = fake(vec!["a"]);
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let (r, _) = execute(&plan(), f.clone(), sink, Limits::exactly(1), true).await;
        assert!(matches!(r[0].status, StepStatus::Failed(_)));
        assert!(matches!(&r[3].status, StepStatus::Skipped(w) if w.contains("fail-fast")));
        assert_eq!(f.order.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn builds_have_their_own_limit_within_the_total() {
        // Three builds and three deploys, all independent: one build at a time, the
        // deploys alongside it.
        let plan = Plan {
            steps: ["a", "b", "c"]
                .iter()
                .map(|s| step(StepKind::Build, s, vec![]))
                .chain(
                    ["x", "y", "z"]
                        .iter()
                        .map(|s| step(StepKind::Deploy, s, vec![])),
                )
                .collect(),
            ..Default::default()
        };
        let f = fake(vec![]);
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let limits = Limits {
            total: 16,
            builds: 1,
        };
        execute(&plan, f.clone(), sink, limits, false).await;
        assert_eq!(
            f.peak.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "1 build + 3 deploys"
        );
        assert_eq!(
            Limits::for_machine(2),
            Limits {
                total: 16,
                builds: 2
            }
        );
        assert_eq!(
            Limits::exactly(1),
            Limits {
                total: 1,
                builds: 1
            }
        );
    }

    #[tokio::test]
    async fn respects_dependencies_and_the_job_limit() {
        let f = fake(vec![]);
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let (r, _) = execute(&plan(), f.clone(), sink, Limits::exactly(2), false).await;
        assert!(
            r.iter()
                .all(|r| matches!(r.status, StepStatus::Ok(Outcome::Done)))
        );
        let order = f.order.lock().unwrap().clone();
        let pos = |id: &str| order.iter().position(|s| s == id).unwrap();
        assert!(pos("build:a") < pos("push:b") && pos("push:b") < pos("deploy:c"));
        assert!(f.peak.load(std::sync::atomic::Ordering::SeqCst) <= 2);
        // Each step got exactly the outputs of the steps it needs.
        let inputs = f.inputs.lock().unwrap().clone();
        let got = |id: &str| inputs.iter().find(|(s, _)| s == id).unwrap().1.clone();
        assert_eq!(got("push:b"), vec!["out of build:a".to_string()]);
        assert_eq!(got("deploy:c"), vec!["out of push:b".to_string()]);
        assert!(got("deploy:d").is_empty());
        assert_eq!(
            f.peak.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "independent steps overlap"
        );
    }
}
