//! `changeDetect(field...)`: passes the first point of each group and every point whose
//! watched fields differ from the previous point's.
//!
//! ```tick
//! stream|from().measurement('packages')|changeDetect('version')|log()
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants};

/// Properties of `changeDetect()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeDetectSpec {
    /// The watched fields.
    pub fields: Vec<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "changeDetect",
    node_name: "change_detect",
    args: Sig {
        params: &[("field", Arg::Str)],
        required: 1,
        rest: Some(("field", Arg::Str)),
    },
    props: &[],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    Some(NodeSpec::ChangeDetect(ChangeDetectSpec {
        fields: node.arg_strings(0),
    }))
}
