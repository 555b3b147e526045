//! `eval(lambda...)`: computes new fields (or tags) from each point.
//!
//! ```tick
//! stream|from()|eval(lambda: "used" / "total" * 100.0).as('used_percent')
//! ```

use crate::lambda::Lambda;

/// Properties of `eval()`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSpec {
    /// The expressions, evaluated in order; later ones see earlier results.
    pub expressions: Vec<Lambda>,
    /// Output names, one per expression (required).
    pub as_: Vec<String>,
    /// Results that become tags instead of fields.
    pub tags: Vec<String>,
    /// `None`: no `.keep()`; `Some(empty)`: keep every field; `Some(names)`: keep exactly these.
    pub keep: Option<Vec<String>>,
    /// Do not log evaluation errors.
    pub quiet: bool,
}
