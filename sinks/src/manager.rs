//! [`SinkManager`]: every configured `[[influxdb]]` sink, its queue and its delivery task.
//!
//! [`SinkManager::send`] encodes the points to line protocol at once and appends them to the
//! sink's queue without waiting for the network. One delivery task per sink reads batches
//! (by `batch-size`, or after `flush-interval`), sends them, and acknowledges them:
//! - written: counted in `written`;
//! - partial write (`dropped=N`): the rejected points are counted in `dropped`, the rest in
//!   `written`, and the server message is logged at most once per [`LOG_INTERVAL`];
//! - database not found: created with `CREATE DATABASE` when the write asked for `create`,
//!   else the batch is dropped and counted;
//! - any other 4xx: dropped and counted, never retried;
//! - connection errors, timeouts, 408, 429, 5xx: retried with exponential back-off and jitter
//!   (100ms doubling to 30s), failing over through the URLs in order; the disk buffer keeps
//!   everything meanwhile.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weir_engine::InfluxDbWrite;

use crate::SinkError;

use crate::buffer::disk::DiskQueue;
use crate::buffer::memory::MemoryQueue;
use crate::buffer::{Batch, BatchKey, PushError, Queue, Record, now_ms};
use crate::influxdb::client::{Client, WriteOutcome};
use crate::influxdb::config::{BufferKind, InfluxDbConfig};
use crate::influxdb::encode::encode_points;

/// The shortest time between two log lines about the same sink problem.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Points per queued record at most (a record counts its points in a u32); writes are also
/// split into records of at most `batch-size` points.
const MAX_RECORD_POINTS: usize = 1 << 20;
const STAT_WRITTEN: &str = "weir_sink_written_points_total";
const STAT_DROPPED: &str = "weir_sink_dropped_points_total";
const STAT_RETRIED: &str = "weir_sink_retried_requests_total";
const STAT_QUEUE_POINTS: &str = "weir_sink_queue_points";
const STAT_QUEUE_BYTES: &str = "weir_sink_queue_bytes";
const STAT_OLDEST_AGE: &str = "weir_sink_oldest_queued_age_seconds";

/// One sink's state, as served by the stats API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkStats {
    /// Sink name.
    pub name: String,
    /// Always `influxdb` for now.
    pub kind: &'static str,
    /// Whether it is the default sink.
    pub default: bool,
    /// `disk` or `memory`.
    pub buffer: &'static str,
    /// Points queued and not yet acknowledged.
    pub queued_points: u64,
    /// Bytes queued and not yet acknowledged.
    pub queued_bytes: u64,
    /// Age of the oldest queued point's hand-off, in seconds.
    pub oldest_queued_age_seconds: Option<f64>,
    /// Points delivered.
    pub written: u64,
    /// Points dropped: rejected by the server, over the buffer cap, or not encodable.
    pub dropped: u64,
    /// Requests retried after a transient failure.
    pub retried: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// All sinks; cheap to clone.
#[derive(Clone)]
pub struct SinkManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SinkManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = lock(&self.inner.sinks)
            .iter()
            .map(|running| running.config.name.clone())
            .collect();
        f.debug_struct("SinkManager")
            .field("data_dir", &self.inner.data_dir)
            .field("sinks", &names)
            .finish()
    }
}

struct Inner {
    data_dir: PathBuf,
    runtime: tokio::runtime::Handle,
    sinks: Mutex<Vec<Running>>,
    /// Queues and counters by sink name; kept across reloads so buffered data survives.
    shared: Mutex<HashMap<String, Arc<Shared>>>,
}

struct Running {
    config: InfluxDbConfig,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Shared {
    name: String,
    queue: Mutex<Queue>,
    buffer: Mutex<(BufferKind, u64)>,
    notify: Notify,
    flushing: AtomicBool,
    written: AtomicU64,
    dropped: AtomicU64,
    retried: AtomicU64,
    last_error: Mutex<Option<String>>,
    last_logged: Mutex<Option<Instant>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock cannot leave the queue half-updated in a way
        // that matters more than losing the sink, so keep going with the inner value.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_error(&self, message: String) {
        let should_log = {
            let mut last_logged = lock(&self.last_logged);
            let now = Instant::now();
            let due = last_logged.is_none_or(|at| now.duration_since(at) >= LOG_INTERVAL);
            if due {
                *last_logged = Some(now);
            }
            due
        };
        if should_log {
            tracing::warn!(sink = %self.name, error = %message, "influxdb sink");
        }
        *lock(&self.last_error) = Some(message);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SinkManager {
    /// Open every enabled sink's buffer under `data_dir` and start its delivery task.
    /// Call inside a tokio runtime.
    pub fn new(data_dir: &Path, configs: Vec<InfluxDbConfig>) -> Result<SinkManager, SinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            SinkError::Unavailable("sinks: SinkManager::new needs a tokio runtime".to_owned())
        })?;
        check_configs(&configs)?;
        let manager = SinkManager {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_owned(),
                runtime,
                sinks: Mutex::new(Vec::new()),
                shared: Mutex::new(HashMap::new()),
            }),
        };
        let mut sinks = Vec::new();
        for config in configs.into_iter().filter(|config| config.enabled) {
            sinks.push(manager.start(config)?);
        }
        *lock(&manager.inner.sinks) = sinks;
        Ok(manager)
    }

    /// Hot reload: start added sinks, stop removed ones, restart changed ones; queued data
    /// stays in each sink's buffer (a changed sink resumes from its oldest unacknowledged
    /// record). Problems are logged and the affected sink keeps its old settings.
    pub fn apply(&self, configs: Vec<InfluxDbConfig>) {
        if let Err(error) = check_configs(&configs) {
            tracing::error!(%error, "sinks: new [[influxdb]] config rejected");
            return;
        }
        let mut sinks = lock(&self.inner.sinks);
        let mut old: Vec<Running> = std::mem::take(&mut *sinks);
        let mut next = Vec::new();
        for config in configs.into_iter().filter(|config| config.enabled) {
            let position = old
                .iter()
                .position(|running| running.config.name == config.name);
            let previous = position.map(|index| old.remove(index));
            match previous {
                Some(running) if running.config == config => next.push(running),
                previous => {
                    // Stop the old task first: it must not deliver while the new one starts.
                    let fallback = previous.as_ref().map(|running| running.config.clone());
                    drop(previous);
                    match self.start(config) {
                        Ok(running) => next.push(running),
                        Err(error) => {
                            tracing::error!(%error, "sinks: could not apply [[influxdb]] change");
                            if let Some(config) = fallback {
                                if let Ok(running) = self.start(config) {
                                    next.push(running);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Whatever is left in `old` was removed; dropping it stops its tasks.
        drop(old);
        *sinks = next;
    }

    /// Queue points for a sink without waiting; hands the write back when there is no such
    /// sink, when a memory buffer is full (back-pressure), or when the disk buffer fails.
    // Handing the whole write back (as tokio's `SendError<T>` does) is the point of the Err.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, write: InfluxDbWrite) -> Result<(), InfluxDbWrite> {
        let (shared, config) = {
            let sinks = lock(&self.inner.sinks);
            let running = match &write.cluster {
                Some(name) => sinks.iter().find(|running| &running.config.name == name),
                None => default_sink(&sinks),
            };
            match running {
                Some(running) => (running.shared.clone(), running.config.clone()),
                None => return Err(write),
            }
        };
        let precision = write.precision.unwrap_or_else(|| config.precision());
        let precision = Client::wire_precision(config.api, precision);
        let retention_policy = if write.retention_policy.is_empty() {
            config.default_retention_policy.clone()
        } else {
            write.retention_policy.clone()
        };
        let key = BatchKey {
            database: write.database.clone(),
            retention_policy,
            precision,
            create: write.create,
        };
        let mut records = Vec::new();
        let mut skipped = 0;
        for chunk in write
            .points
            .chunks(config.batch_size.clamp(1, MAX_RECORD_POINTS))
        {
            let mut body = Vec::with_capacity(chunk.len() * 96);
            let summary = encode_points(&mut body, chunk, precision);
            skipped += summary.skipped;
            if summary.encoded > 0 {
                // `encoded` is at most MAX_RECORD_POINTS, which fits a u32.
                let points = u32::try_from(summary.encoded).unwrap_or(u32::MAX);
                records.push(Record::new(key.clone(), points, body));
            }
        }
        let total_bytes: u64 = records.iter().map(|record| record.body.len() as u64).sum();
        let mut queue = shared.queue();
        if queue.would_refuse(total_bytes) {
            return Err(write);
        }
        let was_empty = queue.unread_points() == 0;
        for (record_idx, record) in records.into_iter().enumerate() {
            match queue.push(record) {
                Ok(()) => {}
                Err(PushError::Full(_)) if record_idx == 0 => return Err(write),
                Err(PushError::Full(record)) => {
                    // Part of the write is queued already; count the rest as dropped.
                    shared
                        .dropped
                        .fetch_add(u64::from(record.points), Ordering::Relaxed);
                }
                Err(PushError::Io(error)) => {
                    drop(queue);
                    shared.set_error(format!("buffer write failed: {error}"));
                    return Err(write);
                }
            }
        }
        // Wake the delivery task when a batch is full or a flush deadline starts; otherwise
        // it is already waiting for the oldest record's deadline.
        let wake = was_empty || queue.unread_points() >= config.batch_size as u64;
        drop(queue);
        if skipped > 0 {
            shared.dropped.fetch_add(skipped as u64, Ordering::Relaxed);
        }
        if wake {
            shared.notify.notify_one();
        }
        Ok(())
    }

    /// Every running sink's state.
    pub fn stats(&self) -> Vec<SinkStats> {
        let sinks = lock(&self.inner.sinks);
        let default_name = default_sink(&sinks).map(|running| running.config.name.clone());
        let now = now_ms();
        sinks
            .iter()
            .map(|running| {
                let shared = &running.shared;
                let queue_stats = shared.queue().stats();
                SinkStats {
                    name: running.config.name.clone(),
                    kind: "influxdb",
                    default: default_name.as_deref() == Some(running.config.name.as_str()),
                    buffer: match running.config.buffer {
                        BufferKind::Memory => "memory",
                        _ => "disk",
                    },
                    queued_points: queue_stats.points,
                    queued_bytes: queue_stats.bytes,
                    oldest_queued_age_seconds: queue_stats
                        .oldest_enqueued_ms
                        .map(|at| (now - at).max(0) as f64 / 1000.0),
                    written: shared.written.load(Ordering::Relaxed),
                    dropped: shared.dropped.load(Ordering::Relaxed) + queue_stats.dropped,
                    retried: shared.retried.load(Ordering::Relaxed),
                    last_error: lock(&shared.last_error).clone(),
                }
            })
            .collect()
    }

    /// Append Prometheus text-format self-metrics (`weir_sink_*{sink="name"}`).
    pub fn write_metrics(&self, out: &mut String) {
        let stats = self.stats();
        let families: [MetricFamily; 6] = [
            (STAT_WRITTEN, "counter", "Points delivered.", |s| {
                Some(s.written as f64)
            }),
            (STAT_DROPPED, "counter", "Points dropped.", |s| {
                Some(s.dropped as f64)
            }),
            (STAT_RETRIED, "counter", "Requests retried.", |s| {
                Some(s.retried as f64)
            }),
            (STAT_QUEUE_POINTS, "gauge", "Points queued.", |s| {
                Some(s.queued_points as f64)
            }),
            (STAT_QUEUE_BYTES, "gauge", "Bytes queued.", |s| {
                Some(s.queued_bytes as f64)
            }),
            (
                STAT_OLDEST_AGE,
                "gauge",
                "Age of the oldest queued point.",
                |s| Some(s.oldest_queued_age_seconds.unwrap_or(0.0)),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for sink in &stats {
                if let Some(value) = value(sink) {
                    let label = escape_label(&sink.name);
                    let _ = writeln!(out, "{name}{{sink=\"{label}\"}} {value}");
                }
            }
        }
    }

    /// Deliver what can be delivered within `timeout`, then stop every delivery task and sync
    /// the buffers; the disk buffers keep the rest for the next start.
    pub async fn shutdown(&self, timeout: Duration) {
        let shareds: Vec<Arc<Shared>> = lock(&self.inner.sinks)
            .iter()
            .map(|running| running.shared.clone())
            .collect();
        for shared in &shareds {
            shared.flushing.store(true, Ordering::Relaxed);
            shared.notify.notify_one();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending: u64 = shareds
                .iter()
                .map(|shared| shared.queue().stats().points)
                .sum();
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopped = std::mem::take(&mut *lock(&self.inner.sinks));
        drop(stopped);
        for shared in &shareds {
            if let Err(error) = shared.queue().sync() {
                shared.set_error(format!("buffer sync failed: {error}"));
            }
        }
    }

    fn start(&self, config: InfluxDbConfig) -> Result<Running, SinkError> {
        let client = Client::new(&config)?;
        let shared = self.shared_for(&config)?;
        shared.flushing.store(false, Ordering::Relaxed);
        let delivery = self
            .inner
            .runtime
            .spawn(deliver(shared.clone(), config.clone(), client));
        let mut tasks = vec![delivery];
        if config.buffer == BufferKind::Disk {
            tasks.push(
                self.inner
                    .runtime
                    .spawn(sync_loop(shared.clone(), config.fsync_interval)),
            );
        }
        Ok(Running {
            config,
            shared,
            tasks,
        })
    }

    /// The sink's queue and counters, reused across reloads; the queue is reopened when the
    /// buffer settings change.
    fn shared_for(&self, config: &InfluxDbConfig) -> Result<Arc<Shared>, SinkError> {
        let buffer = (config.buffer, config.buffer_max_size);
        let mut all = lock(&self.inner.shared);
        if let Some(shared) = all.get(&config.name) {
            let mut current = lock(&shared.buffer);
            let mut queue = shared.queue();
            if *current != buffer {
                let previous = std::mem::replace(&mut *queue, Queue::Memory(MemoryQueue::new(0)));
                shared
                    .dropped
                    .fetch_add(previous.stats().dropped, Ordering::Relaxed);
                // A disk queue is closed before its directory is opened again; its data stays
                // there. A memory queue's records move to the new queue.
                let carried = match previous {
                    Queue::Memory(memory) => Some(memory),
                    Queue::Disk(disk) => {
                        drop(disk);
                        None
                    }
                };
                let mut next = match self.open_queue(config) {
                    Ok(next) => next,
                    Err(error) => {
                        let mut old_config = config.clone();
                        (old_config.buffer, old_config.buffer_max_size) = *current;
                        *queue = match carried {
                            Some(memory) => Queue::Memory(memory),
                            None => self.open_queue(&old_config)?,
                        };
                        return Err(error);
                    }
                };
                if let Some(mut memory) = carried {
                    memory.rewind();
                    while let Some(batch) = memory.next_batch(u64::from(u32::MAX)) {
                        let points = batch.points;
                        let record = Record {
                            key: batch.key,
                            points: u32::try_from(points).unwrap_or(u32::MAX),
                            enqueued_ms: now_ms(),
                            body: batch.body,
                        };
                        if next.push(record).is_err() {
                            shared.dropped.fetch_add(points, Ordering::Relaxed);
                        }
                    }
                }
                *queue = next;
                *current = buffer;
            }
            queue.rewind();
            return Ok(shared.clone());
        }
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            queue: Mutex::new(self.open_queue(config)?),
            buffer: Mutex::new(buffer),
            notify: Notify::new(),
            flushing: AtomicBool::new(false),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            last_error: Mutex::new(None),
            last_logged: Mutex::new(None),
        });
        all.insert(config.name.clone(), shared.clone());
        Ok(shared)
    }

    fn open_queue(&self, config: &InfluxDbConfig) -> Result<Queue, SinkError> {
        match config.buffer {
            BufferKind::Memory => Ok(Queue::Memory(MemoryQueue::new(config.buffer_max_size))),
            _ => {
                let dir = sink_dir(&self.inner.data_dir, &config.name);
                let queue = DiskQueue::open(&dir, config.buffer_max_size).map_err(|error| {
                    SinkError::Io(std::io::Error::new(
                        error.kind(),
                        format!(
                            "influxdb {:?}: buffer {}: {error}",
                            config.name,
                            dir.display()
                        ),
                    ))
                })?;
                Ok(Queue::Disk(queue))
            }
        }
    }
}

/// Where a sink's disk buffer lives: `<data_dir>/sinks/influxdb/<name>`, with bytes other
/// than ASCII letters, digits, `-`, `_` and `.` written as `%XX`.
pub fn sink_dir(data_dir: &Path, name: &str) -> PathBuf {
    let mut safe = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_')
            || (byte == b'.' && !safe.is_empty())
        {
            safe.push(char::from(byte));
        } else {
            let _ = write!(safe, "%{byte:02X}");
        }
    }
    data_dir.join("sinks").join("influxdb").join(safe)
}

fn check_configs(configs: &[InfluxDbConfig]) -> Result<(), SinkError> {
    let mut problems = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        if let Err(mut errors) = config.validate() {
            problems.append(&mut errors);
        }
        if configs[..index]
            .iter()
            .any(|other| other.name == config.name)
        {
            problems.push(format!("influxdb {:?}: duplicate name", config.name));
        }
    }
    let defaults = configs
        .iter()
        .filter(|config| config.enabled && config.default)
        .count();
    if defaults > 1 {
        problems.push("influxdb: more than one section has default = true".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SinkError::Unavailable(problems.join("; ")))
    }
}

fn default_sink(sinks: &[Running]) -> Option<&Running> {
    sinks
        .iter()
        .find(|running| running.config.default)
        .or(if sinks.len() == 1 {
            sinks.first()
        } else {
            None
        })
}

/// Name, type, help and value of one self-metric.
type MetricFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SinkStats) -> Option<f64>,
);

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Exponential back-off with full jitter in [delay/2, delay].
struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let exponent = self.attempt.min(16);
        self.attempt = self.attempt.saturating_add(1);
        let delay = BACKOFF_MIN.saturating_mul(1 << exponent).min(BACKOFF_MAX);
        let random = RandomState::new().build_hasher().finish();
        let half = delay / 2;
        let jitter_nanos = random % (half.as_nanos().max(1) as u64);
        half + Duration::from_nanos(jitter_nanos)
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

async fn sync_loop(shared: Arc<Shared>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = shared.queue().sync();
        if let Err(error) = result {
            shared.set_error(format!("buffer sync failed: {error}"));
        }
    }
}

/// The delivery loop of one sink; runs until aborted.
async fn deliver(shared: Arc<Shared>, config: InfluxDbConfig, mut client: Client) {
    let batch_size = config.batch_size as u64;
    let flush_ms = i64::try_from(config.flush_interval.as_millis()).unwrap_or(i64::MAX);
    let mut backoff = Backoff { attempt: 0 };
    let mut pending: Option<Batch> = None;
    let mut created: Option<String> = None;
    loop {
        let batch = match pending.take() {
            Some(batch) => batch,
            None => {
                let (unread, oldest) = {
                    let queue = shared.queue();
                    (queue.unread_points(), queue.oldest_unread_ms())
                };
                let age = oldest.map(|at| now_ms() - at);
                let flushing = shared.flushing.load(Ordering::Relaxed);
                let ready = unread >= batch_size
                    || age.is_some_and(|age| age >= flush_ms)
                    || (flushing && unread > 0);
                if !ready {
                    let wait = match age {
                        Some(age) => {
                            Duration::from_millis((flush_ms - age).clamp(1, flush_ms) as u64)
                        }
                        None => config.flush_interval,
                    };
                    tokio::select! {
                        () = shared.notify.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
                let next = shared.queue().next_batch(batch_size);
                match next {
                    Ok(Some(batch)) => batch,
                    Ok(None) => {
                        // Counted points that cannot be read (a skipped corrupt tail): wait
                        // for new data rather than spin.
                        tokio::select! {
                            () = shared.notify.notified() => {}
                            () = tokio::time::sleep(config.flush_interval) => {}
                        }
                        continue;
                    }
                    Err(error) => {
                        shared.set_error(format!("buffer read failed: {error}"));
                        tokio::time::sleep(backoff.next()).await;
                        continue;
                    }
                }
            }
        };
        let outcome = client.write(&batch.key, &batch.body).await;
        let delivered = match outcome {
            WriteOutcome::Written => {
                shared.written.fetch_add(batch.points, Ordering::Relaxed);
                true
            }
            WriteOutcome::Partial { dropped, message } => {
                let dropped = dropped.min(batch.points);
                shared
                    .written
                    .fetch_add(batch.points - dropped, Ordering::Relaxed);
                shared.dropped.fetch_add(dropped, Ordering::Relaxed);
                shared.set_error(format!(
                    "partial write, {dropped} points dropped: {message}"
                ));
                true
            }
            WriteOutcome::DatabaseNotFound { message } => {
                if batch.key.create && created.as_deref() != Some(batch.key.database.as_str()) {
                    match client.create_database(&batch.key.database).await {
                        Ok(()) => {
                            tracing::info!(sink = %shared.name, database = %batch.key.database, "created database");
                            created = Some(batch.key.database.clone());
                            pending = Some(batch);
                            continue;
                        }
                        Err(error) => {
                            shared.set_error(format!(
                                "create database {:?}: {error}",
                                batch.key.database
                            ));
                            shared.retried.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(backoff.next()).await;
                            pending = Some(batch);
                            continue;
                        }
                    }
                }
                shared.dropped.fetch_add(batch.points, Ordering::Relaxed);
                shared.set_error(format!("{} points dropped: {message}", batch.points));
                true
            }
            WriteOutcome::Rejected { message, .. } => {
                shared.dropped.fetch_add(batch.points, Ordering::Relaxed);
                shared.set_error(format!("{} points dropped: {message}", batch.points));
                true
            }
            WriteOutcome::Retry { message } => {
                shared.retried.fetch_add(1, Ordering::Relaxed);
                shared.set_error(message);
                false
            }
        };
        if delivered {
            backoff.reset();
            let result = shared.queue().ack(&batch);
            if let Err(error) = result {
                shared.set_error(format!("buffer ack failed: {error}"));
            }
        } else {
            pending = Some(batch);
            tokio::time::sleep(backoff.next()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_dirs_are_safe_file_names() {
        let dir = sink_dir(Path::new("/d"), "a/../b c.d");
        assert_eq!(dir, Path::new("/d/sinks/influxdb/a%2F..%2Fb%20c.d"));
        assert_eq!(
            sink_dir(Path::new("/d"), ".."),
            Path::new("/d/sinks/influxdb/%2E.")
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut backoff = Backoff { attempt: 0 };
        let first = backoff.next();
        assert!(
            first >= BACKOFF_MIN / 2 && first <= BACKOFF_MIN,
            "{first:?}"
        );
        for _ in 0..40 {
            assert!(backoff.next() <= BACKOFF_MAX);
        }
        let capped = backoff.next();
        assert!(capped >= BACKOFF_MAX / 2, "{capped:?}");
        backoff.reset();
        assert!(backoff.next() <= BACKOFF_MIN);
    }

    #[test]
    fn rejects_duplicate_names_and_defaults() {
        let config = InfluxDbConfig {
            default: true,
            ..InfluxDbConfig::default()
        };
        let error = check_configs(&[config.clone(), config])
            .unwrap_err()
            .to_string();
        assert!(error.contains("duplicate name"), "{error}");
        assert!(
            error.contains("more than one section has default = true"),
            "{error}"
        );
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SinkManager::new(dir.path(), Vec::new()).is_err());
    }

    #[test]
    fn debug_lists_sink_names() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let dir = tempfile::tempdir().unwrap();
        let config = InfluxDbConfig {
            name: "one".into(),
            ..InfluxDbConfig::default()
        };
        let manager = SinkManager::new(dir.path(), vec![config]).unwrap();
        assert!(
            format!("{manager:?}").contains("sinks: [\"one\"]"),
            "{manager:?}"
        );
    }

    #[test]
    fn escapes_metric_labels() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
