//! InfluxQL functions: aggregates (`mean`, `sum`, `count`, ...), selectors (`first`, `last`,
//! `min`, `max`, `percentile`, `top`, `bottom`) and transformations (`difference`,
//! `movingAverage`, `cumulativeSum`, `elapsed`).
//!
//! ```tick
//! stream|from()|window().period(1m).every(1m)|mean('usage').as('avg')
//! ```

use crate::value::Duration;

/// Which InfluxQL function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AggregateFunction {
    /// `count(field)`.
    Count,
    /// `distinct(field)`.
    Distinct,
    /// `mean(field)`.
    Mean,
    /// `median(field)`.
    Median,
    /// `mode(field)`.
    Mode,
    /// `spread(field)`.
    Spread,
    /// `sum(field)`.
    Sum,
    /// `stddev(field)`.
    Stddev,
    /// `first(field)`.
    First,
    /// `last(field)`.
    Last,
    /// `min(field)`.
    Min,
    /// `max(field)`.
    Max,
    /// `percentile(field, p)`.
    Percentile(f64),
    /// `top(n, field, extra...)`.
    Top {
        /// How many.
        n: i64,
        /// Extra tags or fields to keep.
        extra: Vec<String>,
    },
    /// `bottom(n, field, extra...)`.
    Bottom {
        /// How many.
        n: i64,
        /// Extra tags or fields to keep.
        extra: Vec<String>,
    },
    /// `difference(field)`.
    Difference,
    /// `movingAverage(field, n)`.
    MovingAverage(i64),
    /// `cumulativeSum(field)`.
    CumulativeSum,
    /// `elapsed(field, unit)`.
    Elapsed(Duration),
}

impl AggregateFunction {
    /// The TICKscript name, which is also the default output field name.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Distinct => "distinct",
            AggregateFunction::Mean => "mean",
            AggregateFunction::Median => "median",
            AggregateFunction::Mode => "mode",
            AggregateFunction::Spread => "spread",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Stddev => "stddev",
            AggregateFunction::First => "first",
            AggregateFunction::Last => "last",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::Percentile(_) => "percentile",
            AggregateFunction::Top { .. } => "top",
            AggregateFunction::Bottom { .. } => "bottom",
            AggregateFunction::Difference => "difference",
            AggregateFunction::MovingAverage(_) => "movingAverage",
            AggregateFunction::CumulativeSum => "cumulativeSum",
            AggregateFunction::Elapsed(_) => "elapsed",
        }
    }
}

/// Properties of an InfluxQL function node.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// The function.
    pub function: AggregateFunction,
    /// The input field.
    pub field: String,
    /// The output field name (default: the function name).
    pub as_: String,
    /// Stamp results with the selected point's time instead of the window end.
    pub use_point_times: bool,
}
