//! Least privilege, generated: the IAM statements each image and target needs, from what
//! the adapters call (this list is kept next to them: a new call is a new action here), and
//! the Kubernetes RBAC rules of EKS targets.
//!
//! Statements are grouped so that each holds at least one action every run makes (a read
//! berth does before any change): removing any statement then breaks some run, which is how
//! the rig proves the policy minimal at statement level. Resources are scoped to the ARNs
//! berth knows from the pipeline; actions that IAM does not scope by resource
//! (`ecr:GetAuthorizationToken`, `ecs:RegisterTaskDefinition`, …) get `*`, as AWS requires.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::pipeline::model::{
    EcsTarget, EksConnection, EksTarget, EksWorkload, Image, Target, TargetKind,
};

/// Where ARNs point: the account and region of one access (`*` when unknown).
#[derive(Clone, Debug)]
pub struct Scope {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Scope {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

/// One IAM policy statement (always `Allow`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: BTreeSet<String>,
    pub resource: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

fn statement(
    sid: &str,
    actions: &[&str],
    resources: impl IntoIterator<Item = String>,
) -> Statement {
    Statement {
        sid: sid.to_string(),
        effect: "Allow",
        action: actions.iter().map(|a| a.to_string()).collect(),
        resource: resources.into_iter().collect(),
        condition: None,
    }
}

/// A policy document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl Policy {
    /// Statements with the same Sid merged (several images or targets of one kind).
    pub fn new(statements: Vec<Statement>) -> Policy {
        let mut out: Vec<Statement> = Vec::new();
        for s in statements {
            match out
                .iter_mut()
                .find(|o| o.sid == s.sid && o.action == s.action && o.condition == s.condition)
            {
                Some(o) => o.resource.extend(s.resource),
                None => out.push(s),
            }
        }
        // Sids are unique in a policy: one that differs in its actions gets a number.
        let mut seen: Vec<String> = Vec::new();
        for s in &mut out {
            let base = s.sid.clone();
            let mut n = 1;
            while seen.contains(&s.sid) {
                n += 1;
                s.sid = format!("{base}{n}");
            }
            seen.push(s.sid.clone());
        }
        Policy {
            version: "2012-10-17",
            statement: out,
        }
    }
}

/// What pushing (and resolving) an image needs in its repository's account.
pub fn image(img: &Image, scope: &Scope, gc: bool) -> Vec<Statement> {
    let repo = scope.arn("ecr", &format!("repository/{}", img.repository));
    let mut repo_actions = vec![
        "ecr:DescribeRepositories",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    ];
    let e = &img.ecr;
    if e.create {
        repo_actions.push("ecr:CreateRepository");
    }
    if !e.tags.is_empty() {
        repo_actions.extend(["ecr:ListTagsForResource", "ecr:TagResource"]);
    }
    if e.scan_on_push.is_some() {
        repo_actions.push("ecr:PutImageScanningConfiguration");
    }
    if e.immutable_tags.is_some() {
        repo_actions.push("ecr:PutImageTagMutability");
    }
    if e.lifecycle_policy.is_some() {
        repo_actions.extend(["ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy"]);
    }
    if e.repository_policy.is_some() {
        repo_actions.extend(["ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"]);
    }
    if e.scan_gate.is_some() {
        repo_actions.extend(["ecr:DescribeImageScanFindings", "ecr:StartImageScan"]);
    }
    if gc {
        repo_actions.push("ecr:BatchDeleteImage");
    }
    let mut out = vec![
        statement(
            "EcrLogin",
            &["ecr:GetAuthorizationToken"],
            ["*".to_string()],
        ),
        statement("EcrRepositories", &repo_actions, [repo]),
    ];
    if e.replicate.is_some() {
        out.push(statement(
            "EcrReplicationRules",
            &["ecr:DescribeRegistry"],
            ["*".to_string()],
        ));
    }
    out
}

/// What a target in another registry needs to find a replicated image's replica there.
pub fn replica(img: &Image, scope: &Scope) -> Statement {
    statement(
        "EcrReplicas",
        &["ecr:DescribeRepositories", "ecr:DescribeImages"],
        [scope.arn("ecr", &format!("repository/{}", img.repository))],
    )
}

/// What deploying a target needs in its account, and (EKS) nothing of Kubernetes: see
/// [`rbac`].
pub fn target(t: &Target, scope: &Scope, gc: bool) -> Vec<Statement> {
    match &t.kind {
        TargetKind::Ecs(e) => ecs(e, scope, gc),
        TargetKind::CloudFormation(c) => {
            let stack = scope.arn("cloudformation", &format!("stack/{}/*", c.stack));
            let mut actions = vec![
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:GetTemplate",
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:CancelUpdateStack",
                "cloudformation:ContinueUpdateRollback",
            ];
            if c.termination_protection.is_some() {
                actions.push("cloudformation:UpdateTerminationProtection");
            }
            let mut out = vec![statement("CloudFormationStacks", &actions, [stack])];
            if let Some(bucket) = &c.s3_bucket {
                out.push(statement(
                    "CloudFormationTemplates",
                    &["s3:PutObject"],
                    [format!("arn:{}:s3:::{bucket}/berth/*", scope.partition)],
                ));
            }
            if let Some(role) = &c.role_arn {
                let mut s = statement("PassStackRole", &["iam:PassRole"], [role.clone()]);
                s.condition = Some(serde_json::json!({
                    "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
                }));
                out.push(s);
            }
            out
        }
        TargetKind::Eks(k) => match &k.connection {
            EksConnection::Cluster(name) => vec![statement(
                "EksClusters",
                &["eks:DescribeCluster"],
                [scope.arn("eks", &format!("cluster/{name}"))],
            )],
            EksConnection::Context(_) => Vec::new(),
        },
    }
}

fn ecs(e: &EcsTarget, scope: &Scope, gc: bool) -> Vec<Statement> {
    let cluster = e.cluster.rsplit('/').next().unwrap_or(&e.cluster);
    let service = scope.arn("ecs", &format!("service/{cluster}/{}", e.service));
    let mut out = vec![
        statement(
            "EcsServices",
            &[
                "ecs:DescribeServices",
                "ecs:UpdateService",
                "ecs:ListTagsForResource",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:ListServiceDeployments",
                "ecs:DescribeServiceDeployments",
                "ecs:StopServiceDeployment",
            ],
            [
                service,
                scope.arn(
                    "ecs",
                    &format!("service-deployment/{cluster}/{}/*", e.service),
                ),
            ],
        ),
        // Task definitions and tasks: IAM scopes these by task definition family and
        // cluster at best; Describe/Register/List take no resource.
        statement(
            "EcsTaskDefinitions",
            &[
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "ecs:ListTasks",
                "ecs:DescribeTasks",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            ["*".to_string()],
        ),
        statement(
            "EcsTaskDefinitionTags",
            &["ecs:TagResource"],
            [scope.arn("ecs", "task-definition/*")],
        ),
        statement(
            "EcsLogs",
            &["logs:GetLogEvents"],
            [scope.arn("logs", "log-group:*")],
        ),
    ];
    if gc {
        out.push(statement(
            "EcsTaskDefinitionHistory",
            &["ecs:ListTaskDefinitions"],
            ["*".to_string()],
        ));
    }
    if e.run_before.is_some() {
        out.push(statement(
            "EcsRunBefore",
            &["ecs:RunTask"],
            [scope.arn("ecs", "task-definition/*")],
        ));
    }
    let mut pass = statement(
        "PassTaskRoles",
        &["iam:PassRole"],
        [format!(
            "arn:{}:iam::{}:role/*",
            scope.partition, scope.account
        )],
    );
    pass.condition = Some(serde_json::json!({
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }));
    out.push(pass);
    out
}

/// The statement that lets the base identity assume the pipeline's roles.
pub fn assume(roles: &BTreeSet<String>) -> Statement {
    statement(
        "AssumeBerthRoles",
        &["sts:AssumeRole"],
        roles.iter().cloned(),
    )
}

/// The Kubernetes rules an EKS target needs in its namespace(s), as a `Role` per namespace.
#[derive(Clone, Debug, Serialize)]
pub struct RbacRole {
    pub namespace: String,
    pub rules: Vec<RbacRule>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RbacRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> RbacRule {
    RbacRule {
        api_groups: vec![group.to_string()],
        resources: resources.iter().map(|r| r.to_string()).collect(),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
    }
}

pub fn rbac(k: &EksTarget) -> Vec<RbacRole> {
    let mut namespaces: BTreeSet<String> = BTreeSet::from([k.namespace.clone()]);
    let mut applied: BTreeSet<(String, String)> = BTreeSet::new();
    if let EksWorkload::Manifests { objects, .. } = &k.workload {
        for m in objects {
            if let Some(ns) = m.object["metadata"]["namespace"].as_str() {
                namespaces.insert(ns.to_string());
            }
            let group = m
                .api_version()
                .rsplit_once('/')
                .map(|(g, _)| g)
                .unwrap_or("");
            applied.insert((group.to_string(), plural(m.kind())));
        }
    }
    namespaces
        .into_iter()
        .map(|ns| {
            let mut rules = vec![
                rule("apps", &["deployments"], &["get", "list", "watch", "patch"]),
                rule("apps", &["replicasets"], &["get", "list", "watch"]),
                rule(
                    "",
                    &["pods", "pods/log", "events"],
                    &["get", "list", "watch"],
                ),
                rule(
                    "coordination.k8s.io",
                    &["leases"],
                    &["get", "create", "update", "delete"],
                ),
            ];
            for (group, resource) in &applied {
                rules.push(rule(group, &[resource], &["get", "create", "patch"]));
            }
            RbacRole {
                namespace: ns,
                rules,
            }
        })
        .collect()
}

/// The resource name of a kind (`Deployment` → `deployments`, `Ingress` → `ingresses`).
fn plural(kind: &str) -> String {
    let k = kind.to_lowercase();
    if k.ends_with('s') || k.ends_with('x') {
        format!("{k}es")
    } else if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_become_resource_names() {
        assert_eq!(plural("Deployment"), "deployments");
        assert_eq!(plural("Ingress"), "ingresses");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural("ConfigMap"), "configmaps");
    }

    #[test]
    fn same_statements_merge_their_resources() {
        let p = Policy::new(vec![
            statement("A", &["x:Y"], ["r1".to_string()]),
            statement("A", &["x:Y"], ["r2".to_string()]),
            statement("B", &["x:Z"], ["*".to_string()]),
        ]);
        assert_eq!(p.statement.len(), 2);
        assert_eq!(p.statement[0].resource.len(), 2);
    }
}
