//! `stats(interval)`: every `interval` of wall-clock time, emits the parent node's counters
//! (measurement `stats`, field `emitted` = points emitted so far) per group.
//!
//! ```tick
//! stream|from().measurement('cpu')|stats(10s).align()|derivative('emitted').unit(10s)|log()
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `stats()`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSpec {
    /// How often the counters are emitted.
    pub interval: Duration,
    /// Align emission times to multiples of the interval.
    pub align: bool,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "stats",
    node_name: "stats",
    args: Sig::exact(&[("interval", Arg::Duration)]),
    props: &[prop("align", Sig::NONE)],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Fixed(EdgeType::Stream),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let Some(ArgValue::Duration(interval)) = node.arg(0).cloned() else {
        return None;
    };
    if interval.0 <= 0 {
        let span = node.call.span;
        node.error(
            crate::codes::INVALID_PROPERTY,
            "stats interval must be positive",
            span,
        );
        return None;
    }
    Some(NodeSpec::Stats(StatsSpec {
        interval,
        align: node.flag("align"),
    }))
}
