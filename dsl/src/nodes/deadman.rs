//! `deadman(threshold, interval[, lambda...])`: alerts CRITICAL when a node emitted at most
//! `threshold` points in the last `interval` (wall clock). Kapacitor expands it to
//! `stats(interval)|derivative('emitted')|alert()`; weir keeps it one node, and it takes
//! every alert property and handler.
//!
//! ```tick
//! stream|from().measurement('cpu')|deadman(0.0, 5m).id('cpu_dead').log('/tmp/deadman.log')
//! ```

use crate::lambda::Lambda;
use crate::nodes::{AlertSpec, NodeSpec, alert};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants};
use crate::value::Duration;

/// Properties of `deadman()`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadmanSpec {
    /// Points per interval at or below which the node is dead.
    pub threshold: f64,
    /// The measuring interval.
    pub interval: Duration,
    /// Extra conditions, all of which must hold too (ANDed with the threshold test).
    pub expressions: Vec<Lambda>,
    /// The alert's properties and handlers (level predicates are unused; the default id is
    /// `node 'NAME' in task 'TASK'` in Kapacitor).
    pub alert: AlertSpec,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "deadman",
    node_name: "deadman",
    args: Sig {
        params: &[("threshold", Arg::Float), ("interval", Arg::Duration)],
        required: 2,
        rest: Some(("expression", Arg::Predicate)),
    },
    props: alert::KIND.props,
    handlers: alert::KIND.handlers,
    wants: Wants::Any,
    provides: Provides::Fixed(crate::nodes::EdgeType::Stream),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let (Some(ArgValue::Float(threshold)), Some(ArgValue::Duration(interval))) =
        (node.arg(0).cloned(), node.arg(1).cloned())
    else {
        return None;
    };
    if threshold < 0.0 || interval.0 <= 0 {
        let span = node.call.span;
        node.error(
            crate::codes::INVALID_PROPERTY,
            "deadman needs a threshold >= 0.0 and a positive interval",
            span,
        );
        return None;
    }
    let expressions = node
        .call
        .args
        .iter()
        .skip(2)
        .filter_map(|(value, _)| match value {
            ArgValue::Lambda(lambda) => Some(lambda.clone()),
            _ => None,
        })
        .collect();
    let Some(NodeSpec::Alert(alert)) = (alert::KIND.build)(node) else {
        return None;
    };
    Some(NodeSpec::Deadman(DeadmanSpec {
        threshold,
        interval,
        expressions,
        alert,
    }))
}
