//! Judging a rollout from what the API server says, with `kubectl rollout status` semantics
//! (kubectl's rollout_status.go), plus what kubectl does not look at: the pods of the new
//! revision, so a crash loop or an image that cannot be pulled fails the deploy in seconds
//! instead of at the progress deadline ten minutes later.
//!
//! Pure functions over the k8s-openapi types, so every branch has a unit test.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    Waiting(String),
    Failed(String),
}

/// The Deployment's revision (the annotation its controller keeps).
pub fn revision(d: &Deployment) -> Option<String> {
    d.metadata
        .annotations
        .as_ref()?
        .get("deployment.kubernetes.io/revision")
        .cloned()
}

pub fn deployment(d: &Deployment) -> Progress {
    let name = d.metadata.name.as_deref().unwrap_or("?");
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(status) = &d.status else {
        return Progress::Waiting("waiting for the deployment controller".into());
    };
    if generation > status.observed_generation.unwrap_or(0) {
        return Progress::Waiting("waiting for the deployment spec update to be observed".into());
    }
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing");
    if let Some(c) = progressing
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Progress::Failed(format!(
            "deployment {name:?} exceeded its progress deadline{}",
            c.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < want {
        return Progress::Waiting(format!("{updated} of {want} updated replicas"));
    }
    if replicas > updated {
        return Progress::Waiting(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return Progress::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ));
    }
    Progress::Done
}

pub fn statefulset(s: &StatefulSet) -> Progress {
    let spec = s.spec.as_ref();
    let strategy = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate");
    if strategy != "RollingUpdate" {
        return Progress::Done;
    }
    let Some(status) = &s.status else {
        return Progress::Waiting("waiting for the statefulset controller".into());
    };
    if status.observed_generation.unwrap_or(0) == 0
        || s.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0)
    {
        return Progress::Waiting("waiting for the statefulset spec update to be observed".into());
    }
    let want = spec.and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < want {
        return Progress::Waiting(format!("{ready} of {want} pods ready"));
    }
    let partition = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = status.updated_replicas.unwrap_or(0);
        if updated < want - partition {
            return Progress::Waiting(format!(
                "{updated} of {} pods updated (partition {partition})",
                want - partition
            ));
        }
        return Progress::Done;
    }
    if status.update_revision != status.current_revision {
        return Progress::Waiting("waiting for the rolling update to complete".into());
    }
    Progress::Done
}

pub fn daemonset(d: &DaemonSet) -> Progress {
    let strategy = d
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate");
    if strategy != "RollingUpdate" {
        return Progress::Done;
    }
    let Some(status) = &d.status else {
        return Progress::Waiting("waiting for the daemonset controller".into());
    };
    if d.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
        return Progress::Waiting("waiting for the daemonset spec update to be observed".into());
    }
    let want = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    if updated < want {
        return Progress::Waiting(format!("{updated} of {want} updated pods scheduled"));
    }
    let available = status.number_available.unwrap_or(0);
    if available < want {
        return Progress::Waiting(format!("{available} of {want} updated pods available"));
    }
    Progress::Done
}

/// Waiting reasons that mean the pod will not come up by itself. A crash loop counts once the
/// container has restarted twice, so a process that fails once on a cold dependency and then
/// starts is not failed.
const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Whether the pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Why a pod of the new revision will not become ready, if it will not.
pub fn pod_failure(p: &Pod) -> Option<String> {
    let name = p.metadata.name.as_deref().unwrap_or("?");
    let status = p.status.as_ref()?;
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in all {
        let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("");
        let crash = reason == "CrashLoopBackOff" && c.restart_count >= 2;
        let fatal = FATAL_WAITING.contains(&reason)
            && (reason != "ErrImagePull" || c.restart_count > 0 || status.phase.is_some());
        if !(crash || fatal) {
            continue;
        }
        let mut msg = format!("pod {name}, container {}: {reason}", c.name);
        if let Some(m) = waiting.message.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(" ({m})"));
        }
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            msg.push_str(&format!(
                "; last exit code {}{}{}",
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                t.message
                    .as_deref()
                    .map(|m| format!(": {}", m.trim()))
                    .unwrap_or_default()
            ));
        }
        if reason == "CrashLoopBackOff" {
            msg.push_str(&format!(", {} restarts", c.restart_count));
        }
        return Some(msg);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn deployment_follows_kubectl() {
        let base = |generation: i64, status: serde_json::Value| {
            dep(
                json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": 2,
              "selector": {}, "template": {}}, "status": status}),
            )
        };
        let d = base(2, json!({"observedGeneration": 1}));
        assert!(matches!(deployment(&d), Progress::Waiting(m) if m.contains("observed")));
        let d = base(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1}),
        );
        assert_eq!(
            deployment(&d),
            Progress::Waiting("1 of 2 updated replicas".into())
        );
        let d = base(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2}),
        );
        assert_eq!(
            deployment(&d),
            Progress::Waiting("1 old replicas are pending termination".into())
        );
        let d = base(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert_eq!(
            deployment(&d),
            Progress::Waiting("1 of 2 updated replicas available".into())
        );
        let d = base(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(deployment(&d), Progress::Done);
        let d = base(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
        );
        assert!(
            matches!(deployment(&d), Progress::Failed(m) if m.contains("progress deadline") && m.contains("web-1"))
        );
    }

    #[test]
    fn statefulset_and_daemonset_follow_kubectl() {
        let s: StatefulSet = serde_json::from_value(json!({"metadata": {"generation": 1},
            "spec": {"replicas": 2, "selector": {}, "serviceName": "s", "template": {}},
            "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentRevision": "a", "updateRevision": "b"}})).unwrap();
        assert!(matches!(statefulset(&s), Progress::Waiting(_)));
        let mut s2 = s.clone();
        s2.status.as_mut().unwrap().current_revision = Some("b".into());
        assert_eq!(statefulset(&s2), Progress::Done);
        let d: DaemonSet = serde_json::from_value(json!({"metadata": {"generation": 3},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 3, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                       "numberMisscheduled": 0, "numberReady": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}})).unwrap();
        assert_eq!(
            daemonset(&d),
            Progress::Waiting("2 of 3 updated pods available".into())
        );
    }

    #[test]
    fn pods_that_will_not_come_up_are_named_with_their_reason() {
        let pod = |reason: &str, restarts: i32| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "web-abc"}, "status": {"phase": "Running",
                "containerStatuses": [{"name": "web", "image": "i", "imageID": "", "ready": false, "restartCount": restarts,
                  "state": {"waiting": {"reason": reason, "message": "back-off 10s"}},
                  "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}})).unwrap()
        };
        assert_eq!(
            pod_failure(&pod("CrashLoopBackOff", 1)),
            None,
            "one restart may be a cold start"
        );
        let m = pod_failure(&pod("CrashLoopBackOff", 3)).unwrap();
        assert_eq!(
            m,
            "pod web-abc, container web: CrashLoopBackOff (back-off 10s); last exit code 1 (Error), 3 restarts"
        );
        assert!(
            pod_failure(&pod("ImagePullBackOff", 0))
                .unwrap()
                .contains("ImagePullBackOff")
        );
        assert_eq!(pod_failure(&pod("ContainerCreating", 0)), None);
    }
}
