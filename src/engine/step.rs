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

    pub fn warn(&self, message: impl Into<String>) {
        self.sink.emit(Event::now(EventKind::Warning {
            message: format!("{}: {}", self.subject, message.into()),
        }));
    }

    pub fn sink(&self) -> Arc<dyn EventSink> {
        self.sink.clone()
    }
}
