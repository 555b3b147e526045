//! `groupBy(tag... | *)`: sets the group dimensions of points.
//!
//! ```tick
//! stream|from()|groupBy(*).exclude('cpu')
//! ```

/// Which tags make up a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupDimensions {
    /// The named tags (sorted, deduplicated).
    pub tags: Vec<String>,
    /// `*`: every tag of each point.
    pub all: bool,
    /// Tags left out when `all` is set.
    pub exclude: Vec<String>,
    /// Include the measurement in the group key.
    pub by_measurement: bool,
}

/// Properties of `groupBy()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupBySpec {
    /// The dimensions.
    pub dimensions: GroupDimensions,
}
