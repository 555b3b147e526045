//! `barrier()`: emits a barrier per group after `idle` without points, or every `period`, so
//! downstream windows and joins flush without waiting for the next point.
//!
//! ```tick
//! stream|from()|barrier().idle(30s).delete(TRUE)|window().period(1m).every(1m)|count('value')|log()
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `barrier()`: exactly one of `idle` and `period`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarrierSpec {
    /// Emit a barrier after this long without points in a group.
    pub idle: Option<Duration>,
    /// Emit a barrier for every group this often.
    pub period: Option<Duration>,
    /// Forget the group after its barrier.
    pub delete: bool,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "barrier",
    node_name: "barrier",
    args: Sig::NONE,
    props: &[
        prop("idle", Sig::exact(&[("idle", Arg::Duration)])),
        prop("period", Sig::exact(&[("period", Arg::Duration)])),
        prop("delete", Sig::exact(&[("delete", Arg::Bool)])),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let idle = node.duration("idle");
    let period = node.duration("period");
    match (idle, period) {
        (Some(_), Some(_)) => {
            let span = node.span_of("period");
            node.error(code, "barrier takes .idle() or .period(), not both", span);
            return None;
        }
        (None, None) => {
            node.missing("idle", ".idle(1m)");
            return None;
        }
        _ => {}
    }
    if idle.or(period).is_some_and(|duration| duration.0 <= 0) {
        let span = node.call.span;
        node.error(code, "barrier idle and period must be positive", span);
        return None;
    }
    let delete = matches!(node.value("delete"), Some(ArgValue::Bool(true)));
    Some(NodeSpec::Barrier(BarrierSpec {
        idle,
        period,
        delete,
    }))
}
