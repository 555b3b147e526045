//! `changeDetect(field...)`: passes the first point of each group and every point whose
//! watched fields differ from the previous point's.
//!
//! ```tick
//! stream|from().measurement('packages')|changeDetect('version')|log()
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `changeDetect()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeDetectSpec {
    /// The watched fields.
    pub fields: Vec<String>,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "changeDetect",
    node_name: "change_detect",
    args: Sig {
        params: &[("field", Arg::Str)],
        required: 1,
        rest: Some(("field", Arg::Str)),
    },
    props: &[prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)]))],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
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
    Some(NodeSpec::ChangeDetect(ChangeDetectSpec {
        fields: node.arg_strings(0),
        group_ttl,
    }))
}
