//! `derivative(field)`: rate of change between consecutive points of a group.
//!
//! ```tick
//! stream|from().measurement('net')|derivative('bytes_recv').unit(1s).nonNegative()
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `derivative()`.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivativeSpec {
    /// Input field.
    pub field: String,
    /// Rate unit (default 1s).
    pub unit: Duration,
    /// Drop negative rates.
    pub non_negative: bool,
    /// Output field (default: the input field, which is replaced).
    pub as_: String,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "derivative",
    node_name: "derivative",
    args: Sig::exact(&[("field", Arg::Str)]),
    props: &[
        prop("as", Sig::exact(&[("name", Arg::Str)])),
        prop("unit", Sig::exact(&[("unit", Arg::Duration)])),
        prop("nonNegative", Sig::NONE),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let field = node.arg_str(0);
    let unit = node.duration("unit").unwrap_or(Duration::SECOND);
    if unit.0 <= 0 {
        let span = node.span_of("unit");
        node.error(
            crate::codes::INVALID_PROPERTY,
            format!("derivative unit must be positive, got {unit}"),
            span,
        );
        return None;
    }
    Some(NodeSpec::Derivative(DerivativeSpec {
        as_: node.string("as").unwrap_or_else(|| field.clone()),
        field,
        unit,
        non_negative: node.flag("nonNegative"),
    }))
}
