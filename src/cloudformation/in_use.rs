//! The images a stack depends on, for `berth gc`: its parameters and template as they are,
//! and those of the version berth recorded for `rollback` (the `berth-previous` change set).
//! Every value that could be an image reference is returned; `gc` counts only the ones that
//! name an image of its repositories.

use aws_sdk_cloudformation::types::TemplateStage;

use super::CloudFormation;
use super::previous::PREVIOUS;
use crate::aws::sdk_error;
use crate::engine::ports::{InUse, On};
use crate::error::Result;
use crate::pipeline::model::CfnTarget;

impl CloudFormation {
    pub(super) async fn images_in_use(&self, on: On<'_, CfnTarget>) -> Result<Vec<InUse>> {
        let c = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let Some(stack) = Self::stack(&client, &c.stack).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut add = |values: Vec<String>, by: &str| {
            out.extend(
                values
                    .into_iter()
                    .filter(|v| could_be_image(v))
                    .map(|v| InUse {
                        reference: v,
                        by: by.to_string(),
                    }),
            )
        };
        let current = format!("stack {}", c.stack);
        add(
            stack
                .parameters()
                .iter()
                .filter_map(|p| p.parameter_value().map(str::to_string))
                .collect(),
            &current,
        );
        let template = client
            .get_template()
            .stack_name(&c.stack)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading the template of stack `{}`", c.stack), e))?;
        add(
            tokens(template.template_body().unwrap_or_default()),
            &current,
        );
        // The recorded rollback point, when there is one.
        if let Ok(previous) = client
            .describe_change_set()
            .stack_name(&c.stack)
            .change_set_name(PREVIOUS)
            .send()
            .await
        {
            let by = format!("stack {} (recorded for rollback)", c.stack);
            add(
                previous
                    .parameters()
                    .iter()
                    .filter_map(|p| p.parameter_value().map(str::to_string))
                    .collect(),
                &by,
            );
            if let Ok(t) = client
                .get_template()
                .stack_name(&c.stack)
                .change_set_name(PREVIOUS)
                .send()
                .await
            {
                add(tokens(t.template_body().unwrap_or_default()), &by);
            }
        }
        Ok(out)
    }
}

/// `HOST/NAME:TAG` or `HOST/NAME@DIGEST` shaped.
fn could_be_image(v: &str) -> bool {
    v.contains('/') && (v.contains('@') || v.contains(':')) && !v.contains(char::is_whitespace)
}

/// The words of a template (JSON or YAML) that could be image references.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']' | '{' | '}'))
        .filter(|t| could_be_image(t) && !t.starts_with("arn:") && !t.contains("://"))
        .map(str::to_string)
        .collect()
}
