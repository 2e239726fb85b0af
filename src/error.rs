//! The one error type berth reports, and its rendering.
//!
//! Errors are written for the person reading a CI log at 2 a.m.: what went wrong (`error:`),
//! where (`--> file:line:col` and the offending line, underlined), why (`Caused by:`) and what
//! to do (`hint:`). Validation collects every problem it can find before reporting, so a user
//! fixes a broken pipeline file in one round trip rather than one error at a time.
//!
//! Each variant maps to one documented exit code (see [`ExitCode`]).

use std::fmt::Write as _;

use crate::source::Location;
use crate::style;

/// Exit codes, as documented in the CLI contract. They never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Succeeded, or nothing to do.
    Success = 0,
    /// A step failed (build, push, deploy, scan gate).
    Failed = 1,
    /// Invalid invocation or pipeline file; nothing was changed.
    Invalid = 2,
    /// A deployment failed and was rolled back.
    RolledBack = 3,
    /// Timed out waiting; the deployment may still be in progress.
    TimedOut = 4,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// One problem, with where it is and what to do about it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            location: None,
            hint: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// What kind of failure a failed step is, so that code can decide on it (retry a throttled
/// call, ride out an outage while waiting, never call an access problem a timeout) and the
/// hint can be chosen once for the kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing more specific is known.
    #[default]
    Other,
    /// The identity lacks a permission.
    AccessDenied,
    /// The credentials are missing, rejected or expired.
    Credentials,
    /// The service is throttling the caller.
    Throttled,
    /// The service answered with a server error (5xx, InternalFailure, ServiceUnavailable).
    ServerError,
    /// The service could not be reached (connection refused or dropped, DNS, I/O timeout).
    Unreachable,
    /// What was asked for does not exist.
    NotFound,
    /// Another change is in the way (a conflict, a resource in use, a concurrent update).
    Conflict,
    /// The service refused the request as invalid.
    InvalidRequest,
    /// Berth waited as long as it was allowed to.
    TimedOut,
}

impl ErrorKind {
    /// Worth trying again after a pause: the same request may well succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::ServerError | ErrorKind::Unreachable
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file, a file it references, or the command line is wrong. Nothing was
    /// touched. Exit 2.
    #[error("{}", .0.first().map(|d| d.message.as_str()).unwrap_or("invalid input"))]
    Invalid(Vec<Diagnostic>),

    /// A step failed. `causes` is the chain below the message, outermost first. Exit 1.
    #[error("{message}")]
    Failed {
        kind: ErrorKind,
        message: String,
        causes: Vec<String>,
        hint: Option<String>,
    },

    /// The user pressed Ctrl-C. Exit 130.
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(d: Diagnostic) -> Self {
        Error::Invalid(vec![d])
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed {
            kind: ErrorKind::Other,
            message: message.into(),
            causes: Vec::new(),
            hint: None,
        }
    }

    /// Wraps any error chain (AWS SDK, bollard, kube, io) as a failed step, keeping every
    /// `source()` as a `Caused by:` line.
    pub fn from_chain(message: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cur {
            let text = e.to_string();
            if causes.last() != Some(&text) {
                causes.push(text);
            }
            cur = e.source();
        }
        Error::Failed {
            kind: ErrorKind::Other,
            message: message.into(),
            causes,
            hint: None,
        }
    }

    /// The kind of failure (for `Invalid` and `Interrupted`: `Other`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Failed { kind, .. } => *kind,
            _ => ErrorKind::Other,
        }
    }

    /// The chain below the message, outermost first (none for invalid input).
    pub fn causes(&self) -> &[String] {
        match self {
            Error::Failed { causes, .. } => causes,
            _ => &[],
        }
    }

    /// The message and its causes on one line (`reading x: AccessDenied: …`), for a note
    /// that is not an error of its own (evidence that could not be read).
    pub fn one_line(&self) -> String {
        let mut line = self.to_string();
        for c in self.causes() {
            line.push_str(": ");
            line.push_str(c);
        }
        line
    }

    /// The hint: a failure's own, or the first diagnostic's.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Failed { hint, .. } => hint.as_deref(),
            Error::Invalid(d) => d.first().and_then(|d| d.hint.as_deref()),
            _ => None,
        }
    }

    /// Sets the kind of a failed-step error.
    pub fn with_kind(mut self, k: ErrorKind) -> Self {
        if let Error::Failed { kind, .. } = &mut self {
            *kind = k;
        }
        self
    }

    /// Adds `Caused by:` lines to a failed-step error.
    pub fn with_causes(mut self, more: Vec<String>) -> Self {
        if let Error::Failed { causes, .. } = &mut self {
            causes.extend(more);
        }
        self
    }

    pub fn with_hint(mut self, h: impl Into<String>) -> Self {
        match &mut self {
            Error::Failed { hint, .. } => *hint = Some(h.into()),
            Error::Invalid(ds) => {
                if let Some(d) = ds.last_mut() {
                    d.hint = Some(h.into());
                }
            }
            Error::Interrupted => {}
        }
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Invalid(_) => ExitCode::Invalid,
            Error::Failed { .. } => ExitCode::Failed,
            Error::Interrupted => ExitCode::Interrupted,
        }
    }

    /// The diagnostics this error is made of (one for most errors).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Invalid(ds) => ds.clone(),
            Error::Failed {
                message,
                causes,
                hint,
                ..
            } => {
                let mut msg = message.clone();
                for c in causes {
                    let _ = write!(msg, "\n  Caused by: {c}");
                }
                vec![Diagnostic {
                    message: msg,
                    location: None,
                    hint: hint.clone(),
                }]
            }
            Error::Interrupted => vec![Diagnostic::new("interrupted")],
        }
    }

    /// The whole error as text for stderr: `error:` blocks, source snippets, `Caused by:`
    /// and `hint:` lines. `paint` adds ANSI colour.
    pub fn render(&self, paint: bool) -> String {
        let mut out = String::new();
        match self {
            Error::Invalid(ds) => {
                for (i, d) in ds.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    render_diagnostic(&mut out, d, paint);
                }
                if ds.len() > 1 {
                    let _ = writeln!(
                        out,
                        "\n{} {} problems found; nothing was changed",
                        label("error:", paint),
                        ds.len()
                    );
                }
            }
            Error::Failed {
                message,
                causes,
                hint,
                ..
            } => {
                let _ = writeln!(out, "{} {message}", label("error:", paint));
                if !causes.is_empty() {
                    let _ = writeln!(out, "\n{}", bold("Caused by:", paint));
                    for c in causes {
                        let _ = writeln!(out, "  {c}");
                    }
                }
                if let Some(h) = hint {
                    let _ = writeln!(out, "\n{} {h}", hint_label(paint));
                }
            }
            Error::Interrupted => {
                let _ = writeln!(out, "{} interrupted", label("error:", paint));
            }
        }
        out
    }
}

fn label(s: &str, paint: bool) -> String {
    style::paint(style::ERROR, s, paint)
}

fn bold(s: &str, paint: bool) -> String {
    style::paint(style::BOLD, s, paint)
}

fn hint_label(paint: bool) -> String {
    style::paint(style::HINT, "hint:", paint)
}

fn render_diagnostic(out: &mut String, d: &Diagnostic, paint: bool) {
    let _ = writeln!(out, "{} {}", label("error:", paint), d.message);
    if let Some(loc) = &d.location {
        let _ = writeln!(out, "  --> {loc}");
        if let Some(text) = loc.source.line(loc.pos.line) {
            let num = loc.pos.line.to_string();
            let pad = " ".repeat(num.len());
            let col = (loc.pos.col.max(1) - 1) as usize;
            // Tabs would break the caret alignment; show them as one space, like rustc.
            let mut shown: String = text
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            // A very long line is cut after what the caret needs (a 1 MB value is not
            // printed whole).
            let keep = (loc.pos.col as usize + loc.len.min(80) + 20).max(160);
            if shown.chars().count() > keep {
                shown = shown.chars().take(keep).collect::<String>() + " …";
            }
            let avail = shown.chars().count().saturating_sub(col).max(1);
            let carets = "^".repeat(loc.len.clamp(1, avail));
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {shown}");
            let marker = format!("{}{}", " ".repeat(col), carets);
            let marker = style::paint(style::ERROR, &marker, paint);
            let _ = writeln!(out, "{pad} | {marker}");
        }
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "{} {h}", hint_label(paint));
    }
}

/// A value as an error message quotes it: whole when short, else its start and its length,
/// so that a huge value is not printed back at its author (once per message that names it).
pub fn quoted(value: &str) -> String {
    const MAX: usize = 60;
    let n = value.chars().count();
    if n <= MAX {
        value.to_string()
    } else {
        let start: String = value.chars().take(MAX).collect();
        format!("{start}… ({n} characters)")
    }
}

/// `did you mean `x`?` for the nearest of `candidates`, when one is a likely typo of `word`.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// The nearest of `candidates` to `word`, if it is close enough to be a likely typo.
///
/// Typos are swapped, missing or extra letters (`wbe`, `dockerfle`), which edit distance
/// catches on short words; Jaro-Winkler catches longer near-misses (`contaners`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let max_edits = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(word, c),
                strsim::jaro_winkler(word, c),
                c,
            )
        })
        .filter(|(d, jw, _)| *d <= max_edits || *jw > 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Pos, SourceFile};

    #[test]
    fn renders_snippet_with_caret_under_the_column() {
        let src = SourceFile::new("berth.yaml", "images:\n  web:\n    dockerfle: x\n");
        let d = Diagnostic::new("unknown key `dockerfle`")
            .at(Location::new(&src, Pos::new(3, 5), 9))
            .hint("did you mean `dockerfile`?");
        let text = Error::invalid(d).render(false);
        assert_eq!(
            text,
            "error: unknown key `dockerfle`\n  --> berth.yaml:3:5\n  |\n3 |     dockerfle: x\n  |     ^^^^^^^^^\nhint: did you mean `dockerfile`?\n"
        );
    }

    #[test]
    fn failed_renders_causes_and_hint() {
        let e = Error::Failed {
            kind: ErrorKind::Other,
            message: "push failed".into(),
            causes: vec!["401".into()],
            hint: Some("log in".into()),
        };
        assert_eq!(
            e.render(false),
            "error: push failed\n\nCaused by:\n  401\n\nhint: log in\n"
        );
        assert_eq!(e.exit_code(), ExitCode::Failed);
    }

    #[test]
    fn long_values_and_lines_are_not_printed_whole() {
        let big = "x".repeat(1000);
        let q = quoted(&big);
        assert!(q.ends_with("… (1000 characters)") && q.len() < 100, "{q}");
        assert_eq!(quoted("short"), "short");
        let src = SourceFile::new("berth.yaml", format!("a: {big}\n"));
        let d = Diagnostic::new("bad").at(Location::new(&src, Pos::new(1, 4), 3));
        let text = Error::invalid(d).render(false);
        assert!(text.len() < 400, "{text}");
        assert!(text.contains(" …"), "{text}");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(
            did_you_mean("dockerfle", ["context", "dockerfile"]),
            Some("dockerfile")
        );
        assert_eq!(did_you_mean("zzz", ["context", "dockerfile"]), None);
    }
}
