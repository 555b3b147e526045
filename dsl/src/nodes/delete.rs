//! `delete()`: removes fields and tags.
//!
//! ```tick
//! stream|from()|delete().field('debug').tag('pod_uid')
//! ```

/// Properties of `delete()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteSpec {
    /// Fields to remove.
    pub fields: Vec<String>,
    /// Tags to remove.
    pub tags: Vec<String>,
}
