//! `influxDBOut()`: hands points to a time-series sink.
//!
//! ```tick
//! stream|from()|influxDBOut().database('weir').retentionPolicy('autogen').measurement('cpu_mean')
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::Duration;

/// Properties of `influxDBOut()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InfluxDbOutSpec {
    /// The `[[influxdb]]` sink by name (none: the default one).
    pub cluster: Option<String>,
    /// Target database (required).
    pub database: String,
    /// Target retention policy (empty: the server's default).
    pub retention_policy: String,
    /// Measurement name override.
    pub measurement: Option<String>,
    /// Extra static tags.
    pub tags: Vec<(String, String)>,
    /// Timestamp precision (`n`, `u`, `ms`, `s`, `m`, `h`).
    pub precision: Option<String>,
    /// Points buffered before a flush (default 1000).
    pub buffer: i64,
    /// Longest time between flushes (default 10s).
    pub flush_interval: Duration,
    /// Create the database if it does not exist.
    pub create: bool,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "influxDBOut",
    node_name: "influxdb_out",
    args: Sig::NONE,
    props: &[
        prop("cluster", Sig::exact(&[("cluster", Arg::Str)])),
        prop("database", Sig::exact(&[("database", Arg::Str)])),
        prop(
            "retentionPolicy",
            Sig::exact(&[("retentionPolicy", Arg::Str)]),
        ),
        prop("measurement", Sig::exact(&[("measurement", Arg::Str)])),
        prop("writeConsistency", Sig::exact(&[("consistency", Arg::Str)])),
        prop("precision", Sig::exact(&[("precision", Arg::Str)])),
        prop("buffer", Sig::exact(&[("points", Arg::Int)])),
        prop("flushInterval", Sig::exact(&[("interval", Arg::Duration)])),
        prop("tag", Sig::exact(&[("key", Arg::Str), ("value", Arg::Str)])),
        prop("create", Sig::NONE),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Fixed(EdgeType::None),
    chains: Chains::Only(&["stats", "deadman"]),
    build,
};

const PRECISIONS: [&str; 7] = ["n", "ns", "u", "ms", "s", "m", "h"];

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let Some(database) = node
        .string("database")
        .filter(|database| !database.is_empty())
    else {
        node.missing("database", ".database('telegraf')");
        return None;
    };
    let precision = node.string("precision");
    if let Some(precision) = &precision {
        if !PRECISIONS.contains(&precision.as_str()) {
            let span = node.span_of("precision");
            node.error(
                code,
                format!("invalid precision {precision:?}, expected one of n, u, ms, s, m, h"),
                span,
            );
            return None;
        }
    }
    let buffer = node.int("buffer").unwrap_or(1000);
    if buffer <= 0 {
        let span = node.span_of("buffer");
        node.error(
            code,
            format!("influxDBOut buffer must be positive, got {buffer}"),
            span,
        );
        return None;
    }
    let flush_interval = node
        .duration("flushInterval")
        .unwrap_or(Duration(10_000_000_000));
    if flush_interval.0 <= 0 {
        let span = node.span_of("flushInterval");
        node.error(code, "influxDBOut flushInterval must be positive", span);
        return None;
    }
    if node.flag("writeConsistency") {
        let span = node.span_of("writeConsistency");
        node.diagnostics.push(crate::Diagnostic::warning(
            crate::codes::IGNORED_PROPERTY,
            "writeConsistency is accepted and ignored (it only applies to InfluxDB Enterprise clusters)",
            span,
        ));
    }
    Some(NodeSpec::InfluxDbOut(InfluxDbOutSpec {
        cluster: node.string("cluster"),
        database,
        retention_policy: node.string("retentionPolicy").unwrap_or_default(),
        measurement: node
            .string("measurement")
            .filter(|measurement| !measurement.is_empty()),
        tags: node.pairs("tag"),
        precision,
        buffer,
        flush_interval,
        create: node.flag("create"),
    }))
}
