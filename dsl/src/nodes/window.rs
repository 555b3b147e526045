//! `window()`: buffers a stream per group and emits batches on time or count boundaries.
//!
//! ```tick
//! stream|from()|window().period(10m).every(5m).align()
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `window()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowSpec {
    /// Length of the window.
    pub period: Option<Duration>,
    /// How often a window is emitted; `Some(0)` (also the default when only `.period` is
    /// given, as in Kapacitor) emits a window for every point.
    pub every: Option<Duration>,
    /// Align boundaries to multiples of `every`.
    pub align: bool,
    /// Emit the first window only once it spans a full period.
    pub fill_period: bool,
    /// Length of the window in points.
    pub period_count: Option<i64>,
    /// Emit every this many points.
    pub every_count: Option<i64>,
    /// weir extension: emit an open window after this much wall time without input.
    pub flush_idle: Option<Duration>,
    /// weir extension: forget a group after this much time without points.
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "window",
    node_name: "window",
    args: Sig::NONE,
    props: &[
        prop("period", Sig::exact(&[("period", Arg::Duration)])),
        prop("every", Sig::exact(&[("every", Arg::Duration)])),
        prop("align", Sig::NONE),
        prop("fillPeriod", Sig::NONE),
        prop("periodCount", Sig::exact(&[("count", Arg::Int)])),
        prop("everyCount", Sig::exact(&[("count", Arg::Int)])),
        prop("flushIdle", Sig::exact(&[("idle", Arg::Duration)])),
        prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)])),
    ],
    handlers: &[],
    wants: Wants::Stream,
    provides: Provides::Fixed(EdgeType::Batch),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let mut spec = WindowSpec {
        period: node.duration("period"),
        every: node.duration("every"),
        align: node.flag("align"),
        fill_period: node.flag("fillPeriod"),
        period_count: node.int("periodCount"),
        every_count: node.int("everyCount"),
        flush_idle: node.duration("flushIdle"),
        group_ttl: node.duration("groupTTL"),
    };
    let by_time = spec.period.is_some() || spec.every.is_some();
    let by_count = spec.period_count.is_some() || spec.every_count.is_some();
    let code = crate::codes::INVALID_PROPERTY;
    if by_time && by_count {
        let span = node.span_of("periodCount");
        node.error(
            code,
            "window cannot mix period/every with periodCount/everyCount",
            span,
        );
        return None;
    }
    if !by_time && !by_count {
        node.missing("period", ".period(10s).every(10s)");
        return None;
    }
    if by_time {
        // Kapacitor's default for a missing `every` is 0: a window is emitted for every point.
        let every = *spec.every.get_or_insert(Duration(0));
        let Some(period) = spec.period else {
            node.missing("period", ".period(10s)");
            return None;
        };
        if period.0 <= 0 || every.0 < 0 {
            let span = node.span_of("period");
            node.error(code, format!("window period must be positive and every not negative, got period {period} every {every}"), span);
            return None;
        }
    } else {
        if spec.align {
            let span = node.span_of("align");
            node.error(code, "count windows cannot be aligned", span);
            return None;
        }
        let (Some(period), Some(every)) = (spec.period_count, spec.every_count) else {
            let missing = if spec.period_count.is_none() {
                "periodCount"
            } else {
                "everyCount"
            };
            node.missing(
                missing,
                if missing == "periodCount" {
                    ".periodCount(10)"
                } else {
                    ".everyCount(10)"
                },
            );
            return None;
        };
        if period <= 0 || every <= 0 {
            let span = node.span_of("periodCount");
            node.error(
                code,
                format!("periodCount and everyCount must be positive, got {period} and {every}"),
                span,
            );
            return None;
        }
    }
    for name in ["flushIdle", "groupTTL"] {
        if node.duration(name).is_some_and(|duration| duration.0 <= 0) {
            let span = node.span_of(name);
            node.error(code, format!("window {name} must be positive"), span);
            return None;
        }
    }
    Some(NodeSpec::Window(spec))
}
