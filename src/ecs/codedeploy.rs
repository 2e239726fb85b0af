//! ECS services with the CODE_DEPLOY deployment controller (blue/green): UpdateService
//! cannot change their task definition, so berth creates a CodeDeploy deployment with an
//! AppSpec built from the new revision and the service's load balancer container and port,
//! and follows it to its end. CodeDeploy's own automatic rollback is reported as a rollback.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, RevisionLocation, RevisionLocationType,
};
use aws_sdk_ecs::types::Service;
use serde_json::json;

use super::rollout::Verdict;
use crate::aws::sdk_error;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::EcsTarget;

fn last(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The CodeDeploy application and deployment group that deploy this service.
async fn find_group(
    client: &aws_sdk_codedeploy::Client,
    e: &EcsTarget,
) -> Result<(String, String)> {
    let apps = client
        .list_applications()
        .send()
        .await
        .map_err(|err| sdk_error("listing CodeDeploy applications", err))?;
    for app in apps.applications() {
        let groups = client
            .list_deployment_groups()
            .application_name(app)
            .send()
            .await
            .map_err(|err| sdk_error(format!("listing the deployment groups of `{app}`"), err))?;
        for g in groups.deployment_groups() {
            let info = client
                .get_deployment_group()
                .application_name(app)
                .deployment_group_name(g)
                .send()
                .await
                .map_err(|err| sdk_error(format!("reading deployment group `{g}`"), err))?;
            let serves = info
                .deployment_group_info()
                .map(|i| {
                    i.ecs_services().iter().any(|s| {
                        s.service_name() == Some(last(&e.service))
                            && s.cluster_name().map(last) == Some(last(&e.cluster))
                    })
                })
                .unwrap_or(false);
            if serves {
                return Ok((app.clone(), g.clone()));
            }
        }
    }
    Err(Error::failed(format!("service `{}` uses CodeDeploy, but no CodeDeploy deployment group deploys it", e.service))
        .with_hint("create an ECS deployment group for this service and cluster (ecsServices), or switch the service to the ECS deployment controller"))
}

/// Deploys `td_arn` through CodeDeploy and waits for the outcome.
pub async fn roll(
    config: &SdkConfig,
    svc: &Service,
    e: &EcsTarget,
    td_arn: &str,
    previous: &str,
    ctx: &StepCtx,
    deadline: Instant,
) -> Result<Verdict> {
    let client = aws_sdk_codedeploy::Client::new(config);
    let lb = svc.load_balancers().first().ok_or_else(|| {
        Error::failed(format!(
            "service `{}` uses CodeDeploy but has no load balancer, which blue/green needs",
            e.service
        ))
    })?;
    let container = lb
        .container_name()
        .ok_or_else(|| Error::failed("the service's load balancer names no container"))?;
    let port = lb
        .container_port()
        .ok_or_else(|| Error::failed("the service's load balancer names no container port"))?;
    let (app, group) = find_group(&client, e).await?;
    let appspec = json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": td_arn,
            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}
        }}}]
    });
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(
            AppSpecContent::builder()
                .content(appspec.to_string())
                .build(),
        )
        .build();
    let out = client
        .create_deployment()
        .application_name(&app)
        .deployment_group_name(&group)
        .revision(revision)
        .description(format!("berth: {}", last(td_arn)))
        .send()
        .await
        .map_err(|err| {
            sdk_error(
                format!("creating a CodeDeploy deployment in {app}/{group}"),
                err,
            )
        })?;
    let id = out
        .deployment_id()
        .ok_or_else(|| Error::failed("CodeDeploy returned no deployment id"))?
        .to_string();
    ctx.log(format!(
        "CodeDeploy deployment {id} started in {app}/{group} ({})",
        last(td_arn)
    ));
    let mut last_status = String::new();
    loop {
        let d = client
            .get_deployment()
            .deployment_id(&id)
            .send()
            .await
            .map_err(|err| sdk_error(format!("reading CodeDeploy deployment {id}"), err))?;
        let info = d
            .deployment_info()
            .ok_or_else(|| Error::failed(format!("CodeDeploy returned nothing for {id}")))?;
        let status = info.status().cloned();
        let label = status
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "unknown".into());
        if label != last_status {
            ctx.log(format!("CodeDeploy deployment {id}: {label}"));
            last_status = label.clone();
        }
        match status {
            Some(DeploymentStatus::Succeeded) => return Ok(Verdict::Completed),
            Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => {
                let why = info
                    .error_information()
                    .and_then(|e| e.message())
                    .unwrap_or("the CodeDeploy deployment failed")
                    .to_string();
                if let Some(rb) = info
                    .rollback_info()
                    .and_then(|r| r.rollback_deployment_id())
                {
                    ctx.log(format!(
                        "CodeDeploy rolled back with deployment {rb}: {why}"
                    ));
                    return Ok(Verdict::RolledBack {
                        to_deployment: rb.to_string(),
                        to_task_definition: previous.to_string(),
                    });
                }
                return Ok(Verdict::Failed(why));
            }
            // Status changes are logged above; nothing new to say.
            _ => {}
        }
        if Instant::now() >= deadline {
            return Ok(Verdict::still_going());
        }
        tokio::time::sleep(e.poll_interval.min(Duration::from_secs(15))).await;
    }
}
