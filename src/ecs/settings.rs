//! The deployment settings a pipeline sets on an ECS service (`ecs.deployment`: strategy,
//! bake time, alarms, canary and linear steps), brought in line before a deploy like ECR
//! repository settings: only what the pipeline sets is compared, every other setting of the
//! service's deploymentConfiguration (circuit breaker, percents, lifecycle hooks) is kept,
//! and each difference is one line for the log and the plan.

use aws_sdk_ecs::types::{
    CanaryConfiguration, DeploymentAlarms, DeploymentConfiguration, DeploymentStrategy,
    LinearConfiguration,
};

use crate::pipeline::model::EcsDeployment;

/// The service's deploymentConfiguration with the pipeline's settings in it, and what
/// changes (none: nothing to send).
pub fn bring_in_line(
    current: Option<&DeploymentConfiguration>,
    want: &EcsDeployment,
) -> (DeploymentConfiguration, Vec<String>) {
    let mut c = current
        .cloned()
        .unwrap_or_else(|| DeploymentConfiguration::builder().build());
    let mut changes = Vec::new();
    if let Some(s) = want.strategy {
        let now = c
            .strategy
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "ROLLING".into());
        if now != s.as_str() {
            changes.push(format!("strategy: {now} → {}", s.as_str()));
            c.strategy = Some(DeploymentStrategy::from(s.as_str()));
        }
    }
    if let Some(m) = want.bake_time_minutes {
        let now = c.bake_time_in_minutes.unwrap_or(0);
        if now != m {
            changes.push(format!("bake time: {now}m → {m}m"));
            c.bake_time_in_minutes = Some(m);
        }
    }
    if let Some(names) = &want.alarms {
        let now = c.alarms.as_ref().filter(|a| a.enable);
        let mut have: Vec<String> = now.map(|a| a.alarm_names.clone()).unwrap_or_default();
        let mut wanted = names.clone();
        have.sort();
        wanted.sort();
        let rollback = now.is_some_and(|a| a.rollback);
        if have != wanted || (!wanted.is_empty() && !rollback) {
            changes.push(format!(
                "alarms that roll back: {} → {}",
                list(&have),
                list(&wanted)
            ));
            c.alarms = Some(alarms(&wanted));
        }
    }
    if let Some(step) = want.canary {
        let now = c.canary_configuration.as_ref();
        let (p, b) = (
            now.and_then(|n| n.canary_percent),
            now.and_then(|n| n.canary_bake_time_in_minutes),
        );
        if p != Some(step.percent)
            || (step.bake_time_minutes.is_some() && b != step.bake_time_minutes)
        {
            changes.push(format!(
                "canary: {} → {}",
                shift(p, b),
                shift(Some(step.percent), step.bake_time_minutes.or(b))
            ));
            c.canary_configuration = Some(
                CanaryConfiguration::builder()
                    .canary_percent(step.percent)
                    .set_canary_bake_time_in_minutes(step.bake_time_minutes.or(b))
                    .build(),
            );
        }
    }
    if let Some(step) = want.linear {
        let now = c.linear_configuration.as_ref();
        let (p, b) = (
            now.and_then(|n| n.step_percent),
            now.and_then(|n| n.step_bake_time_in_minutes),
        );
        if p != Some(step.percent)
            || (step.bake_time_minutes.is_some() && b != step.bake_time_minutes)
        {
            changes.push(format!(
                "linear steps: {} → {}",
                shift(p, b),
                shift(Some(step.percent), step.bake_time_minutes.or(b))
            ));
            c.linear_configuration = Some(
                LinearConfiguration::builder()
                    .step_percent(step.percent)
                    .set_step_bake_time_in_minutes(step.bake_time_minutes.or(b))
                    .build(),
            );
        }
    }
    (c, changes)
}

/// Alarms that roll back (none: alarms off).
fn alarms(names: &[String]) -> DeploymentAlarms {
    DeploymentAlarms::builder()
        .set_alarm_names(Some(names.to_vec()))
        .enable(!names.is_empty())
        .rollback(!names.is_empty())
        .build()
        .expect("every field of DeploymentAlarms is set")
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

fn shift(percent: Option<f64>, bake: Option<i32>) -> String {
    match (percent, bake) {
        (None, _) => "(unset)".into(),
        (Some(p), Some(b)) => format!("{p}% baking {b}m"),
        (Some(p), None) => format!("{p}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::model::{EcsStrategy, TrafficStep};
    use aws_sdk_ecs::types::DeploymentCircuitBreaker;

    fn rolling_with_breaker() -> DeploymentConfiguration {
        DeploymentConfiguration::builder()
            .maximum_percent(200)
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(true)
                    .rollback(true)
                    .build(),
            )
            .build()
    }

    #[test]
    fn only_what_the_pipeline_sets_changes_and_the_rest_is_kept() {
        let want = EcsDeployment {
            strategy: Some(EcsStrategy::Canary),
            bake_time_minutes: Some(10),
            alarms: Some(vec!["shop-5xx".into()]),
            canary: Some(TrafficStep {
                percent: 10.0,
                bake_time_minutes: Some(2),
            }),
            linear: None,
        };
        let (c, changes) = bring_in_line(Some(&rolling_with_breaker()), &want);
        assert_eq!(
            changes,
            [
                "strategy: ROLLING → CANARY",
                "bake time: 0m → 10m",
                "alarms that roll back: (none) → shop-5xx",
                "canary: (unset) → 10% baking 2m",
            ]
        );
        assert_eq!(c.maximum_percent, Some(200));
        assert!(c.deployment_circuit_breaker.is_some());
        assert_eq!(c.alarms.as_ref().unwrap().alarm_names, ["shop-5xx"]);
        // Brought in line, the same settings change nothing.
        let (_, again) = bring_in_line(Some(&c), &want);
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn nothing_set_is_nothing_to_change() {
        let (_, changes) = bring_in_line(Some(&rolling_with_breaker()), &EcsDeployment::default());
        assert!(changes.is_empty());
        let (_, changes) = bring_in_line(None, &EcsDeployment::default());
        assert!(changes.is_empty());
    }

    #[test]
    fn an_empty_alarm_list_turns_alarms_off() {
        let mut on = rolling_with_breaker();
        on.alarms = Some(alarms(&["a".to_string()]));
        let want = EcsDeployment {
            alarms: Some(vec![]),
            ..Default::default()
        };
        let (c, changes) = bring_in_line(Some(&on), &want);
        assert_eq!(changes, ["alarms that roll back: a → (none)"]);
        assert!(!c.alarms.unwrap().enable);
    }
}
