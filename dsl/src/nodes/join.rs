//! `join(other...)`: joins points of several parents that share a (rounded) time.
//!
//! ```tick
//! var errors = stream|from().measurement('errors')
//! var requests = stream|from().measurement('requests')
//! errors|join(requests).as('errors', 'requests').tolerance(1s)
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;
use crate::value::Value;

/// How incomplete join sets are handled.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum JoinFill {
    /// Drop incomplete sets (inner join).
    #[default]
    None,
    /// Fill missing fields with null.
    Null,
    /// Fill missing fields with this number.
    Number(f64),
}

/// Properties of `join()`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinSpec {
    /// Prefix per parent, left first (required).
    pub as_: Vec<String>,
    /// Join on a subset of dimensions.
    pub on: Vec<String>,
    /// Times are rounded to this before matching.
    pub tolerance: Duration,
    /// Fill policy.
    pub fill: JoinFill,
    /// Name of the joined points (default: the first present member's).
    pub stream_name: Option<String>,
    /// Between prefix and field name (default `.`).
    pub delimiter: String,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "join",
    node_name: "join",
    args: Sig {
        params: &[("other", Arg::Node)],
        required: 1,
        rest: Some(("other", Arg::Node)),
    },
    props: &[
        prop("as", Sig::variadic("name", Arg::Str)),
        prop("on", Sig::variadic("dimension", Arg::Str)),
        prop("tolerance", Sig::exact(&[("tolerance", Arg::Duration)])),
        prop("fill", Sig::exact(&[("fill", Arg::Any)])),
        prop("streamName", Sig::exact(&[("name", Arg::Str)])),
        prop("delimiter", Sig::exact(&[("delimiter", Arg::Str)])),
        prop("deleteAll", Sig::exact(&[("deleteAll", Arg::Bool)])),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let parents = node.parent_edges.len();
    if node.last("as").is_none() {
        let example = (0..parents)
            .map(|index| format!("'p{index}'"))
            .collect::<Vec<_>>()
            .join(", ");
        node.missing("as", &format!(".as({example})"));
        return None;
    }
    let as_ = node.strings("as");
    let span = node.span_of("as");
    if as_.len() != parents {
        node.error(
            code,
            format!(
                "join has {parents} parents but .as names {}: give one name per parent, left first",
                as_.len()
            ),
            span,
        );
        return None;
    }
    let delimiter = node.string("delimiter").unwrap_or_else(|| ".".to_owned());
    for (index, name) in as_.iter().enumerate() {
        if name.is_empty() || as_[..index].contains(name) {
            node.error(
                code,
                format!("join .as names must be unique and non-empty, got {name:?} twice or empty"),
                span,
            );
            return None;
        }
        if !delimiter.is_empty() && name.contains(&delimiter) {
            node.error(
                code,
                format!("join .as name {name:?} contains the delimiter {delimiter:?}"),
                span,
            );
            return None;
        }
    }
    let tolerance = node.duration("tolerance").unwrap_or_default();
    if tolerance.0 < 0 {
        let span = node.span_of("tolerance");
        node.error(code, "join tolerance must not be negative", span);
        return None;
    }
    let fill = match node.value("fill") {
        None => JoinFill::None,
        Some(ArgValue::Value(Value::String(text))) if text == "none" => JoinFill::None,
        Some(ArgValue::Value(Value::String(text))) if text == "null" => JoinFill::Null,
        Some(ArgValue::Value(Value::Float(number))) => JoinFill::Number(*number),
        Some(ArgValue::Value(Value::Int(number))) => JoinFill::Number(*number as f64),
        Some(_) => {
            let span = node.span_of("fill");
            node.error(code, "join fill must be 'none', 'null' or a number", span);
            return None;
        }
    };
    node.ignored(
        "deleteAll",
        "weir's join does not receive group deletes from `barrier().delete(TRUE)`",
    );
    Some(NodeSpec::Join(JoinSpec {
        as_,
        on: node.strings("on"),
        tolerance,
        fill,
        stream_name: node.string("streamName"),
        delimiter,
    }))
}
