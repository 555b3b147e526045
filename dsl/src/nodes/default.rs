//! `default()`: sets fields and tags that a point lacks.
//!
//! ```tick
//! stream|from()|default().field('value', 0.0).tag('host', 'unknown')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Value;

/// Properties of `default()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefaultSpec {
    /// Field defaults.
    pub fields: Vec<(String, Value)>,
    /// Tag defaults.
    pub tags: Vec<(String, String)>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "default",
    node_name: "default",
    args: Sig::NONE,
    props: &[
        prop(
            "field",
            Sig::exact(&[("name", Arg::Str), ("value", Arg::Any)]),
        ),
        prop(
            "tag",
            Sig::exact(&[("name", Arg::Str), ("value", Arg::Str)]),
        ),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let fields = node
        .all("field")
        .filter_map(|call| match (call.args.first(), call.args.get(1)) {
            (Some((ArgValue::Str(name), _)), Some((ArgValue::Value(value), _))) => {
                Some((name.clone(), value.clone()))
            }
            _ => None,
        })
        .collect();
    Some(NodeSpec::Default(DefaultSpec {
        fields,
        tags: node.pairs("tag"),
    }))
}
