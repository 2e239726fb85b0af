//! The version before berth's last deploy, kept on the stack itself so that `berth
//! rollback` works from any machine: an unexecuted change set named [`PREVIOUS`].

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, Stack, TemplateStage,
};

use super::CloudFormation;
use super::pending;
use super::status::{Phase, phase_of};
use crate::aws::sdk_error;
use crate::error::{Error, Result};
use crate::pipeline::model::CfnTarget;

/// The change set in which berth keeps the version before its last deploy.
pub const PREVIOUS: &str = "berth-previous";

impl CloudFormation {
    /// Records the version a deploy replaced as an unexecuted change set on the stack, so
    /// that `berth rollback` finds it from any machine. Executing any change set on the stack
    /// removes it (CloudFormation deletes a stack's change sets when one is executed).
    pub(super) async fn record_previous(
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

    /// Whether the stack holds a recorded previous version.
    pub(super) async fn has_previous(
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
    ) -> bool {
        client
            .describe_change_set()
            .stack_name(&c.stack)
            .change_set_name(PREVIOUS)
            .send()
            .await
            .is_ok_and(|d| d.status() == Some(&ChangeSetStatus::CreateComplete))
    }

    /// Records on the stack the rollback point this machine kept for a deploy that did not
    /// finish (see [`pending`]): only when the stack has no record of its own, has settled,
    /// and runs exactly the template that deploy was putting in place. True if recorded.
    pub(super) async fn record_pending(
        config: &SdkConfig,
        client: &aws_sdk_cloudformation::Client,
        c: &CfnTarget,
        stack: &Stack,
    ) -> Result<bool> {
        let Some(id) = stack.stack_id() else {
            return Ok(false);
        };
        let Some(p) = pending::load(id) else {
            return Ok(false);
        };
        if phase_of(stack) == Phase::InProgress {
            return Ok(false);
        }
        if phase_of(stack) != Phase::Complete || Self::has_previous(client, c).await {
            pending::clear(id);
            return Ok(false);
        }
        let current = client
            .get_template()
            .stack_name(&c.stack)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading the template of stack `{}`", c.stack), e))?;
        if current.template_body().map(pending::digest) != Some(p.deploying) {
            pending::clear(id);
            return Ok(false);
        }
        Self::record_previous(config, client, c, &p.template, &p.parameters).await?;
        pending::clear(id);
        Ok(true)
    }
}
