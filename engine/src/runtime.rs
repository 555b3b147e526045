//! The engine: running tasks, routing written points to them, and what they send out.
//!
//! Each task is fed by its own bounded queue of point batches, so a slow task makes
//! [`Engine::write`] wait (back-pressure) for what it selects instead of growing memory, and
//! one task's failure never stops another. Tasks run on the engine's worker pool (one thread
//! per core, see [`crate::pool`]), a task at a time and in order. Nodes never do I/O: HTTP posts, InfluxDB writes and
//! alert events go to the [`Outputs`] the binary provides.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};
use weir_dsl::Program;
use weir_dsl::nodes::AlertHandler;

use crate::alert_state::AlertStateStore;
use crate::ingress::{Lease, Pending, Ticket};
use crate::nodes::query::{QueryPlan, QuerySource, Schedule};
use crate::point::{Point, PointBatch};
use crate::pool::{Actor, Mailbox, Pool, WeakMailbox};
use crate::stats::TaskStats;
use crate::task::{Task, TaskShared};

/// Batches queued per task before writers wait.
const TASK_QUEUE_BATCHES: usize = 8;
/// How often tasks with idle-flushing or expiring windows get a tick.
const TICK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// What a task thread receives.
enum TaskInput {
    Points {
        batch: Arc<PointBatch>,
        /// When the batch was queued (the task's lag is how long it waited).
        queued_at: std::time::Instant,
        /// Set when the batch was logged before it was acknowledged.
        ticket: Option<Ticket>,
        /// Dropped as soon as the task has run the batch.
        lease: Option<Lease>,
    },
    Tick,
    /// The result of one run of the batch task's `query` node `node`.
    Query {
        node: usize,
        result: crate::nodes::query::RunResult,
    },
}

pub(crate) fn wall_clock_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An HTTP POST a task wants sent (`httpPost` node).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Destination.
    pub url: String,
    /// Extra headers (`Content-Type: application/json` is implied).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Vec<u8>,
    /// Request timeout, when the script set one.
    pub timeout: Option<std::time::Duration>,
}

/// Points leaving a task for InfluxDB (`influxDBOut` node): the one envelope from a task to
/// the sinks (`weir_sinks::SinkManager::send` takes it as it is).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InfluxDbWrite {
    /// The `[[influxdb]]` sink by name; `None` means the default one.
    pub cluster: Option<String>,
    /// Target database.
    pub database: String,
    /// Target retention policy (empty: the server default).
    pub retention_policy: String,
    /// Timestamp precision, when the task set one (else the sink's `precision`).
    pub precision: Option<crate::line_protocol::Precision>,
    /// Create the database first.
    pub create: bool,
    /// The points.
    pub points: Vec<Point>,
}

/// What a `ciOut` node saw of one configuration item: its kind and key, the tracked
/// configuration (tags and named fields, as text) and the latest metric values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CiObservation {
    /// The item kind (`host`, `pod`, ...).
    pub kind: String,
    /// The item's key: the value of the node's key tag.
    pub key: String,
    /// Tracked configuration attributes.
    pub config: std::collections::BTreeMap<String, String>,
    /// Runtime metrics: stored as the latest value, never audited.
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Time of the point the observation came from (ns).
    pub time: i64,
}

/// Observations a task's `ciOut` node hands over once per input chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct CiWrite {
    /// The task id (the CI source is the pipeline that observed the items).
    pub task: String,
    /// The observations, one per point, in the order the points came.
    pub observations: Vec<CiObservation>,
}

/// Where tasks' outputs go. Implementations must not block for long: they are called from
/// task threads (queue the work and return).
pub trait Outputs: Send + Sync + 'static {
    /// Send an `httpPost` request.
    fn http_post(&self, request: HttpRequest);
    /// Write points for `influxDBOut`.
    fn influxdb_out(&self, write: InfluxDbWrite);
    /// Deliver one alert event (Kapacitor's `alert.Data` JSON) to one handler.
    fn alert(&self, handler: &AlertHandler, event_json: Vec<u8>);
    /// [`Outputs::alert`] for an event of `task` (the services that name the task, such as
    /// PagerDuty's `class`, read it); the default ignores the task.
    fn alert_from(&self, task: &str, handler: &AlertHandler, event_json: Vec<u8>) {
        let _ = task;
        self.alert(handler, event_json);
    }
    /// An alert node raised an event: deliver it to the node's handlers (the default) and,
    /// where topics are kept, collect it into its topics ([`crate::topics::Topics`]).
    fn alert_event(&self, event: crate::topics::AlertEvent<'_>) {
        for handler in event.handlers {
            self.alert_from(event.task, handler, event.json.clone());
        }
    }
    /// Record configuration-item observations for `ciOut`.
    fn ci_out(&self, write: CiWrite);
}

/// Why a task could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The program uses something the runtime cannot run.
    #[error("task {task}: {message}")]
    InvalidProgram {
        /// Task id.
        task: String,
        /// What is wrong.
        message: String,
    },
    /// A node Kapacitor refuses to start, in Kapacitor's words (the API answers them as they
    /// are): a lambda's operator between constants of types that have none.
    #[error("{message}")]
    NodeStart {
        /// Task id.
        task: String,
        /// The node's name (`eval2`).
        node: String,
        /// Kapacitor's error text.
        message: String,
    },
    /// No database/retention policy to read from.
    #[error("task {0}: no dbrp given (add a dbrp statement or send dbrps)")]
    NoDbrp(String),
    /// The task thread could not be started.
    #[error("task {task}: cannot start its thread: {source}")]
    Spawn {
        /// Task id.
        task: String,
        /// The OS error.
        source: std::io::Error,
    },
}

struct RunningTask {
    sender: Mailbox<TaskInput>,
    dbrps: Vec<(String, String)>,
    /// The measurements the task's `from()` nodes select, when every node under the stream
    /// root selects one (sorted): the task is handed only those points. `None`: all points.
    measurements: Selection,
    shared: Arc<TaskShared>,
    done: oneshot::Receiver<()>,
    _query_drivers: QueryDrivers,
    /// Set when the task was deleted: its thread forgets the persisted alert state after
    /// its last message, so no save of that message brings the state back.
    forget_state: Arc<std::sync::atomic::AtomicBool>,
}

/// A task on the pool: runs what its queue brings, in order.
struct TaskRunner {
    task: Task,
    /// Tickets of logged batches the task still needs for a replay.
    pending: Pending,
    /// Set when the task was deleted: forget its persisted alert state after the last message.
    forget: Arc<std::sync::atomic::AtomicBool>,
    store: Option<Arc<dyn AlertStateStore>>,
    id: String,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for TaskRunner {
    type Input = TaskInput;

    fn handle(&mut self, input: TaskInput) {
        let task = &mut self.task;
        task.set_now(wall_clock_nanos());
        match input {
            TaskInput::Tick => task.tick(wall_clock_nanos()),
            TaskInput::Query { node, result } => match result {
                Ok(batches) => task.write_batches(node, batches),
                Err(error) => task.query_failed(node, &error),
            },
            TaskInput::Points {
                batch,
                queued_at,
                ticket,
                lease,
            } => {
                task.shared()
                    .dequeued(batch.points.len() as u64, queued_at.elapsed());
                let newest = ticket
                    .is_some()
                    .then(|| batch.points.iter().map(|p| p.time).max())
                    .flatten()
                    .unwrap_or(i64::MIN);
                match Arc::try_unwrap(batch) {
                    Ok(batch) => task.write(&batch.database, &batch.retention_policy, batch.points),
                    Err(batch) => {
                        task.write_shared(&batch.database, &batch.retention_policy, &batch.points)
                    }
                }
                drop(lease);
                if let Some(ticket) = ticket {
                    self.pending.push(ticket, newest);
                }
            }
        }
        if self.pending.due(false) {
            self.pending.release_older_than(self.task.retained_since());
        }
    }

    fn idle(&mut self) {
        if self.pending.due(true) {
            self.pending.release_older_than(self.task.retained_since());
        }
    }

    fn finish(&mut self) {
        self.task.stop();
        self.pending.release_all();
        if let Some(store) = self
            .store
            .as_ref()
            .filter(|_| self.forget.load(Ordering::SeqCst))
        {
            store.forget_task(&self.id);
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// The measurements a task selects ([`selected_measurements`]); `None`: every point.
type Selection = Option<Arc<[String]>>;

/// The measurements a program reads, when every node under its stream root is a `from()`
/// with a measurement (`stats` or `deadman` on the root, or a `from()` without one, see every
/// point).
fn selected_measurements(program: &Program) -> Selection {
    if program.task_type != weir_dsl::TaskType::Stream {
        return None;
    }
    let mut measurements = Vec::new();
    for child in program.children(0) {
        match &program.nodes[child].spec {
            weir_dsl::NodeSpec::From(from) => {
                measurements.push(from.measurement.clone().filter(|m| !m.is_empty())?);
            }
            _ => return None,
        }
    }
    if measurements.is_empty() {
        return None;
    }
    measurements.sort();
    measurements.dedup();
    Some(measurements.into())
}

/// The positions of a batch's points by measurement, computed once per batch when tasks
/// select different measurements (runs of one measurement are hashed once).
fn by_measurement(points: &[Point]) -> FxHashMap<&str, Vec<u32>> {
    let mut positions: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
    let mut run_start = 0;
    for end in 1..=points.len() {
        if end == points.len() || points[end].name != points[run_start].name {
            positions
                .entry(points[run_start].name.as_str())
                .or_default()
                .extend(run_start as u32..end as u32);
            run_start = end;
        }
    }
    positions
}

/// The points of `batch` whose measurement is one of `measurements`, in arrival order: the
/// batch itself when that is all of them, `None` when none.
fn select(
    batch: &Arc<PointBatch>,
    positions: &FxHashMap<&str, Vec<u32>>,
    measurements: &[String],
) -> Option<Arc<PointBatch>> {
    let lists: Vec<&Vec<u32>> = measurements
        .iter()
        .filter_map(|measurement| positions.get(measurement.as_str()))
        .collect();
    let count: usize = lists.iter().map(|list| list.len()).sum();
    if count == batch.points.len() {
        return Some(batch.clone());
    }
    if count == 0 {
        return None;
    }
    let mut selected: Vec<u32> = Vec::with_capacity(count);
    for list in &lists {
        selected.extend_from_slice(list);
    }
    if lists.len() > 1 {
        selected.sort_unstable();
    }
    let points = selected
        .into_iter()
        .map(|position| batch.points[position as usize].clone())
        .collect();
    Some(Arc::new(PointBatch {
        database: batch.database.clone(),
        retention_policy: batch.retention_policy.clone(),
        points,
    }))
}

/// The schedule loops of a batch task's `query` nodes, stopped with the task.
#[derive(Default)]
struct QueryDrivers(Vec<tokio::task::AbortHandle>);

impl Drop for QueryDrivers {
    fn drop(&mut self) {
        for driver in &self.0 {
            driver.abort();
        }
    }
}

struct EngineInner {
    pool: Pool,
    /// Tasks with idle-flushing or expiring windows, ticked by one thread.
    ticking: Arc<Mutex<Vec<WeakMailbox<TaskInput>>>>,
    outputs: Arc<dyn Outputs>,
    alert_state: Option<Arc<dyn AlertStateStore>>,
    query_source: RwLock<Option<Arc<dyn QuerySource>>>,
    tasks: RwLock<HashMap<String, RunningTask>>,
}

/// The set of running tasks. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Engine {
    /// An engine with no tasks.
    pub fn new(outputs: Arc<dyn Outputs>) -> Engine {
        Engine::build(outputs, None)
    }

    /// An engine whose alert nodes with `.persist()` keep their state in `store`.
    pub fn with_alert_state(outputs: Arc<dyn Outputs>, store: Arc<dyn AlertStateStore>) -> Engine {
        Engine::build(outputs, Some(store))
    }

    fn build(outputs: Arc<dyn Outputs>, alert_state: Option<Arc<dyn AlertStateStore>>) -> Engine {
        // Without worker threads nothing could run: that is not a state to go on in.
        let pool = Pool::per_core().expect("cannot start the task worker threads");
        Engine {
            inner: Arc::new(EngineInner {
                pool,
                ticking: Arc::default(),
                outputs,
                alert_state,
                query_source: RwLock::new(None),
                tasks: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Where batch tasks' `query` nodes run their queries (tasks started from now on).
    pub fn set_query_source(&self, source: Arc<dyn QuerySource>) {
        *self
            .inner
            .query_source
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// Start `program` as task `id` with the program's own `dbrp` statements, replacing a
    /// running task of that id (which is stopped and flushed).
    pub fn start_task(&self, id: &str, program: Program) -> Result<(), EngineError> {
        self.start_task_with_dbrps(id, program, Vec::new())
    }

    /// Start a task reading the API's `dbrps` as well as the program's `dbrp` statements.
    pub fn start_task_with_dbrps(
        &self,
        id: &str,
        program: Program,
        dbrps: Vec<(String, String)>,
    ) -> Result<(), EngineError> {
        // Kapacitor refuses dbrps in both places when a task is defined; that check belongs
        // to the API. Here both lists are read (an updated task may carry both).
        let mut dbrps = dbrps;
        for dbrp in &program.dbrps {
            if !dbrps.contains(dbrp) {
                dbrps.push(dbrp.clone());
            }
        }
        let is_batch = program
            .nodes
            .first()
            .is_some_and(|root| root.spec == weir_dsl::NodeSpec::Batch);
        // A batch task reads nothing written: its dbrps only label it, as in Kapacitor.
        if dbrps.is_empty() && !is_batch {
            return Err(EngineError::NoDbrp(id.to_owned()));
        }
        let mut task = Task::new(id, &program, self.inner.outputs.clone())?;
        let measurements = selected_measurements(&program);
        let queries = self.prepare_queries(id, &task)?;
        if let Some(store) = &self.inner.alert_state {
            task.attach_alert_state(store);
        }
        let shared = task.shared();
        let (done_sender, done) = oneshot::channel();
        let needs_ticks = task.needs_ticks();
        let forget_state = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let runner = TaskRunner {
            task,
            pending: Pending::new(),
            forget: forget_state.clone(),
            store: self.inner.alert_state.clone(),
            id: id.to_owned(),
            done: Some(done_sender),
        };
        let sender = self.inner.pool.spawn(runner, TASK_QUEUE_BATCHES);
        if needs_ticks {
            self.tick(sender.downgrade());
        }
        let query_drivers = spawn_query_drivers(id, queries, &sender);
        let running = RunningTask {
            sender,
            dbrps,
            measurements,
            shared,
            done,
            _query_drivers: query_drivers,
            forget_state,
        };
        let previous = self.tasks_mut().insert(id.to_owned(), running);
        drop(previous);
        Ok(())
    }

    /// Tick `task` every [`TICK_INTERVAL`] while it runs (one thread for all tasks).
    fn tick(&self, task: WeakMailbox<TaskInput>) {
        let mut ticking = self
            .inner
            .ticking
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let first = ticking.is_empty();
        ticking.push(task);
        if !first {
            return;
        }
        // The ticker ends when the engine is gone or no task needs ticks.
        let list = Arc::downgrade(&self.inner.ticking);
        let spawned = std::thread::Builder::new()
            .name("weir-tick".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK_INTERVAL);
                    let Some(list) = list.upgrade() else { break };
                    let mut tasks = list.lock().unwrap_or_else(PoisonError::into_inner);
                    // A full queue means the task is busy with data: skip this tick.
                    tasks.retain(|task| {
                        task.upgrade().is_some_and(|task| {
                            !matches!(
                                task.try_send(TaskInput::Tick),
                                Err(mpsc::error::TrySendError::Closed(_))
                            )
                        })
                    });
                    if tasks.is_empty() {
                        break;
                    }
                }
            });
        if let Err(error) = spawned {
            ticking.clear();
            tracing::error!("cannot start the tick thread: {error}");
        }
    }

    /// Check a batch task's queries against the query source and the runtime they need.
    fn prepare_queries(
        &self,
        id: &str,
        task: &Task,
    ) -> Result<Option<PreparedQueries>, EngineError> {
        let queries = task.queries();
        if queries.is_empty() {
            return Ok(None);
        }
        let invalid = |message: String| EngineError::InvalidProgram {
            task: id.to_owned(),
            message,
        };
        let source = self
            .inner
            .query_source
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                invalid("batch tasks need a query source; none is configured".to_owned())
            })?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            invalid("batch tasks need a tokio runtime to run their queries".to_owned())
        })?;
        let started = wall_clock_nanos();
        let mut prepared = Vec::with_capacity(queries.len());
        for (node_id, name, spec) in queries {
            source
                .check(spec.language, spec.cluster.as_deref())
                .map_err(|error| invalid(format!("{name}: {error}")))?;
            let plan =
                QueryPlan::new(&spec).map_err(|error| invalid(format!("{name}: {error}")))?;
            let schedule = Schedule::new(&spec, started)
                .map_err(|error| invalid(format!("{name}: {error}")))?;
            prepared.push((node_id, name, plan, schedule));
        }
        Ok(Some(PreparedQueries {
            source,
            runtime,
            queries: prepared,
        }))
    }

    /// Stop a task; it flushes pending join and union sets on its thread. False when no task
    /// had that id.
    pub fn stop_task(&self, id: &str) -> bool {
        self.tasks_mut().remove(id).is_some()
    }

    /// Forget the persisted alert state of task `id` (it is being deleted): now when it is
    /// not running, else once its thread has processed its last message.
    pub fn forget_alert_state(&self, id: &str) {
        let Some(store) = &self.inner.alert_state else {
            return;
        };
        match self.tasks().get(id) {
            Some(task) => task.forget_state.store(true, Ordering::SeqCst),
            None => store.forget_task(id),
        }
    }

    /// Route a batch to every running task reading its database and retention policy.
    /// Waits (asynchronously) while a task's queue is full.
    pub async fn write(&self, batch: PointBatch) {
        self.write_logged(batch, None, None).await;
    }

    /// Like [`Engine::write`] for a batch that was logged before it was acknowledged: every
    /// task it is routed to holds `ticket` until the batch no longer matters to a replay (see
    /// [`crate::ingress`]), and drops its clone of `lease` once it has run the batch.
    pub async fn write_logged(
        &self,
        batch: PointBatch,
        ticket: Option<Ticket>,
        lease: Option<Lease>,
    ) {
        let senders: Vec<(Mailbox<TaskInput>, Selection, Arc<TaskShared>)> = {
            let tasks = self
                .inner
                .tasks
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            tasks
                .values()
                .filter(|task| {
                    task.dbrps.iter().any(|(database, retention_policy)| {
                        *database == batch.database && *retention_policy == batch.retention_policy
                    })
                })
                .map(|task| {
                    (
                        task.sender.clone(),
                        task.measurements.clone(),
                        task.shared.clone(),
                    )
                })
                .collect()
        };
        if senders.is_empty() || batch.points.is_empty() {
            return;
        }
        // Each task gets what its `from()` nodes select: the whole batch, or the points of
        // its measurements, selected once for all tasks that select the same ones (copies of
        // a point share its tags and fields).
        let whole = Arc::new(batch);
        let mut selections: HashMap<Arc<[String]>, Option<Arc<PointBatch>>> = HashMap::new();
        let mut positions = None;
        let mut messages = Vec::with_capacity(senders.len());
        for (sender, measurements, shared) in senders {
            let message = match measurements {
                None => Some(whole.clone()),
                Some(measurements) => selections
                    .entry(measurements.clone())
                    .or_insert_with(|| {
                        let positions =
                            positions.get_or_insert_with(|| by_measurement(&whole.points));
                        select(&whole, positions, &measurements)
                    })
                    .clone(),
            };
            if let Some(message) = message {
                messages.push((sender, message, shared));
            }
        }
        drop(positions);
        drop(selections);
        drop(whole);
        for (sender, message, shared) in messages {
            {
                if let Some(ticket) = &ticket {
                    ticket.hold();
                }
                let points = message.points.len() as u64;
                let input = TaskInput::Points {
                    batch: message,
                    queued_at: std::time::Instant::now(),
                    ticket: ticket.clone(),
                    lease: lease.clone(),
                };
                shared.queued(points);
                // A send error means the task stopped meanwhile: it holds nothing.
                if sender.send(input).await.is_err() {
                    shared.dequeued(points, std::time::Duration::ZERO);
                    if let Some(ticket) = &ticket {
                        ticket.release();
                    }
                }
            }
        }
    }

    /// Statistics of a running task.
    pub fn task_stats(&self, id: &str) -> Option<TaskStats> {
        self.tasks().get(id).map(|task| task.shared.stats())
    }

    /// The error of a running task's latest query run when it failed, else empty.
    pub fn task_error(&self, id: &str) -> Option<String> {
        self.tasks().get(id).map(|task| task.shared.last_error())
    }

    /// The latest results of an `httpOut` node, as Kapacitor serves them.
    pub fn http_out(&self, task: &str, endpoint: &str) -> Option<serde_json::Value> {
        self.tasks()
            .get(task)
            .and_then(|task| task.shared.http_out(endpoint))
    }

    /// Ids of the running tasks, sorted.
    pub fn running_tasks(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.tasks().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Stop every task and wait until each has flushed.
    pub async fn shutdown(&self) {
        let tasks: Vec<RunningTask> = self.tasks_mut().drain().map(|(_, task)| task).collect();
        for task in tasks {
            let RunningTask { sender, done, .. } = task;
            drop(sender);
            // An error means the thread already ended.
            let _ = done.await;
        }
    }

    fn tasks(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, RunningTask>> {
        self.inner
            .tasks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn tasks_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, RunningTask>> {
        self.inner
            .tasks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A batch task's checked queries, ready for [`spawn_query_drivers`].
struct PreparedQueries {
    source: Arc<dyn QuerySource>,
    runtime: tokio::runtime::Handle,
    queries: Vec<(usize, String, QueryPlan, Schedule)>,
}

/// One [`crate::nodes::query::drive`] loop per `query` node, on the tokio runtime; each
/// holds a weak sender, so it never keeps a stopped task alive.
fn spawn_query_drivers(
    id: &str,
    prepared: Option<PreparedQueries>,
    sender: &Mailbox<TaskInput>,
) -> QueryDrivers {
    let Some(prepared) = prepared else {
        return QueryDrivers::default();
    };
    let mut drivers = QueryDrivers::default();
    for (node_id, name, plan, schedule) in prepared.queries {
        let weak = sender.downgrade();
        let driver = crate::nodes::query::drive(
            id.to_owned(),
            name,
            plan,
            schedule,
            prepared.source.clone(),
            wall_clock_nanos,
            move |result| {
                let weak = weak.clone();
                async move {
                    let input = TaskInput::Query {
                        node: node_id,
                        result,
                    };
                    match weak.upgrade() {
                        Some(task) => task.send(input).await.is_ok(),
                        None => false,
                    }
                }
            },
        );
        drivers
            .0
            .push(prepared.runtime.spawn(driver).abort_handle());
    }
    drivers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::Recorder;
    use weir_dsl::nodes::{FromSpec, HttpPostSpec};
    use weir_dsl::{NodeSpec, ProgramNode};

    fn program(dbrps: Vec<(String, String)>) -> Program {
        let node = |name: &str, spec, parents: &[usize]| ProgramNode {
            name: name.into(),
            spec,
            parents: parents.to_vec(),
            span: Default::default(),
        };
        Program {
            task_type: weir_dsl::TaskType::Stream,
            dbrps,
            nodes: vec![
                node("stream0", NodeSpec::Stream, &[]),
                node("from1", NodeSpec::From(FromSpec::default()), &[0]),
                node(
                    "http_post2",
                    NodeSpec::HttpPost(HttpPostSpec {
                        urls: vec!["http://127.0.0.1:1/x".into()],
                        ..Default::default()
                    }),
                    &[1],
                ),
            ],
        }
    }

    fn batch(database: &str, n: usize) -> PointBatch {
        PointBatch {
            database: database.into(),
            retention_policy: "autogen".into(),
            points: (0..n)
                .map(|i| Point::gauge("cpu", Default::default(), 1.0, i as i64))
                .collect(),
        }
    }

    #[tokio::test]
    async fn routes_by_dbrp_and_flushes_on_shutdown() {
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(recorder.clone());
        let dbrp = vec![("db".to_string(), "autogen".to_string())];
        engine.start_task("a", program(dbrp.clone())).unwrap();
        engine
            .start_task_with_dbrps("b", program(Vec::new()), dbrp.clone())
            .unwrap();
        engine
            .start_task_with_dbrps("c", program(dbrp.clone()), dbrp.clone())
            .unwrap();
        assert!(engine.stop_task("c"));
        assert!(matches!(
            engine.start_task("d", program(Vec::new())),
            Err(EngineError::NoDbrp(_))
        ));
        assert_eq!(engine.running_tasks(), ["a", "b"]);
        engine.write(batch("db", 3)).await;
        engine.write(batch("other", 5)).await;
        assert!(engine.task_stats("a").is_some());
        assert!(engine.http_out("a", "nope").is_none());
        assert!(engine.stop_task("b"));
        assert!(!engine.stop_task("b"));
        engine.shutdown().await;
        assert!(engine.running_tasks().is_empty());
        // Task b may still be flushing on a worker: a gets 3, b gets 3 (or is finishing).
        for _ in 0..100 {
            if recorder.posts.lock().unwrap().len() == 6 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(recorder.posts.lock().unwrap().len(), 6);
    }

    #[tokio::test]
    async fn each_task_gets_the_measurements_it_selects() {
        let compile = |script: &str| {
            let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
            program.unwrap_or_else(|| panic!("{diagnostics:?}"))
        };
        let post = "|httpPost('http://127.0.0.1:1/x')";
        let cpu = compile(&format!(
            "dbrp \"db\".\"autogen\"\nstream|from().measurement('cpu'){post}"
        ));
        let mem = compile(&format!(
            "dbrp \"db\".\"autogen\"\nstream|from().measurement('mem'){post}"
        ));
        let all = compile(&format!("dbrp \"db\".\"autogen\"\nstream|from(){post}"));
        assert_eq!(
            selected_measurements(&cpu).as_deref(),
            Some(&["cpu".to_owned()][..])
        );
        assert_eq!(selected_measurements(&all), None);
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(recorder.clone());
        engine.start_task("cpu", cpu).unwrap();
        engine.start_task("mem", mem).unwrap();
        engine.start_task("all", all).unwrap();
        let mut mixed = batch("db", 4);
        mixed.points[1].name = "mem".into();
        mixed.points[3].name = "disk".into();
        engine.write(mixed).await;
        engine.shutdown().await;
        for _ in 0..100 {
            if recorder.posts.lock().unwrap().len() == 4 + 2 + 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // all: 4 points, cpu: 2, mem: 1; none of disk's reached cpu or mem.
        assert_eq!(recorder.posts.lock().unwrap().len(), 7);
        let whole = Arc::new(batch("db", 3));
        let positions = by_measurement(&whole.points);
        assert!(Arc::ptr_eq(
            &select(&whole, &positions, &["cpu".to_owned()]).unwrap(),
            &whole
        ));
        assert!(select(&whole, &positions, &["mem".to_owned()]).is_none());
        // Several measurements keep arrival order.
        let mut mixed = batch("db", 5);
        for (point, name) in mixed.points.iter_mut().zip(["a", "b", "a", "c", "b"]) {
            point.name = name.into();
        }
        let mixed = Arc::new(mixed);
        let positions = by_measurement(&mixed.points);
        let picked = select(&mixed, &positions, &["a".to_owned(), "b".to_owned()]).unwrap();
        let names: Vec<&str> = picked.points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "a", "b"]);
    }

    #[tokio::test]
    async fn idle_windows_flush_on_wall_clock_ticks() {
        let script = "dbrp \"db\".\"autogen\"\n\
            stream|from()|window().period(1h).every(1h).flushIdle(100ms)\
            |httpPost('http://127.0.0.1:1/x')";
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(recorder.clone());
        engine.start_task("idle", program).unwrap();
        engine.write(batch("db", 3)).await;
        for _ in 0..50 {
            if !recorder.posts.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let posts = recorder.posts.lock().unwrap().len();
        assert_eq!(posts, 1, "the open window was flushed without new data");
        engine.shutdown().await;
    }

    #[tokio::test]
    async fn a_deleted_task_forgets_its_alert_state_after_its_last_message() {
        let script = "dbrp \"db\".\"autogen\"\n\
            stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 0.5).persist()";
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let memory = Arc::new(crate::alert_state::memory::MemoryStore::default());
        let engine = Engine::with_alert_state(Arc::new(Recorder::default()), memory.clone());
        engine.start_task("kept", program.clone()).unwrap();
        engine.start_task("deleted", program).unwrap();
        engine.write(batch("db", 3)).await;
        engine.forget_alert_state("deleted");
        // Shutdown waits until both tasks have run their last message: the deleted one has
        // saved its state for it and forgotten it afterwards.
        engine.shutdown().await;
        let states = memory.states.lock().unwrap();
        let tasks: Vec<&str> = states.keys().map(|(task, _, _)| task.as_str()).collect();
        assert_eq!(tasks, ["kept"]);
        drop(states);
        // A task that is not running is forgotten at once.
        engine.forget_alert_state("kept");
        assert!(memory.states.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writers_wait_when_a_task_is_full() {
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(recorder.clone());
        engine
            .start_task("a", program(vec![("db".into(), "autogen".into())]))
            .unwrap();
        for _ in 0..(TASK_QUEUE_BATCHES * 3) {
            engine.write(batch("db", 2)).await;
        }
        engine.shutdown().await;
        assert_eq!(recorder.posts.lock().unwrap().len(), TASK_QUEUE_BATCHES * 6);
    }
}
