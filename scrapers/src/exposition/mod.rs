//! Our own streaming, allocation-light parser for the Prometheus text format 0.0.4 and the
//! OpenMetrics 1.0 text format.
//!
//! The parser walks the body once, line by line, and hands every sample to a callback as a
//! borrowed [`Sample`]: names and label values point into the body, and only label values
//! with escapes are copied. A malformed line is reported to the error callback with its
//! 1-based line number and skipped; the rest of the body is still parsed.
//!
//! ```
//! use weir_scrapers::exposition::{self, Format};
//!
//! let body = b"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027\nbad_line\n";
//! let mut names = Vec::new();
//! let mut errors = Vec::new();
//! let summary = exposition::parse(
//!     body,
//!     Format::PrometheusText,
//!     |sample| names.push(format!("{} {}", sample.name, sample.value)),
//!     |line, reason| errors.push(format!("line {line}: {reason}")),
//! );
//! assert_eq!(names, ["http_requests_total 1027"]);
//! assert_eq!(errors, ["line 3: expected a value after the metric name"]);
//! assert_eq!(summary.samples, 1);
//! ```
//!
//! Differences from Prometheus' own parser, on purpose: blank lines are accepted in
//! OpenMetrics, a trailing `\r` is ignored, and OpenMetrics timestamps (float seconds) are
//! rounded, not truncated, to milliseconds. `_created` series are reported as ordinary
//! samples, as Prometheus 2.42 ingests them.

use std::borrow::Cow;
use std::fmt;

mod line;

/// Which text format a body is in; pick it from the response's Content-Type with
/// [`Format::from_content_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), the default.
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// Choose the format from a Content-Type header value, as Prometheus does: only
    /// `application/openmetrics-text` selects OpenMetrics; anything else, or no header, is
    /// the Prometheus text format.
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        let Some(content_type) = content_type else {
            return Format::PrometheusText;
        };
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// The type a `# TYPE` line gave a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `summary`.
    Summary,
    /// `untyped` (Prometheus text), `unknown` (OpenMetrics), or no `# TYPE` line.
    Untyped,
    /// OpenMetrics `gaugehistogram`.
    GaugeHistogram,
    /// OpenMetrics `info`.
    Info,
    /// OpenMetrics `stateset`.
    StateSet,
}

impl MetricType {
    fn parse(text: &str, format: Format) -> Option<MetricType> {
        Some(match (text, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::PrometheusText) | ("unknown", Format::OpenMetrics) => {
                MetricType::Untyped
            }
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        })
    }

    /// The series-name suffixes a family of this type may use besides its bare name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
            MetricType::Summary => &["_sum", "_count", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            MetricType::Info => &["_info"],
            MetricType::Gauge | MetricType::Untyped | MetricType::StateSet => &[],
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        })
    }
}

/// One label of a sample. The value is borrowed from the body unless it had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    /// Label name.
    pub name: &'a str,
    /// Label value with escapes resolved.
    pub value: Cow<'a, str>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Series name (for a histogram bucket, `<family>_bucket`).
    pub name: &'a str,
    /// Labels in the order they were written.
    pub labels: &'a [Label<'a>],
    /// The value; NaN and infinities are kept.
    pub value: f64,
    /// The sample's own timestamp in milliseconds since the epoch, when it has one.
    pub timestamp_ms: Option<i64>,
    /// The type of the family the sample belongs to (from the last `# TYPE` line).
    pub metric_type: MetricType,
    /// 1-based line number in the body.
    pub line: usize,
}

impl Sample<'_> {
    /// The value of a label, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|label| label.name == name)
            .map(|label| label.value.as_ref())
    }
}

/// A `# HELP`, `# TYPE` or `# UNIT` line.
#[derive(Debug, Clone, PartialEq)]
pub enum Metadata<'a> {
    /// Help text with escapes resolved.
    Help(Cow<'a, str>),
    /// Metric type.
    Type(MetricType),
    /// OpenMetrics unit.
    Unit(&'a str),
}

/// Receives what the parser finds. [`parse`] wraps two closures in one of these.
pub trait Handler {
    /// A sample line.
    fn sample(&mut self, sample: &Sample<'_>);
    /// A malformed line: its 1-based number and why it was skipped.
    fn error(&mut self, line: usize, reason: &str);
    /// A metadata line for `family`; ignored unless overridden.
    fn metadata(&mut self, family: &str, metadata: Metadata<'_>, line: usize) {
        let _ = (family, metadata, line);
    }
}

/// Counts from one parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseSummary {
    /// Lines seen (including comments and blank lines).
    pub lines: usize,
    /// Samples reported.
    pub samples: usize,
    /// Lines skipped as malformed (plus one for a missing OpenMetrics `# EOF`).
    pub errors: usize,
}

/// Parse a whole body, calling `on_sample` for every sample and `on_error` with a line
/// number and a reason for every malformed line.
pub fn parse<S, E>(body: &[u8], format: Format, on_sample: S, on_error: E) -> ParseSummary
where
    S: FnMut(&Sample<'_>),
    E: FnMut(usize, &str),
{
    struct Closures<S, E>(S, E);
    impl<S: FnMut(&Sample<'_>), E: FnMut(usize, &str)> Handler for Closures<S, E> {
        fn sample(&mut self, sample: &Sample<'_>) {
            (self.0)(sample);
        }
        fn error(&mut self, line: usize, reason: &str) {
            (self.1)(line, reason);
        }
    }
    parse_with(body, format, &mut Closures(on_sample, on_error))
}

/// Parse a whole body into a [`Handler`].
pub fn parse_with<H: Handler>(body: &[u8], format: Format, handler: &mut H) -> ParseSummary {
    let mut parser = line::LineParser::new(format);
    // Validating the whole body at once is the fast path; a body with invalid UTF-8 falls
    // back to validating each line, so one bad line does not lose the others.
    let whole_text = std::str::from_utf8(body).ok();
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < body.len() {
        let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |offset| start + offset);
        line_no += 1;
        // Slicing the validated text at newline positions always hits char boundaries.
        let text = match whole_text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(&body[start..end]).ok(),
        };
        start = end + 1;
        let Some(text) = text else {
            parser.summary.errors += 1;
            handler.error(line_no, "invalid utf-8");
            continue;
        };
        if parser.line(text, line_no, handler) == line::Flow::Stop {
            let rest = body.get(start..).unwrap_or_default();
            if rest.iter().any(|byte| !byte.is_ascii_whitespace()) {
                parser.summary.errors += 1;
                handler.error(line_no + 1, "content after # EOF");
            }
            break;
        }
    }
    parser.summary.lines = line_no;
    if format == Format::OpenMetrics && !parser.eof_seen {
        parser.summary.errors += 1;
        handler.error(line_no + 1, "missing # EOF");
    }
    parser.summary
}

#[cfg(test)]
mod tests;
