//! `shift(duration)`: moves point and batch times.
//!
//! ```tick
//! stream|from()|shift(-1h)
//! ```

use crate::value::Duration;

/// Properties of `shift()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftSpec {
    /// The shift, possibly negative.
    pub shift: Duration,
}
