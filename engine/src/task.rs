//! One task's compiled graph, run synchronously: points in, outputs out.
//!
//! Nodes are processed in topological order, each over the whole chunk of messages its
//! parents produced (edges carry vectors, not single points). When the graph has a node
//! with several parents (join, union), chunks are one point long so that those nodes see
//! their parents' messages in arrival order, as Kapacitor does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use weir_dsl::nodes::QuerySpec;
use weir_dsl::{NodeSpec, Program};

use crate::message::{Batch, Message};
use crate::nodes::http_out::HttpOutState;
use crate::nodes::{self, Context, ErrorLog, Node, Published, from::From};
use crate::point::Point;
use crate::runtime::{EngineError, Outputs};
use crate::stats::{NodeStats, TaskStats, TaskSummary};

/// What the engine can read from a running task.
pub struct TaskShared {
    node_stats: Vec<(String, Arc<NodeStats>)>,
    http_outs: HashMap<String, Arc<HttpOutState>>,
    started: Instant,
    points: AtomicU64,
    /// Points queued for the task and not yet taken.
    queued_points: AtomicU64,
    /// How long the batch the task took last had waited in its queue (ns).
    lag_ns: AtomicU64,
    last_error: Mutex<String>,
}

impl TaskShared {
    /// The task's statistics.
    pub fn stats(&self) -> TaskStats {
        let elapsed = self.started.elapsed().as_secs_f64();
        let points = self.points.load(Ordering::Relaxed) as f64;
        TaskStats {
            task_stats: TaskSummary {
                throughput: if elapsed > 0.0 { points / elapsed } else { 0.0 },
                queued_points: self.queued_points.load(Ordering::Relaxed),
                lag_seconds: self.lag_ns.load(Ordering::Relaxed) as f64 / 1e9,
            },
            node_stats: self
                .node_stats
                .iter()
                .map(|(name, stats)| (name.clone(), stats.snapshot()))
                .collect(),
        }
    }

    /// `n` points were queued for the task.
    pub(crate) fn queued(&self, n: u64) {
        self.queued_points.fetch_add(n, Ordering::Relaxed);
    }

    /// The task took `n` queued points that had waited `waited`.
    pub(crate) fn dequeued(&self, n: u64, waited: std::time::Duration) {
        self.queued_points.fetch_sub(n, Ordering::Relaxed);
        let waited = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.lag_ns.store(waited, Ordering::Relaxed);
    }

    /// The current `{"series":[...]}` of an `httpOut` endpoint.
    pub fn http_out(&self, endpoint: &str) -> Option<serde_json::Value> {
        self.http_outs.get(endpoint).map(|state| state.render())
    }

    /// The error of the task's latest query run when it failed, else empty.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    /// The endpoints of the task's `httpOut` nodes.
    pub fn http_out_endpoints(&self) -> Vec<String> {
        let mut endpoints: Vec<String> = self.http_outs.keys().cloned().collect();
        endpoints.sort();
        endpoints
    }
}

enum NodeKind {
    From(From),
    Other(Box<dyn Node>),
}

struct TaskNode {
    name: String,
    kind: NodeKind,
    children: Vec<(usize, usize)>,
    stats: Arc<NodeStats>,
    error_log: ErrorLog,
}

/// A `from()`'s view of the batch being written.
#[derive(Debug, Clone, Copy, Default)]
struct FromBatch {
    reads: bool,
    collected: u64,
    emitted: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Chunk,
    EndOfInput,
    Tick,
    Stop,
}

/// Where a task's `now` comes from (only `flushIdle`/`groupTTL` windows read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time, given with each write and tick (the engine).
    Wall,
    /// The data's own times: `now` is the newest point time seen (`weir test`).
    Data,
}

/// A task ready to run: feed it with [`Task::write`], finish it with [`Task::stop`].
pub struct Task {
    id: String,
    nodes: Vec<TaskNode>,
    from_ids: Vec<usize>,
    /// Per `from()` of `from_ids`, for the batch being written: whether it reads the batch's
    /// database and retention policy (checked once per batch), and the points it took in
    /// and let through (added to its stats once per batch).
    from_batch: Vec<FromBatch>,
    queries: Vec<(usize, QuerySpec)>,
    /// `stats`/`deadman` nodes on the stream root: they see every point (nil group).
    root_counters: Vec<usize>,
    nil_group: crate::message::Group,
    inboxes: Vec<Vec<(usize, Message)>>,
    /// Barriers waiting for each node; they follow the node's messages of the same pass.
    barrier_inboxes: Vec<Vec<crate::message::Barrier>>,
    scratch: Vec<Message>,
    outputs: Arc<dyn Outputs>,
    chunk_size: usize,
    shared: Arc<TaskShared>,
    stopped: bool,
    clock: Clock,
    now: i64,
    needs_ticks: bool,
}

impl Task {
    /// Build the runtime graph of `program`.
    pub fn new(
        id: &str,
        program: &Program,
        outputs: Arc<dyn Outputs>,
    ) -> Result<Task, EngineError> {
        let invalid = |message: String| EngineError::InvalidProgram {
            task: id.to_owned(),
            message,
        };
        let is_batch = match program.nodes.first() {
            Some(root) if root.spec == NodeSpec::Stream => false,
            Some(root) if root.spec == NodeSpec::Batch => true,
            _ => {
                return Err(invalid(
                    "the program has no stream or batch root".to_owned(),
                ));
            }
        };
        let mut nodes = Vec::with_capacity(program.nodes.len());
        let mut from_ids = Vec::new();
        let mut queries = Vec::new();
        let mut root_counters = Vec::new();
        let mut http_outs = HashMap::new();
        let mut multi_parent = false;
        let mut needs_ticks = false;
        for (id_in_program, program_node) in program.nodes.iter().enumerate() {
            if program_node
                .parents
                .iter()
                .any(|parent| *parent >= id_in_program)
            {
                return Err(invalid(format!(
                    "node {} comes before one of its parents",
                    program_node.name
                )));
            }
            if let Some(message) = program_node.spec.start_error() {
                return Err(EngineError::NodeStart {
                    task: id.to_owned(),
                    node: program_node.name.clone(),
                    message,
                });
            }
            multi_parent |= program_node.parents.len() > 1;
            if let NodeSpec::Window(window) = &program_node.spec {
                needs_ticks |= window.flush_idle.is_some() || window.group_ttl.is_some();
            }
            // `.groupTTL()` on the other stateful nodes.
            needs_ticks |= match &program_node.spec {
                NodeSpec::Sample(spec) => spec.group_ttl.is_some(),
                NodeSpec::ChangeDetect(spec) => spec.group_ttl.is_some(),
                NodeSpec::StateCount(spec) => spec.group_ttl.is_some(),
                NodeSpec::StateDuration(spec) => spec.group_ttl.is_some(),
                NodeSpec::Combine(spec) => spec.group_ttl.is_some(),
                NodeSpec::Flatten(spec) => spec.group_ttl.is_some(),
                _ => false,
            };
            // Wall-clock nodes.
            let counts_root =
                matches!(program_node.spec, NodeSpec::Stats(_) | NodeSpec::Deadman(_));
            needs_ticks |= counts_root || matches!(program_node.spec, NodeSpec::Barrier(_));
            let is_root_child = program_node.parents.contains(&0);
            let kind = match &program_node.spec {
                NodeSpec::From(spec) if program_node.parents == [0] && !is_batch => {
                    from_ids.push(id_in_program);
                    NodeKind::From(From::new(spec))
                }
                NodeSpec::Query(spec) if program_node.parents == [0] && is_batch => {
                    queries.push((id_in_program, spec.clone()));
                    NodeKind::Other(Box::new(nodes::query::Query::new(spec)))
                }
                _ if is_root_child && counts_root => {
                    // `stream|stats()` counts every point written to the task.
                    root_counters.push(id_in_program);
                    let (node, _) =
                        nodes::build(&program_node.spec, &[program.nodes[0].name.as_str()])
                            .map_err(|error| {
                                invalid(format!("{}: {}", program_node.name, error.0))
                            })?;
                    NodeKind::Other(node)
                }
                _ if is_root_child && id_in_program != 0 => {
                    let (root, source) = if is_batch {
                        ("batch", "query()")
                    } else {
                        ("stream", "from()")
                    };
                    return Err(invalid(format!(
                        "{} cannot follow {root} directly; use {source}",
                        program_node.name
                    )));
                }
                spec => {
                    let parent_names: Vec<&str> = program_node
                        .parents
                        .iter()
                        .map(|parent| program.nodes[*parent].name.as_str())
                        .collect();
                    let (node, published) = nodes::build(spec, &parent_names)
                        .map_err(|error| invalid(format!("{}: {}", program_node.name, error.0)))?;
                    if let Published::HttpOut(endpoint, state) = published {
                        http_outs.insert(endpoint, state);
                    }
                    NodeKind::Other(node)
                }
            };
            let stats = match program_node.spec {
                NodeSpec::Alert(_) | NodeSpec::Deadman(_) => NodeStats::for_alert(),
                _ => NodeStats::default(),
            };
            nodes.push(TaskNode {
                name: program_node.name.clone(),
                kind,
                children: Vec::new(),
                stats: Arc::new(stats),
                error_log: ErrorLog::default(),
            });
        }
        for (child, program_node) in program.nodes.iter().enumerate() {
            for (port, parent) in program_node.parents.iter().enumerate() {
                nodes[*parent].children.push((child, port));
            }
        }
        let shared = Arc::new(TaskShared {
            node_stats: nodes
                .iter()
                .map(|node| (node.name.clone(), node.stats.clone()))
                .collect(),
            http_outs,
            started: Instant::now(),
            points: AtomicU64::new(0),
            queued_points: AtomicU64::new(0),
            lag_ns: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
        });
        let n_nodes = nodes.len();
        Ok(Task {
            id: id.to_owned(),
            nodes,
            from_batch: vec![FromBatch::default(); from_ids.len()],
            from_ids,
            queries,
            root_counters,
            nil_group: crate::message::GroupInfo::nil(),
            inboxes: (0..n_nodes).map(|_| Vec::new()).collect(),
            barrier_inboxes: (0..n_nodes).map(|_| Vec::new()).collect(),
            scratch: Vec::new(),
            outputs,
            chunk_size: if multi_parent { 1 } else { usize::MAX },
            shared,
            stopped: false,
            clock: Clock::Wall,
            now: i64::MIN,
            needs_ticks,
        })
    }

    /// The task id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Choose the clock (the default is [`Clock::Wall`]).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
        if clock == Clock::Data {
            // Ticks follow the data point by point.
            self.chunk_size = self
                .chunk_size
                .min(if self.needs_ticks { 1 } else { usize::MAX });
        }
    }

    /// Whether some node acts on time passing without data (idle flush, group expiry); the
    /// engine then calls [`Task::tick`] about once a second.
    pub fn needs_ticks(&self) -> bool {
        self.needs_ticks
    }

    /// Let nodes act on the time `now` (ns since the epoch; wall clock for the engine).
    pub fn tick(&mut self, now: i64) {
        if self.stopped {
            return;
        }
        self.now = self.now.max(now);
        self.propagate(Pass::Tick);
    }

    /// Set the wall-clock time for the next write (the engine's clock).
    pub fn set_now(&mut self, now: i64) {
        if self.clock == Clock::Wall {
            self.now = now;
        }
    }

    /// Give the task's alert nodes a state store (`alert().persist()`); they load their
    /// saved groups now, so call it before the first write.
    pub fn attach_alert_state(&mut self, store: &Arc<dyn crate::alert_state::AlertStateStore>) {
        for node in &mut self.nodes {
            if let NodeKind::Other(other) = &mut node.kind {
                other.attach_alert_state(store, &self.id, &node.name);
            }
        }
    }

    /// What the engine reads while the task runs.
    pub fn shared(&self) -> Arc<TaskShared> {
        self.shared.clone()
    }

    /// Run points written to `database`.`retention_policy` through the graph.
    pub fn write(&mut self, database: &str, retention_policy: &str, points: Vec<Point>) {
        if self.stopped || points.is_empty() {
            return;
        }
        self.count_points(points.len());
        self.begin_batch(database, retention_policy);
        let chunk_size = self.chunk_size;
        let mut remaining = points.len();
        let mut points = points.into_iter();
        while remaining > 0 {
            let take = remaining.min(chunk_size);
            remaining -= take;
            for point in points.by_ref().take(take) {
                self.advance_data_clock(point.time);
                self.inject(Cow::Owned(point));
            }
            self.end_batch();
            self.propagate(if remaining == 0 {
                Pass::EndOfInput
            } else {
                Pass::Chunk
            });
        }
    }

    /// Like [`Task::write`] for points shared with other tasks (selected points are cloned).
    pub fn write_shared(&mut self, database: &str, retention_policy: &str, points: &[Point]) {
        if self.stopped || points.is_empty() {
            return;
        }
        self.count_points(points.len());
        self.begin_batch(database, retention_policy);
        let chunk_size = self.chunk_size.min(points.len());
        let n_chunks = points.len().div_ceil(chunk_size);
        for (chunk_idx, chunk) in points.chunks(chunk_size).enumerate() {
            for point in chunk {
                self.advance_data_clock(point.time);
                self.inject(Cow::Borrowed(point));
            }
            self.end_batch();
            let last = chunk_idx + 1 == n_chunks;
            self.propagate(if last { Pass::EndOfInput } else { Pass::Chunk });
        }
    }

    /// The `query` nodes of a batch task: node index, name and spec.
    pub fn queries(&self) -> Vec<(usize, String, QuerySpec)> {
        self.queries
            .iter()
            .map(|(node_id, spec)| (*node_id, self.nodes[*node_id].name.clone(), spec.clone()))
            .collect()
    }

    /// Run one query's result through the graph, starting at its `query` node (`node` as
    /// returned by [`Task::queries`]).
    pub fn write_batches(&mut self, node: usize, batches: Vec<Batch>) {
        if self.stopped || !self.queries.iter().any(|(node_id, _)| *node_id == node) {
            return;
        }
        // A run that worked clears the error of a failed one.
        self.shared.set_last_error(String::new());
        let n_points: usize = batches.iter().map(|batch| batch.points.len()).sum();
        self.count_points(n_points);
        if let Some(newest) = batches.iter().map(|batch| batch.tmax).max() {
            self.advance_data_clock(newest);
        }
        let inbox = &mut self.inboxes[node];
        inbox.extend(batches.into_iter().map(|batch| (0, Message::Batch(batch))));
        self.propagate(Pass::EndOfInput);
    }

    /// A query run failed: count it on the `query` node, log it (rate-limited) and keep it
    /// as the task's error until a run succeeds.
    pub fn query_failed(&mut self, node: usize, error: &str) {
        let Some(task_node) = self.nodes.get_mut(node) else {
            return;
        };
        task_node.stats.add_error();
        task_node.error_log.log(&self.id, &task_node.name, &error);
        self.shared
            .set_last_error(format!("{}: {error}", task_node.name));
    }

    /// The oldest data time any node still holds points of (see
    /// [`Node::retained_since`]), or `None` when no node holds any.
    pub fn retained_since(&self) -> Option<i64> {
        self.nodes
            .iter()
            .filter_map(|node| match &node.kind {
                NodeKind::Other(other) => other.retained_since(),
                NodeKind::From(_) => None,
            })
            .min()
    }

    /// Stop the task: flush pending join and union sets and buffered outputs.
    pub fn stop(&mut self) {
        if !self.stopped {
            self.propagate(Pass::Stop);
            self.stopped = true;
        }
    }

    fn advance_data_clock(&mut self, time: i64) {
        if self.clock == Clock::Data && time > self.now {
            self.now = time;
            if self.needs_ticks {
                self.propagate(Pass::Tick);
            }
        }
    }

    fn count_points(&self, n: usize) {
        self.shared.points.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(root) = self.nodes.first() {
            root.stats.add_collected(n as u64);
            root.stats.add_emitted(n as u64);
        }
    }

    /// Check each `from()`'s database and retention policy against a batch about to be
    /// injected.
    fn begin_batch(&mut self, database: &str, retention_policy: &str) {
        for (state, &node_id) in self.from_batch.iter_mut().zip(&self.from_ids) {
            *state = FromBatch::default();
            if let NodeKind::From(from) = &self.nodes[node_id].kind {
                state.reads = from.reads(database, retention_policy);
            }
        }
    }

    /// Add what the `from()` nodes took in and let through to their stats.
    fn end_batch(&mut self) {
        for (state, &node_id) in self.from_batch.iter_mut().zip(&self.from_ids) {
            let stats = &self.nodes[node_id].stats;
            stats.add_collected(std::mem::take(&mut state.collected));
            stats.add_emitted(std::mem::take(&mut state.emitted));
        }
    }

    /// Hand one point of the batch begun with [`Task::begin_batch`] to the root's counters
    /// and to each `from()` that selects it.
    fn inject(&mut self, point: Cow<'_, Point>) {
        for &node_id in &self.root_counters {
            let message = Message::Point(crate::message::TaskPoint {
                point: point.as_ref().clone(),
                group: self.nil_group.clone(),
            });
            self.inboxes[node_id].push((0, message));
        }
        let n_froms = self.from_ids.len();
        let mut point = Some(point);
        for (idx, &node_id) in self.from_ids.iter().enumerate() {
            let Some(candidate) = point.as_ref() else {
                return;
            };
            let state = &mut self.from_batch[idx];
            if !state.reads {
                continue;
            }
            let node = &mut self.nodes[node_id];
            let NodeKind::From(from) = &mut node.kind else {
                continue;
            };
            state.collected += 1;
            match from.matches(candidate) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    node.stats.add_error();
                    node.error_log.log(&self.id, &node.name, &error);
                    continue;
                }
            }
            let owned = if idx + 1 == n_froms {
                point.take().map(Cow::into_owned)
            } else {
                point.as_ref().map(|p| p.clone().into_owned())
            };
            if let Some(owned) = owned {
                let message = from.admit(owned);
                state.emitted += 1;
                if let Some((&(last_child, last_port), others)) = node.children.split_last() {
                    for &(child, port) in others {
                        self.inboxes[child].push((port, message.clone()));
                    }
                    self.inboxes[last_child].push((last_port, message));
                }
            }
        }
    }

    fn propagate(&mut self, pass: Pass) {
        for node_id in 1..self.nodes.len() {
            let mut inbox = std::mem::take(&mut self.inboxes[node_id]);
            let mut barriers = std::mem::take(&mut self.barrier_inboxes[node_id]);
            if inbox.is_empty() && barriers.is_empty() && pass == Pass::Chunk {
                self.inboxes[node_id] = inbox;
                continue;
            }
            let mut out = std::mem::take(&mut self.scratch);
            let node = &mut self.nodes[node_id];
            node.stats.add_collected(inbox.len() as u64);
            {
                let mut ctx = Context {
                    out: &mut out,
                    outputs: self.outputs.as_ref(),
                    task: &self.id,
                    node: &node.name,
                    stats: &node.stats,
                    error_log: &mut node.error_log,
                    now: self.now,
                };
                let node_impl: &mut dyn Node = match &mut node.kind {
                    NodeKind::From(from) => from,
                    NodeKind::Other(other) => other.as_mut(),
                };
                // One clock read per inbox, not per message (Kapacitor's avg_exec_time_ns).
                let started = (!inbox.is_empty()).then(std::time::Instant::now);
                for (port, message) in inbox.drain(..) {
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        node_impl.process(port, message, &mut ctx)
                    }));
                    if result.is_err() {
                        ctx.error("node panicked");
                    }
                }
                if let Some(started) = started {
                    node.stats.add_exec_time(started.elapsed());
                }
                if pass == Pass::Tick {
                    node_impl.tick(&mut ctx);
                }
                // Barriers from upstream, then the node's own: each goes on to the children.
                barriers.retain(|barrier| node_impl.barrier(barrier, &mut ctx));
                node_impl.take_barriers(&mut barriers);
                if pass == Pass::Stop {
                    node_impl.stop(&mut ctx);
                }
                if pass == Pass::EndOfInput || pass == Pass::Stop {
                    node_impl.end_of_input(&mut ctx);
                }
                node.stats.set_cardinality(node_impl.cardinality());
            }
            self.inboxes[node_id] = inbox;
            if !barriers.is_empty() {
                for &(child, _) in &node.children {
                    self.barrier_inboxes[child].extend(barriers.iter().cloned());
                }
            }
            node.stats.add_emitted(out.len() as u64);
            if let Some((&(last_child, last_port), others)) = node.children.split_last() {
                for &(child, port) in others {
                    self.inboxes[child].extend(out.iter().map(|message| (port, message.clone())));
                }
                self.inboxes[last_child].extend(out.drain(..).map(|message| (last_port, message)));
            }
            out.clear();
            self.scratch = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::Recorder;
    use weir_dsl::ProgramNode;
    use weir_dsl::nodes::{FromSpec, HttpPostSpec, WindowSpec};

    pub(crate) fn node(name: &str, spec: NodeSpec, parents: &[usize]) -> ProgramNode {
        ProgramNode {
            name: name.into(),
            spec,
            parents: parents.to_vec(),
            span: Default::default(),
        }
    }

    #[test]
    fn rejects_programs_the_runtime_cannot_run() {
        let recorder: Arc<dyn Outputs> = Arc::new(Recorder::default());
        let window_on_batch = Program {
            task_type: weir_dsl::TaskType::Batch,
            dbrps: vec![],
            nodes: vec![
                node("batch0", NodeSpec::Batch, &[]),
                node("window1", NodeSpec::Window(WindowSpec::default()), &[0]),
            ],
        };
        let error = Task::new("t", &window_on_batch, recorder.clone())
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("window1 cannot follow batch directly; use query()"),
            "{error}"
        );
        let window_on_root = Program {
            task_type: weir_dsl::TaskType::Stream,
            dbrps: vec![],
            nodes: vec![
                node("stream0", NodeSpec::Stream, &[]),
                node("window1", NodeSpec::Window(WindowSpec::default()), &[0]),
            ],
        };
        let error = Task::new("t", &window_on_root, recorder).err().unwrap();
        assert!(
            error.to_string().contains("window1 cannot follow stream"),
            "{error}"
        );
    }

    #[test]
    fn points_flow_to_every_branch_and_stats_count() {
        let recorder = Arc::new(Recorder::default());
        let post = |url: &str| {
            NodeSpec::HttpPost(HttpPostSpec {
                urls: vec![url.into()],
                ..Default::default()
            })
        };
        let program = Program {
            task_type: weir_dsl::TaskType::Stream,
            dbrps: vec![("db".into(), "rp".into())],
            nodes: vec![
                node("stream0", NodeSpec::Stream, &[]),
                node(
                    "from1",
                    NodeSpec::From(FromSpec {
                        measurement: Some("cpu".into()),
                        ..Default::default()
                    }),
                    &[0],
                ),
                node("http_post2", post("http://a"), &[1]),
                node("http_post3", post("http://b"), &[1]),
            ],
        };
        let mut task = Task::new("t", &program, recorder.clone()).unwrap();
        let points = vec![
            Point::gauge("cpu", Default::default(), 1.0, 1),
            Point::gauge("mem", Default::default(), 2.0, 2),
        ];
        task.write_shared("db", "rp", &points);
        task.write("db", "rp", points);
        task.stop();
        assert_eq!(recorder.posts.lock().unwrap().len(), 4);
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["from1"]["collected"], 4);
        assert_eq!(stats.node_stats["from1"]["emitted"], 2);
        assert_eq!(stats.node_stats["http_post3"]["collected"], 2);
    }
}
