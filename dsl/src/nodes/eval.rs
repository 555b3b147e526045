//! `eval(lambda...)`: computes new fields (or tags) from each point.
//!
//! ```tick
//! stream|from()|eval(lambda: "used" / "total" * 100.0).as('used_percent')
//! ```

use crate::lambda::Lambda;
use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Properties of `eval()`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSpec {
    /// The expressions, evaluated in order; later ones see earlier results.
    pub expressions: Vec<Lambda>,
    /// Output names, one per expression (required).
    pub as_: Vec<String>,
    /// Results that become tags instead of fields.
    pub tags: Vec<String>,
    /// `None`: no `.keep()`; `Some(empty)`: keep every field; `Some(names)`: keep exactly these.
    pub keep: Option<Vec<String>>,
    /// Do not log evaluation errors.
    pub quiet: bool,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "eval",
    node_name: "eval",
    args: Sig {
        params: &[("expression", Arg::Lambda)],
        required: 1,
        rest: Some(("expression", Arg::Lambda)),
    },
    props: &[
        prop("as", Sig::variadic("name", Arg::Str)),
        prop("tags", Sig::variadic("name", Arg::Str)),
        prop("keep", Sig::variadic("field", Arg::Str)),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let expressions: Vec<_> = node
        .call
        .args
        .iter()
        .filter_map(|(value, _)| match value {
            ArgValue::Lambda(lambda) => Some(lambda.clone()),
            _ => None,
        })
        .collect();
    if node.last("as").is_none() {
        node.missing("as", ".as('result')");
        return None;
    }
    let as_ = node.strings("as");
    if as_.len() != expressions.len() {
        let span = node.span_of("as");
        node.error(
            code,
            format!(
                "eval has {} expressions but .as names {}: give one name per expression",
                expressions.len(),
                as_.len()
            ),
            span,
        );
        return None;
    }
    let tags = node.strings("tags");
    if let Some(stray) = tags.iter().find(|tag| !as_.contains(tag)) {
        let span = node.span_of("tags");
        node.error(
            code,
            format!("eval .tags names {stray:?}, which is not one of the .as names"),
            span,
        );
        return None;
    }
    let keep = node.last("keep").map(|_| node.strings("keep"));
    Some(NodeSpec::Eval(EvalSpec {
        expressions,
        as_,
        tags,
        keep,
        quiet: node.flag("quiet"),
    }))
}
