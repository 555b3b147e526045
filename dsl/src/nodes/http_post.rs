//! `httpPost(url...)`: POSTs each message as Kapacitor's JSON result.
//!
//! ```tick
//! stream|from()|httpPost('http://127.0.0.1:9999/hook').header('X-Team', 'ops')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `httpPost()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpPostSpec {
    /// URLs; each message goes to every one.
    pub urls: Vec<String>,
    /// A configured `[[httppost]]` endpoint instead of URLs.
    pub endpoint: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Request timeout (none: the default).
    pub timeout: Option<Duration>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "httpPost",
    node_name: "http_post",
    args: Sig::variadic("url", Arg::Str),
    props: &[
        prop(
            "header",
            Sig::exact(&[("name", Arg::Str), ("value", Arg::Str)]),
        ),
        prop("timeout", Sig::exact(&[("timeout", Arg::Duration)])),
        prop("endpoint", Sig::exact(&[("endpoint", Arg::Str)])),
        prop("codeField", Sig::exact(&[("field", Arg::Str)])),
        prop("captureResponse", Sig::NONE),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let urls = node.arg_strings(0);
    let endpoint = node.string("endpoint");
    if urls.is_empty() && endpoint.is_none() {
        let span = node.call.span;
        node.error(
            crate::codes::MISSING_PROPERTY,
            "`httpPost` needs a URL or `.endpoint(name)`",
            span,
        );
        return None;
    }
    if !urls.is_empty() && endpoint.is_some() {
        let span = node.span_of("endpoint");
        node.error(
            crate::codes::INVALID_PROPERTY,
            "`httpPost` takes URLs or `.endpoint(name)`, not both",
            span,
        );
        return None;
    }
    node.ignored("codeField", "weir does not record response codes");
    node.ignored("captureResponse", "weir does not log response bodies");
    Some(NodeSpec::HttpPost(HttpPostSpec {
        urls,
        endpoint,
        headers: node.pairs("header"),
        timeout: node.duration("timeout"),
    }))
}
