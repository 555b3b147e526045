//! `sample(n | duration)`: keeps every n-th point (or one point per interval) of each group.
//!
//! ```tick
//! stream|from()|sample(10)|httpOut('sampled')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::{Duration, Value};

/// How often `sample()` keeps a point.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleRate {
    /// Keep the 1st, (n+1)th, (2n+1)th ... point of each group.
    Count(i64),
    /// Keep the first point of each interval, per group.
    Duration(Duration),
}

/// Properties of `sample()`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    /// The rate.
    pub rate: SampleRate,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "sample",
    node_name: "sample",
    args: Sig::exact(&[("rate", Arg::Any)]),
    props: &[prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)]))],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let rate = match node.arg(0) {
        Some(ArgValue::Value(Value::Int(count))) if *count > 0 => SampleRate::Count(*count),
        Some(ArgValue::Value(Value::Duration(interval))) if interval.0 > 0 => {
            SampleRate::Duration(*interval)
        }
        _ => {
            let span = node.call.span;
            node.error(
                crate::codes::INVALID_PROPERTY,
                "sample needs a positive count or duration, e.g. sample(10) or sample(1m)",
                span,
            );
            return None;
        }
    };
    let group_ttl = node.duration("groupTTL");
    if group_ttl.is_some_and(|ttl| ttl.0 <= 0) {
        let span = node.span_of("groupTTL");
        node.error(
            crate::codes::INVALID_PROPERTY,
            "groupTTL must be positive",
            span,
        );
        return None;
    }
    Some(NodeSpec::Sample(SampleSpec { rate, group_ttl }))
}
