//! Change sets: what a deploy would change, worked out with CloudFormation itself.
//!
//! A stack already as the pipeline wants it (same template text, parameter values, tags
//! and role) needs no change set at all; otherwise a change set with a unique name and a
//! client token is created and waited for, and an empty one counts as "no change".

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement, Stack,
    StackStatus, Tag,
};

use super::status::{Phase, phase_of, status_of};
use super::{CloudFormation, INLINE_LIMIT, POLL, template_parameters};
use crate::aws::sdk_error;
use crate::engine::ports::DeployRequest;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::interpolate;
use crate::pipeline::model::CfnTarget;

/// One resource a change set would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceChange {
    pub action: Option<ChangeAction>,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Option<Replacement>,
}

/// What a deploy would do, worked out with read calls and a change set.
pub(super) struct Planned {
    pub config: SdkConfig,
    pub client: aws_sdk_cloudformation::Client,
    pub stack: Option<Stack>,
    pub change_set: Option<String>,
    pub changes: Vec<ResourceChange>,
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

/// Whether the message of an empty change set (two wordings exist).
pub(super) fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

pub(super) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{:x}-{:x}", std::process::id(), nanos)
}

impl CloudFormation {
    /// True when the stack already has this template text, these parameter values, tags and
    /// role, and nothing in the template could resolve differently with the same text.
    async fn up_to_date(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        stack: &Stack,
        template: &str,
        parameters: &[Parameter],
        req: &DeployRequest<'_, CfnTarget>,
    ) -> Result<bool> {
        if template.contains("{{resolve:")
            || template.contains("Transform")
            || template.contains("AWS::SSM::Parameter::Value")
            || phase_of(stack) != Phase::Complete
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
            if s.as_ref().is_none_or(|s| phase_of(s) != Phase::InProgress) {
                return Ok(s);
            }
            let status = s.as_ref().map(status_of).unwrap_or_default();
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

    pub(super) fn template(c: &CfnTarget) -> Result<String> {
        crate::source::read_text(&c.template).map_err(|e| {
            Error::from_chain(format!("cannot read template {}", c.template.display()), &e)
        })
    }

    /// Where CloudFormation gets a template from: inline, or — over the inline limit — an
    /// S3 object in the target's `s3_bucket`.
    pub(super) async fn template_source(
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
    pub(super) async fn change_set(
        &self,
        req: &DeployRequest<'_, CfnTarget>,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Planned> {
        let (t, c) = (req.on.target, req.on.spec);
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
        if stack.as_ref().and_then(|s| s.stack_status()) == Some(&StackStatus::RollbackComplete) {
            return Err(Error::failed(format!("stack `{}` is in ROLLBACK_COMPLETE: its creation failed, and such a stack cannot be updated", c.stack))
                .with_hint(format!("delete it (`aws cloudformation delete-stack --stack-name {}`), then deploy again to create it", c.stack)));
        }
        let create = stack.as_ref().is_none_or(|s| phase_of(s) == Phase::Review);
        let parameters = Self::parameters(req, &declared, stack.as_ref(), create)?;
        if !create
            && let Some(s) = &stack
            && Self::up_to_date(&client, c, s, &template, &parameters, req).await?
        {
            return Ok(Planned::nothing(&config, client, stack));
        }
        let Some((id, name)) =
            Self::create_change_set(&config, &client, req, &template, parameters, create, ctx)
                .await?
        else {
            return Ok(Planned::nothing(&config, client, stack));
        };
        let changes = Self::wait_change_set(&client, c, &id, &name, deadline).await?;
        Ok(Planned {
            config,
            client,
            stack,
            change_set: changes.as_ref().map(|_| id),
            changes: changes.unwrap_or_default(),
        })
    }

    /// The parameters to send: the pipeline's, rendered, and the template's others kept at
    /// their previous values (or their defaults); a parameter with neither is an error.
    fn parameters(
        req: &DeployRequest<'_, CfnTarget>,
        declared: &BTreeMap<String, bool>,
        stack: Option<&Stack>,
        create: bool,
    ) -> Result<Vec<Parameter>> {
        let c = req.on.spec;
        let previous: HashSet<String> = stack
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
        for (k, has_default) in declared {
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
        Ok(parameters)
    }

    /// Sends CreateChangeSet; the change set's id, or None when CloudFormation says at once
    /// that nothing would change.
    async fn create_change_set(
        config: &SdkConfig,
        client: &aws_sdk_cloudformation::Client,
        req: &DeployRequest<'_, CfnTarget>,
        template: &str,
        parameters: Vec<Parameter>,
        create: bool,
        ctx: &StepCtx,
    ) -> Result<Option<(String, String)>> {
        let c = req.on.spec;
        let name = unique("berth");
        let (body, url) = Self::template_source(config, c, template).await?;
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
                    return Ok(None);
                }
                return Err(sdk_error(
                    format!("creating a change set for stack `{}`", c.stack),
                    e,
                ));
            }
        };
        Ok(Some((created.id().unwrap_or(&name).to_string(), name)))
    }

    /// Waits for a change set to be ready; what it would change (None: nothing, and the
    /// change set is gone).
    async fn wait_change_set(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        id: &str,
        name: &str,
        deadline: Instant,
    ) -> Result<Option<Vec<ResourceChange>>> {
        loop {
            let d = client
                .describe_change_set()
                .change_set_name(id)
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
                        .map(|rc| ResourceChange {
                            action: rc.action().cloned(),
                            logical_id: rc.logical_resource_id().unwrap_or("").to_string(),
                            resource_type: rc.resource_type().unwrap_or("").to_string(),
                            replacement: rc.replacement().cloned(),
                        })
                        .collect();
                    return Ok(Some(changes));
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = d.status_reason().unwrap_or("").to_string();
                    let _ = client
                        .delete_change_set()
                        .change_set_name(id)
                        .stack_name(&c.stack)
                        .send()
                        .await;
                    if is_no_change(&reason) {
                        return Ok(None);
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

    pub(super) fn describe_changes(changes: &[ResourceChange]) -> Vec<String> {
        changes
            .iter()
            .map(|ch| {
                let (id, rtype) = (&ch.logical_id, &ch.resource_type);
                let action = ch.action.as_ref().map(|a| a.as_str()).unwrap_or("");
                match (&ch.action, &ch.replacement) {
                    (Some(ChangeAction::Modify), Some(Replacement::True)) => format!(
                        "REPLACE {id} ({rtype}) — the resource is replaced, not updated in place"
                    ),
                    (Some(ChangeAction::Modify), Some(Replacement::Conditional)) => {
                        format!("Modify {id} ({rtype}) — may require replacement")
                    }
                    _ => format!("{action} {id} ({rtype})"),
                }
            })
            .collect()
    }
}
