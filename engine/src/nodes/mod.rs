//! Runtime nodes: one file per DSL node kind, built by one exhaustive `match` in [`build`].
//!
//! A node is a synchronous `process` function over messages. It never awaits and never
//! does I/O itself: outputs go through [`crate::Outputs`], which the binary implements.

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

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_dsl::NodeSpec;

use crate::message::Message;
use crate::runtime::Outputs;
use crate::stats::NodeStats;

/// How often a failing node logs (it counts every error).
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A node failed for one message; the message is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeError(pub String);

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<weir_dsl::EvalError> for NodeError {
    fn from(error: weir_dsl::EvalError) -> NodeError {
        NodeError(error.to_string())
    }
}

/// Rate-limited error logging for one node.
#[derive(Debug, Default)]
pub struct ErrorLog {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    pub(crate) fn log(&mut self, task: &str, node: &str, error: &dyn fmt::Display) {
        let now = Instant::now();
        match self.last_logged {
            Some(last) if now.duration_since(last) < ERROR_LOG_INTERVAL => self.suppressed += 1,
            _ => {
                tracing::error!(
                    task,
                    node,
                    suppressed = self.suppressed,
                    "node failed, message dropped: {error}"
                );
                self.last_logged = Some(now);
                self.suppressed = 0;
            }
        }
    }
}

/// What a node sees while it processes: where to emit, the outputs, its identity.
pub struct Context<'a> {
    pub(crate) out: &'a mut Vec<Message>,
    pub(crate) outputs: &'a dyn Outputs,
    pub(crate) task: &'a str,
    pub(crate) node: &'a str,
    pub(crate) stats: &'a NodeStats,
    pub(crate) error_log: &'a mut ErrorLog,
    pub(crate) now: i64,
}

impl Context<'_> {
    /// Send a message to every child.
    pub fn emit(&mut self, message: Message) {
        self.out.push(message);
    }

    /// Count and (rate-limited) log an error; the caller drops what failed.
    pub fn error(&mut self, error: impl fmt::Display) {
        self.stats.add_error();
        self.error_log.log(self.task, self.node, &error);
    }

    /// The task id.
    pub fn task(&self) -> &str {
        self.task
    }

    /// The node name (`window2`).
    pub fn node(&self) -> &str {
        self.node
    }

    /// The task's clock: wall time in the engine, the newest data time in `weir test`.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The outputs of the engine.
    pub fn outputs(&self) -> &dyn Outputs {
        self.outputs
    }

    /// The node's counters.
    pub fn stats(&self) -> &NodeStats {
        self.stats
    }
}

/// A runtime node.
pub trait Node: Send {
    /// Process one message from the parent at position `port` (0 = left/first parent).
    fn process(&mut self, port: usize, message: Message, ctx: &mut Context<'_>);

    /// Called after every input chunk has passed through the graph (flush buffered output).
    fn end_of_input(&mut self, _ctx: &mut Context<'_>) {}

    /// Time passed (see [`Context::now`]): act on idle groups.
    fn tick(&mut self, _ctx: &mut Context<'_>) {}

    /// Called when the task stops: emit whatever is still pending (join and union sets).
    fn stop(&mut self, _ctx: &mut Context<'_>) {}

    /// The oldest data time among the points this node holds whose effects have not left
    /// the task yet (a window's buffered points), or `None` when it holds none. The engine
    /// keeps logged writes for a replay until their points are older than this (see
    /// [`crate::ingress`]). Nodes that only keep derived state (counts, the previous value)
    /// answer `None`.
    fn retained_since(&self) -> Option<i64> {
        None
    }

    /// Number of groups with state (Kapacitor's `working_cardinality`).
    fn cardinality(&self) -> usize {
        0
    }

    /// A barrier from upstream: act on it (a window emits what is due at its time; with
    /// `delete` a node forgets the group). Returns whether to pass it on (the default).
    fn barrier(&mut self, _barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        true
    }

    /// Barriers this node created (the `barrier` node, on ticks), in order.
    fn take_barriers(&mut self, _out: &mut Vec<crate::message::Barrier>) {}

    /// The engine keeps alert state across restarts: nodes with `.persist()` load their
    /// groups from `store` now (before any message) and save changes to it.
    fn attach_alert_state(
        &mut self,
        _store: &Arc<dyn crate::alert_state::AlertStateStore>,
        _task: &str,
        _node: &str,
    ) {
    }
}

/// Shared state a node publishes to the engine while the task runs.
pub enum Published {
    /// Nothing.
    None,
    /// An `httpOut` endpoint.
    HttpOut(String, Arc<http_out::HttpOutState>),
}

/// A group's state that knows when its group last saw a point (wall-clock nanoseconds).
pub(crate) trait LastSeen {
    /// When the group last saw a point.
    fn last_seen(&self) -> i64;
}

/// Per-group state of a stateful node, with the two ways a group is forgotten: weir's
/// `.groupTTL()` (no point for that long, checked on ticks) and `barrier().delete(TRUE)`.
/// Dereferences to the map from group id to state.
pub(crate) struct GroupStates<S> {
    states: rustc_hash::FxHashMap<String, S>,
    ttl: Option<i64>,
}

impl<S: LastSeen> GroupStates<S> {
    /// No groups yet; a missing or non-positive TTL never expires a group.
    pub(crate) fn new(ttl: Option<weir_dsl::Duration>) -> GroupStates<S> {
        GroupStates {
            states: rustc_hash::FxHashMap::default(),
            ttl: ttl.map(|ttl| ttl.nanos()).filter(|ttl| *ttl > 0),
        }
    }

    /// `.groupTTL()`: forget the groups that saw no point for that long.
    pub(crate) fn expire(&mut self, now: i64) {
        if let Some(ttl) = self.ttl {
            self.states
                .retain(|_, state| now.saturating_sub(state.last_seen()) < ttl);
        }
    }

    /// `barrier().delete(TRUE)`: the group starts over at its next point.
    pub(crate) fn on_barrier(&mut self, barrier: &crate::message::Barrier) {
        if barrier.delete {
            self.states.remove(barrier.group.id.as_str());
        }
    }
}

impl<S> std::ops::Deref for GroupStates<S> {
    type Target = rustc_hash::FxHashMap<String, S>;
    fn deref(&self) -> &Self::Target {
        &self.states
    }
}

impl<S> std::ops::DerefMut for GroupStates<S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.states
    }
}

/// Why a node could not be built.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError(pub String);

/// Build the runtime node for `spec`; `parent_names` are its inputs' node names, in order.
pub fn build(
    spec: &NodeSpec,
    parent_names: &[&str],
) -> Result<(Box<dyn Node>, Published), BuildError> {
    let n_parents = parent_names.len();
    let node: Box<dyn Node> = match spec {
        // The roots: points reach `from` children directly, batches reach `query` children.
        NodeSpec::Stream | NodeSpec::Batch => Box::new(Passthrough),
        NodeSpec::Query(spec) => Box::new(query::Query::new(spec)),
        NodeSpec::From(spec) => Box::new(from::From::new(spec)),
        NodeSpec::Where(spec) => Box::new(where_::Where::new(spec)),
        NodeSpec::GroupBy(spec) => Box::new(group_by::GroupBy::new(spec)),
        NodeSpec::Window(spec) => Box::new(window::Window::new(spec).map_err(BuildError)?),
        NodeSpec::Aggregate(spec) => Box::new(aggregate::Aggregate::new(spec)),
        NodeSpec::Eval(spec) => Box::new(eval::Eval::new(spec)),
        NodeSpec::Default(spec) => Box::new(default::Default::new(spec)),
        NodeSpec::Delete(spec) => Box::new(delete::Delete::new(spec)),
        NodeSpec::Derivative(spec) => Box::new(derivative::Derivative::new(spec)),
        NodeSpec::Shift(spec) => Box::new(shift::Shift::new(spec)),
        NodeSpec::Join(spec) => Box::new(join::Join::new(spec, n_parents).map_err(BuildError)?),
        NodeSpec::Union(spec) => Box::new(union::Union::new(spec, n_parents)),
        NodeSpec::Alert(spec) => Box::new(alert::Alert::new(spec).map_err(BuildError)?),
        NodeSpec::Log(spec) => Box::new(log::Log::new(spec)),
        NodeSpec::HttpOut(spec) => {
            let node = http_out::HttpOut::new(spec);
            let published = Published::HttpOut(spec.endpoint.clone(), node.state());
            return Ok((Box::new(node), published));
        }
        NodeSpec::HttpPost(spec) => Box::new(http_post::HttpPost::new(spec)),
        NodeSpec::InfluxDbOut(spec) => Box::new(influxdb_out::InfluxDbOut::new(spec)),
        NodeSpec::Stats(spec) => Box::new(stats::Stats::new(spec)),
        NodeSpec::Barrier(spec) => Box::new(barrier::BarrierNode::new(spec).map_err(BuildError)?),
        NodeSpec::Deadman(spec) => Box::new(
            deadman::Deadman::new(spec, parent_names.first().copied().unwrap_or_default())
                .map_err(BuildError)?,
        ),
        NodeSpec::Sample(spec) => Box::new(sample::Sample::new(spec)),
        NodeSpec::ChangeDetect(spec) => Box::new(change_detect::ChangeDetect::new(spec)),
        NodeSpec::StateCount(spec) => Box::new(state_count::StateCount::new(spec)),
        NodeSpec::StateDuration(spec) => Box::new(state_duration::StateDuration::new(spec)),
        NodeSpec::Combine(spec) => Box::new(combine::Combine::new(spec)),
        NodeSpec::Flatten(spec) => Box::new(flatten::Flatten::new(spec)),
        NodeSpec::CiOut(spec) => Box::new(ci_out::CiOut::new(spec)),
        other => {
            return Err(BuildError(format!(
                "node {} is not supported by the engine",
                other.name()
            )));
        }
    };
    Ok((node, Published::None))
}

/// The stream root: points are injected into its `from` children directly.
struct Passthrough;

impl Node for Passthrough {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        ctx.emit(message);
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers to drive one node by hand.

    use super::*;
    use crate::message::{Batch, Group, GroupInfo, TaskPoint};
    use crate::point::{FieldValue, Point};
    use crate::runtime::{CiWrite, HttpRequest, InfluxDbWrite};
    use std::sync::Mutex;

    /// Outputs that record everything.
    #[derive(Default)]
    pub struct Recorder {
        pub posts: Mutex<Vec<HttpRequest>>,
        pub writes: Mutex<Vec<InfluxDbWrite>>,
        pub alerts: Mutex<Vec<String>>,
        pub cis: Mutex<Vec<CiWrite>>,
    }

    impl Outputs for Recorder {
        fn http_post(&self, request: HttpRequest) {
            self.posts.lock().unwrap().push(request);
        }
        fn influxdb_out(&self, write: InfluxDbWrite) {
            self.writes.lock().unwrap().push(write);
        }
        fn alert(&self, _handler: &weir_dsl::nodes::AlertHandler, event_json: Vec<u8>) {
            self.alerts
                .lock()
                .unwrap()
                .push(String::from_utf8(event_json).unwrap());
        }
        fn ci_out(&self, write: CiWrite) {
            self.cis.lock().unwrap().push(write);
        }
    }

    /// Run messages through a node; returns what it emitted and the error count.
    pub fn run(
        node: &mut dyn Node,
        inputs: Vec<(usize, Message)>,
        recorder: &Recorder,
        stop: bool,
    ) -> (Vec<Message>, u64) {
        let stats = NodeStats::default();
        let mut error_log = ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: recorder,
            task: "test",
            node: "node1",
            stats: &stats,
            error_log: &mut error_log,
            now: 0,
        };
        for (port, message) in inputs {
            node.process(port, message, &mut ctx);
        }
        node.end_of_input(&mut ctx);
        if stop {
            node.stop(&mut ctx);
        }
        (out, stats.snapshot().get("errors").copied().unwrap_or(0))
    }

    /// Compile `script` (panicking with its diagnostics if it does not compile) and return
    /// the first node spec that `pick` accepts.
    pub fn spec_of<T>(script: &str, pick: impl Fn(weir_dsl::NodeSpec) -> Option<T>) -> T {
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{script}: {diagnostics:?}"));
        program
            .nodes
            .into_iter()
            .find_map(|node| pick(node.spec))
            .unwrap_or_else(|| panic!("{script}: no node of the kind asked for"))
    }

    pub fn group(tags: &[(&str, &str)]) -> Group {
        if tags.is_empty() {
            return GroupInfo::nil();
        }
        GroupInfo::new(
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            None,
        )
    }

    pub fn value_point(secs: i64, value: f64, group: &Group) -> Message {
        let mut tags = group.tags.clone();
        tags.insert("extra".into(), "x".into());
        Message::Point(TaskPoint {
            point: Point {
                name: "m".into(),
                tags,
                fields: [("value".into(), FieldValue::Float(value))].into(),
                time: secs * 1_000_000_000,
            },
            group: group.clone(),
        })
    }

    pub fn batch(tmax_secs: i64, values: &[(i64, f64)], group: &Group) -> Message {
        Message::Batch(Batch {
            name: "m".into(),
            group: group.clone(),
            tmax: tmax_secs * 1_000_000_000,
            points: values
                .iter()
                .map(|(secs, value)| {
                    let mut tags = group.tags.clone();
                    tags.insert("extra".into(), "x".into());
                    Point {
                        name: "m".into(),
                        tags,
                        fields: [("value".into(), FieldValue::Float(*value))].into(),
                        time: secs * 1_000_000_000,
                    }
                })
                .collect(),
        })
    }

    pub fn float(message: &Message, field: &str) -> f64 {
        match message {
            Message::Point(point) => point
                .point
                .fields
                .get(field)
                .and_then(FieldValue::as_f64)
                .unwrap(),
            Message::Batch(_) => panic!("expected a point"),
        }
    }
}
