//! The `[[scraper]]` config section: Kapacitor's keys plus Prometheus' scrape options.
//!
//! ```toml
//! [[scraper]]
//!   enabled = true
//!   name = "node"
//!   db = "prom"
//!   rp = "autogen"
//!   scrape-interval = "15s"
//!   scrape-timeout = "5s"
//!   discoverer-id = "local"
//!   discoverer-service = "static-discovery"
//!   sample-limit = 50000
//!   body-size-limit = "10MB"
//!   [scraper.health]
//!     failures-before-open = 3
//!     open-duration = "1m"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use weir_engine::relabel::RelabelConfig;

/// The body of one `[[scraper]]` section.
///
/// Defaults follow Kapacitor (`enabled = false`, `scheme = "http"`, `metrics-path =
/// "/metrics"`, `scrape-interval = "1m"`, `scrape-timeout = "10s"`) and Prometheus for the
/// keys Kapacitor lacks (`honor-timestamps = true`), except the limits: a body is read up to
/// [`DEFAULT_BODY_SIZE_LIMIT`] (vmagent's `-promscrape.maxScrapeSize`) and a scrape keeps at
/// most [`DEFAULT_SAMPLE_LIMIT`] samples unless the section says otherwise, so one
/// misbehaving target (or a gzip bomb) cannot take the daemon's memory. `0` lifts a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScraperConfig {
    /// Whether the scraper runs; Kapacitor's default is `false`.
    #[serde(default)]
    pub enabled: bool,
    /// The job name; unique among scrapers.
    pub name: String,
    /// Only `prometheus` exists.
    #[serde(rename = "type", default)]
    pub kind: ScraperType,
    /// Database the points are addressed to.
    pub db: String,
    /// Retention policy the points are addressed to.
    pub rp: String,
    /// `http` or `https`, unless a target's `__scheme__` label says otherwise.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Path scraped, unless a target's `__metrics_path__` label says otherwise.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// Query parameters added to every scrape URL.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Time between two scrapes of a target.
    #[serde(
        default = "default_scrape_interval",
        with = "weir_engine::duration::serde"
    )]
    pub scrape_interval: Duration,
    /// Longest a scrape may take.
    #[serde(
        default = "default_scrape_timeout",
        with = "weir_engine::duration::serde"
    )]
    pub scrape_timeout: Duration,
    /// HTTP basic-auth user.
    #[serde(default)]
    pub username: String,
    /// HTTP basic-auth password.
    #[serde(default)]
    pub password: String,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: String,
    /// PEM file with the CA certificates to trust.
    #[serde(default)]
    pub ssl_ca: String,
    /// PEM file with the client certificate.
    #[serde(default)]
    pub ssl_cert: String,
    /// PEM file with the client key.
    #[serde(default)]
    pub ssl_key: String,
    /// The name TLS sends (SNI) and checks the certificate against, instead of the target's
    /// host; each target is still dialled at its own address (and sent its own `Host`).
    #[serde(default)]
    pub ssl_server_name: String,
    /// Skip certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Proxy every scrape through this URL.
    #[serde(default)]
    pub proxy_url: String,
    /// The `id` of the discoverer section whose targets this scraper scrapes.
    #[serde(default)]
    pub discoverer_id: String,
    /// The kind of that discoverer section (`static-discovery`, `file-discovery`, `dns`, ...).
    #[serde(default)]
    pub discoverer_service: String,
    /// `instance` values whose targets are not scraped.
    #[serde(default)]
    pub blacklist: Vec<String>,
    /// Relabelling applied to every discovered target before scraping (Prometheus' spelling
    /// `relabel_configs` too).
    #[serde(default, alias = "relabel_configs")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabelling applied to every scraped series (also `metric_relabel_configs`).
    #[serde(default, alias = "metric_relabel_configs")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// On a clash, keep the scraped label instead of renaming it `exported_<name>`.
    #[serde(default)]
    pub honor_labels: bool,
    /// Use a sample's own timestamp when it has one.
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Fail a scrape with more samples than this after metric relabelling (0 = no limit;
    /// default [`DEFAULT_SAMPLE_LIMIT`]).
    #[serde(default = "default_sample_limit")]
    pub sample_limit: usize,
    /// Fail a scrape whose decompressed body is larger (0 = no limit; default
    /// [`DEFAULT_BODY_SIZE_LIMIT`]); an integer of bytes or a string such as `"10MB"`.
    #[serde(default = "default_body_size_limit")]
    pub body_size_limit: ByteSize,
    /// Fail a scrape with a series carrying more labels than this (0 = no limit).
    #[serde(default)]
    pub label_limit: usize,
    /// Which tag set points get.
    #[serde(default)]
    pub compat: Compat,
    /// Health and circuit-breaker thresholds.
    #[serde(default)]
    pub health: HealthConfig,
}

/// The scraper `type`; only Prometheus exists, as in Kapacitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ScraperType {
    /// Prometheus exposition over HTTP.
    #[default]
    Prometheus,
}

/// Which tag set points get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Compat {
    /// Prometheus' labels: `job` and `instance` plus the target's and the sample's labels.
    #[default]
    Prometheus,
    /// Kapacitor's exact tags: like Prometheus but without `job` and with `__name__`.
    Kapacitor,
}

/// Thresholds of a target's health and circuit breaker (`[scraper.health]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HealthConfig {
    /// A successful scrape slower than this makes the target Degraded.
    #[serde(
        default = "default_slow_threshold",
        with = "weir_engine::duration::serde"
    )]
    pub slow_threshold: Duration,
    /// Consecutive failures that open the circuit.
    #[serde(default = "default_failures_before_open")]
    pub failures_before_open: u32,
    /// How long an open circuit skips scrapes before a single trial.
    #[serde(
        default = "default_open_duration",
        with = "weir_engine::duration::serde"
    )]
    pub open_duration: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            slow_threshold: default_slow_threshold(),
            failures_before_open: default_failures_before_open(),
            open_duration: default_open_duration(),
        }
    }
}

fn default_scheme() -> String {
    "http".to_owned()
}
fn default_metrics_path() -> String {
    "/metrics".to_owned()
}
fn default_scrape_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_scrape_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_true() -> bool {
    true
}
fn default_slow_threshold() -> Duration {
    Duration::from_secs(10)
}
fn default_failures_before_open() -> u32 {
    3
}
fn default_open_duration() -> Duration {
    Duration::from_secs(60)
}

impl ScraperConfig {
    /// A config with every default, for the given job, database and retention policy.
    pub fn new(name: &str, db: &str, rp: &str) -> ScraperConfig {
        ScraperConfig {
            enabled: true,
            name: name.to_owned(),
            kind: ScraperType::Prometheus,
            db: db.to_owned(),
            rp: rp.to_owned(),
            scheme: default_scheme(),
            metrics_path: default_metrics_path(),
            params: BTreeMap::new(),
            scrape_interval: default_scrape_interval(),
            scrape_timeout: default_scrape_timeout(),
            username: String::new(),
            password: String::new(),
            bearer_token: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            ssl_server_name: String::new(),
            insecure_skip_verify: false,
            proxy_url: String::new(),
            discoverer_id: String::new(),
            discoverer_service: String::new(),
            blacklist: Vec::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: default_sample_limit(),
            body_size_limit: default_body_size_limit(),
            label_limit: 0,
            compat: Compat::Prometheus,
            health: HealthConfig::default(),
        }
    }

    /// Check every rule at once; each message starts with `scraper "<name>"`.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut problem = |text: String| problems.push(format!("scraper {:?}: {text}", self.name));
        if self.name.is_empty() {
            problem("name is required".to_owned());
        }
        if self.db.is_empty() {
            problem("db is required".to_owned());
        }
        if self.rp.is_empty() {
            problem("rp is required".to_owned());
        }
        if self.scheme != "http" && self.scheme != "https" {
            problem(format!(
                "scheme must be \"http\" or \"https\", not {:?}",
                self.scheme
            ));
        }
        if !self.metrics_path.starts_with('/') {
            problem(format!(
                "metrics-path {:?} must start with '/'",
                self.metrics_path
            ));
        }
        if self.scrape_interval.is_zero() {
            problem("scrape-interval must be positive".to_owned());
        }
        if self.scrape_timeout.is_zero() {
            problem("scrape-timeout must be positive".to_owned());
        }
        if self.scrape_timeout > self.scrape_interval {
            problem(format!(
                "scrape-timeout ({}) is longer than scrape-interval ({})",
                weir_engine::duration::format(self.scrape_timeout),
                weir_engine::duration::format(self.scrape_interval)
            ));
        }
        if !self.bearer_token.is_empty() && (!self.username.is_empty() || !self.password.is_empty())
        {
            problem("bearer-token and username/password are mutually exclusive".to_owned());
        }
        if self.ssl_cert.is_empty() != self.ssl_key.is_empty() {
            problem("ssl-cert and ssl-key must be set together".to_owned());
        }
        if !self.ssl_server_name.is_empty()
            && reqwest::Url::parse(&format!("https://{}/", self.ssl_server_name))
                .ok()
                .and_then(|url| {
                    url.host_str()
                        .map(|host| host.eq_ignore_ascii_case(&self.ssl_server_name))
                })
                != Some(true)
        {
            problem(format!(
                "ssl-server-name {:?} is not a host name",
                self.ssl_server_name
            ));
        }
        if !self.proxy_url.is_empty() && reqwest::Url::parse(&self.proxy_url).is_err() {
            problem(format!("proxy-url {:?} is not a valid URL", self.proxy_url));
        }
        if self.discoverer_id.is_empty() != self.discoverer_service.is_empty() {
            problem("discoverer-id and discoverer-service must be set together".to_owned());
        }
        for (key, rules) in [
            ("relabel-configs", &self.relabel_configs),
            ("metric-relabel-configs", &self.metric_relabel_configs),
        ] {
            if let Err(errors) = weir_engine::relabel::validate_all(rules) {
                for error in errors {
                    problem(format!("{key}: {error}"));
                }
            }
        }
        if self.health.failures_before_open == 0 {
            problem("health.failures-before-open must be at least 1".to_owned());
        }
        if self.health.open_duration.is_zero() {
            problem("health.open-duration must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// A copy with the password and bearer token replaced by `"<redacted>"`, for views.
    pub fn redacted(&self) -> ScraperConfig {
        let mut copy = self.clone();
        for secret in [&mut copy.password, &mut copy.bearer_token] {
            if !secret.is_empty() {
                *secret = "<redacted>".to_owned();
            }
        }
        copy
    }
}

/// The default `body-size-limit`: 16 MiB of decompressed body, as vmagent's default.
pub const DEFAULT_BODY_SIZE_LIMIT: ByteSize = ByteSize(16 << 20);

/// The default `sample-limit`: far above any single exporter's usual output (node_exporter
/// has about 1,000 samples, a large kube-state-metrics 100,000), far below what would exhaust
/// memory.
pub const DEFAULT_SAMPLE_LIMIT: usize = 200_000;

fn default_body_size_limit() -> ByteSize {
    DEFAULT_BODY_SIZE_LIMIT
}

fn default_sample_limit() -> usize {
    DEFAULT_SAMPLE_LIMIT
}

/// A size in bytes, written in config as an integer or a string with a unit (`B`, `KB`,
/// `MB`, `GB`, `TB` in powers of 1000; `KiB`, `MiB`, `GiB`, `TiB` in powers of 1024).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parse `"10MB"`, `"512 KiB"` or `"1024"`.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("invalid size {text:?}: expected a number"))?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" => 1_000,
            "mb" | "m" => 1_000_000,
            "gb" | "g" => 1_000_000_000,
            "tb" | "t" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(format!("invalid size {text:?}: unknown unit {unit:?}")),
        };
        let bytes = number * scale as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(format!("invalid size {text:?}: too large"));
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(bytes) => Ok(ByteSize(bytes)),
            Raw::Text(text) => ByteSize::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(text: &str) -> Result<ScraperConfig, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn kapacitor_example_gets_kapacitor_defaults() {
        let config = from_json(
            r#"{"enabled": true, "name": "testjob", "db": "prom", "rp": "autogen",
                "type": "prometheus", "scrape-interval": "2s", "scrape-timeout": "1s",
                "discoverer-id": "local", "discoverer-service": "static-discovery"}"#,
        )
        .unwrap();
        assert!(config.enabled);
        assert_eq!(config.scheme, "http");
        assert_eq!(config.metrics_path, "/metrics");
        assert_eq!(config.scrape_interval, Duration::from_secs(2));
        assert_eq!(config.scrape_timeout, Duration::from_secs(1));
        assert!(config.honor_timestamps);
        assert_eq!(config.compat, Compat::Prometheus);
        assert_eq!(config.health, HealthConfig::default());
        assert_eq!(config.validate(), Ok(()));

        let minimal = from_json(r#"{"name": "a", "db": "d", "rp": "r"}"#).unwrap();
        assert!(!minimal.enabled);
        assert_eq!(minimal.scrape_interval, Duration::from_secs(60));
        assert_eq!(minimal.scrape_timeout, Duration::from_secs(10));
    }

    /// The example in this module's documentation.
    #[test]
    fn documented_toml_example_parses_and_validates() {
        let source = include_str!("config.rs");
        let example: String = source
            .lines()
            .skip_while(|line| !line.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| format!("{}\n", line.trim_start_matches("//!").trim_start()))
            .collect();
        #[derive(serde::Deserialize)]
        struct File {
            scraper: Vec<ScraperConfig>,
        }
        let file: File = toml::from_str(&example).unwrap();
        let config = &file.scraper[0];
        assert_eq!(config.name, "node");
        assert_eq!(config.body_size_limit, ByteSize(10_000_000));
        assert_eq!(config.health.open_duration, Duration::from_secs(60));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = from_json(r#"{"name": "a", "db": "d", "rp": "r", "scrape-intervall": "1s"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown field `scrape-intervall`"),
            "{error}"
        );
        let error = from_json(r#"{"name": "a", "db": "d", "rp": "r", "health": {"open": "1s"}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `open`"), "{error}");
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut config = ScraperConfig::new("", "", "r");
        config.scheme = "ftp".to_owned();
        config.scrape_timeout = Duration::from_secs(120);
        config.ssl_cert = "cert.pem".to_owned();
        config.ssl_server_name = "metrics internal".to_owned();
        config.health.failures_before_open = 0;
        let problems = config.validate().unwrap_err();
        assert_eq!(
            problems,
            [
                "scraper \"\": name is required",
                "scraper \"\": db is required",
                "scraper \"\": scheme must be \"http\" or \"https\", not \"ftp\"",
                "scraper \"\": scrape-timeout (2m0s) is longer than scrape-interval (1m0s)",
                "scraper \"\": ssl-cert and ssl-key must be set together",
                "scraper \"\": ssl-server-name \"metrics internal\" is not a host name",
                "scraper \"\": health.failures-before-open must be at least 1",
            ]
        );
    }

    #[test]
    fn ssl_server_name_takes_host_names() {
        for name in ["metrics.internal", "Node-1.Example", "10.0.0.1"] {
            let mut config = ScraperConfig::new("j", "d", "r");
            config.ssl_server_name = name.to_owned();
            assert!(config.validate().is_ok(), "{name}");
        }
    }

    #[test]
    fn relabel_rules_are_parsed_and_checked() {
        let config = from_json(
            r#"{"name": "a", "db": "d", "rp": "r",
                "relabel-configs": [{"source_labels": ["__meta_x"], "action": "keep", "regex": "y"}],
                "metric-relabel-configs": [{"action": "labeldrop", "regex": "tmp_.*"}]}"#,
        )
        .unwrap();
        assert_eq!(config.relabel_configs.len(), 1);
        assert_eq!(config.metric_relabel_configs.len(), 1);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("1024"), Ok(ByteSize(1024)));
        assert_eq!(ByteSize::parse("10MB"), Ok(ByteSize(10_000_000)));
        assert_eq!(ByteSize::parse("512 KiB"), Ok(ByteSize(512 * 1024)));
        assert_eq!(ByteSize::parse("1.5GiB"), Ok(ByteSize(1_610_612_736)));
        assert!(ByteSize::parse("ten").is_err());
        assert!(ByteSize::parse("1XB").is_err());
        let config =
            from_json(r#"{"name": "a", "db": "d", "rp": "r", "body-size-limit": "1KB"}"#).unwrap();
        assert_eq!(config.body_size_limit, ByteSize(1000));
    }

    #[test]
    fn round_trips_through_serde_and_redacts_secrets() {
        let mut config = ScraperConfig::new("a", "d", "r");
        config.password = "secret".to_owned();
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(from_json(&text).unwrap(), config);
        let redacted = config.redacted();
        assert_eq!(redacted.password, "<redacted>");
        assert_eq!(redacted.bearer_token, "");
    }
}
