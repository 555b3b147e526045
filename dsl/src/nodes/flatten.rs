//! `flatten()`: merges the points of a group that share a time into one point, prefixing
//! each field with the values of the `on` tags.
//!
//! ```tick
//! stream|from().measurement('disk')|flatten().on('path').tolerance(1s)|log()
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `flatten()`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlattenSpec {
    /// Tags whose values prefix the field names.
    pub on: Vec<String>,
    /// Between prefix parts and the field name (default `.`).
    pub delimiter: String,
    /// Points within this of each other flatten together.
    pub tolerance: Duration,
    /// Use only the tag values as field names (one field per point).
    pub drop_original_field_name: bool,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "flatten",
    node_name: "flatten",
    args: Sig::NONE,
    props: &[
        prop("on", Sig::variadic("tag", Arg::Str)),
        prop("delimiter", Sig::exact(&[("delimiter", Arg::Str)])),
        prop("tolerance", Sig::exact(&[("tolerance", Arg::Duration)])),
        prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)])),
        prop(
            "dropOriginalFieldName",
            Sig {
                params: &[("drop", Arg::Bool)],
                required: 0,
                rest: None,
            },
        ),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    if node.last("on").is_none() {
        node.missing("on", ".on('path')");
        return None;
    }
    let drop_original_field_name = match node.last("dropOriginalFieldName") {
        None => false,
        Some(call) => !matches!(call.args.first(), Some((ArgValue::Bool(false), _))),
    };
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
    Some(NodeSpec::Flatten(FlattenSpec {
        on: node.strings("on"),
        delimiter: node.string("delimiter").unwrap_or_else(|| ".".to_owned()),
        tolerance: node.duration("tolerance").unwrap_or_default(),
        drop_original_field_name,
        group_ttl,
    }))
}
