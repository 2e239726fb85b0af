//! What a running step gets: its identity and a way to report progress.

use std::sync::Arc;
use std::time::Instant;

use super::events::{Event, EventKind};

/// Receives events (the printer, or a collector in tests).
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

#[derive(Clone)]
pub struct StepCtx {
    pub step: String,
    pub subject: String,
    pub started: Instant,
    sink: Arc<dyn EventSink>,
}

impl StepCtx {
    pub fn new(
        step: impl Into<String>,
        subject: impl Into<String>,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        StepCtx {
            step: step.into(),
            subject: subject.into(),
            started: Instant::now(),
            sink,
        }
    }

    /// A context whose reports go nowhere (for read-only questions such as `plan`'s).
    pub fn quiet() -> Self {
        struct Quiet;
        impl EventSink for Quiet {
            fn emit(&self, _: Event) {}
        }
        StepCtx::new("quiet", "", Arc::new(Quiet))
    }

    /// The step's current phase.
    pub fn progress(&self, message: impl Into<String>) {
        self.sink.emit(Event::now(EventKind::StepProgress {
            step: self.step.clone(),
            subject: self.subject.clone(),
            message: message.into(),
        }));
    }

    /// A line of output from what the step drives.
    pub fn log(&self, line: impl Into<String>) {
        self.sink.emit(Event::now(EventKind::StepLog {
            step: self.step.clone(),
            subject: self.subject.clone(),
            line: line.into(),
        }));
    }

    /// Says that the deployment entered `stage` (or moved traffic within it).
    pub fn stage(&self, stage: &str, production_traffic: Option<f64>, test_traffic: Option<f64>) {
        self.sink.emit(Event::now(EventKind::StageEntered {
            step: self.step.clone(),
            subject: self.subject.clone(),
            stage: stage.to_string(),
            production_traffic,
            test_traffic,
        }));
    }

    /// Says, before changing the target, what it runs now and what it will run.
    pub fn changing(&self, before: Option<&str>, after: Option<&str>) {
        self.sink.emit(Event::now(EventKind::TargetChanging {
            step: self.step.clone(),
            subject: self.subject.clone(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        }));
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.sink.emit(Event::now(EventKind::Warning {
            message: format!("{}: {}", self.subject, message.into()),
        }));
    }

    pub fn sink(&self) -> Arc<dyn EventSink> {
        self.sink.clone()
    }
}

/// (before, after) versions of a target.
pub type Versions = (Option<String>, Option<String>);

/// Remembers, per target, the versions its deploy said it was changing (the last
/// `target_changing` event), passing every event on to `inner`: what a run started is then
/// known even when its step was interrupted before it could report.
pub struct Recorder {
    inner: Arc<dyn EventSink>,
    changing: std::sync::Mutex<std::collections::HashMap<String, Versions>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn EventSink>) -> Self {
        Recorder {
            inner,
            changing: Default::default(),
        }
    }

    /// (before, after) of the last change `target` announced, if any.
    pub fn changing(&self, target: &str) -> Option<Versions> {
        self.changing
            .lock()
            .expect("recorder lock")
            .get(target)
            .cloned()
    }
}

impl EventSink for Recorder {
    fn emit(&self, event: Event) {
        if let EventKind::TargetChanging {
            subject,
            before,
            after,
            ..
        } = &event.kind
        {
            self.changing
                .lock()
                .expect("recorder lock")
                .insert(subject.clone(), (before.clone(), after.clone()));
        }
        self.inner.emit(event);
    }
}
