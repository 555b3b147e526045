//! `where(lambda)`: drops points for which the predicate is false or fails.
//!
//! ```tick
//! stream|from()|where(lambda: "usage" > 90.0)
//! ```

use crate::lambda::Lambda;
use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants};

/// Properties of `where()`.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereSpec {
    /// The predicate.
    pub predicate: Lambda,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "where",
    node_name: "where",
    args: Sig::exact(&[("predicate", Arg::Predicate)]),
    props: &[],
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
    Some(NodeSpec::Where(WhereSpec { predicate }))
}
