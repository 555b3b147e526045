//! `union(other...)`: merges the messages of several parents.
//!
//! ```tick
//! var a = stream|from().measurement('a')
//! var b = stream|from().measurement('b')
//! a|union(b).rename('ab')
//! ```

/// Properties of `union()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnionSpec {
    /// New measurement name for every message.
    pub rename: Option<String>,
}
