//! `httpOut(endpoint)`: serves the latest message of each group over HTTP.
//!
//! ```tick
//! stream|from()|window().period(1m).every(1m)|mean('usage')|httpOut('usage')
//! ```

/// Properties of `httpOut()`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutSpec {
    /// The endpoint name under `/kapacitor/v1/tasks/<task>/`.
    pub endpoint: String,
}
