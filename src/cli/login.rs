//! `berth login`: log the Docker daemon's client config in to the pipeline's ECR registries,
//! or print the password (like `aws ecr get-login-password`) when asked to.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Cli;
use crate::engine::images::repository_spec;
use crate::error::{Diagnostic, Error, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::RunResult;

pub async fn run(
    cli: &Cli,
    printer: &Arc<Printer>,
    print_password: bool,
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = super::wiring::load(cli)?;
    // One login per (region, profile): that is one registry per account and region.
    let mut specs = BTreeMap::new();
    for img in p.images.values() {
        let spec = repository_spec(img);
        specs.entry(spec.aws.clone()).or_insert(spec);
    }
    if specs.is_empty() {
        return Err(Error::invalid(Diagnostic::new(
            "the pipeline file has no images, so there is no registry to log in to",
        )));
    }
    let ecr = super::wiring::Adapters::new(cli).ecr;
    let mut logins = Vec::new();
    for spec in specs.values() {
        logins.push(ecr.login(spec).await?);
    }
    logins.dedup_by(|a, b| a.0 == b.0);
    if print_password {
        if logins.len() > 1 {
            let hosts: Vec<&str> = logins.iter().map(|l| l.0.as_str()).collect();
            return Err(Error::invalid(
                Diagnostic::new(format!(
                    "the pipeline uses {} registries ({}); a password is per registry",
                    logins.len(),
                    hosts.join(", ")
                ))
                .hint("pick one with `--region` (and `--profile`)"),
            ));
        }
        // The user asked for the secret on stdout: that is the one place it goes.
        printer.raw(&format!("{}\n", logins[0].1.password));
        return Ok((None, ExitCode::Success));
    }
    let mut out = String::new();
    for (host, creds) in &logins {
        let place = crate::docker::config::store_login(host, creds)?;
        out.push_str(&format!(
            "{} logged in to {host} (saved in {place})\n",
            printer.green("✓")
        ));
    }
    printer.human_result(&out);
    let mut doc = RunResult::new("login", p.environment.clone());
    doc.status = crate::output::result::RunStatus::Succeeded;
    Ok((Some(doc), ExitCode::Success))
}
