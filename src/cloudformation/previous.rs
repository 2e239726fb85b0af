//! The version before berth's last deploy, kept on the stack itself so that `berth
//! rollback` works from any machine: an unexecuted change set named [`PREVIOUS`].

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};

use super::CloudFormation;
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
}
