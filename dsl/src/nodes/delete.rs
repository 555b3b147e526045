//! `delete()`: removes fields and tags.
//!
//! ```tick
//! stream|from()|delete().field('debug').tag('pod_uid')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Properties of `delete()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteSpec {
    /// Fields to remove.
    pub fields: Vec<String>,
    /// Tags to remove.
    pub tags: Vec<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "delete",
    node_name: "delete",
    args: Sig::NONE,
    props: &[
        prop("field", Sig::exact(&[("name", Arg::Str)])),
        prop("tag", Sig::exact(&[("name", Arg::Str)])),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    Some(NodeSpec::Delete(DeleteSpec {
        fields: node.strings_all("field"),
        tags: node.strings_all("tag"),
    }))
}
