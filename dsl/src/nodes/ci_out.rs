//! `ciOut()`: weir's own sink for configuration-item history: each point describes an item
//! of `kind`, identified by the `key` tag, whose `config` fields and tags are tracked, and
//! changes are recorded.
//!
//! ```tick
//! stream|from().measurement('node_uname_info')|ciOut().kind('host').key('instance').config('os', 'kernel')
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Properties of `ciOut()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CiOutSpec {
    /// The item kind (`host`, `pod`, ...).
    pub kind: String,
    /// The tag that identifies an item.
    pub key: String,
    /// The tracked tags and fields (empty: all of them).
    pub config: Vec<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "ciOut",
    node_name: "ci_out",
    args: Sig::NONE,
    props: &[
        prop("kind", Sig::exact(&[("kind", Arg::Str)])),
        prop("key", Sig::exact(&[("tag", Arg::Str)])),
        prop("config", Sig::variadic("name", Arg::Str)),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Fixed(EdgeType::None),
    chains: Chains::Only(&["stats", "deadman"]),
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let Some(kind) = node.string("kind").filter(|kind| !kind.is_empty()) else {
        node.missing("kind", ".kind('host')");
        return None;
    };
    let Some(key) = node.string("key").filter(|key| !key.is_empty()) else {
        node.missing("key", ".key('instance')");
        return None;
    };
    Some(NodeSpec::CiOut(CiOutSpec {
        kind,
        key,
        config: node.strings_all("config"),
    }))
}
