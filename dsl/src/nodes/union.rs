//! `union(other...)`: merges the messages of several parents.
//!
//! ```tick
//! var a = stream|from().measurement('a')
//! var b = stream|from().measurement('b')
//! a|union(b).rename('ab')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Properties of `union()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnionSpec {
    /// New measurement name for every message.
    pub rename: Option<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "union",
    node_name: "union",
    args: Sig::variadic("node", Arg::Node),
    props: &[prop("rename", Sig::exact(&[("name", Arg::Str)]))],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    Some(NodeSpec::Union(UnionSpec {
        rename: node.string("rename"),
    }))
}
