//! `influxDBOut()`: hands points to a time-series sink.
//!
//! ```tick
//! stream|from()|influxDBOut().database('weir').retentionPolicy('autogen').measurement('cpu_mean')
//! ```

use crate::value::Duration;

/// Properties of `influxDBOut()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InfluxDbOutSpec {
    /// The `[[influxdb]]` sink by name (none: the default one).
    pub cluster: Option<String>,
    /// Target database (required).
    pub database: String,
    /// Target retention policy (empty: the server's default).
    pub retention_policy: String,
    /// Measurement name override.
    pub measurement: Option<String>,
    /// Extra static tags.
    pub tags: Vec<(String, String)>,
    /// Timestamp precision (`n`, `u`, `ms`, `s`, `m`, `h`).
    pub precision: Option<String>,
    /// Points buffered before a flush (default 1000).
    pub buffer: i64,
    /// Longest time between flushes (default 10s).
    pub flush_interval: Duration,
    /// Create the database if it does not exist.
    pub create: bool,
}
