//! `[[influxdb]]` sections: Kapacitor's keys plus weir's API, batching and buffer settings.
//!
//! ```toml
//! [[influxdb]]
//!   name = "default"
//!   enabled = true
//!   default = true
//!   urls = ["http://127.0.0.1:8086", "http://127.0.0.1:8087"]   # fail over in order
//!   username = ""
//!   password = ""
//!   timeout = "10s"
//!   default-retention-policy = ""
//!   api = "v1"              # or "v2" with token, org, bucket (InfluxDB 2.x, VictoriaMetrics)
//!   precision = "ns"        # n/ns, u/us, ms, s, m, h (v2 writes m and h as s)
//!   batch-size = 5000
//!   flush-interval = "1s"
//!   gzip = false
//!   buffer = "disk"         # or "memory" (bounded, back-pressure instead of disk)
//!   buffer-max-size = "500MB"
//!   fsync-interval = "500ms"
//! ```
//!
//! Kapacitor's subscription and UDP keys (`udp-bind`, `subscriptions`, ...) are accepted so a
//! migrated config loads, and ignored: weir does not use InfluxDB subscriptions.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use weir_engine::duration;
use weir_engine::line_protocol::Precision;

/// What `redacted()` puts in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Which write API the peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ApiVersion {
    /// InfluxDB 1.x `/write?db=&rp=` with basic auth.
    #[default]
    V1,
    /// InfluxDB 2.x `/api/v2/write?org=&bucket=` with `Authorization: Token`.
    V2,
}

/// Where queued points wait for delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BufferKind {
    /// A segmented, checksummed log under the data directory (survives restarts).
    #[default]
    Disk,
    /// A bounded in-memory queue; a full queue refuses writes (back-pressure).
    Memory,
}

/// One `[[influxdb]]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct InfluxDbConfig {
    /// Sink name; `influxDBOut().cluster(name)` selects it.
    pub name: String,
    /// A disabled sink is not started.
    pub enabled: bool,
    /// The sink used when a write names no cluster.
    pub default: bool,
    /// Base URLs, tried in order.
    pub urls: Vec<String>,
    /// Basic-auth user (v1).
    pub username: String,
    /// Basic-auth password (v1).
    pub password: String,
    /// PEM file of CA certificates to trust.
    pub ssl_ca: String,
    /// PEM client certificate.
    pub ssl_cert: String,
    /// PEM client key.
    pub ssl_key: String,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
    /// Per-request timeout; `0s` means 30s.
    #[serde(with = "duration::serde")]
    pub timeout: Duration,
    /// Retention policy for writes that name none; empty means the database's default.
    pub default_retention_policy: String,
    /// Write API.
    pub api: ApiVersion,
    /// v2 token.
    pub token: String,
    /// v2 organisation.
    pub org: String,
    /// v2 bucket; empty means `database/retention-policy` (InfluxDB 1.8+/VictoriaMetrics).
    pub bucket: String,
    /// Timestamp precision of written lines, unless a write asks for another.
    pub precision: String,
    /// Points per HTTP request.
    pub batch_size: usize,
    /// Longest wait before a partial batch is sent.
    #[serde(with = "duration::serde")]
    pub flush_interval: Duration,
    /// Gzip request bodies.
    pub gzip: bool,
    /// Disk or memory queue.
    pub buffer: BufferKind,
    /// Queue cap in bytes (`"500MB"`, `"64KiB"` or a number).
    #[serde(
        serialize_with = "serialize_size",
        deserialize_with = "deserialize_size"
    )]
    pub buffer_max_size: u64,
    /// How often the disk buffer is fsynced.
    #[serde(with = "duration::serde")]
    pub fsync_interval: Duration,

    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_bind: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_buffer: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_read_buffer: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_subscriptions: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_protocol: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_mode: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_subscriptions: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kapacitor_hostname: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<serde_json::Value>,
    /// Accepted from Kapacitor configs and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_sync_interval: Option<serde_json::Value>,
}

impl Default for InfluxDbConfig {
    fn default() -> Self {
        InfluxDbConfig {
            name: "default".to_owned(),
            enabled: true,
            default: false,
            urls: vec!["http://localhost:8086".to_owned()],
            username: String::new(),
            password: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            timeout: Duration::ZERO,
            default_retention_policy: String::new(),
            api: ApiVersion::V1,
            token: String::new(),
            org: String::new(),
            bucket: String::new(),
            precision: "ns".to_owned(),
            batch_size: 5000,
            flush_interval: Duration::from_secs(1),
            gzip: false,
            buffer: BufferKind::Disk,
            buffer_max_size: 500 * 1000 * 1000,
            fsync_interval: Duration::from_millis(500),
            udp_bind: None,
            udp_buffer: None,
            udp_read_buffer: None,
            startup_timeout: None,
            disable_subscriptions: None,
            subscription_protocol: None,
            subscription_mode: None,
            subscriptions: None,
            excluded_subscriptions: None,
            kapacitor_hostname: None,
            http_port: None,
            subscriptions_sync_interval: None,
        }
    }
}

/// The smallest accepted `buffer-max-size`.
pub const MIN_BUFFER_SIZE: u64 = 4096;

impl InfluxDbConfig {
    /// A copy safe to log or serve: password, token and URL passwords replaced.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if !copy.password.is_empty() {
            copy.password = REDACTED.to_owned();
        }
        if !copy.token.is_empty() {
            copy.token = REDACTED.to_owned();
        }
        copy.urls = copy.urls.iter().map(|url| redact_url(url)).collect();
        copy
    }

    /// Check the section without touching the network or files; reports every problem.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let place = format!("influxdb {:?}", self.name);
        if self.name.is_empty() {
            problems.push("influxdb: name must not be empty".to_owned());
        }
        if self.urls.is_empty() {
            problems.push(format!("{place}: urls must list at least one url"));
        }
        for url in &self.urls {
            match reqwest::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(parsed) => problems.push(format!(
                    "{place}: url {:?} has scheme {:?}, expected http or https",
                    redact_url(url),
                    parsed.scheme()
                )),
                Err(error) => problems.push(format!(
                    "{place}: invalid url {:?}: {error}",
                    redact_url(url)
                )),
            }
        }
        if Precision::from_query(&self.precision).is_none() {
            problems.push(format!(
                "{place}: precision {:?} is not one of n, ns, u, us, ms, s, m, h",
                self.precision
            ));
        }
        if self.batch_size == 0 {
            problems.push(format!("{place}: batch-size must be at least 1"));
        }
        if self.flush_interval.is_zero() {
            problems.push(format!("{place}: flush-interval must be more than 0s"));
        }
        if self.fsync_interval.is_zero() {
            problems.push(format!("{place}: fsync-interval must be more than 0s"));
        }
        if self.buffer_max_size < MIN_BUFFER_SIZE {
            problems.push(format!(
                "{place}: buffer-max-size must be at least {MIN_BUFFER_SIZE} bytes"
            ));
        }
        if self.ssl_cert.is_empty() != self.ssl_key.is_empty() {
            problems.push(format!(
                "{place}: ssl-cert and ssl-key must be set together"
            ));
        }
        if self.api == ApiVersion::V1 && (!self.token.is_empty() || !self.org.is_empty()) {
            problems.push(format!("{place}: token and org need api = \"v2\""));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The configured precision (validated; nanoseconds if invalid).
    pub fn precision(&self) -> Precision {
        Precision::from_query(&self.precision).unwrap_or_default()
    }

    /// The request timeout actually used.
    pub fn effective_timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            self.timeout
        }
    }
}

fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password fails only for URLs that cannot have one, and this one has one.
            let _ = parsed.set_password(Some(REDACTED));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Parse `500MB`, `64KiB`, `1G`, `4096` (decimal units KB/MB/GB, binary KiB/MiB/GiB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..number_len]
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number and a unit"))?;
    let scale: f64 = match text[number_len..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        unit => return Err(format!("invalid size {text:?}: unknown unit {unit:?}")),
    };
    Ok((number * scale).round() as u64)
}

fn serialize_size<S: Serializer>(size: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(*size)
}

fn deserialize_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Bytes(bytes) => Ok(bytes),
        Raw::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let config: InfluxDbConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.batch_size, 5000);
        assert_eq!(config.flush_interval, Duration::from_secs(1));
        assert_eq!(config.buffer, BufferKind::Disk);
        assert_eq!(config.buffer_max_size, 500_000_000);
        assert_eq!(config.fsync_interval, Duration::from_millis(500));
        assert_eq!(config.api, ApiVersion::V1);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn reads_kebab_case_and_kapacitor_keys() {
        let json = r#"{
            "name": "remote", "enabled": true, "default": true,
            "urls": ["http://a:8086", "http://b:8086"], "username": "u", "password": "p",
            "ssl-ca": "", "ssl-cert": "", "ssl-key": "", "insecure-skip-verify": true,
            "timeout": "5s", "default-retention-policy": "autogen",
            "udp-bind": "", "udp-buffer": 1000, "udp-read-buffer": 0, "startup-timeout": "5m0s",
            "disable-subscriptions": true, "subscription-protocol": "http",
            "subscription-mode": "cluster", "subscriptions": {"db": ["autogen"]},
            "excluded-subscriptions": {"_kapacitor": ["autogen"]}, "kapacitor-hostname": "",
            "http-port": 0, "subscriptions-sync-interval": "1m0s",
            "api": "v2", "token": "t", "org": "o", "bucket": "b", "precision": "s",
            "batch-size": 10, "flush-interval": "100ms", "gzip": true, "buffer": "memory",
            "buffer-max-size": "64KiB", "fsync-interval": "1s"
        }"#;
        let config: InfluxDbConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.api, ApiVersion::V2);
        assert_eq!(config.buffer, BufferKind::Memory);
        assert_eq!(config.buffer_max_size, 65536);
        assert_eq!(config.precision(), Precision::Seconds);
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        let back: InfluxDbConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn rejects_unknown_keys() {
        let error = serde_json::from_str::<InfluxDbConfig>(r#"{"batchsize": 1}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `batchsize`"),
            "{error}"
        );
    }

    #[test]
    fn validate_reports_every_problem() {
        let config = InfluxDbConfig {
            name: String::new(),
            urls: vec!["ftp://x".into(), "not a url".into()],
            precision: "y".into(),
            batch_size: 0,
            buffer_max_size: 10,
            ssl_cert: "c.pem".into(),
            token: "t".into(),
            ..InfluxDbConfig::default()
        };
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 8, "{problems:#?}");
        assert!(problems[1].contains("scheme \"ftp\""), "{problems:#?}");
    }

    #[test]
    fn redacts_secrets() {
        let config = InfluxDbConfig {
            password: "secret".into(),
            token: "tok".into(),
            urls: vec!["http://user:pw@host:8086/".into()],
            ..InfluxDbConfig::default()
        };
        let redacted = config.redacted();
        assert_eq!(redacted.password, REDACTED);
        assert_eq!(redacted.token, REDACTED);
        assert!(!redacted.urls[0].contains("pw"), "{}", redacted.urls[0]);
        assert_eq!(InfluxDbConfig::default().redacted().password, "");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("MB").is_err());
    }
}
