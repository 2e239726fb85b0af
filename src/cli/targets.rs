//! `berth rollback` and `berth status`: one deployer call per target.

use std::sync::Arc;
use std::time::Instant;

use super::Cli;
use super::wiring::Adapters;
use crate::engine::executor::Outcome;
use crate::engine::plan;
use crate::engine::ports::Verdict;
use crate::engine::rollback::{describe, settle};
use crate::engine::step::StepCtx;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{RunResult, RunStatus, TargetResult, TargetStatus};
use crate::pipeline::model::Target;

fn result(t: &Target, status: TargetStatus) -> TargetResult {
    TargetResult {
        name: t.name.clone(),
        kind: t.kind.name().to_string(),
        account: None,
        region: None,
        status,
        before: None,
        after: None,
        duration_ms: 0,
        error: None,
        depends_on: t.depends_on.clone(),
        images: t.images.clone(),
        outputs: Default::default(),
        state: None,
        plan: None,
        paused_at: None,
        diagnosis: None,
    }
}

pub async fn rollback(
    cli: &Cli,
    printer: &Arc<Printer>,
    name: &str,
    wait_lock: bool,
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = super::wiring::load(cli)?;
    let names = vec![name.to_string()];
    plan::select_targets(&p, &names)?;
    let t = &p.targets[name];
    printer.set_names([name]);
    let ctx = StepCtx::new(format!("rollback:{name}"), name, printer.clone());
    let started = Instant::now();
    let adapters = Adapters::new(cli);
    adapters.check_aws(&p, [], &names)?;
    let held = adapters
        .deployers
        .lock(t, &super::wiring::lock_request(wait_lock), &ctx)
        .await?;
    let d = adapters.deployers.rollback(t, &ctx).await;
    crate::engine::deploy::release(held, &ctx).await;
    let d = d?;
    printer.clear();
    let mut r = result(t, TargetStatus::RolledBack);
    r.before = d.before.clone();
    r.after = d.after.clone();
    r.duration_ms = started.elapsed().as_millis() as u64;
    let mut doc = RunResult::new("rollback", p.environment.clone());
    let code = match &d.verdict {
        Verdict::TimedOut(m) => {
            r.status = TargetStatus::TimedOut;
            r.error = Some(m.clone());
            doc.status = RunStatus::TimedOut;
            ExitCode::TimedOut
        }
        Verdict::Completed | Verdict::Unchanged => ExitCode::Success,
        other => {
            return Err(Error::failed(format!("the rollback of `{name}` failed"))
                .with_causes(vec![describe(other)]));
        }
    };
    printer.human_result(&format!(
        "{} {name}  rolled back: {} → {}\n",
        printer.green("✓"),
        d.before.as_deref().unwrap_or("?"),
        d.after.as_deref().unwrap_or("?")
    ));
    doc.targets.push(r);
    adapters.name_accounts(&p, &mut doc).await;
    Ok((Some(doc), code))
}

/// `berth deploy --continue`: follows each target's running rollout to its end, changing
/// nothing, and reports how each ended, like a deploy would.
pub async fn resume(
    cli: &Cli,
    printer: &Arc<Printer>,
    names: &[String],
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = super::wiring::load(cli)?;
    plan::select_targets(&p, names)?;
    printer.set_names(names.iter().map(String::as_str));
    let adapters = Adapters::new(cli);
    adapters.check_aws(&p, [], names)?;
    let runs = names.iter().map(|name| {
        let t = &p.targets[name];
        let deployers = adapters.deployers.clone();
        let printer = printer.clone();
        async move {
            let ctx = StepCtx::new(format!("deploy:{name}"), name, printer);
            let started = Instant::now();
            let r = deployers.resume(t, &ctx).await;
            let mut r = match r {
                Ok(rollout) => {
                    let (outcome, d) = settle(name, t.kind.rollback_policy(), rollout, &ctx).await;
                    let mut r = result(t, TargetStatus::Deployed);
                    r.before = d.before;
                    r.after = d.after;
                    r.diagnosis = d.diagnosis;
                    (r.status, r.error, r.paused_at) = match outcome {
                        Ok(Outcome::Done) => (TargetStatus::Deployed, None, None),
                        Ok(Outcome::Unchanged) => (TargetStatus::Unchanged, None, None),
                        Ok(Outcome::RolledBack(m)) => (TargetStatus::RolledBack, Some(m), None),
                        Ok(Outcome::TimedOut(m)) => (TargetStatus::TimedOut, Some(m), None),
                        Ok(Outcome::Paused(stage)) => (TargetStatus::Paused, None, Some(stage)),
                        Err(e) => (TargetStatus::Failed, Some(e.render(false)), None),
                    };
                    r
                }
                Err(e) => {
                    let mut r = result(t, TargetStatus::Failed);
                    r.error = Some(e.render(false));
                    r
                }
            };
            r.duration_ms = started.elapsed().as_millis() as u64;
            r
        }
    });
    let results = futures_util::future::join_all(runs).await;
    printer.clear();
    let mut doc = RunResult::new("deploy", p.environment.clone());
    doc.status = RunStatus::Unchanged;
    let mut out = String::new();
    for r in results {
        let (status, mark) = match r.status {
            TargetStatus::Deployed => (RunStatus::Succeeded, printer.green("✓")),
            TargetStatus::Unchanged => (RunStatus::Unchanged, printer.green("✓")),
            TargetStatus::RolledBack => (RunStatus::RolledBack, printer.red("✗")),
            TargetStatus::TimedOut => (RunStatus::TimedOut, printer.red("✗")),
            TargetStatus::Paused => (RunStatus::Paused, printer.yellow("‖")),
            _ => (RunStatus::Failed, printer.red("✗")),
        };
        doc.status = doc.status.max(status);
        let label = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default();
        let why = r
            .error
            .as_deref()
            .map(|e| format!(" ({})", e.lines().next().unwrap_or("")))
            .unwrap_or_default();
        out.push_str(&format!("{mark} {}  {label}{why}\n", r.name));
        for line in r.diagnosis.iter().flat_map(|d| d.lines()) {
            out.push_str(&line);
            out.push('\n');
        }
        doc.targets.push(r);
    }
    printer.human_result(&out);
    adapters.name_accounts(&p, &mut doc).await;
    let code = super::images::exit_code(doc.status);
    Ok((Some(doc), code))
}

pub async fn status(
    cli: &Cli,
    printer: &Arc<Printer>,
    names: &[String],
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = super::wiring::load(cli)?;
    let selected = plan::select_targets(&p, names)?;
    let mut doc = RunResult::new("status", p.environment.clone());
    let mut out = String::new();
    let mut failed = false;
    let adapters = Adapters::new(cli);
    adapters.check_aws(&p, [], &selected)?;
    for name in &selected {
        let t = &p.targets[name];
        let mut r = result(t, TargetStatus::Unchanged);
        match adapters.deployers.status(t).await {
            Ok(s) => {
                r.after = s.revision.clone();
                out.push_str(&format!(
                    "{name}  {}  {}\n",
                    s.revision.as_deref().unwrap_or("-"),
                    s.rollout
                ));
                for i in &s.images {
                    out.push_str(&format!("    {i}\n"));
                }
                for line in &s.detail {
                    out.push_str(&format!("    {line}\n"));
                }
                r.state = Some(s);
            }
            Err(e) => {
                failed = true;
                printer.error(&e);
                r.status = TargetStatus::Failed;
                r.error = Some(e.to_string());
            }
        }
        doc.targets.push(r);
    }
    printer.human_result(&out);
    doc.status = if failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    adapters.name_accounts(&p, &mut doc).await;
    Ok((
        Some(doc),
        if failed {
            ExitCode::Failed
        } else {
            ExitCode::Success
        },
    ))
}
