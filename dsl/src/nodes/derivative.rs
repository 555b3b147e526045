//! `derivative(field)`: rate of change between consecutive points of a group.
//!
//! ```tick
//! stream|from().measurement('net')|derivative('bytes_recv').unit(1s).nonNegative()
//! ```

use crate::value::Duration;

/// Properties of `derivative()`.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivativeSpec {
    /// Input field.
    pub field: String,
    /// Rate unit (default 1s).
    pub unit: Duration,
    /// Drop negative rates.
    pub non_negative: bool,
    /// Output field (default: the input field, which is replaced).
    pub as_: String,
}
