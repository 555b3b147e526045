//! InfluxQL functions: aggregates (`mean`, `sum`, `count`, ...), selectors (`first`, `last`,
//! `min`, `max`, `percentile`, `top`, `bottom`) and transformations (`difference`,
//! `movingAverage`, `cumulativeSum`, `elapsed`).
//!
//! ```tick
//! stream|from()|window().period(1m).every(1m)|mean('usage').as('avg')
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
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

const PROPS: &[crate::schema::Prop] = &[
    prop("as", Sig::exact(&[("name", Arg::Str)])),
    prop("usePointTimes", Sig::NONE),
];
const FIELD: Sig = Sig::exact(&[("field", Arg::Str)]);
const TOP: Sig = Sig {
    params: &[("num", Arg::Int), ("field", Arg::Str)],
    required: 2,
    rest: Some(("fieldOrTag", Arg::Str)),
};

const fn kind(method: &'static str, args: Sig, provides: Provides) -> NodeKind {
    NodeKind {
        method,
        node_name: method,
        args,
        props: PROPS,
        handlers: &[],
        wants: Wants::Any,
        provides,
        chains: Chains::Common,
        build,
    }
}

const STREAM: Provides = Provides::Fixed(EdgeType::Stream);
const BATCH: Provides = Provides::Fixed(EdgeType::Batch);

/// Every InfluxQL function node.
pub(crate) const KINDS: &[NodeKind] = &[
    kind("count", FIELD, STREAM),
    kind("distinct", FIELD, BATCH),
    kind("mean", FIELD, STREAM),
    kind("median", FIELD, STREAM),
    kind("mode", FIELD, STREAM),
    kind("spread", FIELD, STREAM),
    kind("sum", FIELD, STREAM),
    kind("stddev", FIELD, STREAM),
    kind("first", FIELD, STREAM),
    kind("last", FIELD, STREAM),
    kind("min", FIELD, STREAM),
    kind("max", FIELD, STREAM),
    kind(
        "percentile",
        Sig::exact(&[("field", Arg::Str), ("percentile", Arg::Float)]),
        STREAM,
    ),
    kind("top", TOP, BATCH),
    kind("bottom", TOP, BATCH),
    kind("difference", FIELD, Provides::Same),
    kind(
        "movingAverage",
        Sig::exact(&[("field", Arg::Str), ("window", Arg::Int)]),
        Provides::Same,
    ),
    kind("cumulativeSum", FIELD, Provides::Same),
    kind(
        "elapsed",
        Sig::exact(&[("field", Arg::Str), ("unit", Arg::Duration)]),
        Provides::Same,
    ),
];

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let span = node.call.span;
    let int_arg = |node: &NodeBuild<'_>, index: usize| match node.arg(index) {
        Some(ArgValue::Int(value)) => *value,
        _ => 0,
    };
    let (function, field) = match node.kind.method {
        "count" => (AggregateFunction::Count, node.arg_str(0)),
        "distinct" => (AggregateFunction::Distinct, node.arg_str(0)),
        "mean" => (AggregateFunction::Mean, node.arg_str(0)),
        "median" => (AggregateFunction::Median, node.arg_str(0)),
        "mode" => (AggregateFunction::Mode, node.arg_str(0)),
        "spread" => (AggregateFunction::Spread, node.arg_str(0)),
        "sum" => (AggregateFunction::Sum, node.arg_str(0)),
        "stddev" => (AggregateFunction::Stddev, node.arg_str(0)),
        "first" => (AggregateFunction::First, node.arg_str(0)),
        "last" => (AggregateFunction::Last, node.arg_str(0)),
        "min" => (AggregateFunction::Min, node.arg_str(0)),
        "max" => (AggregateFunction::Max, node.arg_str(0)),
        "percentile" => {
            let Some(ArgValue::Float(percentile)) = node.arg(1).cloned() else {
                return None;
            };
            if !(0.0..=100.0).contains(&percentile) {
                node.error(
                    code,
                    format!("percentile must be between 0.0 and 100.0, got {percentile}"),
                    span,
                );
                return None;
            }
            (AggregateFunction::Percentile(percentile), node.arg_str(0))
        }
        "top" | "bottom" => {
            let n = int_arg(node, 0);
            if n <= 0 {
                node.error(
                    code,
                    format!(
                        "{} needs a positive number of points, got {n}",
                        node.kind.method
                    ),
                    span,
                );
                return None;
            }
            let extra = node.arg_strings(2);
            let function = if node.kind.method == "top" {
                AggregateFunction::Top { n, extra }
            } else {
                AggregateFunction::Bottom { n, extra }
            };
            (function, node.arg_str(1))
        }
        "difference" => (AggregateFunction::Difference, node.arg_str(0)),
        "movingAverage" => {
            let window = int_arg(node, 1);
            if window <= 0 {
                node.error(
                    code,
                    format!("movingAverage needs a positive window, got {window}"),
                    span,
                );
                return None;
            }
            (AggregateFunction::MovingAverage(window), node.arg_str(0))
        }
        "cumulativeSum" => (AggregateFunction::CumulativeSum, node.arg_str(0)),
        _ => {
            let Some(ArgValue::Duration(unit)) = node.arg(1).cloned() else {
                return None;
            };
            if unit.0 <= 0 {
                node.error(
                    code,
                    format!("elapsed needs a positive unit, got {unit}"),
                    span,
                );
                return None;
            }
            (AggregateFunction::Elapsed(unit), node.arg_str(0))
        }
    };
    let as_ = node
        .string("as")
        .unwrap_or_else(|| function.name().to_owned());
    Some(NodeSpec::Aggregate(AggregateSpec {
        function,
        field,
        as_,
        use_point_times: node.flag("usePointTimes"),
    }))
}
