//! `stateCount(lambda)`: how many consecutive points of each group satisfied the predicate:
//! -1 while it is false, then 1, 2, 3...
//!
//! ```tick
//! stream|from()|stateCount(lambda: "usage" > 90.0).as('hot_points')|log()
//! ```

use crate::lambda::Lambda;
use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `stateCount()`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateCountSpec {
    /// The state.
    pub predicate: Lambda,
    /// Output field (default `state_count`).
    pub as_: String,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "stateCount",
    node_name: "state_count",
    args: Sig::exact(&[("predicate", Arg::Predicate)]),
    props: &[
        prop("as", Sig::exact(&[("name", Arg::Str)])),
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
    let as_ = node
        .string("as")
        .unwrap_or_else(|| "state_count".to_owned());
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
    Some(NodeSpec::StateCount(StateCountSpec {
        predicate,
        as_,
        group_ttl,
    }))
}
