//! `log()`: logs every message passing through.
//!
//! ```tick
//! stream|from()|log().level('DEBUG').prefix('cpu')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Properties of `log()`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// `DEBUG`, `INFO`, `WARN` or `ERROR` (default `INFO`).
    pub level: String,
    /// Prefix of each log line.
    pub prefix: String,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "log",
    node_name: "log",
    args: Sig::NONE,
    props: &[
        prop("level", Sig::exact(&[("level", Arg::Str)])),
        prop("prefix", Sig::exact(&[("prefix", Arg::Str)])),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

const LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let level = node.string("level").unwrap_or_else(|| "INFO".to_owned());
    if !LEVELS.contains(&level.as_str()) {
        let span = node.span_of("level");
        node.error(
            crate::codes::INVALID_PROPERTY,
            format!("invalid log level {level:?}, expected one of DEBUG, INFO, WARN, ERROR"),
            span,
        );
        return None;
    }
    Some(NodeSpec::Log(LogSpec {
        level,
        prefix: node.string("prefix").unwrap_or_default(),
    }))
}
