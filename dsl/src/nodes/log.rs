//! `log()`: logs every message passing through.
//!
//! ```tick
//! stream|from()|log().level('DEBUG').prefix('cpu')
//! ```

/// Properties of `log()`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// `DEBUG`, `INFO`, `WARN` or `ERROR` (default `INFO`).
    pub level: String,
    /// Prefix of each log line.
    pub prefix: String,
}
