//! Rendering diagnostics: rich terminal text through codespan-reporting (line:column, the
//! source line, carets), and JSON for the HTTP API.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config, Styles, StylesWriter, termcolor};

use crate::diagnostic::{Diagnostic, Severity};

impl From<&Diagnostic> for cs::Diagnostic<()> {
    fn from(diagnostic: &Diagnostic) -> cs::Diagnostic<()> {
        let severity = match diagnostic.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let labels = diagnostic
            .labels
            .iter()
            .map(|label| {
                let style = if label.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                cs::Label::new(style, (), label.span.start..label.span.end)
                    .with_message(label.text.clone())
            })
            .collect();
        cs::Diagnostic::new(severity)
            .with_code(diagnostic.code)
            .with_message(diagnostic.message.clone())
            .with_labels(labels)
            .with_notes(diagnostic.notes.clone())
    }
}

/// Clamps spans into the source so codespan never sees an out-of-range label.
fn clamped(diagnostic: &Diagnostic, source: &str) -> Diagnostic {
    let mut diagnostic = diagnostic.clone();
    for label in &mut diagnostic.labels {
        let mut start = label.span.start.min(source.len());
        let mut end = label.span.end.clamp(start, source.len());
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        while !source.is_char_boundary(end) {
            end += 1;
        }
        label.span = crate::Span::new(start, end);
    }
    diagnostic
}

/// Renders diagnostics as rustc-style text (ANSI colours when `color`).
///
/// ```text
/// error[E202]: unknown property `perod` on `window`
///   ┌─ cpu.tick:4:10
///   │
/// 4 │         .perod(10s)
///   │          ^^^^^ did you mean `period`?
/// ```
pub fn render(diagnostics: &[Diagnostic], source: &str, file_name: &str, color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let converted: cs::Diagnostic<()> = (&clamped(diagnostic, source)).into();
        let rendered = if color {
            let mut buffer = termcolor::Buffer::ansi();
            let styles = Styles::default();
            let mut writer = StylesWriter::new(&mut buffer, &styles);
            term::emit_to_write_style(&mut writer, &config, &file, &converted)
                .map(|()| String::from_utf8_lossy(buffer.as_slice()).into_owned())
        } else {
            term::emit_into_string(&config, &file, &converted)
        };
        match rendered {
            Ok(text) => out.push_str(&text),
            // Spans are clamped above, so this only happens on a codespan bug; fall back to
            // the one-line form rather than losing the diagnostic.
            Err(_) => {
                out.push_str(&format!("{file_name}:{}\n", diagnostic.one_line(source)));
            }
        }
    }
    out
}

/// Diagnostics as JSON for the API: code, severity, message, line/column of the primary
/// span, labels with byte ranges and positions, and notes.
pub fn to_json(diagnostics: &[Diagnostic], source: &str) -> serde_json::Value {
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|diagnostic| {
            let (line, column) = diagnostic.span().line_col(source);
            let labels: Vec<serde_json::Value> = diagnostic
                .labels
                .iter()
                .map(|label| {
                    let (line, column) = label.span.line_col(source);
                    serde_json::json!({
                        "start": label.span.start,
                        "end": label.span.end,
                        "line": line,
                        "column": column,
                        "text": label.text,
                        "primary": label.primary,
                    })
                })
                .collect();
            serde_json::json!({
                "code": diagnostic.code,
                "severity": match diagnostic.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": diagnostic.message,
                "line": line,
                "column": column,
                "labels": labels,
                "notes": diagnostic.notes,
            })
        })
        .collect();
    serde_json::Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, compile};

    const SCRIPT: &str = "stream\n    |from()\n    |window()\n        .perod(10s)\n";

    #[test]
    fn renders_line_column_source_and_caret() {
        let (_, diagnostics) = compile(SCRIPT, &CompileOptions::default());
        let text = render(&diagnostics, SCRIPT, "cpu.tick", false);
        assert!(
            text.contains("error[E202]: unknown property `perod` on `window`"),
            "{text}"
        );
        assert!(text.contains("cpu.tick:4:10"), "{text}");
        assert!(text.contains("4 │         .perod(10s)"), "{text}");
        assert!(text.contains("^^^^^ did you mean `period`?"), "{text}");
        let colored = render(&diagnostics, SCRIPT, "cpu.tick", true);
        assert!(colored.contains("\u{1b}["), "{colored}");
    }

    #[test]
    fn json_has_positions() {
        let (_, diagnostics) = compile(SCRIPT, &CompileOptions::default());
        let json = to_json(&diagnostics, SCRIPT);
        assert_eq!(json[0]["code"], "E202");
        assert_eq!(json[0]["line"], 4);
        assert_eq!(json[0]["column"], 10);
        assert_eq!(json[0]["labels"][0]["text"], "did you mean `period`?");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let diagnostic = Diagnostic::error("E101", "x", crate::Span::new(50, 90));
        let text = render(&[diagnostic], "short", "f.tick", false);
        assert!(text.contains("error[E101]"), "{text}");
    }
}
