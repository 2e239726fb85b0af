//! The CloudFormation adapter: deploys through change sets, tells the truth about the outcome.
//!
//! Flow: look at the stack (missing or REVIEW_IN_PROGRESS → a CREATE change set, else
//! UPDATE; ROLLBACK_COMPLETE → a clear error; another operation in progress → wait for it,
//! never interleave), create a change set with a unique name and a client token, wait for it,
//! treat an empty one as `unchanged` (and delete it), show the changes (replacements stand
//! out), execute it with a ClientRequestToken, and follow the stack events of *that*
//! operation only. On failure the first failed event — the root cause, not the cascade of
//! "Resource creation cancelled" — is reported; a rollback is `rolled_back` (exit 3).
//!
//! The template is sent every time (never UsePreviousTemplate); parameters the template has
//! but the pipeline does not set keep their previous values (UsePreviousValue).
//!
//! Before any change set, a stack whose template text, parameter values, tags and role are
//! exactly what berth would send is `unchanged` with read calls only (DescribeStacks,
//! GetTemplate), so a re-run writes nothing. Templates whose result can change with the same
//! text (a `Transform`, `{{resolve:…}}` dynamic references, SSM parameter types) and NoEcho
//! parameters always go through a change set.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, Stack, Tag,
};

use crate::aws::{AwsConfigs, sdk_error};
use crate::engine::executor::Outcome;
use crate::engine::ports::{DeployRequest, Deployed, Deployer, TargetState};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::interpolate;
use crate::pipeline::model::{CfnTarget, Target, TargetKind};

/// CloudFormation's limit for a template sent inline.
pub const INLINE_LIMIT: usize = 51_200;
const POLL: Duration = Duration::from_secs(2);

pub struct CloudFormation {
    configs: Arc<AwsConfigs>,
}

fn cfn_of(t: &Target) -> Result<&CfnTarget> {
    match &t.kind {
        TargetKind::CloudFormation(c) => Ok(c),
        _ => Err(Error::failed(format!(
            "internal error: target `{}` is not a CloudFormation target",
            t.name
        ))),
    }
}

/// The parameters a template declares: name -> has a default.
pub fn template_parameters(text: &str) -> std::result::Result<BTreeMap<String, bool>, String> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    Ok(doc
        .get("Parameters")
        .and_then(|p| p.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.get("Default").is_some()))
                .collect()
        })
        .unwrap_or_default())
}

fn status_of(s: &Stack) -> String {
    s.stack_status()
        .map(|x| x.as_str().to_string())
        .unwrap_or_default()
}

fn parameter_summary(s: &Stack) -> String {
    let mut ps: Vec<String> = s
        .parameters()
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p.parameter_key().unwrap_or(""),
                p.parameter_value().unwrap_or("")
            )
        })
        .collect();
    ps.sort();
    ps.join(", ")
}

fn outputs_of(s: &Stack) -> BTreeMap<String, String> {
    s.outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_string(),
                o.output_value().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

/// Whether the message of an empty change set (two wordings exist).
fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{:x}-{:x}", std::process::id(), nanos)
}

struct Planned {
    config: SdkConfig,
    client: aws_sdk_cloudformation::Client,
    stack: Option<Stack>,
    change_set: Option<String>,
    /// (action, logical id, type, replacement)
    changes: Vec<(String, String, String, String)>,
}

impl Planned {
    /// Nothing to change: no change set.
    fn nothing(
        config: &SdkConfig,
        client: aws_sdk_cloudformation::Client,
        stack: Option<Stack>,
    ) -> Self {
        Planned {
            config: config.clone(),
            client,
            stack,
            change_set: None,
            changes: vec![],
        }
    }
}

impl CloudFormation {
    pub fn new(configs: Arc<AwsConfigs>) -> Self {
        CloudFormation { configs }
    }

    async fn config(&self, t: &Target) -> Result<SdkConfig> {
        self.configs
            .get(t.region.as_deref(), t.profile.as_deref())
            .await
    }

    async fn stack(client: &aws_sdk_cloudformation::Client, name: &str) -> Result<Option<Stack>> {
        match client.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks().first().cloned()),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| aws_sdk_cloudformation::error::ProvideErrorMetadata::message(s))
                    .is_some_and(|m| m.contains("does not exist")) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(format!("looking up stack `{name}`"), e)),
        }
    }

    /// True when the stack already has this template text, these parameter values, tags and
    /// role, and nothing in the template could resolve differently with the same text.
    async fn up_to_date(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        stack: &Stack,
        template: &str,
        parameters: &[Parameter],
        req: &DeployRequest,
    ) -> Result<bool> {
        if template.contains("{{resolve:")
            || template.contains("Transform")
            || template.contains("AWS::SSM::Parameter::Value")
            || !status_of(stack).ends_with("_COMPLETE")
            || status_of(stack).contains("ROLLBACK")
        {
            return Ok(false);
        }
        let current: BTreeMap<&str, &str> = stack
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?, p.parameter_value().unwrap_or(""))))
            .collect();
        if current
            .values()
            .any(|v| v.chars().all(|c| c == '*') && !v.is_empty())
        {
            return Ok(false); // NoEcho: the value cannot be compared
        }
        for p in parameters {
            let Some(k) = p.parameter_key() else {
                return Ok(false);
            };
            if p.use_previous_value() == Some(true) {
                continue;
            }
            if current.get(k).copied() != p.parameter_value() {
                return Ok(false);
            }
        }
        let mut want_tags = BTreeMap::new();
        for (k, v) in &c.tags {
            match interpolate::render(v, &req.values) {
                Ok(v) => want_tags.insert(k.as_str(), v),
                Err(_) => return Ok(false),
            };
        }
        let have_tags: BTreeMap<&str, String> = stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?.to_string())))
            .collect();
        if want_tags != have_tags || c.role_arn.as_deref() != stack.role_arn() {
            return Ok(false);
        }
        let tpl = client
            .get_template()
            .stack_name(&c.stack)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading the template of stack `{}`", c.stack), e))?;
        Ok(tpl.template_body() == Some(template))
    }

    /// Waits while another operation runs on the stack, so berth never interleaves with it.
    async fn settled(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Option<Stack>> {
        loop {
            let s = Self::stack(client, &c.stack).await?;
            let status = s.as_ref().map(status_of).unwrap_or_default();
            if !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                return Err(Error::failed(format!(
                    "stack `{}` stayed {status}: another operation is still running",
                    c.stack
                ))
                .with_hint("wait for it to finish (or cancel it), then deploy again"));
            }
            ctx.progress(format!(
                "waiting for the operation in progress on {} ({status})",
                c.stack
            ));
            tokio::time::sleep(POLL).await;
        }
    }

    fn template(c: &CfnTarget) -> Result<String> {
        std::fs::read_to_string(&c.template).map_err(|e| {
            Error::from_chain(format!("cannot read template {}", c.template.display()), &e)
        })
    }

    /// Where CloudFormation gets a template from: inline, or — over the inline limit — an
    /// S3 object in the target's `s3_bucket`.
    async fn template_source(
        config: &SdkConfig,
        c: &CfnTarget,
        text: &str,
    ) -> Result<(Option<String>, Option<String>)> {
        if text.len() <= INLINE_LIMIT {
            return Ok((Some(text.to_string()), None));
        }
        let Some(bucket) = &c.s3_bucket else {
            return Err(Error::failed(format!("the template for stack `{}` is {} bytes, over CloudFormation's inline limit of {INLINE_LIMIT}", c.stack, text.len()))
                .with_hint("name an S3 bucket for templates with `s3_bucket:` in the target"));
        };
        let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())[..8]);
        let key = format!("berth/{}/{digest}.template", c.stack);
        let url = crate::aws::s3_put(config, bucket, &key, text.as_bytes().to_vec()).await?;
        Ok((None, Some(url)))
    }

    /// Creates the change set and waits for it; returns what it would change (empty = none).
    async fn change_set(
        &self,
        req: &DeployRequest,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Planned> {
        let t = &req.target;
        let c = cfn_of(t)?;
        let template = Self::template(c)?;
        let declared = template_parameters(&template).map_err(|e| {
            Error::failed(format!(
                "template {} cannot be read: {e}",
                c.template.display()
            ))
        })?;
        let config = self.config(t).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let stack = Self::settled(&client, c, ctx, deadline).await?;
        let status = stack.as_ref().map(status_of).unwrap_or_default();
        if status == "ROLLBACK_COMPLETE" {
            return Err(Error::failed(format!("stack `{}` is in ROLLBACK_COMPLETE: its creation failed, and such a stack cannot be updated", c.stack))
                .with_hint(format!("delete it (`aws cloudformation delete-stack --stack-name {}`), then deploy again to create it", c.stack)));
        }
        let create = stack.is_none() || status == "REVIEW_IN_PROGRESS";
        let previous: HashSet<String> = stack
            .as_ref()
            .map(|s| {
                s.parameters()
                    .iter()
                    .filter_map(|p| p.parameter_key().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut parameters = Vec::new();
        for (k, v) in &c.parameters {
            let value = interpolate::render(v, &req.values)
                .map_err(|u| Error::failed(format!("parameter `{k}`: `{}` has no value", u.0)))?;
            parameters.push(
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(value)
                    .build(),
            );
        }
        let mut missing = Vec::new();
        for (k, has_default) in &declared {
            if c.parameters.contains_key(k) {
                continue;
            }
            if !create && previous.contains(k) {
                parameters.push(
                    Parameter::builder()
                        .parameter_key(k)
                        .use_previous_value(true)
                        .build(),
                );
            } else if !has_default {
                missing.push(k.clone());
            }
        }
        if !missing.is_empty() {
            return Err(Error::failed(format!(
                "stack `{}`: template parameter{} {} {} no value",
                c.stack,
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "has" } else { "have" }
            ))
            .with_hint(
                "set it under the target's `parameters`, or give it a Default in the template",
            ));
        }
        if !create
            && let Some(s) = &stack
            && Self::up_to_date(&client, c, s, &template, &parameters, req).await?
        {
            return Ok(Planned::nothing(&config, client, stack));
        }
        let name = unique("berth");
        let (body, url) = Self::template_source(&config, c, &template).await?;
        let mut req_cs = client
            .create_change_set()
            .stack_name(&c.stack)
            .change_set_name(&name)
            .change_set_type(if create {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            })
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(parameters))
            .set_capabilities(Some(
                c.capabilities
                    .iter()
                    .map(|x| Capability::from(x.as_str()))
                    .collect(),
            ))
            .client_token(&name)
            .description("created by berth")
            .set_notification_arns(
                (!c.notification_arns.is_empty()).then(|| c.notification_arns.clone()),
            );
        for (k, v) in &c.tags {
            let v = interpolate::render(v, &req.values)
                .map_err(|u| Error::failed(format!("tag `{k}`: `{}` has no value", u.0)))?;
            req_cs = req_cs.tags(Tag::builder().key(k).value(v).build());
        }
        if let Some(r) = &c.role_arn {
            req_cs = req_cs.role_arn(r);
        }
        ctx.progress(format!(
            "creating change set {name} ({})",
            if create { "create" } else { "update" }
        ));
        let created = match req_cs.send().await {
            Ok(o) => o,
            Err(e) => {
                let msg = e
                    .as_service_error()
                    .and_then(|s| aws_sdk_cloudformation::error::ProvideErrorMetadata::message(s))
                    .unwrap_or("")
                    .to_string();
                if is_no_change(&msg) {
                    return Ok(Planned::nothing(&config, client, stack));
                }
                return Err(sdk_error(
                    format!("creating a change set for stack `{}`", c.stack),
                    e,
                ));
            }
        };
        let id = created.id().unwrap_or(&name).to_string();
        loop {
            let d = client
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(&c.stack)
                .send()
                .await
                .map_err(|e| sdk_error(format!("reading change set {name}"), e))?;
            match d.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let changes = d
                        .changes()
                        .iter()
                        .filter_map(|ch| ch.resource_change())
                        .map(|rc| {
                            (
                                rc.action()
                                    .map(|a| a.as_str().to_string())
                                    .unwrap_or_default(),
                                rc.logical_resource_id().unwrap_or("").to_string(),
                                rc.resource_type().unwrap_or("").to_string(),
                                rc.replacement()
                                    .map(|r| r.as_str().to_string())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect();
                    return Ok(Planned {
                        config: config.clone(),
                        client,
                        stack,
                        change_set: Some(id),
                        changes,
                    });
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = d.status_reason().unwrap_or("").to_string();
                    let _ = client
                        .delete_change_set()
                        .change_set_name(&id)
                        .stack_name(&c.stack)
                        .send()
                        .await;
                    if is_no_change(&reason) {
                        return Ok(Planned {
                            config: config.clone(),
                            client,
                            stack,
                            change_set: None,
                            changes: vec![],
                        });
                    }
                    return Err(Error::failed(format!(
                        "CloudFormation could not make a change set for stack `{}`",
                        c.stack
                    ))
                    .with_causes(vec![reason]));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::failed(format!(
                    "change set {name} was not ready in time"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn describe_changes(changes: &[(String, String, String, String)]) -> Vec<String> {
        changes
            .iter()
            .map(
                |(action, id, rtype, replacement)| match (action.as_str(), replacement.as_str()) {
                    ("Modify", "True") => format!(
                        "REPLACE {id} ({rtype}) — the resource is replaced, not updated in place"
                    ),
                    ("Modify", "Conditional") => {
                        format!("Modify {id} ({rtype}) — may require replacement")
                    }
                    _ => format!("{action} {id} ({rtype})"),
                },
            )
            .collect()
    }

    /// Follows the operation with token `token` to its end; returns the final stack.
    async fn follow(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        token: &str,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<(Stack, Option<(String, String)>)> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut first_failure: Option<(String, String)> = None;
        let mut first_cancelled: Option<(String, String)> = None;
        loop {
            // Events come newest first, paged; ours share the token.
            let mut ours = Vec::new();
            let mut next: Option<String> = None;
            'pages: loop {
                let out = client
                    .describe_stack_events()
                    .stack_name(&c.stack)
                    .set_next_token(next.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(format!("reading the events of stack `{}`", c.stack), e)
                    })?;
                for ev in out.stack_events() {
                    let id = ev.event_id().unwrap_or_default().to_string();
                    if seen.contains(&id) {
                        break 'pages;
                    }
                    if ev.client_request_token() == Some(token) {
                        ours.push(ev.clone());
                    }
                }
                next = out.next_token().map(str::to_string);
                if next.is_none() {
                    break;
                }
            }
            ours.reverse();
            for ev in ours {
                seen.insert(ev.event_id().unwrap_or_default().to_string());
                let status = ev
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                let reason = ev.resource_status_reason().unwrap_or("");
                let logical = ev.logical_resource_id().unwrap_or("");
                ctx.log(format!(
                    "{logical} {status}{}",
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    }
                ));
                if status.ends_with("_FAILED") {
                    let entry = (
                        format!("{logical} ({})", ev.resource_type().unwrap_or("")),
                        reason.to_string(),
                    );
                    if reason.contains("cancelled") {
                        first_cancelled.get_or_insert(entry);
                    } else {
                        first_failure.get_or_insert(entry);
                    }
                }
            }
            let stack = Self::stack(client, &c.stack)
                .await?
                .ok_or_else(|| Error::failed(format!("stack `{}` disappeared", c.stack)))?;
            let status = status_of(&stack);
            if !status.ends_with("_IN_PROGRESS") {
                return Ok((stack, first_failure.or(first_cancelled)));
            }
            ctx.progress(format!("{}: {status}", c.stack));
            if Instant::now() >= deadline {
                return Err(Error::failed("timeout"));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The change set in which berth keeps the version before its last deploy.
pub const PREVIOUS: &str = "berth-previous";

impl CloudFormation {
    /// Records the version a deploy replaced as an unexecuted change set on the stack, so
    /// that `berth rollback` finds it from any machine. Executing any change set on the stack
    /// removes it (CloudFormation deletes a stack's change sets when one is executed).
    async fn record_previous(
        config: &SdkConfig,
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        template: &str,
        parameters: &[Parameter],
    ) -> Result<()> {
        if parameters
            .iter()
            .any(|p| p.parameter_value() == Some("****"))
        {
            return Err(Error::failed(
                "the stack has NoEcho parameters, whose values CloudFormation does not reveal",
            ));
        }
        let _ = client
            .delete_change_set()
            .stack_name(&c.stack)
            .change_set_name(PREVIOUS)
            .send()
            .await;
        let (body, url) = Self::template_source(config, c, template).await?;
        let params = parameters
            .iter()
            .map(|p| {
                Parameter::builder()
                    .set_parameter_key(p.parameter_key().map(str::to_string))
                    .set_parameter_value(p.parameter_value().map(str::to_string))
                    .build()
            })
            .collect();
        client
            .create_change_set()
            .stack_name(&c.stack)
            .change_set_name(PREVIOUS)
            .change_set_type(ChangeSetType::Update)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(params))
            .set_capabilities(Some(
                c.capabilities
                    .iter()
                    .map(|x| Capability::from(x.as_str()))
                    .collect(),
            ))
            .description(
                "berth: the version before berth's last deploy; `berth rollback` executes it",
            )
            .send()
            .await
            .map_err(|e| sdk_error("recording the previous version", e))?;
        Ok(())
    }
}

#[async_trait]
impl Deployer for CloudFormation {
    async fn plan(&self, req: &DeployRequest) -> Result<Vec<String>> {
        let c = cfn_of(&req.target)?;
        let ctx = StepCtx::new("plan", &req.target.name, Arc::new(Silent));
        let p = self
            .change_set(req, &ctx, Instant::now() + c.timeout)
            .await?;
        if let Some(id) = &p.change_set {
            // The plan leaves nothing behind.
            p.client
                .delete_change_set()
                .change_set_name(id)
                .stack_name(&c.stack)
                .send()
                .await
                .map_err(|e| sdk_error("deleting the plan's change set", e))?;
        }
        if p.change_set.is_none() || p.changes.is_empty() {
            return Ok(vec![format!("no change to stack {}", c.stack)]);
        }
        let verb = if p.stack.is_none() {
            "create"
        } else {
            "update"
        };
        let mut lines = vec![format!("{verb} stack {} with a change set:", c.stack)];
        lines.extend(
            Self::describe_changes(&p.changes)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        Ok(lines)
    }

    async fn deploy(&self, req: &DeployRequest, ctx: &StepCtx) -> Result<Deployed> {
        let t = &req.target;
        let c = cfn_of(t)?;
        let deadline = Instant::now() + c.timeout;
        let p = self.change_set(req, ctx, deadline).await?;
        let before = p
            .stack
            .as_ref()
            .map(parameter_summary)
            .filter(|s| !s.is_empty());
        let Some(change_set) = p
            .change_set
            .clone()
            .filter(|_| !p.changes.is_empty() || p.stack.is_none())
        else {
            if let Some(id) = &p.change_set {
                let _ = p
                    .client
                    .delete_change_set()
                    .change_set_name(id)
                    .stack_name(&c.stack)
                    .send()
                    .await;
            }
            ctx.progress(format!("stack {} is up to date", c.stack));
            let outputs = p.stack.as_ref().map(outputs_of).unwrap_or_default();
            return Ok(Deployed {
                outcome: Outcome::Unchanged,
                before: before.clone(),
                after: before,
                outputs,
            });
        };
        for line in Self::describe_changes(&p.changes) {
            ctx.log(line);
        }
        // What runs now, kept so that `berth rollback` can put it back (see `record_previous`).
        let previous = match &p.stack {
            Some(stack) if status_of(stack) != "REVIEW_IN_PROGRESS" => {
                let tpl = p
                    .client
                    .get_template()
                    .stack_name(&c.stack)
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(format!("reading the template of stack `{}`", c.stack), e)
                    })?;
                tpl.template_body()
                    .map(|b| (b.to_string(), stack.parameters().to_vec()))
            }
            _ => None,
        };
        let token = unique("berth-exec");
        ctx.progress(format!("executing the change set on {}", c.stack));
        p.client
            .execute_change_set()
            .change_set_name(&change_set)
            .stack_name(&c.stack)
            .client_request_token(&token)
            .send()
            .await
            .map_err(|e| {
                sdk_error(
                    format!("executing the change set on stack `{}`", c.stack),
                    e,
                )
            })?;
        let (stack, root_cause) = match Self::follow(&p.client, c, &token, ctx, deadline).await {
            Ok(r) => r,
            Err(_) => {
                return Ok(Deployed {
                    outcome: Outcome::TimedOut(format!(
                        "stack {} was still changing after {}; it may still complete",
                        c.stack,
                        humantime::format_duration(c.timeout)
                    )),
                    before,
                    after: None,
                    outputs: BTreeMap::new(),
                });
            }
        };
        let status = status_of(&stack);
        let cause = root_cause.map(|(res, why)| format!("{res}: {why}"));
        if status.contains("ROLLBACK") && status.ends_with("_COMPLETE") {
            let why = cause.unwrap_or_else(|| "no failed event was recorded".into());
            return Ok(Deployed {
                outcome: Outcome::RolledBack(format!(
                    "stack {} rolled back ({status}); first failure: {why}",
                    c.stack
                )),
                before: before.clone(),
                after: Some(parameter_summary(&stack)),
                outputs: outputs_of(&stack),
            });
        }
        if !status.ends_with("_COMPLETE") {
            let mut e = Error::failed(format!("stack `{}` ended in {status}", c.stack));
            if let Some(why) = cause {
                e = e.with_causes(vec![format!("first failure: {why}")]);
            }
            if status == "UPDATE_ROLLBACK_FAILED" {
                e = e.with_hint("the rollback itself failed: fix the resource, then `aws cloudformation continue-update-rollback`");
            }
            return Err(e);
        }
        if let Some(want) = c.termination_protection
            && stack.enable_termination_protection() != Some(want)
        {
            p.client
                .update_termination_protection()
                .stack_name(&c.stack)
                .enable_termination_protection(want)
                .send()
                .await
                .map_err(|e| sdk_error("setting termination protection", e))?;
        }
        let outputs = outputs_of(&stack);
        for (k, v) in &outputs {
            ctx.log(format!("output {k} = {v}"));
        }
        if let Some((template, parameters)) = previous
            && let Err(e) =
                Self::record_previous(&p.config, &p.client, c, &template, &parameters).await
        {
            ctx.warn(format!(
                "the previous version of stack {} could not be recorded for `berth rollback`: {e}",
                c.stack
            ));
        }
        Ok(Deployed {
            outcome: Outcome::Done,
            before,
            after: Some(parameter_summary(&stack)),
            outputs,
        })
    }

    async fn rollback(&self, t: &Target, ctx: &StepCtx) -> Result<Deployed> {
        let c = cfn_of(t)?;
        let config = self.config(t).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let stack = Self::stack(&client, &c.stack)
            .await?
            .ok_or_else(|| Error::failed(format!("stack `{}` does not exist", c.stack)))?;
        let status = status_of(&stack);
        let token = unique("berth-rollback");
        let recorded = client
            .describe_change_set()
            .stack_name(&c.stack)
            .change_set_name(PREVIOUS)
            .send()
            .await
            .ok();
        if let Some(d) = recorded.filter(|d| d.status() == Some(&ChangeSetStatus::CreateComplete)) {
            ctx.progress(format!(
                "putting stack {} back to the version before berth's last deploy",
                c.stack
            ));
            let before = parameter_summary(&stack);
            client
                .execute_change_set()
                .stack_name(&c.stack)
                .change_set_name(d.change_set_id().unwrap_or(PREVIOUS))
                .client_request_token(&token)
                .send()
                .await
                .map_err(|e| {
                    sdk_error(
                        format!(
                            "executing the recorded previous version of stack `{}`",
                            c.stack
                        ),
                        e,
                    )
                })?;
            let (stack, cause) =
                Self::follow(&client, c, &token, ctx, Instant::now() + c.timeout).await?;
            let now = status_of(&stack);
            if !now.ends_with("_COMPLETE") || now.contains("ROLLBACK") {
                return Err(Error::failed(format!(
                    "putting stack `{}` back failed: it ended in {now}",
                    c.stack
                ))
                .with_causes(
                    cause
                        .map(|(r, w)| vec![format!("first failure: {r}: {w}")])
                        .unwrap_or_default(),
                ));
            }
            return Ok(Deployed {
                outcome: Outcome::Done,
                before: Some(before),
                after: Some(parameter_summary(&stack)),
                outputs: outputs_of(&stack),
            });
        }
        match status.as_str() {
            "UPDATE_IN_PROGRESS" => {
                client
                    .cancel_update_stack()
                    .stack_name(&c.stack)
                    .client_request_token(&token)
                    .send()
                    .await
                    .map_err(|e| sdk_error("cancelling the update", e))?;
            }
            "UPDATE_ROLLBACK_FAILED" => {
                client
                    .continue_update_rollback()
                    .stack_name(&c.stack)
                    .client_request_token(&token)
                    .send()
                    .await
                    .map_err(|e| sdk_error("continuing the rollback", e))?;
            }
            other => {
                return Err(Error::failed(format!("stack `{}` is {other}, and berth recorded no previous version of it", c.stack))
                    .with_hint(format!("berth records the version before each deploy as the change set `{PREVIOUS}`; executing any change set on the stack removes it")));
            }
        }
        let (stack, _) = Self::follow(&client, c, &token, ctx, Instant::now() + c.timeout).await?;
        Ok(Deployed {
            outcome: Outcome::Done,
            before: Some(status),
            after: Some(status_of(&stack)),
            outputs: outputs_of(&stack),
        })
    }

    async fn outputs(&self, t: &Target) -> Result<BTreeMap<String, String>> {
        let c = cfn_of(t)?;
        let config = self.config(t).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        Ok(Self::stack(&client, &c.stack)
            .await?
            .as_ref()
            .map(outputs_of)
            .unwrap_or_default())
    }

    async fn status(&self, t: &Target) -> Result<TargetState> {
        let c = cfn_of(t)?;
        let config = self.config(t).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let stack = Self::stack(&client, &c.stack)
            .await?
            .ok_or_else(|| Error::failed(format!("stack `{}` does not exist", c.stack)))?;
        let outputs = outputs_of(&stack)
            .into_iter()
            .map(|(k, v)| format!("output {k} = {v}"))
            .collect();
        Ok(TargetState {
            revision: Some(parameter_summary(&stack)),
            images: vec![],
            rollout: status_of(&stack),
            detail: outputs,
        })
    }
}

struct Silent;
impl crate::engine::step::EventSink for Silent {
    fn emit(&self, _: crate::engine::events::Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parameters_load_with_short_form_tags() {
        let t = "Parameters:\n  ImageUri: {Type: String}\n  Count: {Type: Number, Default: 1}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Value: !Ref ImageUri, Name: !Sub \"/x/${AWS::StackName}\", Arn: !GetAtt P.Arn}\n";
        let p = template_parameters(t).unwrap();
        assert_eq!(
            p,
            BTreeMap::from([("Count".to_string(), true), ("ImageUri".to_string(), false)])
        );
    }

    #[test]
    fn empty_change_sets_are_recognised_in_both_wordings() {
        assert!(is_no_change(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_no_change("No updates are to be performed."));
        assert!(!is_no_change("Template format error"));
    }

    #[test]
    fn replacements_stand_out() {
        let lines = CloudFormation::describe_changes(&[
            (
                "Modify".into(),
                "Log".into(),
                "AWS::Logs::LogGroup".into(),
                "True".into(),
            ),
            (
                "Add".into(),
                "Q".into(),
                "AWS::SQS::Queue".into(),
                String::new(),
            ),
        ]);
        assert!(lines[0].starts_with("REPLACE Log"));
        assert_eq!(lines[1], "Add Q (AWS::SQS::Queue)");
    }
}
