//! Diagnostics: what is wrong with a script, where, and how to fix it.
//!
//! Spans are byte offsets; line and column are computed only when rendering.

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The script cannot run.
    Error,
    /// The script runs, but probably not as intended. Never changes what it computes.
    Warning,
}

/// A labelled region of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub text: String,
    /// The primary label carries the caret; secondary ones add context.
    pub primary: bool,
}

/// One finding about a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code such as `E201`; codes are listed in one place and never reused.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One lowercase sentence, no trailing period.
    pub message: String,
    /// Labelled spans; the first primary one is the location.
    pub labels: Vec<Label>,
    /// Extra notes and suggestions ("did you mean `period`?").
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a primary label.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![Label {
                span,
                text: String::new(),
                primary: true,
            }],
            notes: Vec::new(),
        }
    }

    /// A warning with a primary label.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Whether this diagnostic stops the script from running.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels
            .iter()
            .find(|label| label.primary)
            .map(|label| label.span)
            .unwrap_or_default()
    }

    /// `line:column: message` on one line, for logs and API error strings.
    pub fn one_line(&self, source: &str) -> String {
        let (line, column) = self.span().line_col(source);
        let mut out = format!("{line}:{column}: {}", self.message);
        for note in &self.notes {
            out.push_str("; ");
            out.push_str(note);
        }
        out
    }
}
