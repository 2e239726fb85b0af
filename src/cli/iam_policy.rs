//! `berth iam-policy`: the least-privilege policy of a pipeline, one document per access
//! (the base credentials of a profile, or a role berth assumes), with the account and
//! region filled in from the role's ARN or the credentials where `iam-policy` runs (STS
//! GetCallerIdentity, which needs no permission), and the RBAC Roles of EKS targets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::wiring::{Adapters, uses_aws};
use super::{Cli, IamPolicyArgs};
use crate::engine::plan;
use crate::error::{ExitCode, Result};
use crate::iam::{self, Policy, Scope, Statement};
use crate::output::Printer;
use crate::output::result::{PolicyResult, RbacResult, RunResult, RunStatus};
use crate::pipeline::model::{AwsAccess, Replicate, TargetKind};

/// The statements of one access, and what they are for.
#[derive(Default)]
struct Group {
    statements: Vec<Statement>,
    images: Vec<String>,
    targets: Vec<String>,
}

pub async fn run(
    cli: &Cli,
    printer: &Arc<Printer>,
    args: &IamPolicyArgs,
) -> Result<(Option<RunResult>, ExitCode)> {
    let p = super::wiring::load(cli)?;
    let targets = plan::select_targets(&p, &args.targets)?;
    let images: Vec<String> = if args.targets.is_empty() {
        p.images.keys().cloned().collect()
    } else {
        p.images
            .keys()
            .filter(|i| targets.iter().any(|t| p.targets[t].images.contains(i)))
            .cloned()
            .collect()
    };
    let adapters = Adapters::new(cli);
    let mut groups: BTreeMap<AwsAccess, Group> = BTreeMap::new();
    let mut scopes: BTreeMap<AwsAccess, Scope> = BTreeMap::new();
    for name in &images {
        let img = &p.images[name];
        let access = adapters.configs.effective(&img.aws);
        let scope = scope_of(&adapters, &access, &mut scopes).await;
        let g = groups.entry(access).or_default();
        g.statements.extend(iam::image(img, &scope, args.gc));
        g.images.push(name.clone());
    }
    let mut rbac = Vec::new();
    for name in &targets {
        let t = &p.targets[name];
        if let TargetKind::Eks(k) = &t.kind {
            for role in iam::rbac(k) {
                rbac.push(rbac_result(name, role));
            }
        }
        if !uses_aws(t) {
            continue;
        }
        let access = adapters.configs.effective(&t.aws);
        let scope = scope_of(&adapters, &access, &mut scopes).await;
        let g = groups.entry(access.clone()).or_default();
        g.statements.extend(iam::target(t, &scope, args.gc));
        for i in &t.images {
            let img = &p.images[i];
            if adapters.configs.effective(&img.aws) == access {
                continue;
            }
            match img.ecr.replicate {
                Some(Replicate::Ecr) => g.statements.push(iam::replica(img, &scope)),
                // berth pushes the copy into the target's registry itself.
                Some(Replicate::Push) => g.statements.extend(iam::image(img, &scope, false)),
                None => {}
            }
        }
        g.targets.push(name.clone());
    }
    // The credentials berth starts with assume the roles: their own policy allows it.
    let mut assumers: BTreeMap<AwsAccess, BTreeSet<String>> = BTreeMap::new();
    for access in groups.keys() {
        if let Some(role) = &access.role {
            let base = AwsAccess {
                role: None,
                ..access.clone()
            };
            assumers.entry(base).or_default().insert(role.arn.clone());
        }
    }
    for (base, roles) in assumers {
        scope_of(&adapters, &base, &mut scopes).await;
        groups
            .entry(base)
            .or_default()
            .statements
            .push(iam::assume(&roles));
    }
    let mut doc = RunResult::new("iam-policy", p.environment.clone());
    for (access, g) in groups {
        let scope = &scopes[&access];
        doc.policies.push(PolicyResult {
            role: access.role.as_ref().map(|r| r.arn.clone()),
            profile: access.profile.clone(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            for_images: g.images,
            for_targets: g.targets,
            policy: Policy::new(g.statements),
        });
    }
    doc.rbac = rbac;
    printer.human_result(&human(&doc));
    doc.status = RunStatus::Succeeded;
    Ok((Some(doc), ExitCode::Success))
}

/// The account and region of an access: the role's account, else who the credentials are;
/// `*` where neither is known.
async fn scope_of(
    adapters: &Adapters,
    access: &AwsAccess,
    scopes: &mut BTreeMap<AwsAccess, Scope>,
) -> Scope {
    if let Some(s) = scopes.get(access) {
        return s.clone();
    }
    let mut scope = Scope {
        partition: "aws".into(),
        account: access
            .role
            .as_ref()
            .map(|r| r.account().to_string())
            .unwrap_or_else(|| "*".into()),
        region: access.region.clone().unwrap_or_else(|| "*".into()),
    };
    if let Some(role) = &access.role {
        scope.partition = role.arn.split(':').nth(1).unwrap_or("aws").to_string();
    }
    if adapters.configs.get(access).await.is_ok()
        && let Some(id) = adapters.configs.identity(access).await
    {
        scope.account = id.account;
        scope.region = id.region;
        scope.partition = id.arn.split(':').nth(1).unwrap_or("aws").to_string();
    }
    scopes.insert(access.clone(), scope.clone());
    scope
}

fn rbac_result(target: &str, role: iam::RbacRole) -> RbacResult {
    RbacResult {
        target: target.to_string(),
        role: serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "berth-deployer", "namespace": role.namespace},
            "rules": role.rules,
        }),
    }
}

fn human(doc: &RunResult) -> String {
    let mut out = String::new();
    for p in &doc.policies {
        let whose = match (&p.role, &p.profile) {
            (Some(r), _) => format!("role {r}"),
            (None, Some(pr)) => format!("profile {pr}'s credentials"),
            (None, None) => "the credentials berth runs with".to_string(),
        };
        let mut what: Vec<String> = p.for_images.iter().map(|i| format!("image {i}")).collect();
        what.extend(p.for_targets.iter().map(|t| format!("target {t}")));
        if what.is_empty() {
            what.push("assuming the roles".into());
        }
        out.push_str(&format!(
            "# {whose} — account {}, region {} — for {}\n{}\n\n",
            p.account,
            p.region,
            what.join(", "),
            serde_json::to_string_pretty(&p.policy).unwrap_or_default()
        ));
    }
    for r in &doc.rbac {
        out.push_str(&format!(
            "# Kubernetes Role for target {} (bind it to the identity berth deploys as)\n{}\n\n",
            r.target,
            serde_json::to_string_pretty(&r.role).unwrap_or_default()
        ));
    }
    out
}
