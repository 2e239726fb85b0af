//! The images an ECS service depends on, for `berth gc`: its task definition and those of
//! its deployments (a rollout in progress), the images its running tasks were started from
//! (by the digest ECS resolved when it started them), the revisions berth recorded as
//! replaced (the `berth:previous-task-definition` chain `rollback` follows), and the newest
//! revisions of the family besides.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{DesiredStatus, SortOrder, TaskDefinitionStatus};
use serde_json::Value;

use super::{Ecs, short_td};
use crate::aws::sdk_error;
use crate::engine::ports::{InUse, On};
use crate::error::Result;
use crate::pipeline::model::EcsTarget;

impl Ecs {
    pub(super) async fn images_in_use(
        &self,
        on: On<'_, EcsTarget>,
        history: usize,
    ) -> Result<Vec<InUse>> {
        let e = on.spec;
        let config = self.config(on.target).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let svc = Self::service(&client, e).await?;
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue: Vec<(String, String)> = Vec::new();
        if let Some(td) = svc.task_definition() {
            queue.push((td.to_string(), "the service's task definition".into()));
        }
        for d in svc.deployments() {
            if let Some(td) = d.task_definition() {
                let status = d.status().unwrap_or("a").to_lowercase();
                queue.push((td.to_string(), format!("the {status} deployment")));
            }
        }
        // The recorded chain of replaced revisions, as far back as `history` goes.
        let mut chain = 0;
        while !queue.is_empty() {
            let (td, why) = queue.remove(0);
            if !seen.insert(td.clone()) {
                continue;
            }
            let (doc, tags) = Self::describe_td(&config, &td).await?;
            for image in container_images(&doc) {
                out.push(InUse {
                    reference: image,
                    by: format!("{} ({why})", short_td(&td)),
                });
            }
            if chain < history
                && let Some(previous) = super::settle::recorded_previous(&tags)
            {
                chain += 1;
                queue.push((previous, "recorded for rollback".into()));
            }
        }
        // The newest revisions of the family, whether berth registered them or not.
        if let Some(family) = svc.task_definition().map(|td| {
            short_td(td)
                .rsplit_once(':')
                .map_or(short_td(td), |(f, _)| f)
                .to_string()
        }) {
            let list = client
                .list_task_definitions()
                .family_prefix(&family)
                .status(TaskDefinitionStatus::Active)
                .sort(SortOrder::Desc)
                .max_results(history.clamp(1, 100) as i32)
                .send()
                .await
                .map_err(|err| {
                    sdk_error(format!("listing task definition family `{family}`"), err)
                })?;
            for td in list.task_definition_arns().iter().take(history) {
                if seen.insert(td.clone()) {
                    let (doc, _) = Self::describe_td(&config, td).await?;
                    for image in container_images(&doc) {
                        out.push(InUse {
                            reference: image,
                            by: format!("{} (a recent revision)", short_td(td)),
                        });
                    }
                }
            }
        }
        // Running tasks: the digest ECS pulled, whatever the tag points to now.
        for task in Self::tasks_of(&client, e, DesiredStatus::Running, "").await? {
            for c in task.containers() {
                if let (Some(image), Some(digest)) = (c.image(), c.image_digest()) {
                    out.push(InUse {
                        reference: format!("{}@{digest}", crate::engine::gc::repository_of(image)),
                        by: format!("a running task of service {}", e.service),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The container (and init) images of a task definition document.
fn container_images(td: &Value) -> Vec<String> {
    td.get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("image")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
