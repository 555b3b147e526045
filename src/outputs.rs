//! Where task outputs leave the engine: `httpPost`, `influxDBOut` and alert handlers.
//!
//! Nodes call these synchronously from engine threads; every one hands the work to the
//! tokio runtime (or a writer thread) and returns at once, so nodes never block on I/O.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use weir_dsl::nodes::AlertHandler;
use weir_engine::{AlertEvent, CiWrite, HttpRequest, InfluxDbWrite, Outputs, Point, Topics};
use weir_sinks::{FileSink, SinkManager};

use crate::ci::Cis;

/// Counters of output failures, for `/metrics`.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// `httpPost` requests sent.
    pub http_posts: AtomicU64,
    /// `httpPost` requests that failed.
    pub http_post_errors: AtomicU64,
    /// Alert events handed to handlers.
    pub alert_events: AtomicU64,
    /// Alert handler failures.
    pub alert_errors: AtomicU64,
    /// Points refused by a full sink queue.
    pub sink_refused_points: AtomicU64,
    /// `ciOut` observations dropped (CI store disabled or its writer behind).
    pub ci_dropped_observations: AtomicU64,
}

/// Line-protocol files (the embedded default's sink), written by the task that emits the
/// points: when `influxDBOut` returns, its points are in the file (for a killed process; a
/// thread fsyncs twice a second), so the ingress log may forget the writes behind them, and a
/// slow disk slows the task (and, through its queue, the writers) instead of dropping points.
pub struct FileWriter {
    sink: Arc<std::sync::Mutex<FileSink>>,
}

impl FileWriter {
    /// Start writing into `dir`, one file per database, rotated at `max_file_bytes`.
    pub fn start(
        dir: &std::path::Path,
        max_file_bytes: u64,
        keep: usize,
    ) -> std::io::Result<FileWriter> {
        let sink = Arc::new(std::sync::Mutex::new(FileSink::new(
            dir,
            max_file_bytes,
            keep,
        )?));
        let weak = Arc::downgrade(&sink);
        std::thread::Builder::new()
            .name("weir-files".to_owned())
            .spawn(move || {
                // Runs for as long as the writer exists.
                while let Some(sink) = weak.upgrade() {
                    let _ = sink.lock().unwrap_or_else(|p| p.into_inner()).sync();
                    drop(sink);
                    std::thread::sleep(Duration::from_millis(500));
                }
            })?;
        Ok(FileWriter { sink })
    }

    fn write(&self, database: &str, points: &[Point]) -> std::io::Result<()> {
        self.sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(database, points)
    }
}

/// The binary's [`Outputs`].
pub struct DaemonOutputs {
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
    sinks: SinkManager,
    files: FileWriter,
    /// With no `[[influxdb]]` configured, points go to files.
    use_files: AtomicBool,
    /// The CI store for `ciOut`, when `[ci] enabled`.
    cis: Option<Arc<Cis>>,
    /// Alert topics: every alert event is collected into its topics.
    topics: Arc<Topics>,
    /// Kapacitor's alert services (`[slack]`, ...).
    services: Arc<crate::services::Services>,
    /// Shared counters.
    pub stats: Arc<OutputStats>,
}

impl DaemonOutputs {
    /// Outputs that spawn on `runtime` and write points to `sinks`, or to `files` while no
    /// sink is configured; `ciOut` observations go to `cis`; alert events to `topics`.
    pub fn new(
        runtime: tokio::runtime::Handle,
        sinks: SinkManager,
        files: FileWriter,
        cis: Option<Arc<Cis>>,
        topics: Arc<Topics>,
        services: Arc<crate::services::Services>,
    ) -> DaemonOutputs {
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        DaemonOutputs {
            runtime,
            client,
            sinks,
            files,
            use_files: AtomicBool::new(true),
            cis,
            topics,
            services,
            stats: Arc::new(OutputStats::default()),
        }
    }

    /// Send points to files (no `[[influxdb]]` configured) or to the sinks.
    pub fn set_file_mode(&self, files: bool) {
        self.use_files.store(files, Ordering::Relaxed);
    }

    fn post(
        &self,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        timeout: Option<Duration>,
        is_alert: bool,
    ) {
        let client = self.client.clone();
        let stats = self.stats.clone();
        self.runtime.spawn(async move {
            let mut request = client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some(timeout) = timeout.filter(|t| !t.is_zero()) {
                request = request.timeout(timeout);
            }
            let failed = match request.send().await {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some(format!("{url} returned {}", response.status())),
                Err(e) => Some(format!("{url}: {e}")),
            };
            if let Some(reason) = failed {
                let counter = if is_alert {
                    &stats.alert_errors
                } else {
                    &stats.http_post_errors
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%reason, "http post failed");
            }
        });
    }
}

impl Outputs for DaemonOutputs {
    fn http_post(&self, request: HttpRequest) {
        self.stats.http_posts.fetch_add(1, Ordering::Relaxed);
        self.post(
            request.url,
            request.headers,
            request.body,
            request.timeout,
            false,
        );
    }

    fn influxdb_out(&self, write: InfluxDbWrite) {
        let n_points = write.points.len() as u64;
        if self.use_files.load(Ordering::Relaxed) {
            if let Err(error) = self.files.write(&write.database, &write.points) {
                self.stats
                    .sink_refused_points
                    .fetch_add(n_points, Ordering::Relaxed);
                tracing::warn!(database = %write.database, %error, "cannot write line-protocol file");
            }
            return;
        }
        if let Err(refused) = self.sinks.send(write) {
            self.stats
                .sink_refused_points
                .fetch_add(n_points, Ordering::Relaxed);
            tracing::warn!(database = %refused.database, points = n_points, "sink refused points");
        }
    }

    fn ci_out(&self, write: CiWrite) {
        let n_observations = write.observations.len() as u64;
        let accepted = match &self.cis {
            Some(cis) => cis.pipeline_observations(write),
            None => false,
        };
        if !accepted {
            self.stats
                .ci_dropped_observations
                .fetch_add(n_observations, Ordering::Relaxed);
        }
    }

    fn alert_event(&self, event: AlertEvent<'_>) {
        for handler in event.handlers {
            self.alert_from(event.task, handler, event.json.clone());
        }
        let named: Vec<&str> = event
            .handlers
            .iter()
            .filter_map(|handler| match handler {
                AlertHandler::Service { kind, .. } => Some(kind.as_str()),
                _ => None,
            })
            .collect();
        self.services
            .deliver_global(event.task, &named, &event.json);
        self.topics.collect_alert(&event, self);
    }

    fn alert(&self, handler: &AlertHandler, event_json: Vec<u8>) {
        self.alert_from("", handler, event_json);
    }

    fn alert_from(&self, task: &str, handler: &AlertHandler, event_json: Vec<u8>) {
        self.stats.alert_events.fetch_add(1, Ordering::Relaxed);
        match handler {
            AlertHandler::Service { kind, options } => {
                self.services.deliver(task, kind, options, &event_json);
            }
            AlertHandler::Post {
                url,
                headers,
                timeout,
            } => {
                // One queue per URL, so a handler's events arrive in order (as Kapacitor
                // sends them), with the services' retries and counters.
                let timeout = timeout
                    .map(|t| Duration::from_nanos(u64::try_from(t.nanos()).unwrap_or(0)))
                    .filter(|t| !t.is_zero());
                let request = crate::services::Outgoing {
                    url: url.clone(),
                    headers: headers.clone(),
                    content_type: "application/json",
                    body: event_json,
                    timeout,
                };
                self.services
                    .enqueue(&format!("post {url}"), "post", request);
            }
            AlertHandler::Log { path } => {
                // One queue per file: lines in event order.
                let mut line = event_json;
                line.push(b'\n');
                let job = crate::services::Job::Log {
                    path: PathBuf::from(path),
                    line,
                };
                self.services
                    .enqueue_job(&format!("log {path}"), "log", job);
            }
            AlertHandler::Tcp { address } => {
                // One queue per address: the events arrive in order, one connection each.
                let request = crate::services::Outgoing {
                    url: format!("tcp://{address}"),
                    headers: Vec::new(),
                    content_type: "",
                    body: event_json,
                    timeout: None,
                };
                self.services
                    .enqueue(&format!("tcp {address}"), "tcp", request);
            }
            AlertHandler::Exec { command } => {
                // One queue per command: runs in event order; stdin ends with a newline, as
                // Kapacitor writes it.
                let mut stdin = event_json;
                stdin.push(b'\n');
                let job = crate::services::Job::Exec {
                    command: command.clone(),
                    stdin,
                };
                self.services
                    .enqueue_job(&format!("exec {}", command.join(" ")), "exec", job);
            }
            _ => {
                self.stats.alert_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?handler, "alert handler kind is not supported");
            }
        }
    }
}
