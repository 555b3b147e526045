//! `window()`: buffers a stream per group and emits batches on time or count boundaries.
//!
//! ```tick
//! stream|from()|window().period(10m).every(5m).align()
//! ```

use crate::value::Duration;

/// Properties of `window()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowSpec {
    /// Length of the window.
    pub period: Option<Duration>,
    /// How often a window is emitted.
    pub every: Option<Duration>,
    /// Align boundaries to multiples of `every`.
    pub align: bool,
    /// Emit the first window only once it spans a full period.
    pub fill_period: bool,
    /// Length of the window in points.
    pub period_count: Option<i64>,
    /// Emit every this many points.
    pub every_count: Option<i64>,
    /// weir extension: emit an open window after this much wall time without input.
    pub flush_idle: Option<Duration>,
    /// weir extension: forget a group after this much time without points.
    pub group_ttl: Option<Duration>,
}
