//! `berth logs TARGET`: the last lines of the containers a target runs now, then, with
//! `--follow`, new lines until interrupted. Lines go to stdout as they are read
//! (`task-or-pod/container | line`); in `json` mode they are collected into the document's
//! `logs`, in `ndjson` mode each is one object per line.

use std::sync::{Arc, Mutex};

use super::Cli;
use super::LogsArgs;
use super::wiring::Adapters;
use crate::engine::plan;
use crate::engine::ports::{LogLine, LogRequest};
use crate::engine::step::StepCtx;
use crate::error::{Diagnostic, Error, ExitCode, Result};
use crate::output::result::RunResult;
use crate::output::{OutputFormat, Printer};

pub async fn run(
    cli: &Cli,
    printer: &Arc<Printer>,
    args: &LogsArgs,
) -> Result<(Option<RunResult>, ExitCode)> {
    let format = cli.global.output;
    if args.follow && format == OutputFormat::Json {
        return Err(Error::invalid(
            Diagnostic::new("`--follow` never ends, so it has no final JSON document")
                .hint("use `-o ndjson` for one JSON object per log line, or leave out `--follow`"),
        ));
    }
    let p = super::wiring::load(cli)?;
    let names = vec![args.target.clone()];
    plan::select_targets(&p, &names)?;
    let t = &p.targets[&args.target];
    printer.set_names([args.target.as_str()]);
    let adapters = Adapters::new(cli);
    adapters.check_aws(&p, [], &names)?;
    let ctx = StepCtx::new(format!("logs:{}", t.name), &t.name, printer.clone());
    let collected: Mutex<Vec<LogLine>> = Mutex::new(Vec::new());
    let out = printer.clone();
    let into = &collected;
    let sink = move |l: LogLine| match format {
        OutputFormat::Human => {
            out.human_result(&format!("{}/{} | {}\n", l.unit, l.container, l.line))
        }
        OutputFormat::Ndjson => out.raw(&format!(
            "{}\n",
            serde_json::to_string(&l).expect("log lines serialize")
        )),
        OutputFormat::Json => into.lock().expect("log lines").push(l),
    };
    let req = LogRequest {
        lines: args.lines,
        follow: args.follow,
    };
    adapters.deployers.logs(t, req, &sink, &ctx).await?;
    printer.clear();
    let mut doc = RunResult::new("logs", p.environment.clone());
    doc.status = crate::output::result::RunStatus::Unchanged;
    drop(sink);
    doc.logs = collected.into_inner().expect("log lines");
    Ok((Some(doc), ExitCode::Success))
}
