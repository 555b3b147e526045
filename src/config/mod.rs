//! weir's TOML configuration: Kapacitor's section names and keys, weir's additions, and
//! loading with precise errors (file:line:column), warnings for unknown keys (with the
//! closest known key), and `WEIR_*` / `KAPACITOR_*` environment overrides.
//!
//! Loading is pure apart from reading the file: [`load`] returns a [`Loaded`] config plus
//! warnings, or every error it found. Applying a config is the daemon's job.

mod env;
mod keys;
mod unknown;
mod unsupported;

pub use keys::render;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use unknown::Warning;

/// The default API port, as Kapacitor's.
pub const DEFAULT_BIND_ADDRESS: &str = ":9092";

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Name of this host, used in alert details and logs.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Where weir keeps its store, buffers and files.
    #[serde(rename = "data_dir", default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Kapacitor's switch for its own usage reporting; accepted and ignored.
    #[serde(rename = "skip-config-overrides", default, skip_serializing)]
    pub skip_config_overrides: Option<bool>,
    /// Kapacitor's usage-reporting switch; accepted and ignored (weir never phones home).
    #[serde(rename = "reporting-enabled", default, skip_serializing)]
    pub reporting_enabled: Option<bool>,
    /// Shutdown grace period: drain pipelines and flush sinks within this.
    #[serde(
        default = "default_shutdown_timeout",
        with = "weir_engine::duration::serde"
    )]
    pub shutdown_timeout: Duration,
    /// The HTTP API.
    #[serde(default)]
    pub http: HttpConfig,
    /// Which programs the `exec` alert handler may run.
    #[serde(default)]
    pub exec: ExecConfig,
    /// How `/write` data is queued and made durable before it is acknowledged.
    #[serde(default)]
    pub ingress: IngressConfig,
    /// Logging.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Task scripts loaded from a directory at start (Kapacitor's `[load]`).
    #[serde(default)]
    pub load: LoadConfig,
    /// Tasks defined in the config file (weir's own).
    #[serde(default)]
    pub task: Vec<TaskEntry>,
    /// Run as a remote collector of a central weir.
    #[serde(default)]
    pub remote: crate::remote::RemoteConfig,
    /// The configuration-item change sink.
    #[serde(default)]
    pub ci: crate::ci::CiConfig,
    /// The file sink used when no `[[influxdb]]` is configured.
    #[serde(default)]
    pub files: FileSinkConfig,
    /// Time-series sinks.
    #[serde(default)]
    pub influxdb: Vec<weir_sinks::InfluxDbConfig>,
    /// Scrapers.
    #[serde(default)]
    pub scraper: Vec<weir_scrapers::ScraperConfig>,
    /// Prometheus servers that `batch|query('PromQL')` tasks query.
    #[serde(default)]
    pub prometheus: Vec<weir_scrapers::batch::PrometheusConfig>,
    /// Static target lists.
    #[serde(default, rename = "static-discovery")]
    pub static_discovery: Vec<weir_discoverers::static_discovery::StaticConfig>,
    /// Prometheus file_sd files.
    #[serde(default, rename = "file-discovery")]
    pub file_discovery: Vec<weir_discoverers::file::FileConfig>,
    /// Prometheus HTTP SD URLs.
    #[serde(default, rename = "http-discovery")]
    pub http_discovery: Vec<weir_discoverers::http_discovery::HttpDiscoveryConfig>,
    /// DNS discovery.
    #[serde(default)]
    pub dns: Vec<weir_discoverers::dns::DnsConfig>,
    /// Consul discovery.
    #[serde(default)]
    pub consul: Vec<weir_discoverers::consul::ConsulConfig>,
    /// marathon discovery.
    #[serde(default)]
    pub marathon: Vec<weir_discoverers::marathon::MarathonConfig>,
    /// triton discovery.
    #[serde(default)]
    pub triton: Vec<weir_discoverers::triton::TritonConfig>,
    /// nerve discovery.
    #[serde(default)]
    pub nerve: Vec<weir_discoverers::nerve::NerveConfig>,
    /// serverset discovery.
    #[serde(default)]
    pub serverset: Vec<weir_discoverers::serverset::ServersetConfig>,
    /// azure discovery.
    #[serde(default)]
    pub azure: Vec<weir_discoverers::azure::AzureConfig>,
    /// gce discovery.
    #[serde(default)]
    pub gce: Vec<weir_discoverers::gce::GceConfig>,
    /// `[alerta]`.
    #[serde(default)]
    pub alerta: crate::services::alerta::Config,
    /// `[[discord]]`.
    #[serde(default, deserialize_with = "crate::services::one_or_many")]
    pub discord: Vec<crate::services::discord::Config>,
    /// `[hipchat]`.
    #[serde(default)]
    pub hipchat: crate::services::hipchat::Config,
    /// `[[httppost]]`.
    #[serde(default)]
    pub httppost: Vec<crate::services::httppost::Config>,
    /// `[opsgenie]`.
    #[serde(default)]
    pub opsgenie: crate::services::opsgenie::Config,
    /// `[opsgenie2]`.
    #[serde(default)]
    pub opsgenie2: crate::services::opsgenie2::Config,
    /// `[pagerduty]`.
    #[serde(default)]
    pub pagerduty: crate::services::pagerduty::Config,
    /// `[pagerduty2]`.
    #[serde(default)]
    pub pagerduty2: crate::services::pagerduty2::Config,
    /// `[pushover]`.
    #[serde(default)]
    pub pushover: crate::services::pushover::Config,
    /// `[sensu]`.
    #[serde(default)]
    pub sensu: crate::services::sensu::Config,
    /// `[servicenow]`.
    #[serde(default)]
    pub servicenow: crate::services::servicenow::Config,
    /// `[[slack]]`.
    #[serde(default, deserialize_with = "crate::services::one_or_many")]
    pub slack: Vec<crate::services::slack::Config>,
    /// `[talk]`.
    #[serde(default)]
    pub talk: crate::services::talk::Config,
    /// `[teams]`.
    #[serde(default)]
    pub teams: crate::services::teams::Config,
    /// `[telegram]`.
    #[serde(default)]
    pub telegram: crate::services::telegram::Config,
    /// `[victorops]`.
    #[serde(default)]
    pub victorops: crate::services::victorops::Config,
    /// Kubernetes discovery.
    #[cfg(feature = "kubernetes")]
    #[serde(default)]
    pub kubernetes: Vec<weir_discoverers::kubernetes::KubernetesConfig>,
    /// EC2 discovery.
    #[cfg(feature = "ec2")]
    #[serde(default)]
    pub ec2: Vec<weir_discoverers::ec2::Ec2Config>,
}

impl Config {
    /// The alert services' sections.
    pub fn services(&self) -> crate::services::ServicesConfig {
        crate::services::ServicesConfig {
            alerta: self.alerta.clone(),
            discord: self.discord.clone(),
            hipchat: self.hipchat.clone(),
            httppost: self.httppost.clone(),
            opsgenie: self.opsgenie.clone(),
            opsgenie2: self.opsgenie2.clone(),
            pagerduty: self.pagerduty.clone(),
            pagerduty2: self.pagerduty2.clone(),
            pushover: self.pushover.clone(),
            sensu: self.sensu.clone(),
            servicenow: self.servicenow.clone(),
            slack: self.slack.clone(),
            talk: self.talk.clone(),
            teams: self.teams.clone(),
            telegram: self.telegram.clone(),
            victorops: self.victorops.clone(),
        }
    }

    /// Where this weir answers, for the services that link back to it.
    pub fn site(&self) -> crate::services::Site {
        let bind = &self.http.bind_address;
        let (host, port) = bind.rsplit_once(':').unwrap_or((bind.as_str(), "9092"));
        let host = if host.is_empty() || host == "0.0.0.0" || host == "[::]" {
            self.hostname.as_str()
        } else {
            host
        };
        let scheme = if self.http.https_enabled {
            "https"
        } else {
            "http"
        };
        crate::services::Site {
            client_url: format!("{scheme}://{host}:{port}/kapacitor/v1"),
        }
    }
}

fn default_hostname() -> String {
    "localhost".to_owned()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("weir-data")
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpConfig {
    /// `host:port` to listen on; `:9092` means every interface.
    #[serde(default = "default_bind_address")]
    pub bind_address: String,
    /// Require credentials on every endpoint but ping.
    #[serde(default)]
    pub auth_enabled: bool,
    /// Serve HTTPS.
    #[serde(default)]
    pub https_enabled: bool,
    /// PEM certificate for HTTPS.
    #[serde(default)]
    pub https_certificate: String,
    /// PEM private key for HTTPS (defaults to the certificate file).
    #[serde(default)]
    pub https_private_key: String,
    /// Largest accepted `/write` body (413 above): bytes, or a size such as `"50MB"`.
    #[serde(default = "default_max_body_size")]
    pub max_body_size: weir_scrapers::ByteSize,
    /// Most connections served at once; more are closed as soon as they are accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and how long an idle keep-alive
    /// connection is kept open waiting for the next request.
    #[serde(
        default = "default_read_header_timeout",
        with = "weir_engine::duration::serde"
    )]
    pub read_header_timeout: Duration,
    /// Time a client has to send a request's whole body.
    #[serde(
        default = "default_read_body_timeout",
        with = "weir_engine::duration::serde"
    )]
    pub read_body_timeout: Duration,
    /// Kapacitor's access-log switch.
    #[serde(default = "default_true")]
    pub log_enabled: bool,
    /// Credentials accepted when `auth-enabled`.
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

fn default_bind_address() -> String {
    DEFAULT_BIND_ADDRESS.to_owned()
}

fn default_max_body_size() -> weir_scrapers::ByteSize {
    weir_scrapers::ByteSize(25 * 1024 * 1024)
}

fn default_max_connections() -> usize {
    512
}

fn default_read_header_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_read_body_timeout() -> Duration {
    Duration::from_secs(60)
}

/// `[exec]`: weir runs only the programs the operator listed. Kapacitor runs any command an
/// `exec` handler names; weir refuses a task whose handler names one not listed here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExecConfig {
    /// Absolute paths of the programs `alert().exec(...)` may run (the first argument of
    /// `.exec()`, compared exactly). Empty: no task may use `exec`.
    #[serde(default)]
    pub allowed_commands: Vec<String>,
}

fn default_true() -> bool {
    true
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            bind_address: default_bind_address(),
            auth_enabled: false,
            https_enabled: false,
            https_certificate: String::new(),
            https_private_key: String::new(),
            max_body_size: default_max_body_size(),
            max_connections: default_max_connections(),
            read_header_timeout: default_read_header_timeout(),
            read_body_timeout: default_read_body_timeout(),
            log_enabled: true,
            users: Vec::new(),
        }
    }
}

/// One `[[http.users]]` credential: a user name with a SHA-256 password hash, or a
/// bearer token hash.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserConfig {
    /// User name for basic auth (empty for a token-only entry).
    #[serde(default)]
    pub username: String,
    /// Hex SHA-256 of the password (`weir hash-password` prints it).
    #[serde(default)]
    pub password_sha256: String,
    /// Hex SHA-256 of a bearer token.
    #[serde(default)]
    pub token_sha256: String,
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoggingConfig {
    /// `STDERR`, `STDOUT` or a file path.
    #[serde(default = "default_log_file")]
    pub file: String,
    /// `DEBUG`, `INFO`, `WARN` or `ERROR`.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
}

fn default_log_file() -> String {
    "STDERR".to_owned()
}

fn default_log_level() -> String {
    "INFO".to_owned()
}

fn default_log_format() -> String {
    "text".to_owned()
}

impl Default for LoggingConfig {
    fn default() -> LoggingConfig {
        LoggingConfig {
            file: default_log_file(),
            level: default_log_level(),
            format: default_log_format(),
        }
    }
}

/// `[load]`: Kapacitor loads `tasks/*.tick` (and templates) from this directory at start.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoadConfig {
    /// Load at start.
    #[serde(default)]
    pub enabled: bool,
    /// The directory; `.tick` files in it (and in its `tasks/` subdirectory) become tasks
    /// named after the file.
    #[serde(default)]
    pub dir: PathBuf,
}

/// `[[task]]`: a task defined in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TaskEntry {
    /// Task id.
    pub id: String,
    /// Script file (relative to the config file's directory).
    pub path: PathBuf,
    /// `db.rp` pairs, for scripts without a `dbrp` statement.
    #[serde(default)]
    pub dbrps: Vec<String>,
    /// Start enabled.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// `[ingress]`: what `/write` does before it answers 204.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IngressConfig {
    /// `log`: append each write to the ingress log under `data_dir/ingress` before
    /// acknowledging it, and replay what the tasks had not finished after a crash (at least
    /// once). `none`: acknowledge once the tasks have the points queued (a crash loses them).
    #[serde(default)]
    pub durability: Durability,
    /// Cap of the ingress log; a write that does not fit is answered 503 with `Retry-After`.
    #[serde(default = "default_max_log_size")]
    pub max_log_size: weir_scrapers::ByteSize,
    /// How often the log is fsynced (a killed process loses nothing either way; this bounds
    /// what a machine crash can lose). `0s`: never.
    #[serde(
        default = "default_fsync_interval",
        with = "weir_engine::duration::serde"
    )]
    pub fsync_interval: Duration,
    /// Memory of the points waiting in the tasks' queues, across all writers (estimated as
    /// four times their line protocol). A write that finds the queue full waits up to
    /// `queue-timeout`.
    #[serde(default = "default_queue_max_bytes")]
    pub queue_max_bytes: weir_scrapers::ByteSize,
    /// How long a write waits for room in the queue before it is answered 503 with
    /// `Retry-After`.
    #[serde(
        default = "default_queue_timeout",
        with = "weir_engine::duration::serde"
    )]
    pub queue_timeout: Duration,
}

/// `[ingress] durability`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Log before acknowledging; replay after a crash.
    #[default]
    Log,
    /// Acknowledge once queued.
    None,
}

fn default_max_log_size() -> weir_scrapers::ByteSize {
    weir_scrapers::ByteSize(1_000_000_000)
}

fn default_fsync_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_queue_max_bytes() -> weir_scrapers::ByteSize {
    weir_scrapers::ByteSize(64 << 20)
}

fn default_queue_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for IngressConfig {
    fn default() -> IngressConfig {
        IngressConfig {
            durability: Durability::Log,
            max_log_size: default_max_log_size(),
            fsync_interval: default_fsync_interval(),
            queue_max_bytes: default_queue_max_bytes(),
            queue_timeout: default_queue_timeout(),
        }
    }
}

/// `[files]`: the line-protocol file sink used when no `[[influxdb]]` is configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSinkConfig {
    /// Directory under `data_dir`.
    #[serde(default = "default_files_dir")]
    pub dir: PathBuf,
    /// Rotate a database's file at this size in bytes.
    #[serde(default = "default_files_max_bytes")]
    pub max_file_bytes: u64,
    /// Rotated files kept per database.
    #[serde(default = "default_files_keep")]
    pub keep: usize,
}

fn default_files_dir() -> PathBuf {
    PathBuf::from("lp")
}

fn default_files_max_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_files_keep() -> usize {
    4
}

impl Default for FileSinkConfig {
    fn default() -> FileSinkConfig {
        FileSinkConfig {
            dir: default_files_dir(),
            max_file_bytes: default_files_max_bytes(),
            keep: default_files_keep(),
        }
    }
}

/// A config that parsed and validated, with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// Unknown keys and other non-fatal findings.
    pub warnings: Vec<Warning>,
    /// The file, or `None` for the embedded default.
    pub path: Option<PathBuf>,
}

/// Every problem found while loading a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// One line each, `file:line:column: message` where a position is known.
    pub errors: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

/// The configuration `weir serve` runs without `--config`: it scrapes itself, runs the
/// example pipelines and writes line protocol to files.
pub const EMBEDDED_DEFAULT: &str = include_str!("embedded.toml");

/// Parse and validate the embedded default, with the environment's overrides.
pub fn load_embedded() -> Result<Loaded, ConfigErrors> {
    parse(EMBEDDED_DEFAULT, "embedded default", &env::from_process())
}

/// Read, parse and validate the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigErrors {
        errors: vec![format!("{}: cannot read config: {error}", path.display())],
    })?;
    let mut loaded = parse(&text, &path.display().to_string(), &env::from_process())?;
    loaded.path = Some(path.to_owned());
    let base = path.parent().unwrap_or(Path::new("."));
    for task in &mut loaded.config.task {
        if task.path.is_relative() {
            task.path = base.join(&task.path);
        }
    }
    if loaded.config.load.dir.is_relative() && !loaded.config.load.dir.as_os_str().is_empty() {
        loaded.config.load.dir = base.join(&loaded.config.load.dir);
    }
    Ok(loaded)
}

/// Parse and validate config text; `origin` names it in messages; `env` holds the
/// `WEIR_*`/`KAPACITOR_*` overrides to apply.
pub fn parse(
    text: &str,
    origin: &str,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, ConfigErrors> {
    let (config, mut warnings) = unknown::deserialize_lenient(text, origin, env)?;
    let errors = validate(&config);
    if !errors.is_empty() {
        return Err(ConfigErrors {
            errors: errors
                .into_iter()
                .map(|e| format!("{origin}: {e}"))
                .collect(),
        });
    }
    warnings.extend(lint(&config, origin));
    Ok(Loaded {
        config,
        warnings,
        path: None,
    })
}

/// Every semantic problem at once.
fn validate(config: &Config) -> Vec<String> {
    let mut errors = Vec::new();
    let mut push_all = |section: &str, result: Result<(), Vec<String>>| {
        if let Err(problems) = result {
            errors.extend(
                problems
                    .into_iter()
                    .map(|problem| format!("[{section}] {problem}")),
            );
        }
    };
    push_all(
        "remote",
        Err(crate::remote::validate(&config.remote)).or_else(|problems: Vec<String>| {
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems)
            }
        }),
    );
    for sink in &config.influxdb {
        push_all("influxdb", sink.validate());
    }
    for scraper in &config.scraper {
        push_all("scraper", scraper.validate());
    }
    for source in &config.prometheus {
        push_all("prometheus", source.validate());
    }
    let mut seen = std::collections::BTreeSet::new();
    for source in &config.prometheus {
        if !seen.insert(source.name.clone()) {
            errors.push(format!("[prometheus] duplicate name {:?}", source.name));
        }
    }
    if config
        .prometheus
        .iter()
        .filter(|source| source.enabled && source.default)
        .count()
        > 1
    {
        errors.push("[prometheus] more than one source has default = true".to_owned());
    }
    if let Err(problems) = config.discovery().validate() {
        errors.extend(problems.into_iter().map(|problem| problem.to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for scraper in &config.scraper {
        if !seen.insert(scraper.name.clone()) {
            errors.push(format!(
                "[scraper] duplicate scraper name {:?}",
                scraper.name
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for sink in &config.influxdb {
        if !seen.insert(sink.name.clone()) {
            errors.push(format!("[influxdb] duplicate name {:?}", sink.name));
        }
    }
    if config
        .influxdb
        .iter()
        .filter(|sink| sink.enabled && sink.default)
        .count()
        > 1
    {
        errors.push("[influxdb] more than one sink has default = true".to_owned());
    }
    let mut seen = std::collections::BTreeSet::new();
    for task in &config.task {
        if !seen.insert(task.id.clone()) {
            errors.push(format!("[task] duplicate task id {:?}", task.id));
        }
        for dbrp in &task.dbrps {
            if parse_dbrp(dbrp).is_none() {
                errors.push(format!(
                    "[task] {:?}: dbrp {dbrp:?} is not of the form \"db.rp\"",
                    task.id
                ));
            }
        }
    }
    if config.http.auth_enabled && config.http.users.is_empty() {
        errors
            .push("[http] auth-enabled = true needs at least one [[http.users]] entry".to_owned());
    }
    if config.http.https_enabled && config.http.https_certificate.is_empty() {
        errors.push("[http] https-enabled = true needs https-certificate".to_owned());
    }
    if !matches!(
        config.logging.level.to_ascii_uppercase().as_str(),
        "DEBUG" | "INFO" | "WARN" | "ERROR"
    ) {
        errors.push(format!(
            "[logging] level {:?} is not one of DEBUG, INFO, WARN, ERROR",
            config.logging.level
        ));
    }
    if !matches!(config.logging.format.as_str(), "text" | "json") {
        errors.push(format!(
            "[logging] format {:?} is not one of text, json",
            config.logging.format
        ));
    }
    errors
}

/// Findings that do not stop weir from running.
fn lint(config: &Config, origin: &str) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for scraper in config.scraper.iter().filter(|scraper| !scraper.enabled) {
        warnings.push(Warning {
            message: format!(
                "{origin}: scraper {:?} is disabled (enabled = false is Kapacitor's default); add `enabled = true` to scrape it",
                scraper.name
            ),
        });
    }
    for scraper in &config.scraper {
        if !discoverer_exists(config, &scraper.discoverer_service, &scraper.discoverer_id) {
            warnings.push(Warning {
                message: format!(
                    "{origin}: scraper {:?} names discoverer {:?} of service {:?}, which is not configured; it will have no targets until it is",
                    scraper.name, scraper.discoverer_id, scraper.discoverer_service
                ),
            });
        }
    }
    warnings
}

/// Whether a discoverer with this service section and id is configured.
pub fn discoverer_exists(config: &Config, service: &str, id: &str) -> bool {
    match service {
        "static-discovery" => config.static_discovery.iter().any(|d| d.id == id),
        "file-discovery" => config.file_discovery.iter().any(|d| d.id == id),
        "http-discovery" => config.http_discovery.iter().any(|d| d.id == id),
        "dns" => config.dns.iter().any(|d| d.id == id),
        "consul" => config.consul.iter().any(|d| d.id == id),
        "marathon" => config.marathon.iter().any(|d| d.id == id),
        "triton" => config.triton.iter().any(|d| d.id == id),
        "nerve" => config.nerve.iter().any(|d| d.id == id),
        "serverset" => config.serverset.iter().any(|d| d.id == id),
        "azure" => config.azure.iter().any(|d| d.id == id),
        "gce" => config.gce.iter().any(|d| d.id == id),
        #[cfg(feature = "kubernetes")]
        "kubernetes" => config.kubernetes.iter().any(|d| d.id == id),
        #[cfg(feature = "ec2")]
        "ec2" => config.ec2.iter().any(|d| d.id == id),
        _ => false,
    }
}

impl Config {
    /// Every configured discovery source as `(section, id)`.
    pub fn discovery_sources(&self) -> Vec<(String, String)> {
        let mut sources: Vec<(String, String)> = Vec::new();
        let mut add = |service: &str, ids: Vec<&String>| {
            sources.extend(ids.into_iter().map(|id| (service.to_owned(), id.clone())));
        };
        add(
            "static-discovery",
            self.static_discovery.iter().map(|d| &d.id).collect(),
        );
        add(
            "file-discovery",
            self.file_discovery.iter().map(|d| &d.id).collect(),
        );
        add(
            "http-discovery",
            self.http_discovery.iter().map(|d| &d.id).collect(),
        );
        add("dns", self.dns.iter().map(|d| &d.id).collect());
        add("consul", self.consul.iter().map(|d| &d.id).collect());
        add("marathon", self.marathon.iter().map(|d| &d.id).collect());
        add("triton", self.triton.iter().map(|d| &d.id).collect());
        add("nerve", self.nerve.iter().map(|d| &d.id).collect());
        add("serverset", self.serverset.iter().map(|d| &d.id).collect());
        add("azure", self.azure.iter().map(|d| &d.id).collect());
        add("gce", self.gce.iter().map(|d| &d.id).collect());
        #[cfg(feature = "kubernetes")]
        add(
            "kubernetes",
            self.kubernetes.iter().map(|d| &d.id).collect(),
        );
        #[cfg(feature = "ec2")]
        add("ec2", self.ec2.iter().map(|d| &d.id).collect());
        sources
    }

    /// The discoverer sections, as the discovery manager takes them.
    pub fn discovery(&self) -> weir_discoverers::DiscoveryConfig {
        weir_discoverers::DiscoveryConfig {
            static_discovery: self.static_discovery.clone(),
            file_discovery: self.file_discovery.clone(),
            http_discovery: self.http_discovery.clone(),
            dns: self.dns.clone(),
            consul: self.consul.clone(),
            marathon: self.marathon.clone(),
            triton: self.triton.clone(),
            nerve: self.nerve.clone(),
            serverset: self.serverset.clone(),
            azure: self.azure.clone(),
            gce: self.gce.clone(),
            #[cfg(feature = "kubernetes")]
            kubernetes: self.kubernetes.clone(),
            #[cfg(feature = "ec2")]
            ec2: self.ec2.clone(),
        }
    }
}

/// Split `db.rp` (the `rp` may itself contain dots? Kapacitor splits at the first dot).
pub fn parse_dbrp(text: &str) -> Option<(String, String)> {
    let (database, retention_policy) = text.split_once('.')?;
    let unquote = |s: &str| s.trim_matches('"').to_owned();
    if database.is_empty() || retention_policy.is_empty() {
        return None;
    }
    Some((unquote(database), unquote(retention_policy)))
}

#[cfg(test)]
mod tests;
