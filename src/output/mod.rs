//! The printer: the one owner of stdout and stderr.
//!
//! stdout carries results only — the human summary, the JSON document, or the ndjson event
//! stream — so that `berth … -o json | jq` always works. Everything else (progress, logs,
//! warnings, errors) goes to stderr. On a terminal, progress is a live indicatif view with a
//! line per image and target; in CI (no terminal, or `CI`, `CODEBUILD_BUILD_ID`,
//! `JENKINS_URL` set) it is plain timestamped lines prefixed with the image or target name,
//! with no control characters.

pub mod result;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::events::{Event, EventKind};
use crate::error::Error;
pub use crate::style::ColorChoice;
use crate::style::{self, Style};
use result::RunResult;

/// What the user asked of the output (the global flags, resolved by the command line).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub format: OutputFormat,
    pub color: ColorChoice,
    pub verbose: u8,
    pub quiet: bool,
    pub no_progress: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    Ndjson,
}

/// How human progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Live bars (a terminal, not CI).
    Bars,
    /// Plain timestamped lines.
    Lines,
}

pub struct Printer {
    pub format: OutputFormat,
    pub progress: Progress,
    paint: bool,
    quiet: bool,
    verbose: u8,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    prefix_width: Mutex<usize>,
}

/// True when running under a CI system, whatever the terminal says.
pub fn in_ci(env: impl Fn(&str) -> Option<String>) -> bool {
    [
        "CI",
        "CODEBUILD_BUILD_ID",
        "JENKINS_URL",
        "GITHUB_ACTIONS",
        "BUILDKITE",
    ]
    .iter()
    .any(|v| env(v).is_some_and(|s| !s.is_empty() && s != "false" && s != "0"))
}

impl Printer {
    pub fn new(g: &Settings) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let env = |k: &str| std::env::var(k).ok();
        let ci = in_ci(env);
        let progress = if stderr_tty && !ci && !g.no_progress && g.format == OutputFormat::Human {
            Progress::Bars
        } else {
            Progress::Lines
        };
        let paint = style::enabled(g.color, stderr_tty);
        let multi = MultiProgress::with_draw_target(if progress == Progress::Bars {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        });
        Printer {
            format: g.format,
            progress,
            paint,
            quiet: g.quiet,
            verbose: g.verbose,
            multi,
            bars: Mutex::new(HashMap::new()),
            prefix_width: Mutex::new(8),
        }
    }

    pub fn paint(&self) -> bool {
        self.paint
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Aligns line prefixes on the longest image/target name.
    pub fn set_names<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let w = names.into_iter().map(str::len).max().unwrap_or(8).max(8);
        *self.prefix_width.lock().expect("printer lock") = w;
    }

    /// Writes to stderr without tearing live progress bars.
    /// A verbose line (`-vv`: AWS requests), dimmed, to stderr.
    pub fn trace(&self, line: &str) {
        self.err_line(&self.color(style::DIM, &strip_control(line)));
    }

    fn err_line(&self, line: &str) {
        if self.progress == Progress::Bars && !self.multi.is_hidden() {
            let _ = self.multi.println(line);
        } else {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{line}");
        }
    }

    fn color(&self, style: Style, s: &str) -> String {
        style::paint(style, s, self.paint)
    }

    /// Reports an event: an ndjson line on stdout, or progress on stderr.
    pub fn event(&self, ev: &Event) {
        match self.format {
            OutputFormat::Ndjson => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(ev).expect("events serialize")
                );
                let _ = out.flush();
                return;
            }
            OutputFormat::Json => {
                // Keep stdout for the document; still show progress lines on stderr.
            }
            OutputFormat::Human => {}
        }
        if self.quiet && !matches!(ev.kind, EventKind::Warning { .. }) {
            return;
        }
        match self.progress {
            Progress::Bars => self.event_bars(ev),
            Progress::Lines => self.event_line(ev),
        }
    }

    fn event_line(&self, ev: &Event) {
        let w = *self.prefix_width.lock().expect("printer lock");
        // Seconds are enough in a log, and shorter.
        let time = ev
            .time
            .get(..19)
            .map(|t| format!("{t}Z"))
            .unwrap_or_else(|| ev.time.clone());
        let text = match &ev.kind {
            EventKind::StepStarted { action, .. } => action.clone(),
            EventKind::StepProgress { message, .. } => message.clone(),
            EventKind::StepLog { line, .. } => format!("  {line}"),
            EventKind::StageEntered {
                stage,
                production_traffic,
                test_traffic,
                ..
            } => format!(
                "  {}",
                stage_text(stage, *production_traffic, *test_traffic)
            ),
            EventKind::TargetChanging { before, after, .. } => format!(
                "  changing {} → {}",
                before.as_deref().unwrap_or("(nothing)"),
                after.as_deref().unwrap_or("(new)")
            ),
            EventKind::StepFinished {
                status,
                duration_ms,
                error,
                ..
            } => match error {
                // The full error follows at the end of the run; a log line gets its first line.
                Some(e) => format!(
                    "{status} after {} — {}",
                    fmt_ms(*duration_ms),
                    e.lines().next().unwrap_or("")
                ),
                None => format!("{status} in {}", fmt_ms(*duration_ms)),
            },
            EventKind::Warning { message } => {
                self.err_line(&format!(
                    "{time} {} {message}",
                    self.color(style::WARNING, "warning:")
                ));
                return;
            }
        };
        let subject = ev.subject().unwrap_or("");
        self.err_line(&format!("{time} {subject:<w$} | {}", strip_control(&text)));
    }

    fn event_bars(&self, ev: &Event) {
        let w = *self.prefix_width.lock().expect("printer lock");
        let mut bars = self.bars.lock().expect("printer lock");
        match &ev.kind {
            EventKind::StepStarted {
                step,
                subject,
                action,
            } => {
                let pb = self.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template(&format!(
                    "{{spinner:.cyan}} {{prefix:<{w}.bold}} {{wide_msg}} {{elapsed:>4}}"
                ))
                .expect("valid template")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
                pb.set_style(style);
                pb.set_prefix(subject.clone());
                pb.set_message(action.clone());
                pb.enable_steady_tick(Duration::from_millis(100));
                bars.insert(step.clone(), pb);
            }
            EventKind::StepProgress { step, message, .. } => {
                if let Some(pb) = bars.get(step) {
                    pb.set_message(message.clone());
                }
            }
            EventKind::StepLog {
                step,
                subject,
                line,
            } => {
                if self.verbose > 0 {
                    drop(bars);
                    self.err_line(&format!("{subject:<w$} | {}", strip_control(line)));
                } else if let Some(pb) = bars.get(step) {
                    pb.set_message(strip_control(line));
                }
            }
            EventKind::TargetChanging { .. } => {}
            EventKind::StageEntered {
                step,
                subject,
                stage,
                production_traffic,
                test_traffic,
            } => {
                let text = stage_text(stage, *production_traffic, *test_traffic);
                if self.verbose > 0 {
                    drop(bars);
                    self.err_line(&format!("{subject:<w$} | {text}"));
                } else if let Some(pb) = bars.get(step) {
                    pb.set_message(text);
                }
            }
            EventKind::StepFinished {
                step,
                status,
                duration_ms,
                error,
                ..
            } => {
                if let Some(pb) = bars.remove(step) {
                    let ok = error.is_none();
                    let mark = if ok {
                        self.color(style::GOOD, "✓")
                    } else {
                        self.color(style::BAD, "✗")
                    };
                    pb.set_style(
                        ProgressStyle::with_template(&format!(
                            "{mark} {{prefix:<{w}.bold}} {{wide_msg}}"
                        ))
                        .expect("valid template"),
                    );
                    let msg = match error {
                        Some(e) => format!(
                            "{status} after {} — {}",
                            fmt_ms(*duration_ms),
                            e.lines().next().unwrap_or("")
                        ),
                        None => format!("{status} in {}", fmt_ms(*duration_ms)),
                    };
                    pb.finish_with_message(msg);
                }
            }
            EventKind::Warning { message } => {
                drop(bars);
                self.err_line(&format!(
                    "{} {message}",
                    self.color(style::WARNING, "warning:")
                ));
            }
        }
    }

    /// A warning, also as an event in ndjson.
    pub fn warn(&self, message: impl Into<String>) {
        self.event(&Event::now(EventKind::Warning {
            message: message.into(),
        }));
    }

    /// An informational line on stderr (not shown with `-q`, nor in json modes).
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet && self.format == OutputFormat::Human {
            self.err_line(line.as_ref());
        }
    }

    /// The human-readable result, on stdout (human mode only).
    pub fn human_result(&self, text: &str) {
        if self.format == OutputFormat::Human {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    /// Output the user asked for by name (a password, a token), verbatim on stdout in every
    /// output mode: it is the result itself.
    pub fn raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// The final document, on stdout (json and ndjson modes).
    pub fn document(&self, doc: &RunResult) {
        let text = match self.format {
            OutputFormat::Json => serde_json::to_string_pretty(doc),
            OutputFormat::Ndjson => serde_json::to_string(doc),
            OutputFormat::Human => return,
        }
        .expect("result serializes");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// An error, rendered on stderr.
    pub fn error(&self, err: &Error) {
        self.clear();
        let text = err.render(self.paint);
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(text.as_bytes());
    }

    /// Removes live bars (before the summary is printed).
    pub fn clear(&self) {
        let _ = self.multi.clear();
        self.bars.lock().expect("printer lock").clear();
    }

    pub fn bold(&self, s: &str) -> String {
        self.color(style::BOLD, s)
    }

    pub fn green(&self, s: &str) -> String {
        self.color(style::GOOD, s)
    }

    pub fn red(&self, s: &str) -> String {
        self.color(style::BAD, s)
    }

    pub fn yellow(&self, s: &str) -> String {
        self.color(style::PAUSED, s)
    }

    pub fn dim(&self, s: &str) -> String {
        self.color(style::DIM, s)
    }
}

/// `stage PRODUCTION_TRAFFIC_SHIFT: production traffic 10%, test traffic 100%`.
fn stage_text(stage: &str, production: Option<f64>, test: Option<f64>) -> String {
    let mut parts = Vec::new();
    if let Some(p) = production {
        parts.push(format!("production traffic {p}%"));
    }
    if let Some(t) = test.filter(|t| *t > 0.0) {
        parts.push(format!("test traffic {t}%"));
    }
    if parts.is_empty() {
        format!("stage {stage}")
    } else {
        format!("stage {stage}: {}", parts.join(", "))
    }
}

/// Durations as people read them: `850ms`, `12.3s`, `4m05s`.
pub fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Removes ANSI escapes and control characters from text that came from elsewhere (build
/// output, service events), so CI logs stay clean.
pub fn strip_control(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\t' {
            out.push(' ');
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

impl crate::engine::step::EventSink for Printer {
    fn emit(&self, event: Event) {
        self.event(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_ms(850), "850ms");
        assert_eq!(fmt_ms(12_300), "12.3s");
        assert_eq!(fmt_ms(245_000), "4m05s");
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(strip_control("\x1b[31mred\x1b[0m\r\tok\x07"), "red ok");
    }

    #[test]
    fn ci_detection() {
        assert!(in_ci(
            |k| (k == "CODEBUILD_BUILD_ID").then(|| "x".to_string())
        ));
        assert!(!in_ci(|k| (k == "CI").then(|| "false".to_string())));
        assert!(!in_ci(|_| None));
    }
}
