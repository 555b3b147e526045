//! `batch|query('SELECT ...')`: runs an InfluxQL query on a schedule and emits its result as
//! batches. weir adds the time range and the `GROUP BY` from the properties, as Kapacitor does.
//!
//! ```tick
//! batch|query('SELECT mean("usage_user") AS usage FROM "telegraf"."autogen"."cpu"').period(5m).every(1m).groupBy(time(1m), 'host')
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::{Duration, Value};

/// How empty `GROUP BY time()` buckets are filled.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum QueryFill {
    /// No `fill()` clause (InfluxDB's default, `null`).
    #[default]
    Default,
    /// `fill(null)`.
    Null,
    /// `fill(none)`.
    None,
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
    /// `fill(<number>)`.
    Number(f64),
}

/// Properties of `query()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySpec {
    /// The InfluxQL `SELECT` statement, without a time condition or `GROUP BY`.
    pub query: String,
    /// Time range of each query (`now() - period` to `now()`).
    pub period: Duration,
    /// How often the query runs.
    pub every: Duration,
    /// Shift the range into the past by this much.
    pub offset: Duration,
    /// Align run times to multiples of `every`.
    pub align: bool,
    /// `GROUP BY time(every, offset)`, when requested.
    pub group_by_time: Option<(Duration, Duration)>,
    /// `GROUP BY` tags (`*` for all).
    pub group_by: crate::nodes::GroupDimensions,
    /// Fill policy.
    pub fill: QueryFill,
    /// The `[[influxdb]]` source by name (none: the default one).
    pub cluster: Option<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "query",
    node_name: "query",
    args: Sig::exact(&[("query", Arg::Str)]),
    props: &[
        prop("period", Sig::exact(&[("period", Arg::Duration)])),
        prop("every", Sig::exact(&[("every", Arg::Duration)])),
        prop("offset", Sig::exact(&[("offset", Arg::Duration)])),
        prop("align", Sig::NONE),
        prop("alignGroup", Sig::NONE),
        prop("groupBy", Sig::variadic("dimension", Arg::StrOrTime)),
        prop("groupByMeasurement", Sig::NONE),
        prop("fill", Sig::exact(&[("fill", Arg::Any)])),
        prop("cluster", Sig::exact(&[("cluster", Arg::Str)])),
    ],
    handlers: &[],
    wants: Wants::Batch,
    provides: Provides::Fixed(EdgeType::Batch),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let query = node.arg_str(0);
    if !query
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("SELECT")
    {
        let span = node.call.span;
        node.error(code, "query() needs an InfluxQL SELECT statement", span);
        return None;
    }
    let Some(period) = node.duration("period") else {
        node.missing("period", ".period(5m)");
        return None;
    };
    let Some(every) = node.duration("every") else {
        node.missing("every", ".every(1m)");
        return None;
    };
    if period.0 <= 0 || every.0 <= 0 {
        let span = node.span_of("period");
        node.error(
            code,
            format!("query period and every must be positive, got {period} and {every}"),
            span,
        );
        return None;
    }
    let mut group_by_time = None;
    let mut tags = Vec::new();
    if let Some(call) = node.last("groupBy") {
        for (value, _) in &call.args {
            match value {
                ArgValue::Time(interval, offset) => group_by_time = Some((*interval, *offset)),
                other => tags.push(other.clone()),
            }
        }
    }
    let mut group_by = crate::nodes::GroupDimensions::from_args(tags.iter());
    group_by.by_measurement = node.flag("groupByMeasurement");
    let fill = match node.value("fill") {
        None => QueryFill::Default,
        Some(ArgValue::Value(Value::String(text))) => {
            match text.as_str() {
                "null" => QueryFill::Null,
                "none" => QueryFill::None,
                "previous" => QueryFill::Previous,
                "linear" => QueryFill::Linear,
                other => {
                    let span = node.span_of("fill");
                    node.error(code, format!("invalid fill {other:?}, expected null, none, previous, linear or a number"), span);
                    return None;
                }
            }
        }
        Some(ArgValue::Value(Value::Float(number))) => QueryFill::Number(*number),
        Some(ArgValue::Value(Value::Int(number))) => QueryFill::Number(*number as f64),
        Some(_) => {
            let span = node.span_of("fill");
            node.error(
                code,
                "query fill must be 'null', 'none', 'previous', 'linear' or a number",
                span,
            );
            return None;
        }
    };
    Some(NodeSpec::Query(QuerySpec {
        query,
        period,
        every,
        offset: node.duration("offset").unwrap_or_default(),
        align: node.flag("align") || node.flag("alignGroup"),
        group_by_time,
        group_by,
        fill,
        cluster: node.string("cluster"),
    }))
}
