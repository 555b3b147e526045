//! `shift(duration)`: moves point and batch times.
//!
//! ```tick
//! stream|from()|shift(-1h)
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants};
use crate::value::Duration;

/// Properties of `shift()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftSpec {
    /// The shift, possibly negative.
    pub shift: Duration,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "shift",
    node_name: "shift",
    args: Sig::exact(&[("shift", Arg::Duration)]),
    props: &[],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let Some(ArgValue::Duration(shift)) = node.arg(0).cloned() else {
        return None;
    };
    Some(NodeSpec::Shift(ShiftSpec { shift }))
}
