//! `join(other...)`: joins points of several parents that share a (rounded) time.
//!
//! ```tick
//! var errors = stream|from().measurement('errors')
//! var requests = stream|from().measurement('requests')
//! errors|join(requests).as('errors', 'requests').tolerance(1s)
//! ```

use crate::value::Duration;

/// How incomplete join sets are handled.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum JoinFill {
    /// Drop incomplete sets (inner join).
    #[default]
    None,
    /// Fill missing fields with null.
    Null,
    /// Fill missing fields with this number.
    Number(f64),
}

/// Properties of `join()`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinSpec {
    /// Prefix per parent, left first (required).
    pub as_: Vec<String>,
    /// Join on a subset of dimensions.
    pub on: Vec<String>,
    /// Times are rounded to this before matching.
    pub tolerance: Duration,
    /// Fill policy.
    pub fill: JoinFill,
    /// Name of the joined points (default: the first present member's).
    pub stream_name: Option<String>,
    /// Between prefix and field name (default `.`).
    pub delimiter: String,
}
