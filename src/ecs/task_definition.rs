//! Task definitions: cloning the running revision or rendering a template, setting images,
//! comparing with what ECS stores, and registering a revision with the raw document (the
//! typed SDK would drop fields it does not know).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde_json::{Value, json};

use super::{Ecs, short_td};
use crate::aws::json_call;
use crate::engine::ports::DeployRequest;
use crate::error::{Error, Result};
use crate::pipeline::interpolate;
use crate::pipeline::model::EcsTarget;

/// The JSON protocol target prefix of the ECS API.
const TARGET: &str = "AmazonEC2ContainerServiceV20141113";
/// Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take.
pub(super) const READ_ONLY: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// A task definition as RegisterTaskDefinition takes it: read-only fields dropped.
pub fn registrable(td: &Value) -> Value {
    let mut td = td.clone();
    if let Some(m) = td.as_object_mut() {
        for k in READ_ONLY {
            m.remove(k);
        }
        m.remove("tags");
    }
    td
}

/// A task definition as ECS stores it: the defaults ECS fills in for fields a template leaves
/// out, so that a template compares equal to the revision it registered before.
pub fn with_defaults(td: &Value) -> Value {
    let mut td = td.clone();
    if let Some(m) = td.as_object_mut() {
        m.entry("networkMode").or_insert(json!("bridge"));
    }
    let awsvpc = td.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    for c in td
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(c) = c.as_object_mut() else { continue };
        c.entry("cpu").or_insert(json!(0));
        c.entry("essential").or_insert(json!(true));
        for p in c
            .get_mut("portMappings")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(p) = p.as_object_mut() else { continue };
            p.entry("protocol").or_insert(json!("tcp"));
            if awsvpc && let Some(port) = p.get("containerPort").cloned() {
                p.entry("hostPort").or_insert(port);
            }
        }
    }
    td
}

/// Replaces container images; an unknown container name is an error listing the real ones.
pub fn set_images(td: &mut Value, images: &BTreeMap<String, String>, target: &str) -> Result<()> {
    let containers = td
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| {
            Error::failed(format!(
                "target `{target}`: the task definition has no containerDefinitions"
            ))
        })?;
    let names: Vec<String> = containers
        .iter()
        .filter_map(|c| c.get("name")?.as_str().map(str::to_string))
        .collect();
    for (container, image) in images {
        let Some(c) = containers
            .iter_mut()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container.as_str()))
        else {
            let hint = match crate::error::suggest(container, names.iter().map(String::as_str)) {
                Some(s) => s,
                None => format!("the task definition's containers are: {}", names.join(", ")),
            };
            return Err(Error::failed(format!(
                "target `{target}`: the task definition has no container `{container}`"
            ))
            .with_hint(hint));
        };
        c["image"] = Value::String(image.clone());
    }
    Ok(())
}

impl Ecs {
    pub(super) async fn describe_td(config: &SdkConfig, arn: &str) -> Result<(Value, Vec<Value>)> {
        let out = json_call(
            config,
            "ecs",
            "ecs",
            &format!("{TARGET}.DescribeTaskDefinition"),
            &json!({"taskDefinition": arn, "include": ["TAGS"]}),
            &format!("reading task definition {}", short_td(arn)),
        )
        .await?;
        let td = out
            .get("taskDefinition")
            .cloned()
            .ok_or_else(|| Error::failed(format!("ECS returned no task definition for {arn}")))?;
        let tags = out
            .get("tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((td, tags))
    }

    /// The revision to deploy: the template rendered, or the current one cloned.
    pub(super) fn template(
        req: &DeployRequest<'_, EcsTarget>,
        e: &EcsTarget,
    ) -> Result<Option<Value>> {
        let Some(path) = &e.task_definition else {
            return Ok(None);
        };
        // Loading expanded its static references; the file is read again only when the
        // pipeline was built without that step (tests of this adapter).
        let text = match &e.task_definition_text {
            Some(t) => t.clone(),
            None => crate::source::read_text(path).map_err(|err| {
                Error::from_chain(
                    format!("cannot read task definition template {}", path.display()),
                    &err,
                )
            })?,
        };
        let text = interpolate::render(&text, &req.values).map_err(|u| {
            Error::failed(format!("task definition template {}: `{}` has no value", path.display(), u.0)).with_hint("only images this target uses and outputs of targets it depends on can be referenced")
        })?;
        let doc: Value = if path.extension().is_some_and(|x| x == "json") {
            serde_json::from_str(&text).map_err(|err| {
                Error::failed(format!(
                    "task definition template {} is not valid JSON: {err}",
                    path.display()
                ))
            })?
        } else {
            serde_saphyr::from_str(&text).map_err(|err| {
                Error::failed(format!(
                    "task definition template {} is not valid YAML: {err}",
                    path.display()
                ))
            })?
        };
        // Accept `aws ecs describe-task-definition` output as it is.
        let doc = doc.get("taskDefinition").cloned().unwrap_or(doc);
        Ok(Some(registrable(&doc)))
    }

    pub(super) async fn register(
        config: &SdkConfig,
        td: &Value,
        tags: Vec<Value>,
    ) -> Result<String> {
        let mut body = td.clone();
        if !tags.is_empty() {
            body["tags"] = Value::Array(tags);
        }
        let family = td.get("family").and_then(Value::as_str).unwrap_or("?");
        let out = json_call(
            config,
            "ecs",
            "ecs",
            &format!("{TARGET}.RegisterTaskDefinition"),
            &body,
            &format!("registering a new revision of {family}"),
        )
        .await?;
        out.pointer("/taskDefinition/taskDefinitionArn")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::failed("ECS registered the task definition but returned no ARN"))
    }
}
