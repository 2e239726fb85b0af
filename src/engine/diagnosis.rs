//! Why a rollout did not complete, as the platform tells it: the typed evidence a deployer
//! gathers (stopped tasks or failing pods with their containers' exit codes and last log
//! lines, unhealthy load balancer targets, platform events) and the one way it is put in
//! words — logged by the engine as the deploy ends, and under the target in the summary. The
//! JSON result carries the same as data (`targets[].diagnosis`).

/// Why a rollout did not complete, as the platform tells it: gathered by the deployer before
/// it reports the verdict, bounded to a few seconds (`targets[].diagnosis` in the JSON result).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// The stopped tasks (ECS) or failing pods (Kubernetes) of the rollout, newest first.
    pub units: Vec<FailedUnit>,
    /// Load balancer targets of the service that are not healthy, with the load balancer's
    /// reason.
    pub target_health: Vec<TargetHealth>,
    /// Platform events that explain it (pod events, a stack's root cause), oldest first.
    pub events: Vec<String>,
    /// Evidence that could not be read, one line each naming the permission or the reason.
    pub gaps: Vec<String>,
}

impl Diagnosis {
    /// The diagnosis as indented lines (no trailing newline on each).
    pub fn lines(&self) -> Vec<String> {
        let d = self;
        let mut out = Vec::new();
        for u in &d.units {
            let kind = match u.kind {
                UnitKind::Task => "task",
                UnitKind::Pod => "pod",
            };
            let reason = u.reason.as_deref().unwrap_or("stopped");
            out.push(format!("    {kind} {}: {reason}", u.id));
            for c in &u.containers {
                let mut how = match c.exit_code {
                    Some(code) => format!("exited {code}"),
                    None => "did not exit".to_string(),
                };
                if let Some(r) = &c.reason {
                    how.push_str(&format!(" ({r})"));
                }
                out.push(format!("      container {}: {how}", c.name));
                if let Some(src) = &c.log_source {
                    if c.log.is_empty() {
                        out.push(format!("        no log lines in {src}"));
                    } else {
                        out.push(format!("        last {} log lines ({src}):", c.log.len()));
                        out.extend(c.log.iter().map(|l| format!("        | {l}")));
                    }
                }
            }
        }
        for h in &d.target_health {
            let mut line = format!(
                "    load balancer target {} in {}: {}",
                h.target, h.target_group, h.state
            );
            if let Some(r) = &h.reason {
                line.push_str(&format!(" ({r})"));
            }
            if let Some(desc) = &h.description {
                line.push_str(&format!(": {desc}"));
            }
            out.push(line);
        }
        out.extend(d.events.iter().map(|e| format!("    event: {e}")));
        out.extend(d.gaps.iter().map(|g| format!("    not gathered: {g}")));
        out
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
            && self.target_health.is_empty()
            && self.events.is_empty()
            && self.gaps.is_empty()
    }
}

/// What kind of thing a [`FailedUnit`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Task,
    Pod,
}

/// A task or pod of the rollout that stopped or will not come up.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailedUnit {
    pub kind: UnitKind,
    /// The task id or the pod name.
    pub id: String,
    /// Why the platform says it stopped (`Essential container in task exited`,
    /// `CrashLoopBackOff`).
    pub reason: Option<String>,
    pub containers: Vec<ContainerEvidence>,
}

/// One container of a failed unit: how it ended, and the last lines it logged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ContainerEvidence {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// Where the log lines come from (`CloudWatch Logs /ecs/web web/web/0f3c…`, `previous
    /// instance`); none when the container has no log berth can read.
    pub log_source: Option<String>,
    /// The last lines of its log, oldest first.
    pub log: Vec<String>,
}

/// A load balancer target that is not healthy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TargetHealth {
    pub target_group: String,
    /// `ip:port` or `instance:port`.
    pub target: String,
    /// As the load balancer says it: unhealthy, draining, initial, unused…
    pub state: String,
    /// `Target.ResponseCodeMismatch`, …
    pub reason: Option<String>,
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_diagnosis_is_shown() {
        let d = Diagnosis {
            units: vec![FailedUnit {
                kind: UnitKind::Task,
                id: "0f3c".into(),
                reason: Some("Essential container in task exited".into()),
                containers: vec![ContainerEvidence {
                    name: "web".into(),
                    exit_code: Some(1),
                    reason: None,
                    log_source: Some("CloudWatch Logs /ecs/web".into()),
                    log: vec!["boom".into()],
                }],
            }],
            target_health: vec![TargetHealth {
                target_group: "tg/web".into(),
                target: "10.0.0.5:8080".into(),
                state: "unhealthy".into(),
                reason: Some("Target.ResponseCodeMismatch".into()),
                description: Some("Health checks failed with these codes: [404]".into()),
            }],
            events: vec!["Back-off restarting failed container".into()],
            gaps: vec!["CloudWatch Logs (logs:GetLogEvents): AccessDenied".into()],
        };
        let text = d.lines().join("\n");
        for want in [
            "task 0f3c: Essential container in task exited",
            "container web: exited 1",
            "last 1 log lines (CloudWatch Logs /ecs/web):",
            "| boom",
            "10.0.0.5:8080 in tg/web: unhealthy (Target.ResponseCodeMismatch): Health checks failed with these codes: [404]",
            "event: Back-off",
            "not gathered: CloudWatch Logs (logs:GetLogEvents)",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
