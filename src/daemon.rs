//! The daemon: wires discoverers → scrapers → engine → sinks, serves the API, and applies
//! config reloads (validated first; the last valid config keeps running on rejection).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::mpsc;
use weir_discoverers::DiscoveryManager;
use weir_engine::{Engine, PointBatch, Topics};
use weir_scrapers::ScrapeManager;
use weir_scrapers::batch::{BatchSources, InfluxQueryConfig};
use weir_sinks::SinkManager;
use weir_sinks::buffer::ingress::IngressLog;

use crate::ci::Cis;
use crate::config::{self, Config, Loaded};
use crate::outputs::{DaemonOutputs, FileWriter, OutputStats};
use crate::tasks::{Tasks, format_rfc3339, now_nanos};
use weir_sinks::state::store::Store;

/// Daemon-wide counters for `/metrics`.
#[derive(Debug, Default)]
pub struct SelfMetrics {
    /// `/write` requests.
    pub write_requests: AtomicU64,
    /// Points accepted by `/write`.
    pub points_received: AtomicU64,
    /// Bad lines in `/write` bodies.
    pub write_errors: AtomicU64,
    /// Points produced by scrapes.
    pub scraped_points: AtomicU64,
    /// Config reloads applied.
    pub reloads_applied: AtomicU64,
    /// Config reloads rejected.
    pub reloads_rejected: AtomicU64,
    /// `/write` requests answered 503 because the queue or the ingress log was full.
    pub writes_throttled: AtomicU64,
    /// Points replayed from the ingress log at start.
    pub replayed_points: AtomicU64,
}

/// The outcome of the latest config load, for `GET /weir/v1/config/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    /// Increments with every applied config; the first is 1.
    pub revision: u64,
    /// `applied` or `rejected`.
    pub state: &'static str,
    /// Why a config was rejected, or the warnings of an applied one.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
    /// The file, or `embedded default`.
    pub source: String,
    /// Warnings of the running config.
    pub warnings: Vec<String>,
    /// The revision that is running.
    pub running_revision: u64,
    /// The latest rejected load, kept when a later one is applied (the console shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rejected: Option<RejectedLoad>,
}

/// A config load that was rejected.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedLoad {
    /// When (RFC 3339).
    pub at: String,
    /// Why.
    pub reason: String,
    /// The file, or `embedded default`.
    pub source: String,
}

/// Everything the API handlers reach.
pub struct Daemon {
    /// The running (last valid) config.
    pub config: ArcSwap<Loaded>,
    /// Status of the latest load.
    pub status: Mutex<ConfigStatus>,
    /// The engine.
    pub engine: Engine,
    /// Tasks and templates.
    pub tasks: Tasks,
    /// Scrapers.
    pub scrapers: ScrapeManager,
    /// Discoverers.
    pub discovery: DiscoveryManager,
    /// Sinks.
    pub sinks: SinkManager,
    /// The query sources of batch tasks (`[[prometheus]]`, `[[influxdb]]`).
    pub batch_sources: Arc<BatchSources>,
    /// Counters.
    pub metrics: SelfMetrics,
    /// The ingress log, with `[ingress] durability = "log"`.
    pub ingress: Option<Arc<IngressLog>>,
    /// Room in the tasks' queues for `/write` data, in KiB of request body.
    pub write_budget: Arc<tokio::sync::Semaphore>,
    /// The budget's size in KiB (one write never asks for more).
    pub write_budget_kib: u32,
    /// Output failure counters.
    pub output_stats: Arc<OutputStats>,
    /// The alert services (`[slack]`, ...): their queues and counters.
    pub services: Arc<crate::services::Services>,
    outputs: Arc<DaemonOutputs>,
    /// Alert topics, their events and handlers.
    pub topics: Arc<Topics>,
    /// The state store (tasks, templates, ids).
    pub store: Arc<Store>,
    /// `(cluster_id, server_id)` as `debug/vars` reports them.
    pub server_ids: (String, String),
    /// Points received per database, retention policy and measurement.
    pub ingress_counts: weir_engine::IngressCounts,
    /// This weir's own remote-collector role (`[remote]`).
    pub remote: crate::remote::RemoteState,
    /// Remote collectors registered here.
    pub remotes: Arc<weir_sinks::state::remotes::Remotes>,
    /// Recordings and replays.
    pub recordings: Arc<weir_sinks::state::recordings::Recordings>,
    /// Alert state of `alert().persist()` nodes (closed after the engine at shutdown).
    alert_state: Arc<weir_sinks::state::alert_state::SqliteAlertState>,
    /// The configuration-item store, when `[ci] enabled`.
    pub cis: Option<Arc<Cis>>,
    ci_followed: Mutex<std::collections::BTreeSet<(String, String)>>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl Daemon {
    /// A consistent copy of the store (`GET /kapacitor/v1/storage/backup`), with every
    /// alert state and topic event queued so far written first.
    pub fn backup(&self) -> anyhow::Result<Vec<u8>> {
        self.alert_state.flush();
        let data_dir = self.config.load().config.data_dir.clone();
        let file = data_dir.join(format!(".backup-{}.db", now_nanos()));
        let result = weir_sinks::state::backup::backup(&data_dir, &file)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                std::fs::read(&file)
                    .with_context(|| format!("cannot read the backup {}", file.display()))
            });
        let _ = std::fs::remove_file(&file);
        result
    }

    /// Where task outputs go (replays send through them too).
    pub fn outputs(&self) -> Arc<dyn weir_engine::Outputs> {
        self.outputs.clone()
    }

    /// Build and start every component from a loaded config.
    pub async fn start(loaded: Loaded) -> anyhow::Result<Arc<Daemon>> {
        let config = loaded.config.clone();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
        let store =
            Arc::new(Store::open(&config.data_dir).with_context(|| {
                format!("cannot open the store in {}", config.data_dir.display())
            })?);
        let sinks = SinkManager::new(&config.data_dir, sink_configs(&config))
            .context("cannot start the sinks")?;
        let files = FileWriter::start(
            &config.data_dir.join(&config.files.dir),
            config.files.max_file_bytes,
            config.files.keep,
        )
        .with_context(|| {
            format!(
                "cannot write line-protocol files under {}",
                config.data_dir.display()
            )
        })?;
        let cis = if config.ci.enabled {
            Some(Arc::new(
                Cis::start(&config.data_dir, config.ci.webhooks.clone())
                    .context("cannot open the CI store")?,
            ))
        } else {
            None
        };
        let alert_state = Arc::new(
            weir_sinks::state::alert_state::SqliteAlertState::open(&config.data_dir).with_context(
                || {
                    format!(
                        "cannot open the alert state in {}",
                        config.data_dir.display()
                    )
                },
            )?,
        );
        let topics = Arc::new(Topics::open(
            alert_state.clone(),
            config.exec.allowed_commands.clone(),
        ));
        let services = Arc::new(crate::services::Services::new(
            tokio::runtime::Handle::current(),
            config.services(),
            config.site(),
        ));
        let outputs = Arc::new(DaemonOutputs::new(
            tokio::runtime::Handle::current(),
            sinks.clone(),
            files,
            cis.clone(),
            topics.clone(),
            services.clone(),
        ));
        tokio::spawn(weir_engine::topics::run_aggregates(
            Arc::downgrade(&topics),
            outputs.clone(),
        ));
        let output_stats = outputs.stats.clone();
        let engine = Engine::with_alert_state(outputs.clone(), alert_state.clone());
        let batch_sources = Arc::new(BatchSources::new());
        apply_batch_sources(&batch_sources, &config);
        engine.set_query_source(batch_sources.clone());
        let recordings = Arc::new(
            weir_sinks::state::recordings::Recordings::open(&config.data_dir)
                .context("cannot open the recordings")?,
        );
        let remotes = Arc::new(
            weir_sinks::state::remotes::Remotes::open(&config.data_dir)
                .context("cannot open the remote collectors' store")?,
        );
        let server_ids = store
            .server_ids()
            .context("cannot read the server ids from the store")?;
        let tasks = Tasks::new(store.clone(), engine.clone());
        tasks.set_exec_allowed(config.exec.allowed_commands.clone());
        tasks.set_services(services.enabled());
        let discovery = DiscoveryManager::new();
        let ingress = match config.ingress.durability {
            config::Durability::Log => {
                let dir = config.data_dir.join("ingress");
                let log = IngressLog::open(&dir, config.ingress.max_log_size.0)
                    .with_context(|| format!("cannot open the ingress log in {}", dir.display()))?;
                Some(Arc::new(log))
            }
            config::Durability::None => None,
        };
        let budget_kib = u32::try_from(config.ingress.queue_max_bytes.0 / 1024)
            .unwrap_or(u32::MAX)
            .clamp(1, u32::MAX >> 4);
        // A scrape batch is one target's samples; a few dozen in flight keep the tasks busy
        // without holding many intervals of data in memory.
        let (points_tx, points_rx) = mpsc::channel::<PointBatch>(64);
        let scrapers = ScrapeManager::new(points_tx);
        let daemon = Arc::new(Daemon {
            status: Mutex::new(ConfigStatus {
                revision: 1,
                state: "applied",
                reason: String::new(),
                at: format_rfc3339(now_nanos()),
                source: source_name(loaded.path.as_deref()),
                warnings: loaded.warnings.iter().map(|w| w.message.clone()).collect(),
                running_revision: 1,
                last_rejected: None,
            }),
            config: ArcSwap::from_pointee(loaded),
            engine,
            tasks,
            scrapers,
            discovery,
            sinks,
            batch_sources,
            metrics: SelfMetrics::default(),
            ingress,
            write_budget: Arc::new(tokio::sync::Semaphore::new(budget_kib as usize)),
            write_budget_kib: budget_kib,
            output_stats,
            services,
            outputs,
            topics,
            store,
            server_ids,
            ingress_counts: weir_engine::IngressCounts::default(),
            recordings,
            remote: crate::remote::RemoteState::default(),
            remotes,
            alert_state,
            cis,
            ci_followed: Mutex::new(std::collections::BTreeSet::new()),
            reload_lock: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(forward_points(daemon.clone(), points_rx));
        crate::remote::spawn(daemon.clone());
        crate::remote::watch::spawn(daemon.clone());
        if let Some(cis) = daemon.cis.clone() {
            let daemon = daemon.clone();
            tokio::spawn(async move {
                let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    every_hour.tick().await;
                    cis.expire(daemon.config.load().config.ci.history_retention);
                }
            });
        }
        match daemon.tasks.restore() {
            Ok((_, failed)) => {
                for (id, error) in failed {
                    tracing::warn!(task = %id, %error, "stored task did not start");
                }
            }
            Err(error) => tracing::error!(%error, "cannot read stored tasks"),
        }
        daemon.apply_components(&config);
        if let Some(log) = daemon.ingress.clone() {
            daemon.replay_ingress(&log).await?;
            keep_ingress_log(log, config.ingress.fsync_interval);
        }
        Ok(daemon)
    }

    /// Route again what the tasks had not finished with when weir last stopped.
    async fn replay_ingress(&self, log: &Arc<IngressLog>) -> anyhow::Result<()> {
        let (mut writes, mut points) = (0, 0);
        for segment in log.replay_segments() {
            let entries = log
                .replay_segment(&segment)
                .context("cannot read the ingress log")?;
            for entry in entries {
                writes += 1;
                let text = String::from_utf8_lossy(&entry.body);
                let (parsed, _) =
                    weir_engine::line_protocol::parse(&text, entry.precision, entry.received_ns);
                points += parsed.len();
                let tracker: Arc<dyn weir_engine::IngressTracker> = log.clone();
                let ticket = weir_engine::Ticket::new(entry.seq, tracker);
                self.engine
                    .write_logged(
                        PointBatch {
                            database: entry.database,
                            retention_policy: entry.retention_policy,
                            points: parsed,
                        },
                        Some(ticket),
                        None,
                    )
                    .await;
                weir_engine::IngressTracker::release(log.as_ref(), entry.seq);
            }
        }
        if writes == 0 {
            return Ok(());
        }
        self.metrics
            .replayed_points
            .fetch_add(points as u64, Ordering::Relaxed);
        tracing::warn!(
            writes,
            points,
            "replayed acknowledged writes the tasks had not finished before the last stop"
        );
        Ok(())
    }

    /// The `/write` body limit.
    pub fn max_body_size(&self) -> u64 {
        self.config.load().config.http.max_body_size.0
    }

    /// Apply the parts of `config` that can change at run time.
    fn apply_components(&self, config: &Config) {
        self.sinks.apply(sink_configs(config));
        self.outputs
            .set_file_mode(config.influxdb.iter().all(|sink| !sink.enabled));
        let switches = self.load_discoverer_switches();
        self.discovery.apply(&config.discovery());
        self.prune_discoverer_switches(&switches);
        let scrapers = self
            .switched_scrapers(config)
            .into_iter()
            .map(|scraper| {
                let targets = self
                    .discovery
                    .subscribe(&scraper.discoverer_service, &scraper.discoverer_id);
                (scraper, targets)
            })
            .collect();
        self.scrapers.apply(scrapers);
        apply_batch_sources(&self.batch_sources, config);
        if let Some(cis) = &self.cis {
            let mut followed = self.ci_followed.lock().unwrap_or_else(|p| p.into_inner());
            for (service, id) in config.discovery_sources() {
                if followed.insert((service.clone(), id.clone())) {
                    crate::ci::follow_source(cis.clone(), self.discovery.clone(), service, id);
                }
            }
        }
        self.tasks
            .set_exec_allowed(config.exec.allowed_commands.clone());
        self.services.set_config(config.services(), config.site());
        self.tasks.set_services(self.services.enabled());
        self.topics
            .set_exec_allowed(config.exec.allowed_commands.clone());
        self.load_tasks(config);
    }

    /// Define the tasks of `[[task]]` entries and the `[load]` directory.
    fn load_tasks(&self, config: &Config) {
        for entry in &config.task {
            let dbrps = entry
                .dbrps
                .iter()
                .filter_map(|d| config::parse_dbrp(d))
                .collect();
            let result = std::fs::read_to_string(&entry.path)
                .map_err(|e| format!("cannot read {}: {e}", entry.path.display()))
                .and_then(|script| {
                    self.tasks
                        .load(&entry.id, script, dbrps, entry.enabled)
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = result {
                tracing::error!(task = %entry.id, %error, "task from [[task]] not loaded");
            }
        }
        if config.load.enabled {
            for (id, path) in tick_files(&config.load.dir) {
                let result = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
                    .and_then(|script| {
                        self.tasks
                            .load(&id, script, Vec::new(), true)
                            .map_err(|e| e.to_string())
                    });
                if let Err(error) = result {
                    tracing::error!(task = %id, file = %path.display(), %error, "task from [load] not loaded");
                }
            }
        }
    }

    /// Reload the config file: validate the whole file first, then apply only the
    /// difference, or keep running the last valid config and record why.
    pub async fn reload(&self) -> ConfigStatus {
        let _guard = self.reload_lock.lock().await;
        let current = self.config.load_full();
        let Some(path) = current.path.clone() else {
            return self.record_rejection(
                "weir runs the embedded default config; there is no file to reload".to_owned(),
                "embedded default".to_owned(),
            );
        };
        let loaded = match tokio::task::spawn_blocking(move || config::load(&path)).await {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(errors)) => {
                return self
                    .record_rejection(errors.to_string(), source_name(current.path.as_deref()));
            }
            Err(e) => {
                return self.record_rejection(e.to_string(), source_name(current.path.as_deref()));
            }
        };
        self.apply_loaded(loaded, &current)
    }

    /// Apply a config loaded elsewhere (a remote collector's accepted configuration
    /// revision merged into its file), as a reload does.
    pub async fn apply_config(&self, loaded: Loaded) -> ConfigStatus {
        let _guard = self.reload_lock.lock().await;
        let current = self.config.load_full();
        self.apply_loaded(loaded, &current)
    }

    fn apply_loaded(&self, loaded: Loaded, current: &Loaded) -> ConfigStatus {
        let mut loaded = crate::remote::with_applied_revision(self, loaded);
        // These are read once at start (the listener, its TLS, auth, the store): the running
        // values stay until the next restart, as the log says, instead of taking effect early
        // (turning auth off by a reload would otherwise open the API at once).
        let (new, running) = (&mut loaded.config, &current.config);
        keep_until_restart(&mut new.http, &running.http, "[http]");
        keep_until_restart(&mut new.data_dir, &running.data_dir, "data_dir");
        keep_until_restart(&mut new.ingress, &running.ingress, "[ingress]");
        keep_until_restart(&mut new.logging, &running.logging, "[logging]");
        if loaded.config.exec != current.config.exec {
            tracing::info!(
                "[exec] allowed-commands changed: checked when a task is next defined or enabled"
            );
        }
        self.apply_components(&loaded.config);
        let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.message.clone()).collect();
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let source = source_name(loaded.path.as_deref());
        self.config.store(Arc::new(loaded));
        self.metrics.reloads_applied.fetch_add(1, Ordering::Relaxed);
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.revision += 1;
        status.running_revision = status.revision;
        status.state = "applied";
        status.reason = String::new();
        status.at = format_rfc3339(now_nanos());
        status.source = source;
        status.warnings = warnings;
        tracing::info!(revision = status.revision, "config applied");
        status.clone()
    }

    fn record_rejection(&self, reason: String, source: String) -> ConfigStatus {
        self.metrics
            .reloads_rejected
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(%reason, "config rejected; the last valid config keeps running");
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.state = "rejected";
        status.reason = reason;
        status.at = format_rfc3339(now_nanos());
        status.source = source;
        status.last_rejected = Some(RejectedLoad {
            at: status.at.clone(),
            reason: status.reason.clone(),
            source: status.source.clone(),
        });
        status.clone()
    }

    /// Stop scraping, drain the pipelines into the sinks and flush them.
    pub async fn shutdown(&self) {
        let timeout = self.config.load().config.shutdown_timeout;
        self.scrapers.shutdown().await;
        self.discovery.shutdown().await;
        self.engine.shutdown().await;
        if let Some(log) = &self.ingress {
            // Everything the tasks finished with is marked so; the rest replays at the next
            // start.
            if let Err(error) = log.checkpoint().and_then(|()| log.sync()) {
                tracing::warn!(%error, "ingress log checkpoint at shutdown failed");
            }
        }
        self.alert_state.close();
        self.sinks.shutdown(timeout).await;
    }
}

async fn forward_points(daemon: Arc<Daemon>, mut points: mpsc::Receiver<PointBatch>) {
    while let Some(batch) = points.recv().await {
        daemon
            .metrics
            .scraped_points
            .fetch_add(batch.points.len() as u64, Ordering::Relaxed);
        daemon.ingress_counts.count(&batch);
        daemon.recordings.offer(&batch);
        crate::remote::offer(&daemon, &batch);
        daemon.engine.write(batch).await;
    }
}

fn source_name(path: Option<&Path>) -> String {
    path.map_or_else(
        || "embedded default".to_owned(),
        |p| p.display().to_string(),
    )
}

/// Point the batch query sources at `[[prometheus]]` and the enabled `[[influxdb]]` sections.
fn apply_batch_sources(sources: &BatchSources, config: &Config) {
    let influxdb = config
        .influxdb
        .iter()
        .filter(|section| section.enabled)
        .map(|section| InfluxQueryConfig {
            name: section.name.clone(),
            default: section.default,
            urls: section.urls.clone(),
            username: section.username.clone(),
            password: section.password.clone(),
            timeout: section.timeout,
            insecure_skip_verify: section.insecure_skip_verify,
        })
        .collect();
    for error in sources.apply(config.prometheus.clone(), influxdb) {
        tracing::error!(%error, "batch query source not available");
    }
}

/// The configured `[[influxdb]]` sinks (with none, outputs go to line-protocol files).
fn sink_configs(config: &Config) -> Vec<weir_sinks::InfluxDbConfig> {
    config.influxdb.clone()
}

/// `.tick` files of a `[load]` directory (and its `tasks/` subdirectory), named by stem.
pub fn tick_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for directory in [dir.to_owned(), dir.join("tasks")] {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tick") {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    files.push((stem.to_owned(), path.clone()));
                }
            }
        }
    }
    files.sort();
    files
}

/// Wait for SIGTERM or Ctrl-C.
pub async fn terminated() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reload on SIGHUP, for as long as the daemon runs.
pub fn reload_on_sighup(daemon: Arc<Daemon>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading config");
            daemon.reload().await;
        }
    });
}

/// Reload when the config file changes on disk (debounced; the parent directory is
/// watched so editors' atomic renames are seen).
pub fn reload_on_file_change(daemon: Arc<Daemon>, path: PathBuf) {
    use notify_debouncer_full::{new_debouncer, notify::RecursiveMode};
    let (tx, mut rx) = mpsc::channel::<()>(4);
    let watched = path.clone();
    let debouncer = new_debouncer(
        Duration::from_millis(300),
        None,
        move |result: notify_debouncer_full::DebounceEventResult| {
            if let Ok(events) = result {
                if events.iter().any(|event| {
                    !matches!(
                        event.kind,
                        notify_debouncer_full::notify::EventKind::Access(_)
                    ) && event
                        .paths
                        .iter()
                        .any(|p| p.file_name() == watched.file_name())
                }) {
                    let _ = tx.try_send(());
                }
            }
        },
    );
    let mut debouncer = match debouncer {
        Ok(debouncer) => debouncer,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; use SIGHUP or the API to reload");
            return;
        }
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    if let Err(e) = debouncer.watch(&parent, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, dir = %parent.display(), "cannot watch the config directory");
        return;
    }
    tokio::spawn(async move {
        let _keep = debouncer;
        // Only a change of content reloads: reading the file (the reload's own read included)
        // and touching it are not changes.
        let mut last = file_digest(&path);
        while rx.recv().await.is_some() {
            let digest = file_digest(&path);
            if digest == last {
                continue;
            }
            last = digest;
            tracing::info!(file = %path.display(), "config file changed: reloading");
            daemon.reload().await;
        }
    });
}

/// A setting read once at start: a reload that changes it says so and keeps the running value.
fn keep_until_restart<T: PartialEq + Clone>(new: &mut T, running: &T, name: &str) {
    if new != running {
        tracing::warn!("{name} changes take effect at the next restart");
        new.clone_from(running);
    }
}

/// Checkpoint the ingress log often (so its segments are deleted as tasks finish) and fsync
/// it every `fsync_interval`, on a thread of its own: both touch the disk.
fn keep_ingress_log(log: Arc<IngressLog>, fsync_interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("weir-ingress".to_owned())
        .spawn(move || {
            let mut last_sync = std::time::Instant::now();
            // The daemon holds the other reference; when it is gone, so is this thread's work.
            while Arc::strong_count(&log) > 1 {
                std::thread::sleep(Duration::from_millis(200));
                if let Err(error) = log.checkpoint() {
                    tracing::warn!(%error, "ingress log checkpoint failed");
                }
                if !fsync_interval.is_zero() && last_sync.elapsed() >= fsync_interval {
                    if let Err(error) = log.sync() {
                        tracing::warn!(%error, "ingress log fsync failed");
                    }
                    last_sync = std::time::Instant::now();
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the ingress log thread");
    }
}

/// SHA-256 of a file's content, or `None` when it cannot be read (a missing file is a change
/// too, reported by the reload that follows).
fn file_digest(path: &Path) -> Option<[u8; 32]> {
    use sha2::{Digest as _, Sha256};
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}

/// How long to wait for a graceful shutdown before giving up.
pub fn shutdown_deadline(daemon: &Daemon) -> Duration {
    daemon.config.load().config.shutdown_timeout + Duration::from_secs(5)
}
