//! `combine(lambda...)`: pairs points of the same time (within `tolerance`) from one stream,
//! each matching one expression, into single points with prefixed fields.
//!
//! ```tick
//! stream|from().measurement('request_latency')|combine(lambda: "service" == 'auth', lambda: TRUE).as('auth', 'other').tolerance(1s)|log()
//! ```

use crate::lambda::Lambda;
use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `combine()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CombineSpec {
    /// One predicate per member.
    pub expressions: Vec<Lambda>,
    /// Prefix per member (required, one per expression).
    pub as_: Vec<String>,
    /// Between prefix and field name (default `.`).
    pub delimiter: String,
    /// Points within this of each other combine.
    pub tolerance: Duration,
    /// At most this many combinations are built for one time (Kapacitor's default: 1e6);
    /// more is an error and that time emits nothing.
    pub max: i64,
    /// weir: forget a group after this long without points (`.groupTTL(1h)`; off by default).
    pub group_ttl: Option<Duration>,
}

/// Kapacitor's default for `.max`.
const DEFAULT_MAX_COMBINATIONS: i64 = 1_000_000;

pub(crate) const KIND: NodeKind = NodeKind {
    method: "combine",
    node_name: "combine",
    args: Sig {
        params: &[("expression", Arg::Predicate)],
        required: 1,
        rest: Some(("expression", Arg::Predicate)),
    },
    props: &[
        prop("as", Sig::variadic("name", Arg::Str)),
        prop("delimiter", Sig::exact(&[("delimiter", Arg::Str)])),
        prop("tolerance", Sig::exact(&[("tolerance", Arg::Duration)])),
        prop("max", Sig::exact(&[("max", Arg::Int)])),
        prop("groupTTL", Sig::exact(&[("ttl", Arg::Duration)])),
    ],
    handlers: &[],
    // Kapacitor's combine takes either edge and always provides a stream.
    wants: Wants::Any,
    provides: Provides::Fixed(EdgeType::Stream),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let expressions: Vec<Lambda> = node
        .call
        .args
        .iter()
        .filter_map(|(value, _)| match value {
            ArgValue::Lambda(lambda) => Some(lambda.clone()),
            _ => None,
        })
        .collect();
    if node.last("as").is_none() {
        node.missing("as", ".as('a', 'b')");
        return None;
    }
    let as_ = node.strings("as");
    if as_.len() != expressions.len() {
        let span = node.span_of("as");
        let message = format!(
            "combine has {} expressions but .as names {}",
            expressions.len(),
            as_.len()
        );
        node.error(crate::codes::INVALID_PROPERTY, message, span);
        return None;
    }
    let max = node.int("max").unwrap_or(DEFAULT_MAX_COMBINATIONS);
    let tolerance = node.duration("tolerance").unwrap_or_default();
    if max < 0 || tolerance.0 < 0 {
        let span = node.call.span;
        node.error(
            crate::codes::INVALID_PROPERTY,
            "combine max and tolerance must not be negative",
            span,
        );
        return None;
    }
    let delimiter = node.string("delimiter").unwrap_or_else(|| ".".to_owned());
    // Kapacitor's CombineNode.validate(): names are non-empty, free of the delimiter, unique.
    let problem = as_.iter().enumerate().find_map(|(idx, name)| {
        if name.is_empty() {
            Some("combine .as names must not be empty".to_owned())
        } else if !delimiter.is_empty() && name.contains(&delimiter) {
            Some(format!(
                "cannot use name {name} as field prefix, it contains the delimiter {delimiter:?}"
            ))
        } else if as_[..idx].contains(name) {
            Some(format!(
                "combine .as names must be unique, {name} is given twice"
            ))
        } else {
            None
        }
    });
    if let Some(message) = problem {
        let span = node.span_of("as");
        node.error(crate::codes::INVALID_PROPERTY, message, span);
        return None;
    }
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
    Some(NodeSpec::Combine(CombineSpec {
        expressions,
        as_,
        delimiter,
        tolerance,
        max,
        group_ttl,
    }))
}

#[cfg(test)]
mod tests {
    use crate::{NodeSpec, compile};

    fn errors(script: &str) -> Vec<String> {
        let (_, diagnostics) = compile(script, &Default::default());
        diagnostics.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn names_are_checked_like_kapacitor() {
        let base = "stream|from()|combine(lambda: TRUE, lambda: TRUE)";
        assert!(errors(&format!("{base}.as('a', 'a')"))[0].contains("given twice"));
        assert!(errors(&format!("{base}.as('a.b', 'c')"))[0].contains("delimiter"));
        assert!(errors(&format!("{base}.as('', 'c')"))[0].contains("empty"));
        assert!(errors(&format!("{base}.as('a')"))[0].contains("2 expressions"));
        assert!(errors(&format!("{base}.as('a', 'b').groupTTL(0s)"))[0].contains("positive"));
        let (program, diagnostics) = compile(
            &format!("{base}.as('a', 'b')|httpOut('x')"),
            &Default::default(),
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let max = program
            .unwrap()
            .nodes
            .iter()
            .find_map(|node| match &node.spec {
                NodeSpec::Combine(spec) => Some(spec.max),
                _ => None,
            });
        assert_eq!(max, Some(1_000_000));
        let windowed = "stream|from()|window().period(10s).every(10s)\
            |combine(lambda: TRUE, lambda: TRUE).as('a', 'b')|httpOut('x')";
        let (program, diagnostics) = compile(windowed, &Default::default());
        assert!(
            program.is_some() && diagnostics.is_empty(),
            "{diagnostics:?}"
        );
    }
}
