//! The scrape manager: one task per scraper follows its target groups and diffs them
//! against the running targets; one task per target scrapes on its own phase of the
//! interval, keeps its health, and sends one [`PointBatch`] per scrape.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use weir_engine::health_history::HealthHistory;
use weir_engine::{PointBatch, TargetGroup};

use crate::config::ScraperConfig;
use crate::exposition::Format;
use crate::health::{HealthTracker, TargetHealth};
use crate::scrape::{self, ScrapeReport};
use crate::status::{CollectFailure, CollectSummary, ScraperStatus, TargetStatus};
use crate::target::{TargetSpec, build_targets};

/// What the binary hands [`ScrapeManager::apply`] per scraper: its config and the target
/// groups its discoverer publishes.
pub type ScraperInput = (ScraperConfig, watch::Receiver<Vec<TargetGroup>>);

/// Runs every scraper. Cheap to clone: clones share the same scrapers.
#[derive(Clone)]
pub struct ScrapeManager {
    inner: Arc<Inner>,
}

struct Inner {
    output: mpsc::Sender<PointBatch>,
    scrapers: Mutex<BTreeMap<String, RunningScraper>>,
    /// Common origin of every target's phase, so offsets spread targets evenly.
    epoch: Instant,
}

struct RunningScraper {
    shared: Arc<ScraperShared>,
    cancel: CancellationToken,
    new_receivers: mpsc::UnboundedSender<watch::Receiver<Vec<TargetGroup>>>,
    task: JoinHandle<()>,
}

/// State of one scraper shared between its task, its targets and the views.
pub(crate) struct ScraperShared {
    pub(crate) config: ScraperConfig,
    client: Result<reqwest::Client, String>,
    pub(crate) enabled: AtomicBool,
    output: mpsc::Sender<PointBatch>,
    pub(crate) targets: Mutex<BTreeMap<u64, Arc<TargetShared>>>,
    pub(crate) dropped: Mutex<Vec<String>>,
    epoch: Instant,
}

impl ScraperShared {
    pub(crate) fn client_error(&self) -> Option<&str> {
        self.client.as_ref().err().map(String::as_str)
    }
}

/// State of one target shared between its task and the views.
pub(crate) struct TargetShared {
    pub(crate) spec: TargetSpec,
    pub(crate) state: Mutex<TargetState>,
    /// Serializes the periodic scrape and "collect now".
    scrape_lock: tokio::sync::Mutex<()>,
    /// With `ssl-server-name`: this target's own client, made at its first scrape and again
    /// after a failed one (its address is looked up then).
    routed: Mutex<Option<Arc<Routed>>>,
    cancel: CancellationToken,
}

/// A client that dials one target's address while TLS names `ssl-server-name`, the URL to
/// request (the server name as its host) and the target's own `Host`.
struct Routed {
    client: reqwest::Client,
    url: reqwest::Url,
    host: String,
}

impl Routed {
    async fn new(config: &ScraperConfig, url: &reqwest::Url) -> Result<Routed, String> {
        let server_name = &config.ssl_server_name;
        let host = url
            .host_str()
            .ok_or_else(|| format!("{url} has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url} has no port"))?;
        let lookup = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((lookup, port))
            .await
            .map_err(|error| format!("{host}:{port}: {error}"))?
            .collect();
        let mut dialled = url.clone();
        dialled
            .set_host(Some(server_name))
            .map_err(|error| format!("ssl-server-name {server_name:?}: {error}"))?;
        let client = client_builder(config)?
            .resolve_to_addrs(server_name, &addresses)
            .build()
            .map_err(|error| format!("http client: {}", scrape::error_chain(&error)))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        Ok(Routed {
            client,
            url: dialled,
            host,
        })
    }
}

/// What the views show of a target.
pub(crate) struct TargetState {
    pub(crate) health: HealthTracker,
    pub(crate) last_scrape: Option<SystemTime>,
    pub(crate) last_duration: Option<Duration>,
    pub(crate) last_samples: usize,
    pub(crate) last_error: Option<String>,
    pub(crate) last_parse_error: Option<String>,
    pub(crate) next_scrape: Option<SystemTime>,
    pub(crate) scrapes_total: u64,
    pub(crate) failures_total: u64,
    pub(crate) skipped_total: u64,
    pub(crate) parse_errors_total: u64,
    /// The last failures and health transitions, timed.
    pub(crate) history: HealthHistory,
    previous_series: crate::scrape::SeriesSet,
}

/// Lock a mutex, recovering the data if a panicking thread poisoned it: every value
/// behind these mutexes stays consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The outcome of one scrape, for "collect now".
struct Outcome {
    samples: usize,
    error: Option<String>,
}

impl ScrapeManager {
    /// A manager with no scrapers; points leave on `output`, one batch per target scrape.
    pub fn new(output: mpsc::Sender<PointBatch>) -> ScrapeManager {
        ScrapeManager {
            inner: Arc::new(Inner {
                output,
                scrapers: Mutex::new(BTreeMap::new()),
                epoch: Instant::now(),
            }),
        }
    }

    /// Hot reload: start new scrapers, stop removed ones, restart the ones whose config
    /// changed. Unchanged scrapers keep running without a gap; they switch to the new
    /// receiver, and only the targets that differ are started or stopped.
    ///
    /// Must be called within a tokio runtime; outside one it logs an error and does nothing.
    pub fn apply(&self, scrapers: Vec<ScraperInput>) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!("scrape manager: apply called outside a tokio runtime; ignored");
            return;
        }
        let mut running = lock(&self.inner.scrapers);
        let mut wanted = BTreeMap::new();
        for (config, receiver) in scrapers {
            if wanted.contains_key(&config.name) {
                tracing::error!(scraper = %config.name, "duplicate scraper name; later one ignored");
                continue;
            }
            wanted.insert(config.name.clone(), (config, receiver));
        }
        let names: Vec<String> = running.keys().cloned().collect();
        for name in names {
            // Only `enabled` changed: switch the running scraper, keeping its targets' health.
            let keep = wanted.get(&name).is_some_and(|(config, _)| {
                running
                    .get(&name)
                    .is_some_and(|scraper| same_but_enabled(&scraper.shared.config, config))
            });
            if keep {
                continue;
            }
            if let Some(old) = running.remove(&name) {
                tracing::info!(scraper = %name, "stopping scraper");
                old.cancel.cancel();
            }
        }
        for (name, (config, receiver)) in wanted {
            if let Some(existing) = running.get(&name) {
                // Unchanged config: hand over the new receiver; a send only fails when the
                // task has ended, and then there is nothing to update.
                let _ = existing.new_receivers.send(receiver);
                switch(&existing.shared, config.enabled);
                continue;
            }
            if config.enabled {
                tracing::info!(scraper = %name, "starting scraper");
            } else {
                tracing::info!(scraper = %name, "scraper is disabled (enabled = false): not scraping");
            }
            running.insert(name, self.start(config, receiver));
        }
    }

    fn start(
        &self,
        config: ScraperConfig,
        receiver: watch::Receiver<Vec<TargetGroup>>,
    ) -> RunningScraper {
        let client = build_client(&config);
        if let Err(error) = &client {
            tracing::error!(scraper = %config.name, %error, "scraper cannot scrape");
        }
        let shared = Arc::new(ScraperShared {
            enabled: AtomicBool::new(config.enabled),
            config,
            client,
            output: self.inner.output.clone(),
            targets: Mutex::new(BTreeMap::new()),
            dropped: Mutex::new(Vec::new()),
            epoch: self.inner.epoch,
        });
        let cancel = CancellationToken::new();
        let (new_receivers, receivers) = mpsc::unbounded_channel();
        // The first targets start now, so views and "collect now" see them at once.
        let mut receiver = receiver;
        let mut tasks = BTreeMap::new();
        let groups = receiver.borrow_and_update().clone();
        sync_targets(&shared, &groups, &mut tasks, &cancel);
        let task = tokio::spawn(run_scraper(
            Arc::clone(&shared),
            receiver,
            receivers,
            cancel.clone(),
            tasks,
        ));
        RunningScraper {
            shared,
            cancel,
            new_receivers,
            task,
        }
    }

    /// Status of every scraper, sorted by name.
    pub fn scrapers(&self) -> Vec<ScraperStatus> {
        self.shared_scrapers()
            .iter()
            .map(|shared| ScraperStatus::of(shared))
            .collect()
    }

    /// Status of every target of every scraper.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.shared_scrapers()
            .iter()
            .flat_map(|shared| TargetStatus::all_of(shared))
            .collect()
    }

    /// Status of the targets of one scraper; `None` when there is no such scraper.
    pub fn targets_of(&self, name: &str) -> Option<Vec<TargetStatus>> {
        self.scraper(name)
            .map(|shared| TargetStatus::all_of(&shared))
    }

    /// Scrape every target of a scraper now (bypassing open circuits), send the points, and
    /// summarize; an error when there is no such scraper or it is disabled.
    pub async fn collect_now(&self, name: &str) -> Result<CollectSummary, CollectError> {
        let shared = self
            .scraper(name)
            .ok_or_else(|| CollectError::NotFound(name.to_owned()))?;
        if !shared.enabled.load(Ordering::Relaxed) {
            return Err(CollectError::Disabled(name.to_owned()));
        }
        let started = Instant::now();
        let targets: Vec<Arc<TargetShared>> = lock(&shared.targets).values().cloned().collect();
        let outcomes = futures::future::join_all(
            targets
                .iter()
                .map(|target| scrape_and_send(&shared, target, true)),
        )
        .await;
        let mut summary = CollectSummary {
            scraper: name.to_owned(),
            targets: targets.len(),
            samples: 0,
            failures: Vec::new(),
            duration_seconds: 0.0,
        };
        for (target, outcome) in targets.iter().zip(outcomes) {
            summary.samples += outcome.samples;
            if let Some(reason) = outcome.error {
                summary.failures.push(CollectFailure {
                    url: target.spec.url.to_string(),
                    instance: target.spec.instance().to_owned(),
                    reason,
                });
            }
        }
        summary.duration_seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// Enable or disable a scraper, keeping its config and targets; false when there is
    /// no such scraper. A disabled scraper's targets are not scraped and yield no points.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> bool {
        let Some(shared) = self.scraper(name) else {
            return false;
        };
        switch(&shared, enabled);
        true
    }

    /// Append the self-metrics (per target: scrape duration, samples, health, scrapes,
    /// failures, circuit transitions) as Prometheus text.
    pub fn write_metrics(&self, out: &mut String) {
        crate::status::write_metrics(&self.shared_scrapers(), out);
    }

    /// Stop every scraper and wait for their tasks to end.
    pub async fn shutdown(&self) {
        let stopped: Vec<RunningScraper> = {
            let mut running = lock(&self.inner.scrapers);
            std::mem::take(&mut *running).into_values().collect()
        };
        for scraper in &stopped {
            scraper.cancel.cancel();
        }
        for scraper in stopped {
            if let Err(error) = scraper.task.await {
                tracing::error!(%error, "scraper task failed");
            }
        }
    }

    fn scraper(&self, name: &str) -> Option<Arc<ScraperShared>> {
        lock(&self.inner.scrapers)
            .get(name)
            .map(|running| Arc::clone(&running.shared))
    }

    fn shared_scrapers(&self) -> Vec<Arc<ScraperShared>> {
        lock(&self.inner.scrapers)
            .values()
            .map(|running| Arc::clone(&running.shared))
            .collect()
    }
}

/// Why "collect now" did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// No scraper has this name.
    #[error("no scraper named {0}")]
    NotFound(String),
    /// The scraper is disabled: it collects nothing until enabled.
    #[error("scraper {0} is disabled: enable it first")]
    Disabled(String),
}

/// Turn a scraper on or off; its targets' histories show it.
fn switch(shared: &ScraperShared, enabled: bool) {
    if shared.enabled.swap(enabled, Ordering::Relaxed) == enabled {
        return;
    }
    tracing::info!(scraper = %shared.config.name, enabled, "scraper switched");
    let now = SystemTime::now();
    for target in lock(&shared.targets).values() {
        let mut state = lock(&target.state);
        let health = state.health.state().as_str();
        let (from, to) = if enabled {
            ("disabled", health)
        } else {
            (health, "disabled")
        };
        state.history.transition(now, from, to);
    }
}

/// Whether two configs differ at most in `enabled`.
fn same_but_enabled(running: &ScraperConfig, wanted: &ScraperConfig) -> bool {
    if running.enabled == wanted.enabled {
        return running == wanted;
    }
    let mut switched = running.clone();
    switched.enabled = wanted.enabled;
    switched == *wanted
}

/// rustls takes only X.509 v3 certificates, and a v1 one in the configured files shows up at
/// scrape time as `invalid peer certificate: UnsupportedCertVersion`, which blames the
/// server: name the file and the certificate instead.
fn require_v3(pem: &[u8], key: &str, path: &str) -> Result<(), String> {
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    for (index, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|error| format!("{key} {path}: {error}"))?;
        if let Err(webpki::Error::UnsupportedCertVersion) = webpki::EndEntityCert::try_from(&der) {
            return Err(format!(
                "{key} {path}: certificate {} is X.509 v1 or v2, and TLS here accepts only v3: re-issue it with extensions (openssl x509 -req ... -extfile FILE)",
                index + 1
            ));
        }
    }
    Ok(())
}

/// Build the HTTP client of a scraper: keep-alive pool, gzip, TLS and proxy settings.
fn build_client(config: &ScraperConfig) -> Result<reqwest::Client, String> {
    client_builder(config)?
        .build()
        .map_err(|error| format!("http client: {}", scrape::error_chain(&error)))
}

/// The client settings of a scraper, with its TLS files read.
fn client_builder(config: &ScraperConfig) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
        .gzip(true)
        .connect_timeout(config.scrape_timeout)
        .pool_idle_timeout(config.scrape_interval.saturating_mul(2))
        .pool_max_idle_per_host(64);
    if !config.ssl_ca.is_empty() {
        let pem = std::fs::read(&config.ssl_ca)
            .map_err(|error| format!("ssl-ca {}: {error}", config.ssl_ca))?;
        require_v3(&pem, "ssl-ca", &config.ssl_ca)?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| format!("ssl-ca {}: {error}", config.ssl_ca))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if !config.ssl_cert.is_empty() {
        let mut pem = std::fs::read(&config.ssl_cert)
            .map_err(|error| format!("ssl-cert {}: {error}", config.ssl_cert))?;
        require_v3(&pem, "ssl-cert", &config.ssl_cert)?;
        let key = std::fs::read(&config.ssl_key)
            .map_err(|error| format!("ssl-key {}: {error}", config.ssl_key))?;
        pem.push(b'\n');
        pem.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|error| format!("ssl-cert/ssl-key: {error}"))?;
        builder = builder.identity(identity);
    }
    if config.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder = if config.proxy_url.is_empty() {
        // Like Prometheus, ignore proxy environment variables unless configured.
        builder.no_proxy()
    } else {
        let proxy = reqwest::Proxy::all(&config.proxy_url)
            .map_err(|error| format!("proxy-url {}: {error}", config.proxy_url))?;
        builder.proxy(proxy)
    };
    Ok(builder)
}

async fn run_scraper(
    shared: Arc<ScraperShared>,
    mut receiver: watch::Receiver<Vec<TargetGroup>>,
    mut new_receivers: mpsc::UnboundedReceiver<watch::Receiver<Vec<TargetGroup>>>,
    cancel: CancellationToken,
    mut tasks: BTreeMap<u64, JoinHandle<()>>,
) {
    let mut receiver_open = true;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(next) = new_receivers.recv() => {
                receiver = next;
                receiver_open = true;
                let groups = receiver.borrow_and_update().clone();
                sync_targets(&shared, &groups, &mut tasks, &cancel);
            }
            changed = receiver.changed(), if receiver_open => match changed {
                Ok(()) => {
                    let groups = receiver.borrow_and_update().clone();
                    sync_targets(&shared, &groups, &mut tasks, &cancel);
                }
                Err(_) => {
                    // The discoverer is gone: keep scraping the last targets it published.
                    receiver_open = false;
                }
            },
        }
    }
    for (_, task) in tasks {
        if let Err(error) = task.await {
            tracing::error!(scraper = %shared.config.name, %error, "target task failed");
        }
    }
    lock(&shared.targets).clear();
}

/// Start the targets that appeared and stop the ones that went away.
fn sync_targets(
    shared: &Arc<ScraperShared>,
    groups: &[TargetGroup],
    tasks: &mut BTreeMap<u64, JoinHandle<()>>,
    cancel: &CancellationToken,
) {
    let built = build_targets(&shared.config, groups);
    for reason in &built.dropped {
        tracing::debug!(scraper = %shared.config.name, %reason, "target dropped");
    }
    *lock(&shared.dropped) = built.dropped;
    let wanted: BTreeMap<u64, TargetSpec> = built
        .targets
        .into_iter()
        .map(|spec| (spec.key, spec))
        .collect();
    let mut targets = lock(&shared.targets);
    targets.retain(|key, target| {
        let keep = wanted.contains_key(key);
        if !keep {
            tracing::info!(scraper = %shared.config.name, url = %target.spec.url, "target removed");
            target.cancel.cancel();
            tasks.remove(key);
        }
        keep
    });
    let mut n_started = 0;
    for (key, spec) in wanted {
        if targets.contains_key(&key) {
            continue;
        }
        let target = Arc::new(TargetShared {
            state: Mutex::new(TargetState {
                health: HealthTracker::new(shared.config.health.clone()),
                last_scrape: None,
                last_duration: None,
                last_samples: 0,
                last_error: None,
                last_parse_error: None,
                next_scrape: None,
                scrapes_total: 0,
                failures_total: 0,
                skipped_total: 0,
                parse_errors_total: 0,
                history: HealthHistory::default(),
                previous_series: crate::scrape::SeriesSet::default(),
            }),
            spec,
            scrape_lock: tokio::sync::Mutex::new(()),
            routed: Mutex::new(None),
            cancel: cancel.child_token(),
        });
        targets.insert(key, Arc::clone(&target));
        tasks.insert(key, tokio::spawn(run_target(Arc::clone(shared), target)));
        n_started += 1;
    }
    if n_started > 0 {
        tracing::info!(scraper = %shared.config.name, n_started, n_targets = targets.len(), "targets started");
    }
}

/// The first scrape time of a target: its phase within the interval, at or after now.
fn first_scrape(epoch: Instant, offset: Duration, interval: Duration, now: Instant) -> Instant {
    let phase = epoch + offset;
    if phase >= now {
        return phase;
    }
    let behind = now.duration_since(phase).as_nanos();
    let interval_nanos = interval.as_nanos().max(1);
    let periods = behind.div_ceil(interval_nanos);
    let wait = periods * interval_nanos - behind;
    now + Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
}

async fn run_target(scraper: Arc<ScraperShared>, target: Arc<TargetShared>) {
    let interval = scraper.config.scrape_interval.max(Duration::from_millis(1));
    let offset = target.spec.offset(interval);
    let first = first_scrape(scraper.epoch, offset, interval, Instant::now());
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut next_tick = first;
    loop {
        let until_next = next_tick.saturating_duration_since(Instant::now());
        lock(&target.state).next_scrape = Some(SystemTime::now() + until_next);
        let tick = tokio::select! {
            _ = target.cancel.cancelled() => break,
            tick = ticker.tick() => tick,
        };
        next_tick = tick + interval;
        if !scraper.enabled.load(Ordering::Relaxed) {
            continue;
        }
        tokio::select! {
            _ = target.cancel.cancelled() => break,
            _ = scrape_and_send(&scraper, &target, false) => {}
        }
    }
}

/// Scrape a target once (or, with its circuit open and `force` unset, only report it
/// down), update its state and send the batch.
async fn scrape_and_send(scraper: &ScraperShared, target: &TargetShared, force: bool) -> Outcome {
    let _serialized = target.scrape_lock.lock().await;
    let config = &scraper.config;
    let spec = &target.spec;
    let wall = SystemTime::now();
    let time_ns = unix_nanos(wall);
    let started = Instant::now();
    let circuit_open = !force && !lock(&target.state).health.should_scrape(started);
    let result = if circuit_open {
        Err(None)
    } else {
        let fetched = if config.ssl_server_name.is_empty() {
            match &scraper.client {
                Err(error) => Err(error.clone()),
                Ok(client) => scrape::fetch(client, config, &spec.url)
                    .await
                    .map_err(|error| error.to_string()),
            }
        } else {
            let cached = lock(&target.routed).clone();
            let routed = match cached {
                Some(routed) => Ok(routed),
                None => Routed::new(config, &spec.url).await.map(Arc::new),
            };
            match routed {
                Err(error) => Err(error),
                Ok(routed) => {
                    let via = Some((&routed.url, routed.host.as_str()));
                    let result = scrape::fetch_via(&routed.client, config, &spec.url, via).await;
                    // Look the address up again after a failure.
                    *lock(&target.routed) = result.is_ok().then_some(routed.clone());
                    result.map_err(|error| error.to_string())
                }
            }
        };
        match fetched {
            Err(error) => Err(Some(error)),
            Ok(fetched) => {
                let format = Format::from_content_type(fetched.content_type.as_deref());
                scrape::convert(config, spec, &fetched.body, format, time_ns)
                    .map_err(|error| Some(error.to_string()))
            }
        }
    };
    let duration = started.elapsed();
    let mut points;
    let outcome;
    {
        let mut state = lock(&target.state);
        let (report, transition) = match result {
            Ok(converted) => {
                let series_added = converted.series.difference(&state.previous_series).count();
                state.previous_series = converted.series;
                state.scrapes_total += 1;
                state.last_scrape = Some(wall);
                state.last_duration = Some(duration);
                state.last_samples = converted.samples_post_relabel;
                state.last_error = None;
                state.parse_errors_total += converted.parse_errors as u64;
                state.last_parse_error = converted.first_parse_error;
                points = converted.points;
                outcome = Outcome {
                    samples: points.len(),
                    error: None,
                };
                let transition = state.health.record_success(duration);
                let report = ScrapeReport {
                    up: true,
                    duration,
                    samples_scraped: converted.samples_scraped,
                    samples_post_relabel: converted.samples_post_relabel,
                    series_added,
                };
                (report, transition)
            }
            Err(reason) => {
                points = Vec::new();
                let transition = match reason {
                    Some(reason) => {
                        tracing::debug!(scraper = %config.name, url = %spec.url, %reason, "scrape failed");
                        state.scrapes_total += 1;
                        state.failures_total += 1;
                        state.last_scrape = Some(wall);
                        state.last_duration = Some(duration);
                        state.last_samples = 0;
                        state.history.failure(wall, &reason);
                        state.last_error = Some(reason.clone());
                        outcome = Outcome {
                            samples: 0,
                            error: Some(reason),
                        };
                        state.health.record_failure(Instant::now())
                    }
                    None => {
                        state.skipped_total += 1;
                        let reason = "circuit open: scrape skipped".to_owned();
                        outcome = Outcome {
                            samples: 0,
                            error: Some(reason),
                        };
                        None
                    }
                };
                let report = ScrapeReport {
                    up: false,
                    duration,
                    samples_scraped: 0,
                    samples_post_relabel: 0,
                    series_added: 0,
                };
                (report, transition)
            }
        };
        if let Some(transition) = transition {
            state.history.transition(
                SystemTime::now(),
                transition.from.as_str(),
                transition.to.as_str(),
            );
            let error = state.last_error.as_deref().unwrap_or("");
            if matches!(transition.to, TargetHealth::Healthy | TargetHealth::Unknown) {
                tracing::info!(scraper = %config.name, url = %spec.url, from = %transition.from, to = %transition.to, "target health changed");
            } else {
                tracing::warn!(scraper = %config.name, url = %spec.url, from = %transition.from, to = %transition.to, error, "target health changed");
            }
        }
        points.extend(scrape::synthetic_points(config, spec, report, time_ns));
    }
    let batch = PointBatch {
        database: config.db.clone(),
        retention_policy: config.rp.clone(),
        points,
    };
    if scraper.output.send(batch).await.is_err() {
        tracing::debug!(scraper = %config.name, "point receiver closed; batch dropped");
    }
    outcome
}

fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_scrape_keeps_the_phase() {
        let epoch = Instant::now();
        let interval = Duration::from_secs(10);
        let offset = Duration::from_secs(3);
        assert_eq!(first_scrape(epoch, offset, interval, epoch), epoch + offset);
        let now = epoch + Duration::from_secs(4);
        assert_eq!(
            first_scrape(epoch, offset, interval, now),
            epoch + Duration::from_secs(13)
        );
        let now = epoch + Duration::from_secs(13);
        assert_eq!(first_scrape(epoch, offset, interval, now), now);
        let now = epoch + Duration::from_millis(25_500);
        assert_eq!(
            first_scrape(epoch, offset, interval, now),
            epoch + Duration::from_secs(33)
        );
    }

    #[test]
    fn apply_outside_a_runtime_does_nothing_and_does_not_panic() {
        let (output, _points) = mpsc::channel(1);
        let manager = ScrapeManager::new(output);
        let (_tx, rx) = watch::channel(Vec::new());
        manager.apply(vec![(ScraperConfig::new("j", "d", "r"), rx)]);
        assert!(manager.scrapers().is_empty());
        assert!(!manager.set_enabled("j", false));
    }

    #[tokio::test]
    async fn duplicate_names_keep_the_first_and_views_list_disabled_scrapers() {
        let (output, _points) = mpsc::channel(1);
        let manager = ScrapeManager::new(output);
        let mut first = ScraperConfig::new("j", "first", "r");
        first.enabled = false;
        let second = ScraperConfig::new("j", "second", "r");
        let (_tx, rx) = watch::channel(Vec::new());
        manager.apply(vec![(first, rx.clone()), (second, rx)]);
        let statuses = manager.scrapers();
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].db, "first");
        assert!(!statuses[0].enabled);
        assert_eq!(statuses[0].targets, 0);
        manager.shutdown().await;
    }

    #[test]
    fn clients_are_built_or_explained() {
        let config = ScraperConfig::new("j", "d", "r");
        assert!(build_client(&config).is_ok());
        let mut config = ScraperConfig::new("j", "d", "r");
        config.ssl_ca = "/nonexistent/ca.pem".to_owned();
        let error = build_client(&config).unwrap_err();
        assert!(error.starts_with("ssl-ca /nonexistent/ca.pem: "), "{error}");
        let v3 = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509-v3-cert.pem");
        config.ssl_ca = v3.to_owned();
        assert!(build_client(&config).is_ok());
        let v1 = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509-v1-cert.pem");
        config.ssl_ca = v1.to_owned();
        let error = build_client(&config).unwrap_err();
        assert!(
            error.starts_with(&format!("ssl-ca {v1}: certificate 1 is X.509 v1")),
            "{error}"
        );
        let mut config = ScraperConfig::new("j", "d", "r");
        (config.ssl_cert, config.ssl_key) = (v1.to_owned(), "/nonexistent/key.pem".to_owned());
        let error = build_client(&config).unwrap_err();
        assert!(
            error.starts_with(&format!("ssl-cert {v1}: certificate 1 is X.509 v1")),
            "{error}"
        );
    }
}
