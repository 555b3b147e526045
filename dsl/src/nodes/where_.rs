//! `where(lambda)`: drops points for which the predicate is false or fails.
//!
//! ```tick
//! stream|from()|where(lambda: "usage" > 90.0)
//! ```

use crate::lambda::Lambda;

/// Properties of `where()`.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereSpec {
    /// The predicate.
    pub predicate: Lambda,
}
