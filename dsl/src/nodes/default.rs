//! `default()`: sets fields and tags that a point lacks.
//!
//! ```tick
//! stream|from()|default().field('value', 0.0).tag('host', 'unknown')
//! ```

use crate::value::Value;

/// Properties of `default()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefaultSpec {
    /// Field defaults.
    pub fields: Vec<(String, Value)>,
    /// Tag defaults.
    pub tags: Vec<(String, String)>,
}
