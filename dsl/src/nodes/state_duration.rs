//! `stateDuration(lambda)`: how long each group has been in a state: -1 while the predicate
//! is false, else the time since it became true, in `unit`s (0 at the first true point).
//!
//! ```tick
//! stream|from()|stateDuration(lambda: "usage" > 90.0).unit(1m).as('hot_minutes')|log()
//! ```

use crate::lambda::Lambda;
use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `stateDuration()`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDurationSpec {
    /// The state.
    pub predicate: Lambda,
    /// Output field (default `state_duration`).
    pub as_: String,
    /// Unit of the output (default 1s).
    pub unit: Duration,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "stateDuration",
    node_name: "state_duration",
    args: Sig::exact(&[("predicate", Arg::Predicate)]),
    props: &[
        prop("as", Sig::exact(&[("name", Arg::Str)])),
        prop("unit", Sig::exact(&[("unit", Arg::Duration)])),
        prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)])),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let Some(ArgValue::Lambda(predicate)) = node.arg(0).cloned() else {
        return None;
    };
    let unit = node.duration("unit").unwrap_or(Duration::SECOND);
    if unit.0 <= 0 {
        let span = node.span_of("unit");
        node.error(
            crate::codes::INVALID_PROPERTY,
            "stateDuration unit must be positive",
            span,
        );
        return None;
    }
    let as_ = node
        .string("as")
        .unwrap_or_else(|| "state_duration".to_owned());
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
    Some(NodeSpec::StateDuration(StateDurationSpec {
        predicate,
        as_,
        unit,
        group_ttl,
    }))
}
