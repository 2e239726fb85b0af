//! Events: what the engine reports while it works.
//!
//! The engine emits events; the printer decides how they look (a progress line on a
//! terminal, a timestamped plain line in CI, a JSON object per line with `-o ndjson`). The
//! ndjson shape is part of the contract and pinned by tests.

use serde::Serialize;

/// One thing that happened, as written to the ndjson stream.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Event {
    /// RFC 3339 UTC time with milliseconds.
    pub time: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A step began. `step` is `build:web`, `push:web`, `deploy:web-service`.
    StepStarted {
        step: String,
        subject: String,
        action: String,
    },
    /// A step's phase changed (`pushing layers 3/7`, `waiting for deployment`).
    StepProgress {
        step: String,
        subject: String,
        message: String,
    },
    /// One line of output from the thing a step drives (build output, a service event).
    StepLog {
        step: String,
        subject: String,
        line: String,
    },
    /// A step ended.
    StepFinished {
        step: String,
        subject: String,
        status: String,
        duration_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A deploy is about to change its target: what ran before (the rollback point) and
    /// what it moves to, said before the change starts so that an interrupted or failed run
    /// still tells what it started.
    TargetChanging {
        step: String,
        subject: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
    /// A deployment entered a lifecycle stage (ECS service deployments), or moved traffic
    /// within one: the stage as the platform names it, and the share of traffic (0–100) the
    /// new revision is asked to get.
    StageEntered {
        step: String,
        subject: String,
        stage: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        production_traffic: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        test_traffic: Option<f64>,
    },
    /// Something the user should know that is not an error.
    Warning { message: String },
}

impl Event {
    pub fn now(kind: EventKind) -> Self {
        Event {
            time: now_rfc3339(),
            kind,
        }
    }

    /// The image or target the event is about, for line prefixes.
    pub fn subject(&self) -> Option<&str> {
        match &self.kind {
            EventKind::StepStarted { subject, .. }
            | EventKind::StepProgress { subject, .. }
            | EventKind::StepLog { subject, .. }
            | EventKind::StepFinished { subject, .. }
            | EventKind::TargetChanging { subject, .. }
            | EventKind::StageEntered { subject, .. } => Some(subject),
            EventKind::Warning { .. } => None,
        }
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
