//! Verbose lines for a person finding out what berth did: `-v` shows every step's log
//! (build output, change set details, rollout events) also on a terminal, `-vv` adds every
//! AWS API request with its answer and time.
//!
//! The CLI installs where the lines go (the printer, which owns stderr); the adapters only
//! emit, and pay nothing when no one listens.

use std::sync::OnceLock;

type Sink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: OnceLock<(u8, Sink)> = OnceLock::new();

/// Sends the lines of `level` and below to `sink` (once per process; later calls are no-ops).
pub fn install(level: u8, sink: Sink) {
    let _ = SINK.set((level, sink));
}

/// Whether lines of `level` are shown.
pub fn enabled(level: u8) -> bool {
    SINK.get().is_some_and(|(l, _)| *l >= level)
}

/// Shows the line made by `line` if `level` is shown.
pub fn emit(level: u8, line: impl FnOnce() -> String) {
    if let Some((l, sink)) = SINK.get()
        && *l >= level
    {
        sink(&line());
    }
}
