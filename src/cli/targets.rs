//! `berth rollback` and `berth status`: one deployer call per target.

use std::sync::Arc;
use std::time::Instant;

use super::Cli;
use super::wiring::Adapters;
use crate::engine::plan;
use crate::engine::ports::Verdict;
use crate::engine::rollback::describe;
use crate::engine::step::StepCtx;
use crate::error::{Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{RunResult, RunStatus, TargetResult, TargetStatus};
use crate::pipeline::model::Target;

fn result(t: &Target, status: TargetStatus) -> TargetResult {
    TargetResult {
        name: t.name.clone(),
        kind: t.kind.name().to_string(),
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
    Ok((
        Some(doc),
        if failed {
            ExitCode::Failed
        } else {
            ExitCode::Success
        },
    ))
}
