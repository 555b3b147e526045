//! `alert()`: classifies points into levels and sends events to handlers.
//!
//! ```tick
//! stream|from()|alert().warn(lambda: "usage" > 80.0).crit(lambda: "usage" > 95.0).stateChangesOnly().log('/tmp/alerts.log')
//! ```

use crate::lambda::Lambda;
use crate::value::Duration;

/// Where alert events go.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AlertHandler {
    /// Append JSON lines to a file.
    Log {
        /// File path.
        path: String,
    },
    /// POST the event JSON.
    Post {
        /// URL.
        url: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Request timeout.
        timeout: Option<Duration>,
    },
    /// Send the event JSON over TCP.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// Run a command with the event JSON on stdin.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
    },
}

/// Properties of `alert()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertSpec {
    /// Alert id template (default `{{ .Name }}:{{ .Group }}`).
    pub id: Option<String>,
    /// Message template (default `{{ .ID }} is {{ .Level }}`).
    pub message: Option<String>,
    /// Details template (default `{{ json . }}`).
    pub details: Option<String>,
    /// INFO predicate.
    pub info: Option<Lambda>,
    /// WARNING predicate.
    pub warn: Option<Lambda>,
    /// CRITICAL predicate.
    pub crit: Option<Lambda>,
    /// INFO reset predicate.
    pub info_reset: Option<Lambda>,
    /// WARNING reset predicate.
    pub warn_reset: Option<Lambda>,
    /// CRITICAL reset predicate.
    pub crit_reset: Option<Lambda>,
    /// Only send events when the level changes (optionally re-send after an interval).
    pub state_changes_only: Option<Option<Duration>>,
    /// Flapping thresholds `(low, high)`.
    pub flapping: Option<(f64, f64)>,
    /// Level history length (default 21).
    pub history: i64,
    /// Suppress OK events.
    pub no_recoveries: bool,
    /// Batch input: every point must match.
    pub all: bool,
    /// Add the level as this tag.
    pub level_tag: Option<String>,
    /// Add the level as this field.
    pub level_field: Option<String>,
    /// Add the id as this tag.
    pub id_tag: Option<String>,
    /// Add the id as this field.
    pub id_field: Option<String>,
    /// Add the message as this field.
    pub message_field: Option<String>,
    /// Add the duration as this field.
    pub duration_field: Option<String>,
    /// Named topic.
    pub topic: Option<String>,
    /// Handlers.
    pub handlers: Vec<AlertHandler>,
    /// Do not log evaluation errors.
    pub quiet: bool,
}
