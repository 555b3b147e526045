//! The remote-collector role: a weir whose config has a `[remote]` section enrolls once with
//! a central weir (the one-time token), keeps the collector id and machine credential in
//! `data_dir/remote.json`, heartbeats every `heartbeat-interval`, and fetches, validates,
//! applies or rejects (and acknowledges) the configuration revisions central keeps for it.
//! It only ever connects out.

pub mod document;
pub mod host;
pub mod upload;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Loaded;
use crate::daemon::Daemon;
use crate::tasks::{format_rfc3339, now_nanos};

/// `[remote]`: run as a remote collector of a central weir.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RemoteConfig {
    /// Central weir's URL (`https://central:9092`); empty: not a remote collector.
    #[serde(default)]
    pub url: String,
    /// The one-time enrollment token; ignored once enrolled.
    #[serde(default)]
    pub enrollment_token: String,
    /// PEM CA certificate that central's certificate is checked against.
    #[serde(default)]
    pub ca: PathBuf,
    /// The name central's certificate is checked for, when it differs from the URL's host.
    #[serde(default)]
    pub server_name: String,
    /// Allow a plain-HTTP central.
    #[serde(default)]
    pub insecure: bool,
    /// Time between two heartbeats.
    #[serde(
        default = "default_heartbeat_interval",
        with = "weir_engine::duration::serde"
    )]
    pub heartbeat_interval: Duration,
    /// Most bytes the upload buffer holds; the oldest points are dropped beyond it.
    #[serde(default = "default_buffer_max_size")]
    pub buffer_max_size: weir_scrapers::ByteSize,
}

fn default_buffer_max_size() -> weir_scrapers::ByteSize {
    weir_scrapers::ByteSize(500_000_000)
}

fn default_heartbeat_interval() -> Duration {
    Duration::from_secs(30)
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            url: String::new(),
            enrollment_token: String::new(),
            ca: PathBuf::new(),
            server_name: String::new(),
            insecure: false,
            heartbeat_interval: default_heartbeat_interval(),
            buffer_max_size: default_buffer_max_size(),
        }
    }
}

/// Problems with a `[remote]` section (checked with the rest of the config).
pub fn validate(config: &RemoteConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if config.url.is_empty() {
        return problems;
    }
    match reqwest::Url::parse(&config.url) {
        Ok(url) if url.scheme() == "https" => {}
        Ok(url) if url.scheme() == "http" && config.insecure => {}
        Ok(url) if url.scheme() == "http" => problems.push(format!(
            "url {:?} is plain HTTP: use https, or set insecure = true",
            config.url
        )),
        Ok(url) => problems.push(format!(
            "url {:?}: scheme {:?} is neither https nor http",
            config.url,
            url.scheme()
        )),
        Err(e) => problems.push(format!("url {:?}: {e}", config.url)),
    }
    if config.heartbeat_interval < Duration::from_secs(1) {
        problems.push("heartbeat-interval must be at least 1s".to_owned());
    }
    problems
}

/// What `data_dir/remote.json` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Enrollment {
    id: String,
    credential: String,
    url: String,
    #[serde(default)]
    databases: Vec<String>,
}

/// The collector's own view, `GET /weir/v1/remote`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoteStatus {
    /// `enrolling`, `active`, `refused` (central refused the credential) or `unreachable`.
    pub state: String,
    /// Collector id, once enrolled.
    pub id: String,
    /// Central's URL.
    pub url: String,
    /// The latest error.
    pub error: String,
    /// Last successful heartbeat (RFC 3339).
    pub last_heartbeat: String,
    /// Status central reported.
    pub central_status: String,
    /// The configuration revision last applied.
    pub config_revision: i64,
    /// The revision last looked at, and what became of it.
    pub config_seen_revision: i64,
    /// `applied` or `rejected`.
    pub config_state: String,
    /// Why the last revision was rejected.
    pub config_error: String,
    /// Host metrics interval in seconds, 0 off.
    pub host_metrics_interval_seconds: u64,
    /// Points queued for upload.
    pub queue_points: u64,
    /// Bytes queued for upload.
    pub queue_bytes: u64,
    /// Points dropped because the upload buffer was full.
    pub dropped_points: u64,
}

/// The collector's state in the daemon.
#[derive(Default)]
pub struct RemoteState {
    /// What `GET /weir/v1/remote` shows.
    pub status: Mutex<RemoteStatus>,
    /// The accepted configuration document's sections, merged into every config load.
    applied: Mutex<Option<document::Accepted>>,
    /// The upload buffer, when `[remote] url` is set.
    uploader: std::sync::OnceLock<Arc<upload::Uploader>>,
    /// Id and credential, once enrolled.
    enrollment: Mutex<Option<Enrollment>>,
}

/// Queue a collected batch for upload (remote collectors only).
pub fn offer(daemon: &Daemon, batch: &weir_engine::PointBatch) {
    if let Some(uploader) = daemon.remote.uploader.get() {
        uploader.offer(batch);
    }
}

impl RemoteState {
    fn update(&self, change: impl FnOnce(&mut RemoteStatus)) {
        change(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A copy of the status, with the upload buffer's gauges.
    pub fn snapshot(&self) -> RemoteStatus {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(uploader) = self.uploader.get() {
            let stats = uploader.stats();
            status.queue_points = stats.points;
            status.queue_bytes = stats.bytes;
            status.dropped_points = stats.dropped;
        }
        status
    }
}

/// Add the applied configuration revision's scrapers and discoverers to a config that was
/// loaded from the file (every reload goes through here).
pub fn with_applied_revision(daemon: &Daemon, mut loaded: Loaded) -> Loaded {
    if let Some(accepted) = daemon
        .remote
        .applied
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        document::merge(&mut loaded.config, &accepted.sections);
    }
    loaded
}

/// Start the collector loop when the config has a `[remote] url`.
pub fn spawn(daemon: Arc<Daemon>) {
    let config = daemon.config.load().config.remote.clone();
    if config.url.is_empty() {
        return;
    }
    daemon.remote.update(|status| {
        status.state = "enrolling".to_owned();
        status.url = config.url.clone();
    });
    let data_dir = daemon.config.load().config.data_dir.clone();
    match upload::Uploader::open(&data_dir.join("remote-buffer"), config.buffer_max_size.0) {
        Ok(uploader) => {
            let _ = daemon.remote.uploader.set(Arc::new(uploader));
        }
        Err(error) => {
            tracing::error!(%error, "cannot open the remote upload buffer; nothing is uploaded");
        }
    }
    tokio::spawn(run(daemon.clone(), config.clone()));
    tokio::spawn(upload_loop(daemon.clone(), config));
    tokio::spawn(host_metrics(daemon));
}

async fn upload_loop(daemon: Arc<Daemon>, config: RemoteConfig) {
    let Some(uploader) = daemon.remote.uploader.get().cloned() else {
        return;
    };
    let (http, base) = match client(&config) {
        Ok(client) => client,
        Err(_) => return, // the heartbeat loop reports it
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        let enrollment = daemon
            .remote
            .enrollment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(enrollment) = enrollment else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let database = enrollment
            .databases
            .first()
            .cloned()
            .unwrap_or_else(|| "remotes".to_owned());
        match uploader
            .send_one(&http, &base, &enrollment.credential, &database)
            .await
        {
            upload::Attempt::Sent => backoff = Duration::from_millis(500),
            upload::Attempt::Idle => uploader.wait(Duration::from_secs(1)).await,
            upload::Attempt::Refused(reason) => {
                tracing::error!(%reason, "central refused this collector's upload");
                daemon.remote.update(|status| {
                    status.state = "refused".to_owned();
                    status.error = reason;
                });
                tokio::time::sleep(config.heartbeat_interval).await;
            }
            upload::Attempt::Failed(reason) => {
                tracing::warn!(%reason, "upload failed; retrying from the oldest queued data");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Host metrics on the applied revision's interval, collected like scraped points.
async fn host_metrics(daemon: Arc<Daemon>) {
    let mut reader = host::HostReader::default();
    let mut next = tokio::time::Instant::now();
    loop {
        let interval = daemon
            .remote
            .applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|accepted| accepted.host_metrics);
        let Some(interval) = interval else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            next = tokio::time::Instant::now();
            continue;
        };
        tokio::time::sleep_until(next).await;
        next += interval;
        let hostname = daemon.config.load().config.hostname.clone();
        let Some(line) = reader.read(&hostname) else {
            continue;
        };
        let (points, errors) = weir_engine::line_protocol::parse(
            &line,
            weir_engine::line_protocol::Precision::Nanoseconds,
            now_nanos(),
        );
        if let Some(error) = errors.first() {
            tracing::warn!(?error, "host metrics line not parsed");
        }
        let batch = weir_engine::PointBatch {
            database: "remotes".to_owned(),
            retention_policy: "autogen".to_owned(),
            points,
        };
        daemon.ingress_counts.count(&batch);
        offer(&daemon, &batch);
        daemon.engine.write(batch).await;
    }
}

fn client(config: &RemoteConfig) -> anyhow::Result<(reqwest::Client, String)> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    let mut base = reqwest::Url::parse(&config.url).context("[remote] url")?;
    if base.scheme() == "http" && !config.insecure {
        bail!(
            "central {} is plain HTTP and [remote] insecure is not set",
            config.url
        );
    }
    if !config.ca.as_os_str().is_empty() {
        let pem = std::fs::read(&config.ca)
            .with_context(|| format!("cannot read [remote] ca {}", config.ca.display()))?;
        let certificate = reqwest::Certificate::from_pem(&pem).with_context(|| {
            format!(
                "[remote] ca {} is not a PEM certificate",
                config.ca.display()
            )
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    if !config.server_name.is_empty() {
        // Connect to the URL's address but check the certificate for `server-name`.
        let host = base.host_str().unwrap_or("").to_owned();
        let port = base.port_or_known_default().unwrap_or(443);
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        builder = builder.resolve(&config.server_name, address);
        base.set_host(Some(&config.server_name))
            .context("[remote] server-name is not a host name")?;
    }
    let base = base.as_str().trim_end_matches('/').to_owned();
    Ok((builder.build()?, base))
}

fn enrollment_path(data_dir: &Path) -> PathBuf {
    data_dir.join("remote.json")
}

fn save(data_dir: &Path, enrollment: &Enrollment) -> anyhow::Result<()> {
    let path = enrollment_path(data_dir);
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(enrollment)?;
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn message(value: &Value) -> String {
    value
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// A random id for this process, so central tells two processes with one credential apart.
fn instance_id() -> String {
    use rand::Rng as _;
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn enroll(
    daemon: &Daemon,
    config: &RemoteConfig,
    http: &reqwest::Client,
    base: &str,
    instance: &str,
) -> anyhow::Result<Enrollment> {
    if config.enrollment_token.is_empty() {
        bail!(
            "not enrolled and [remote] enrollment-token is empty: ask central for a token (weir remotes create NAME)"
        );
    }
    let hostname = daemon.config.load().config.hostname.clone();
    let response = http
        .post(format!("{base}/weir/v1/collector/enroll"))
        .bearer_auth(&config.enrollment_token)
        .json(&json!({
            "hostname": hostname,
            "os": std::env::consts::OS,
            "version": env!("CARGO_PKG_VERSION"),
            "instance_id": instance,
        }))
        .send()
        .await
        .with_context(|| format!("cannot reach central at {base}"))?;
    let (status, value) = answer(response).await;
    if status != 200 {
        bail!(
            "central refused the enrollment ({status}): {}",
            message(&value)
        );
    }
    let enrollment = Enrollment {
        id: value["id"].as_str().unwrap_or_default().to_owned(),
        credential: value["credential"].as_str().unwrap_or_default().to_owned(),
        url: config.url.clone(),
        databases: serde_json::from_value(value["databases"].clone()).unwrap_or_default(),
    };
    if enrollment.id.is_empty() || enrollment.credential.is_empty() {
        bail!("central's enrollment answer has no id or credential: {value}");
    }
    Ok(enrollment)
}

async fn run(daemon: Arc<Daemon>, config: RemoteConfig) {
    let data_dir = daemon.config.load().config.data_dir.clone();
    let (http, base) = match client(&config) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "remote collector cannot start");
            daemon.remote.update(|status| {
                status.state = "unreachable".to_owned();
                status.error = format!("{error:#}");
            });
            return;
        }
    };
    let instance = instance_id();
    let mut ticker = tokio::time::interval(config.heartbeat_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut enrollment: Option<Enrollment> = std::fs::read(enrollment_path(&data_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    loop {
        ticker.tick().await;
        let current = match enrollment.clone() {
            Some(current) => current,
            None => match enroll(&daemon, &config, &http, &base, &instance).await {
                Ok(new) => {
                    if let Err(error) = save(&data_dir, &new) {
                        tracing::error!(error = %format!("{error:#}"), "cannot keep the remote credential");
                    }
                    tracing::info!(id = %new.id, central = %base, "enrolled with central");
                    enrollment = Some(new.clone());
                    new
                }
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "remote collector not enrolled");
                    daemon.remote.update(|status| {
                        status.state = "enrolling".to_owned();
                        status.error = format!("{error:#}");
                    });
                    continue;
                }
            },
        };
        daemon
            .remote
            .update(|status| status.id = current.id.clone());
        *daemon
            .remote
            .enrollment
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(current.clone());
        match heartbeat(&daemon, &config, &http, &base, &instance, &current).await {
            Ok(Some(rotated)) => {
                let mut next = current.clone();
                next.credential = rotated;
                if let Err(error) = save(&data_dir, &next) {
                    tracing::error!(error = %format!("{error:#}"), "cannot keep the rotated credential");
                }
                tracing::info!("central rotated the remote credential");
                enrollment = Some(next);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "remote heartbeat failed");
            }
        }
    }
}

/// One heartbeat, and the configuration revision it announces; a rotated credential.
async fn heartbeat(
    daemon: &Arc<Daemon>,
    config: &RemoteConfig,
    http: &reqwest::Client,
    base: &str,
    instance: &str,
    enrollment: &Enrollment,
) -> anyhow::Result<Option<String>> {
    let (queue_points, queue_bytes, dropped_points) = match daemon.remote.uploader.get() {
        Some(uploader) => {
            let stats = uploader.stats();
            (stats.points, stats.bytes, stats.dropped)
        }
        None => (0, 0, 0),
    };
    let clock = now_nanos() as f64 / 1e9;
    let sent = http
        .post(format!("{base}/weir/v1/collector/heartbeat"))
        .bearer_auth(&enrollment.credential)
        .json(&json!({
            "version": env!("CARGO_PKG_VERSION"),
            "instance_id": instance,
            "interval_seconds": config.heartbeat_interval.as_secs_f64(),
            "queue_points": queue_points,
            "queue_bytes": queue_bytes,
            "dropped_points": dropped_points,
            "clock_unix_seconds": clock,
        }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            daemon.remote.update(|status| {
                status.state = "unreachable".to_owned();
                status.error = format!("cannot reach central: {error}");
            });
            return Err(error).with_context(|| format!("cannot reach central at {base}"));
        }
    };
    let (code, value) = answer(response).await;
    if code == 401 || code == 403 {
        let reason = message(&value);
        tracing::error!(status = code, %reason, "central refused this collector's credential");
        daemon.remote.update(|status| {
            status.state = "refused".to_owned();
            status.error = format!("central refused the credential ({code}): {reason}");
        });
        bail!("central refused the credential ({code}): {reason}");
    }
    if code != 200 {
        bail!("heartbeat answered {code}: {}", message(&value));
    }
    daemon.remote.update(|status| {
        status.state = "active".to_owned();
        status.error = String::new();
        status.last_heartbeat = format_rfc3339(now_nanos());
        status.central_status = value["status"].as_str().unwrap_or_default().to_owned();
    });
    let rotated = value["credential"].as_str().map(str::to_owned);
    let credential = rotated.as_deref().unwrap_or(&enrollment.credential);
    let announced = value["config_revision"].as_i64().unwrap_or(0);
    let seen = daemon.remote.snapshot().config_seen_revision;
    if announced > seen {
        update_config(daemon, http, base, credential).await?;
    }
    Ok(rotated)
}

/// Fetch the newest revision, validate it, apply or reject it, and tell central.
async fn update_config(
    daemon: &Arc<Daemon>,
    http: &reqwest::Client,
    base: &str,
    credential: &str,
) -> anyhow::Result<()> {
    let response = http
        .get(format!("{base}/weir/v1/collector/config"))
        .bearer_auth(credential)
        .send()
        .await?;
    let (code, value) = answer(response).await;
    if code != 200 {
        bail!("configuration fetch answered {code}: {}", message(&value));
    }
    let revision = value["revision"].as_i64().unwrap_or(0);
    let outcome = match document::validate(&value["config"], revision) {
        Ok(accepted) => apply(daemon, accepted).await,
        Err(reason) => Err(reason),
    };
    let (state, reason) = match &outcome {
        Ok(()) => {
            tracing::info!(revision, "remote configuration applied");
            ("applied", String::new())
        }
        Err(reason) => {
            tracing::error!(revision, %reason, "remote configuration rejected; the last valid one keeps running");
            ("rejected", reason.clone())
        }
    };
    daemon.remote.update(|status| {
        status.config_seen_revision = revision;
        status.config_state = state.to_owned();
        status.config_error = reason.clone();
        if outcome.is_ok() {
            status.config_revision = revision;
        }
    });
    let response = http
        .post(format!("{base}/weir/v1/collector/config/ack"))
        .bearer_auth(credential)
        .json(&json!({"revision": revision, "state": state, "error": reason}))
        .send()
        .await?;
    let (code, value) = answer(response).await;
    if code >= 300 {
        bail!(
            "configuration acknowledgement answered {code}: {}",
            message(&value)
        );
    }
    Ok(())
}

async fn apply(daemon: &Arc<Daemon>, accepted: document::Accepted) -> Result<(), String> {
    let current = daemon.config.load_full();
    let base = match current.path.clone() {
        Some(path) => tokio::task::spawn_blocking(move || crate::config::load(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|errors| format!("the config file does not load: {errors}"))?,
        None => Loaded::clone(&current),
    };
    let host_metrics = accepted.host_metrics;
    let previous = daemon
        .remote
        .applied
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(accepted);
    let status = daemon.apply_config(base).await;
    if status.state != "applied" {
        *daemon
            .remote
            .applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = previous;
        return Err(status.reason);
    }
    daemon.remote.update(|status| {
        status.host_metrics_interval_seconds = host_metrics.map_or(0, |d| d.as_secs());
    });
    Ok(())
}
