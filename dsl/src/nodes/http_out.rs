//! `httpOut(endpoint)`: serves the latest message of each group over HTTP.
//!
//! ```tick
//! stream|from()|window().period(1m).every(1m)|mean('usage')|httpOut('usage')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants};

/// Properties of `httpOut()`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutSpec {
    /// The endpoint name under `/kapacitor/v1/tasks/<task>/`.
    pub endpoint: String,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "httpOut",
    node_name: "http_out",
    args: Sig::exact(&[("endpoint", Arg::Str)]),
    props: &[],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let endpoint = node.arg_str(0);
    if endpoint.is_empty() || endpoint.contains('/') {
        let span = node.call.span;
        node.error(
            crate::codes::INVALID_PROPERTY,
            format!("httpOut endpoint {endpoint:?} must be a non-empty name without `/`"),
            span,
        );
        return None;
    }
    Some(NodeSpec::HttpOut(HttpOutSpec { endpoint }))
}
