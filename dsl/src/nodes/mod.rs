//! The node catalogue: one file per node kind, each with its typed spec.
//!
//! The engine builds runtime nodes with one exhaustive `match` over [`NodeSpec`].

pub mod aggregate;
pub mod alert;
pub mod barrier;
pub mod change_detect;
pub mod ci_out;
pub mod combine;
pub mod deadman;
pub mod default;
pub mod delete;
pub mod derivative;
pub mod eval;
pub mod flatten;
pub mod from;
pub mod group_by;
pub mod http_out;
pub mod http_post;
pub mod influxdb_out;
pub mod join;
pub mod log;
pub mod query;
pub mod sample;
pub mod shift;
pub mod state_count;
pub mod state_duration;
pub mod stats;
pub mod union;
pub mod where_;
pub mod window;

pub use aggregate::{AggregateFunction, AggregateSpec};
pub use alert::{AlertHandler, AlertSpec};
pub use barrier::BarrierSpec;
pub use change_detect::ChangeDetectSpec;
pub use ci_out::CiOutSpec;
pub use combine::CombineSpec;
pub use deadman::DeadmanSpec;
pub use default::DefaultSpec;
pub use delete::DeleteSpec;
pub use derivative::DerivativeSpec;
pub use eval::EvalSpec;
pub use flatten::FlattenSpec;
pub use from::FromSpec;
pub use group_by::{GroupBySpec, GroupDimensions};
pub use http_out::HttpOutSpec;
pub use http_post::HttpPostSpec;
pub use influxdb_out::InfluxDbOutSpec;
pub use join::{JoinFill, JoinSpec};
pub use log::LogSpec;
pub use query::{InfluxQlParts, QueryFill, QueryLanguage, QuerySpec, split_influxql};
pub use sample::{SampleRate, SampleSpec};
pub use shift::ShiftSpec;
pub use state_count::StateCountSpec;
pub use state_duration::StateDurationSpec;
pub use stats::StatsSpec;
pub use union::UnionSpec;
pub use where_::WhereSpec;
pub use window::WindowSpec;

use crate::schema::{Chains, NodeBuild, NodeKind, Provides, Sig, Wants};

/// The root of stream tasks.
pub(crate) const STREAM: NodeKind = NodeKind {
    method: "stream",
    node_name: "stream",
    args: Sig::NONE,
    props: &[],
    handlers: &[],
    wants: Wants::Root,
    provides: Provides::Fixed(EdgeType::Stream),
    chains: Chains::Only(&["from", "stats", "deadman"]),
    build: |_: &mut NodeBuild<'_>| Some(NodeSpec::Stream),
};

/// The root of batch tasks.
pub(crate) const BATCH: NodeKind = NodeKind {
    method: "batch",
    node_name: "batch",
    args: Sig::NONE,
    props: &[],
    handlers: &[],
    wants: Wants::Root,
    provides: Provides::Fixed(EdgeType::Batch),
    chains: Chains::Only(&["query", "stats", "deadman"]),
    build: |_: &mut NodeBuild<'_>| Some(NodeSpec::Batch),
};

/// Every node kind reachable with `|name(...)`.
pub(crate) fn chain_kinds() -> impl Iterator<Item = &'static NodeKind> {
    const SINGLE: &[&NodeKind] = &[
        &from::KIND,
        &where_::KIND,
        &group_by::KIND,
        &window::KIND,
        &eval::KIND,
        &default::KIND,
        &delete::KIND,
        &derivative::KIND,
        &shift::KIND,
        &join::KIND,
        &union::KIND,
        &alert::KIND,
        &log::KIND,
        &http_out::KIND,
        &http_post::KIND,
        &influxdb_out::KIND,
        &query::KIND,
        &sample::KIND,
        &change_detect::KIND,
        &state_duration::KIND,
        &state_count::KIND,
        &barrier::KIND,
        &stats::KIND,
        &deadman::KIND,
        &combine::KIND,
        &flatten::KIND,
        &ci_out::KIND,
    ];
    SINGLE.iter().copied().chain(aggregate::KINDS.iter())
}

/// The node kind created by `|method(...)`.
pub(crate) fn find_kind(method: &str) -> Option<&'static NodeKind> {
    chain_kinds().find(|kind| kind.method == method)
}

/// Whether `parent` offers the chaining method of `child`.
pub(crate) fn offers(parent: &NodeKind, child: &NodeKind) -> bool {
    match parent.chains {
        Chains::Only(methods) => methods.contains(&child.method),
        Chains::Common => {
            !matches!(child.method, "from" | "query") || parent.method == child.method
        }
    }
}

/// Kapacitor chaining methods that weir does not implement.
pub(crate) const UNSUPPORTED_CHAINS: &[&str] = &[
    "kapacitorLoopback",
    "k8sAutoscale",
    "swarmAutoscale",
    "ec2Autoscale",
    "sideload",
    "trickle",
    "holtWinters",
    "holtWintersWithFit",
    "queryFlux",
    "noOp",
];

/// Which kind of data flows on an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeType {
    /// Individual points.
    Stream,
    /// Batches of points (windows, query results).
    Batch,
    /// Nothing: the node is terminal.
    None,
}

/// A checked node with all its properties resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeSpec {
    /// The root of a stream task.
    Stream,
    /// The root of a batch task.
    Batch,
    /// `from()`.
    From(FromSpec),
    /// `where(lambda)`.
    Where(WhereSpec),
    /// `groupBy(...)`.
    GroupBy(GroupBySpec),
    /// `window()`.
    Window(WindowSpec),
    /// InfluxQL aggregates, selectors and transformations (`mean`, `count`, `last`, ...).
    Aggregate(AggregateSpec),
    /// `eval(lambda...)`.
    Eval(EvalSpec),
    /// `default()`.
    Default(DefaultSpec),
    /// `delete()`.
    Delete(DeleteSpec),
    /// `derivative(field)`.
    Derivative(DerivativeSpec),
    /// `shift(duration)`.
    Shift(ShiftSpec),
    /// `join(other...)`.
    Join(JoinSpec),
    /// `union(other...)`.
    Union(UnionSpec),
    /// `alert()`.
    Alert(AlertSpec),
    /// `log()`.
    Log(LogSpec),
    /// `httpOut(endpoint)`.
    HttpOut(HttpOutSpec),
    /// `httpPost(url...)`.
    HttpPost(HttpPostSpec),
    /// `influxDBOut()`.
    InfluxDbOut(InfluxDbOutSpec),
    /// `batch|query('SELECT ...')`.
    Query(QuerySpec),
    /// `sample(n | duration)`.
    Sample(SampleSpec),
    /// `changeDetect(field...)`.
    ChangeDetect(ChangeDetectSpec),
    /// `stateDuration(lambda)`.
    StateDuration(StateDurationSpec),
    /// `stateCount(lambda)`.
    StateCount(StateCountSpec),
    /// `barrier()`.
    Barrier(BarrierSpec),
    /// `stats(interval)`.
    Stats(StatsSpec),
    /// `deadman(threshold, interval)`.
    Deadman(DeadmanSpec),
    /// `combine(lambda...)`.
    Combine(CombineSpec),
    /// `flatten()`.
    Flatten(FlattenSpec),
    /// `ciOut()`: weir's configuration-item history sink.
    CiOut(CiOutSpec),
}

impl NodeSpec {
    /// The TICKscript name of the node (`window`, `influxDBOut`, ...), used in the DOT
    /// graph and node names (`window2`).
    pub fn name(&self) -> &'static str {
        match self {
            NodeSpec::Stream => "stream",
            NodeSpec::Batch => "batch",
            NodeSpec::From(_) => "from",
            NodeSpec::Where(_) => "where",
            NodeSpec::GroupBy(_) => "groupby",
            NodeSpec::Window(_) => "window",
            NodeSpec::Aggregate(spec) => spec.function.name(),
            NodeSpec::Eval(_) => "eval",
            NodeSpec::Default(_) => "default",
            NodeSpec::Delete(_) => "delete",
            NodeSpec::Derivative(_) => "derivative",
            NodeSpec::Shift(_) => "shift",
            NodeSpec::Join(_) => "join",
            NodeSpec::Union(_) => "union",
            NodeSpec::Alert(_) => "alert",
            NodeSpec::Log(_) => "log",
            NodeSpec::HttpOut(_) => "http_out",
            NodeSpec::HttpPost(_) => "http_post",
            NodeSpec::InfluxDbOut(_) => "influxdb_out",
            NodeSpec::Query(_) => "query",
            NodeSpec::Sample(_) => "sample",
            NodeSpec::ChangeDetect(_) => "change_detect",
            NodeSpec::StateDuration(_) => "state_duration",
            NodeSpec::StateCount(_) => "state_count",
            NodeSpec::Barrier(_) => "barrier",
            NodeSpec::Stats(_) => "stats",
            NodeSpec::Deadman(_) => "deadman",
            NodeSpec::Combine(_) => "combine",
            NodeSpec::Flatten(_) => "flatten",
            NodeSpec::CiOut(_) => "ci_out",
        }
    }

    /// Why Kapacitor refuses to start a task with this node, if it does: one of its lambdas
    /// applies an operator to constants whose types have none (`eval(lambda: 10 + 0.5)`), in
    /// Kapacitor's words. The script compiles (warning W610) and the task fails when enabled.
    pub fn start_error(&self) -> Option<String> {
        let indexed = |lambdas: &[crate::Lambda]| {
            lambdas.iter().enumerate().find_map(|(idx, lambda)| {
                let error = lambda.start_error()?;
                Some(format!("Failed to compile {idx} expression: {error}"))
            })
        };
        match self {
            NodeSpec::Eval(spec) => indexed(&spec.expressions),
            NodeSpec::Combine(spec) => indexed(&spec.expressions),
            NodeSpec::From(spec) => {
                let error = spec.where_.as_ref()?.start_error()?;
                Some(format!("Failed to compile from expression: {error}"))
            }
            NodeSpec::Where(spec) => {
                let error = spec.predicate.start_error()?;
                Some(format!(
                    "Failed to compile expression in where clause: {error}"
                ))
            }
            NodeSpec::StateCount(spec) => spec.predicate.start_error(),
            NodeSpec::StateDuration(spec) => spec.predicate.start_error(),
            NodeSpec::Alert(spec) => [
                ("info", &spec.info),
                ("warn", &spec.warn),
                ("crit", &spec.crit),
                ("infoReset", &spec.info_reset),
                ("warnReset", &spec.warn_reset),
                ("critReset", &spec.crit_reset),
            ]
            .into_iter()
            .find_map(|(level, lambda)| {
                let error = lambda.as_ref()?.start_error()?;
                Some(format!(
                    "Failed to compile stateful expression for {level}: {error}"
                ))
            }),
            _ => None,
        }
    }
}
