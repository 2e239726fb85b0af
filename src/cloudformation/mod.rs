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

mod change_set;
mod execute;
mod follow;
mod in_use;
mod nested;
mod pending;
mod previous;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{ChangeSetStatus, Stack, StackStatus};

use crate::aws::{AwsConfigs, sdk_error};
use crate::engine::ports::{
    DeployRequest, Deployer, Diagnosis, InUse, On, Rollout, TargetState, Verdict,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::{CfnTarget, Target};
use change_set::unique;
use execute::Started;
use follow::Followed;
pub use previous::PREVIOUS;
use status::{Phase, outputs_of, parameter_summary, phase_of, status_of};

/// CloudFormation's limit for a template sent inline.
pub const INLINE_LIMIT: usize = 51_200;
const POLL: Duration = Duration::from_secs(2);

pub struct CloudFormation {
    configs: Arc<AwsConfigs>,
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

impl CloudFormation {
    pub fn new(configs: Arc<AwsConfigs>) -> Self {
        CloudFormation { configs }
    }

    async fn config(&self, t: &Target) -> Result<SdkConfig> {
        self.configs.get(&t.aws).await
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
}

#[async_trait]
impl Deployer<CfnTarget> for CloudFormation {
    async fn plan(&self, req: &DeployRequest<'_, CfnTarget>) -> Result<Vec<String>> {
        let c = req.on.spec;
        let ctx = StepCtx::new("plan", &req.on.target.name, Arc::new(Silent));
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
        let creates = p
            .stack
            .as_ref()
            .is_none_or(|s| phase_of(s) == Phase::Review);
        let verb = if creates { "create" } else { "update" };
        let mut lines = vec![format!("{verb} stack {} with a change set:", c.stack)];
        lines.extend(
            Self::describe_changes(&p.changes)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        Ok(lines)
    }

    async fn deploy(&self, req: &DeployRequest<'_, CfnTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let c = req.on.spec;
        let deadline = Instant::now() + c.timeout;
        let (p, previous, token) = match self.start(req, ctx, deadline).await? {
            Started::UpToDate(p) => {
                ctx.progress(format!("stack {} is up to date", c.stack));
                if let Some(stack) = &p.stack
                    && let Err(e) = Self::record_pending(&p.config, &p.client, c, stack).await
                {
                    ctx.warn(format!("the rollback point this machine kept for stack {} could not be recorded on it: {e}", c.stack));
                }
                let before = p.stack.as_ref().map(parameter_summary);
                let before = before.filter(|s| !s.is_empty());
                let mut r = Rollout::new(Verdict::Unchanged, before.clone(), before);
                r.outputs = p.stack.as_ref().map(outputs_of).unwrap_or_default();
                return Ok(r);
            }
            Started::Executing {
                planned,
                previous,
                token,
            } => (planned, previous, token),
        };
        let before = p
            .stack
            .as_ref()
            .map(parameter_summary)
            .filter(|s| !s.is_empty());
        let (stack, root_cause) = match Self::follow(&p.client, c, &token, ctx, deadline).await? {
            Followed::Ended(stack, cause) => (*stack, cause),
            Followed::StillChanging(status) => {
                return Ok(Rollout::new(
                    Verdict::TimedOut(format!(
                        "stack {} was still changing ({status}) after {}; it may still complete",
                        c.stack,
                        humantime::format_duration(c.timeout)
                    )),
                    before,
                    None,
                ));
            }
        };
        let status = status_of(&stack);
        // The root cause, from inside the nested stack that failed when one did; also the
        // diagnosis of the target.
        let mut diagnosis = Diagnosis::default();
        let cause = match root_cause {
            Some(rc) => {
                let (text, gaps) = nested::explain(&p.client, rc).await;
                diagnosis.events.push(format!("root cause: {text}"));
                diagnosis.gaps = gaps;
                Some(text)
            }
            None => None,
        };
        // The operation is over: its rollback point is recorded on the stack below, or moot.
        if let Some(id) = stack.stack_id() {
            pending::clear(id);
        }
        match phase_of(&stack) {
            Phase::Complete => {}
            Phase::RolledBack => {
                let why = cause.unwrap_or_else(|| "no failed event was recorded".into());
                let mut r = Rollout::new(
                    Verdict::RolledBack(format!(
                        "stack {} rolled back ({status}); first failure: {why}",
                        c.stack
                    )),
                    before,
                    Some(parameter_summary(&stack)),
                );
                r.outputs = outputs_of(&stack);
                r.diagnosis = (!diagnosis.is_empty()).then_some(diagnosis);
                return Ok(r);
            }
            _ => {
                let mut e = Error::failed(format!("stack `{}` ended in {status}", c.stack));
                if let Some(why) = cause {
                    e = e.with_causes(vec![format!("first failure: {why}")]);
                }
                if stack.stack_status() == Some(&StackStatus::UpdateRollbackFailed) {
                    e = e.with_hint("the rollback itself failed: fix the resource, then `aws cloudformation continue-update-rollback`");
                }
                return Err(e);
            }
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
        let mut r = Rollout::new(Verdict::Completed, before, Some(parameter_summary(&stack)));
        r.outputs = outputs;
        Ok(r)
    }

    async fn rollback(&self, on: On<'_, CfnTarget>, ctx: &StepCtx) -> Result<Rollout> {
        let c = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let stack = Self::stack(&client, &c.stack)
            .await?
            .ok_or_else(|| Error::failed(format!("stack `{}` does not exist", c.stack)))?;
        let token = unique("berth-rollback");
        if let Err(e) = Self::record_pending(&config, &client, c, &stack).await {
            ctx.warn(format!("the rollback point this machine kept for stack {} could not be recorded on it: {e}", c.stack));
        }
        // A record just made is ready once CloudFormation has worked it out.
        let settle_by = Instant::now() + c.timeout;
        let recorded = loop {
            let d = client
                .describe_change_set()
                .stack_name(&c.stack)
                .change_set_name(PREVIOUS)
                .send()
                .await
                .ok();
            match d.as_ref().and_then(|d| d.status()) {
                Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
                    if Instant::now() < settle_by =>
                {
                    tokio::time::sleep(POLL).await
                }
                _ => break d.filter(|d| d.status() == Some(&ChangeSetStatus::CreateComplete)),
            }
        };
        let from_record = recorded.is_some();
        let before = if let Some(d) = recorded {
            ctx.progress(format!(
                "putting stack {} back to the version before berth's last deploy",
                c.stack
            ));
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
            parameter_summary(&stack)
        } else {
            Self::undo_operation(&client, c, &stack, &token).await?;
            status_of(&stack)
        };
        let deadline = Instant::now() + c.timeout;
        let (stack, cause) = match Self::follow(&client, c, &token, ctx, deadline).await? {
            Followed::Ended(stack, cause) => (*stack, cause),
            Followed::StillChanging(status) => {
                return Ok(Rollout::new(
                    Verdict::TimedOut(format!(
                        "stack {} was still changing ({status}) after {}",
                        c.stack,
                        humantime::format_duration(c.timeout)
                    )),
                    Some(before),
                    None,
                ));
            }
        };
        let after = Some(parameter_summary(&stack));
        let verdict = match phase_of(&stack) {
            Phase::Complete => Verdict::Completed,
            // Cancelling an update or continuing a rollback ends in a rolled-back state.
            Phase::RolledBack if !from_record => Verdict::Completed,
            _ => Verdict::Failed(crate::engine::ports::Failure {
                what: format!("putting stack `{}` back", c.stack),
                why: format!(
                    "it ended in {}{}",
                    status_of(&stack),
                    cause
                        .map(|rc| format!("; first failure: {}: {}", rc.resource, rc.reason))
                        .unwrap_or_default()
                ),
                advice: None,
            }),
        };
        let mut r = Rollout::new(verdict, Some(before), after);
        r.outputs = outputs_of(&stack);
        Ok(r)
    }

    async fn outputs(&self, on: On<'_, CfnTarget>) -> Result<BTreeMap<String, String>> {
        let config = self.config(on.target).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        Ok(Self::stack(&client, &on.spec.stack)
            .await?
            .as_ref()
            .map(outputs_of)
            .unwrap_or_default())
    }

    async fn in_use(&self, on: On<'_, CfnTarget>, _history: usize) -> Result<Vec<InUse>> {
        // CloudFormation keeps one version back: the one berth recorded.
        self.images_in_use(on).await
    }

    async fn status(&self, on: On<'_, CfnTarget>) -> Result<TargetState> {
        let c = on.spec;
        let config = self.config(on.target).await?;
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

impl CloudFormation {
    /// Without a recorded previous version: cancel an update in progress, or continue a
    /// rollback that failed; anything else has nothing to go back to.
    async fn undo_operation(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        stack: &Stack,
        token: &str,
    ) -> Result<()> {
        match stack.stack_status() {
            Some(StackStatus::UpdateInProgress) => {
                client
                    .cancel_update_stack()
                    .stack_name(&c.stack)
                    .client_request_token(token)
                    .send()
                    .await
                    .map_err(|e| sdk_error("cancelling the update", e))?;
            }
            Some(StackStatus::UpdateRollbackFailed) => {
                client
                    .continue_update_rollback()
                    .stack_name(&c.stack)
                    .client_request_token(token)
                    .send()
                    .await
                    .map_err(|e| sdk_error("continuing the rollback", e))?;
            }
            _ => {
                return Err(Error::failed(format!("stack `{}` is {}, and berth recorded no previous version of it", c.stack, status_of(stack)))
                    .with_hint(format!("berth records the version before each deploy as the change set `{PREVIOUS}`; executing any change set on the stack removes it")));
            }
        }
        Ok(())
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
        assert!(change_set::is_no_change(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(change_set::is_no_change("No updates are to be performed."));
        assert!(!change_set::is_no_change("Template format error"));
    }

    #[test]
    fn replacements_stand_out() {
        use aws_sdk_cloudformation::types::{ChangeAction, Replacement};
        let lines = CloudFormation::describe_changes(&[
            change_set::ResourceChange {
                action: Some(ChangeAction::Modify),
                logical_id: "Log".into(),
                resource_type: "AWS::Logs::LogGroup".into(),
                replacement: Some(Replacement::True),
            },
            change_set::ResourceChange {
                action: Some(ChangeAction::Add),
                logical_id: "Q".into(),
                resource_type: "AWS::SQS::Queue".into(),
                replacement: None,
            },
        ]);
        assert!(lines[0].starts_with("REPLACE Log"));
        assert_eq!(lines[1], "Add Q (AWS::SQS::Queue)");
    }
}
