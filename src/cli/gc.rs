//! `berth gc`: clean up the pipeline's ECR repositories without deleting what is deployed.
//!
//! The images in use are gathered first, from every target of the base file and of every
//! environment in it (a `-e staging` run must not delete what production runs), each in its
//! own account and region. If any target cannot say what it uses, nothing is deleted: a
//! clean-up that guesses is worse than none. Then each repository is listed and decided
//! (`engine::gc`), shown as a table (and JSON), and with `--delete` the deletable images go,
//! indexes before the manifests they name (ECR refuses to delete a child of a live index).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use super::wiring::Adapters;
use super::{Cli, GcArgs};
use crate::engine::gc::{self, Decision, Rules};
use crate::engine::images::repository_spec;
use crate::engine::plan;
use crate::engine::ports::{Repositories, RepositorySpec};
use crate::error::{Diagnostic, Error, ErrorKind, ExitCode, Result};
use crate::output::Printer;
use crate::output::result::{GcAction, GcImage, GcRepository, RunResult, RunStatus};
use crate::pipeline::{self, Pipeline};

pub async fn run(
    cli: &Cli,
    printer: &Arc<Printer>,
    args: &GcArgs,
) -> Result<(Option<RunResult>, ExitCode)> {
    let rules = rules(args)?;
    let (p, everywhere) = pipelines(cli)?;
    let selected = plan::select_images(&p, &args.images)?;
    let adapters = Adapters::new(cli);
    adapters.check_aws(&p, &selected, [])?;
    for q in &everywhere {
        adapters.check_aws(q, [], q.targets.keys())?;
    }
    let in_use = in_use(&adapters, &everywhere, args.keep_revisions, printer).await?;
    let mut doc = RunResult::new("gc", p.environment.clone());
    let mut seen: Vec<RepositorySpec> = Vec::new();
    let mut out = String::new();
    for name in &selected {
        let spec = repository_spec(&p.images[name]);
        if seen
            .iter()
            .any(|s| s.name == spec.name && s.aws == spec.aws)
        {
            continue;
        }
        seen.push(spec.clone());
        let repo = repository(
            &adapters,
            name,
            &spec,
            &in_use,
            &rules,
            args.delete,
            printer,
        )
        .await?;
        out.push_str(&table(&repo, printer));
        doc.gc.push(repo);
    }
    for r in &mut doc.gc {
        if let Some(img) = p.images.get(&r.image) {
            (r.account, r.region) = adapters.account_of(&img.aws).await;
        }
    }
    printer.human_result(&out);
    doc.status = RunStatus::Succeeded;
    Ok((Some(doc), ExitCode::Success))
}

fn rules(args: &GcArgs) -> Result<Rules> {
    let group_by = match &args.group_by {
        Some(g) => Some(Regex::new(g).map_err(|e| {
            Error::invalid(
                Diagnostic::new(format!("`--group-by {g}` is not a regular expression")).hint(
                    format!(
                        "{e}; for one group per branch of `BRANCH-SHA` tags: `^(.+)-[0-9a-f]{{7}}$`"
                    ),
                ),
            )
        })?),
        None => None,
    };
    let age = humantime::parse_duration(args.keep_younger_than.trim()).map_err(|_| {
        Error::invalid(
            Diagnostic::new(format!(
                "`--keep-younger-than {}` is not a duration",
                args.keep_younger_than
            ))
            .hint("write a number with a unit, like `7d`, `36h` or `0s` (keep none for their age)"),
        )
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(Rules {
        keep_newest: args.keep_newest,
        group_by,
        keep_younger_than: (!age.is_zero()).then_some(age),
        now,
    })
}

/// The pipeline as selected (`-e`), and the base file plus each of its environments: the
/// targets of all of them count as users of the images.
fn pipelines(cli: &Cli) -> Result<(Pipeline, Vec<Pipeline>)> {
    let source = pipeline::read(&cli.global.file)?;
    let ctx = super::wiring::context_for(&source);
    let envs = pipeline::validate_all(&source, &ctx)?;
    let selected = pipeline::load(&source, cli.global.env.as_deref(), &ctx)?;
    let mut all = vec![pipeline::load(&source, None, &ctx)?];
    for env in &envs {
        all.push(pipeline::load(&source, Some(env), &ctx)?);
    }
    Ok((selected, all))
}

/// Every image reference a target of any of the pipelines depends on, with who holds it.
async fn in_use(
    adapters: &Adapters,
    pipelines: &[Pipeline],
    history: usize,
    printer: &Printer,
) -> Result<Vec<(String, String)>> {
    let mut refs = Vec::new();
    let mut failures = Vec::new();
    let mut asked: Vec<String> = Vec::new();
    for p in pipelines {
        let env = p
            .environment
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        for t in p.targets.values() {
            // The same target in several environments (nothing overridden) is asked once.
            let key = format!("{:?}{:?}", t.aws, target_identity(t));
            if asked.contains(&key) {
                continue;
            }
            asked.push(key);
            match adapters.deployers.in_use(t, history).await {
                Ok(found) => refs.extend(
                    found
                        .into_iter()
                        .map(|u| (u.reference, format!("{}{env}: {}", t.name, u.by))),
                ),
                Err(e) if e.kind() == ErrorKind::NotFound => printer.warn(format!(
                    "target `{}`{env} does not exist yet: nothing of it to keep ({})",
                    t.name,
                    e.one_line()
                )),
                Err(e) => failures.push(format!("`{}`{env}: {}", t.name, e.one_line())),
            }
        }
    }
    if !failures.is_empty() {
        return Err(Error::failed(
            "cannot tell which images are deployed, so nothing was deleted",
        )
        .with_causes(failures)
        .with_hint(
            "every target must be readable (see docs/iam.md for what gc reads); run again when it is",
        ));
    }
    Ok(refs)
}

/// What distinguishes one target's resources from another's of the same kind.
fn target_identity(t: &crate::pipeline::model::Target) -> String {
    use crate::pipeline::model::TargetKind;
    match &t.kind {
        TargetKind::Ecs(e) => format!("ecs {} {}", e.cluster, e.service),
        TargetKind::CloudFormation(c) => format!("cfn {}", c.stack),
        TargetKind::Eks(k) => format!("eks {:?} {:?}", k.connection, k.workload),
    }
}

async fn repository(
    adapters: &Adapters,
    image: &str,
    spec: &RepositorySpec,
    refs: &[(String, String)],
    rules: &Rules,
    delete: bool,
    printer: &Printer,
) -> Result<GcRepository> {
    let ecr = &adapters.ecr;
    let mut repo = GcRepository {
        image: image.to_string(),
        repository: spec.name.clone(),
        account: None,
        region: None,
        images: Vec::new(),
        deletable: 0,
        deletable_bytes: 0,
        deleted: 0,
        bytes_freed: 0,
    };
    let (Some(info), Some(images)) = (ecr.lookup(spec).await?, ecr.images(spec).await?) else {
        printer.warn(format!(
            "repository `{}` does not exist: nothing to clean up",
            spec.name
        ));
        return Ok(repo);
    };
    let tags: BTreeMap<String, String> = images
        .iter()
        .flat_map(|i| i.tags.iter().map(|t| (t.clone(), i.digest.clone())))
        .collect();
    let mut in_use: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (reference, by) in refs {
        if let Some(d) = gc::referenced_digest(reference, &info.uri, &tags) {
            let holders = in_use.entry(d).or_default();
            if !holders.contains(by) {
                holders.push(by.clone());
            }
        }
    }
    let decisions = gc::decide(&images, &in_use, rules);
    let doomed: Vec<&Decision> = decisions.iter().filter(|d| d.keep.is_none()).collect();
    repo.deletable = doomed.len();
    repo.deletable_bytes = doomed.iter().filter_map(|d| d.image.size).sum();
    let mut deleted = Vec::new();
    if delete && !doomed.is_empty() {
        // Indexes first: ECR refuses to delete a manifest a remaining index names.
        let (parents, rest): (Vec<&&Decision>, Vec<&&Decision>) =
            doomed.iter().partition(|d| !d.image.children.is_empty());
        for batch in [parents, rest] {
            let digests: Vec<String> = batch.iter().map(|d| d.image.digest.clone()).collect();
            if !digests.is_empty() {
                deleted.extend(ecr.delete(spec, &digests).await?);
            }
        }
        repo.deleted = deleted.len();
        repo.bytes_freed = doomed
            .iter()
            .filter(|d| deleted.contains(&d.image.digest))
            .filter_map(|d| d.image.size)
            .sum();
    }
    repo.images = decisions
        .into_iter()
        .map(|d| GcImage {
            action: match (&d.keep, deleted.contains(&d.image.digest)) {
                (Some(_), _) => GcAction::Keep,
                (None, true) => GcAction::Deleted,
                (None, false) => GcAction::Delete,
            },
            pushed_at: d.image.pushed_at.map(|s| {
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + Duration::from_secs(s.max(0) as u64),
                )
                .to_string()
            }),
            digest: d.image.digest,
            tags: d.image.tags,
            size: d.image.size,
            keep: d.keep,
        })
        .collect();
    Ok(repo)
}

/// The human table of one repository.
fn table(r: &GcRepository, printer: &Printer) -> String {
    let mut out = format!(
        "{}: {} image(s), {} deletable ({})",
        printer.bold(&r.repository),
        r.images.len(),
        r.deletable,
        bytes(r.deletable_bytes)
    );
    if r.deleted > 0 {
        out.push_str(&format!(
            ", {} deleted ({} freed)",
            r.deleted,
            bytes(r.bytes_freed)
        ));
    }
    out.push('\n');
    for i in &r.images {
        let tags = if i.tags.is_empty() {
            "-".to_string()
        } else {
            i.tags.join(",")
        };
        let what = match (&i.action, &i.keep) {
            (GcAction::Keep, Some(k)) => format!("keep: {}", k.describe()),
            (GcAction::Deleted, _) => printer.red("deleted"),
            _ => printer.yellow("deletable"),
        };
        out.push_str(&format!(
            "  {}  {:<24} {:>20}  {:>9}  {what}\n",
            gc::short(&i.digest),
            tags,
            i.pushed_at.as_deref().unwrap_or("-"),
            i.size.map(bytes).unwrap_or_else(|| "-".into()),
        ));
    }
    out
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
