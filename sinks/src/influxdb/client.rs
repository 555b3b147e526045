//! HTTP delivery of line-protocol batches to InfluxDB 1.x/2.x and VictoriaMetrics.
//!
//! One [`Client`] per sink keeps a keep-alive connection pool (reqwest). A write tries the
//! configured URLs in order, starting from the last one that worked, and classifies the
//! answer into a [`WriteOutcome`]; back-off between rounds is the delivery task's job.

use std::io::Write;

use crate::SinkError;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::{StatusCode, Url};
use weir_engine::line_protocol::Precision;

use super::config::{ApiVersion, InfluxDbConfig};
use crate::buffer::BatchKey;

/// The longest server message kept (in errors, stats and logs).
const MAX_MESSAGE_BYTES: usize = 1024;

/// What became of one write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// Every point was accepted.
    Written,
    /// InfluxDB accepted some points and rejected `dropped` (400 `partial write ... dropped=N`).
    Partial {
        /// Points the server rejected.
        dropped: u64,
        /// The server's message.
        message: String,
    },
    /// 404 `database not found`.
    DatabaseNotFound {
        /// The server's message.
        message: String,
    },
    /// Another 4xx: sending the same batch again cannot succeed.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Connection error, timeout, 408, 429 or 5xx on every URL: try again later.
    Retry {
        /// What the last URL said.
        message: String,
    },
}

/// An HTTP client for one sink.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    urls: Vec<Url>,
    api: ApiVersion,
    username: String,
    password: String,
    token: String,
    org: String,
    bucket: String,
    gzip: bool,
    current: usize,
}

impl Client {
    /// Build the client; reads the TLS files named in the config.
    pub fn new(config: &InfluxDbConfig) -> Result<Client, SinkError> {
        let place = format!("influxdb {:?}", config.name);
        let mut urls = Vec::new();
        for url in &config.urls {
            let parsed = Url::parse(url).map_err(|error| {
                SinkError::Unavailable(format!("{place}: invalid url {url:?}: {error}"))
            })?;
            urls.push(parsed);
        }
        if urls.is_empty() {
            return Err(SinkError::Unavailable(format!(
                "{place}: no urls configured"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.effective_timeout())
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")));
        if !config.ssl_ca.is_empty() {
            let pem = std::fs::read(&config.ssl_ca).map_err(|error| {
                SinkError::Unavailable(format!("{place}: ssl-ca {}: {error}", config.ssl_ca))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
                SinkError::Unavailable(format!("{place}: ssl-ca {}: {error}", config.ssl_ca))
            })?;
            builder = builder.tls_certs_merge(certificates);
        }
        if !config.ssl_cert.is_empty() {
            let mut pem = std::fs::read(&config.ssl_cert).map_err(|error| {
                SinkError::Unavailable(format!("{place}: ssl-cert {}: {error}", config.ssl_cert))
            })?;
            let key = std::fs::read(&config.ssl_key).map_err(|error| {
                SinkError::Unavailable(format!("{place}: ssl-key {}: {error}", config.ssl_key))
            })?;
            pem.push(b'\n');
            pem.extend_from_slice(&key);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|error| {
                SinkError::Unavailable(format!("{place}: ssl-cert/ssl-key: {error}"))
            })?;
            builder = builder.identity(identity);
        }
        if config.insecure_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|error| SinkError::Unavailable(format!("{place}: http client: {error}")))?;
        Ok(Client {
            http,
            urls,
            api: config.api,
            username: config.username.clone(),
            password: config.password.clone(),
            token: config.token.clone(),
            org: config.org.clone(),
            bucket: config.bucket.clone(),
            gzip: config.gzip,
            current: 0,
        })
    }

    /// The precision lines must be encoded in for this API (v2 knows no `m` or `h`).
    pub fn wire_precision(api: ApiVersion, precision: Precision) -> Precision {
        match (api, precision) {
            (ApiVersion::V2, Precision::Minutes | Precision::Hours) => Precision::Seconds,
            _ => precision,
        }
    }

    /// Send one batch of lines, failing over through the URLs in order.
    pub async fn write(&mut self, key: &BatchKey, lines: &[u8]) -> WriteOutcome {
        let body = if self.gzip {
            match gzip(lines) {
                Ok(body) => Bytes::from(body),
                Err(error) => {
                    return WriteOutcome::Retry {
                        message: format!("gzip: {error}"),
                    };
                }
            }
        } else {
            Bytes::copy_from_slice(lines)
        };
        let mut last = WriteOutcome::Retry {
            message: "no urls".to_owned(),
        };
        for attempt in 0..self.urls.len() {
            let url_idx = (self.current + attempt) % self.urls.len();
            let outcome = self.write_to(url_idx, key, body.clone()).await;
            if !matches!(outcome, WriteOutcome::Retry { .. }) {
                self.current = url_idx;
                return outcome;
            }
            last = outcome;
        }
        self.current = (self.current + 1) % self.urls.len();
        last
    }

    async fn write_to(&self, url_idx: usize, key: &BatchKey, body: Bytes) -> WriteOutcome {
        let base = &self.urls[url_idx];
        let base_text = base.as_str().trim_end_matches('/');
        let request = match self.api {
            ApiVersion::V1 => {
                let mut query = vec![
                    ("db", key.database.as_str()),
                    ("precision", key.precision.as_str()),
                ];
                if !key.retention_policy.is_empty() {
                    query.push(("rp", key.retention_policy.as_str()));
                }
                let mut request = self.http.post(format!("{base_text}/write")).query(&query);
                if !self.username.is_empty() {
                    request = request.basic_auth(&self.username, Some(&self.password));
                }
                request
            }
            ApiVersion::V2 => {
                let bucket = if !self.bucket.is_empty() {
                    self.bucket.clone()
                } else if key.retention_policy.is_empty() {
                    key.database.clone()
                } else {
                    format!("{}/{}", key.database, key.retention_policy)
                };
                let precision = match key.precision {
                    Precision::Nanoseconds => "ns",
                    Precision::Microseconds => "us",
                    Precision::Milliseconds => "ms",
                    _ => "s",
                };
                let query = [
                    ("org", self.org.as_str()),
                    ("bucket", &bucket),
                    ("precision", precision),
                ];
                let mut request = self
                    .http
                    .post(format!("{base_text}/api/v2/write"))
                    .query(&query);
                if !self.token.is_empty() {
                    request = request.header("Authorization", format!("Token {}", self.token));
                }
                request
            }
        };
        let mut request = request.header("Content-Type", "text/plain; charset=utf-8");
        if self.gzip {
            request = request.header("Content-Encoding", "gzip");
        }
        let place = redacted_base(base);
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                return WriteOutcome::Retry {
                    message: format!("{place}: {}", error_chain(&error)),
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return WriteOutcome::Written;
        }
        let text = response.text().await.unwrap_or_default();
        let message = format!("{place}: {status}: {}", server_message(&text));
        classify(status, &text, message)
    }

    /// `CREATE DATABASE` through `/query` on the first URL that answers (v1 only).
    pub async fn create_database(&mut self, database: &str) -> Result<(), SinkError> {
        if self.api != ApiVersion::V1 {
            return Err(SinkError::Unavailable(
                "creating databases needs api = \"v1\"".to_owned(),
            ));
        }
        let statement = format!(
            "CREATE DATABASE \"{}\"",
            database.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let mut last_error = SinkError::Unavailable("no urls".to_owned());
        for attempt in 0..self.urls.len() {
            let url_idx = (self.current + attempt) % self.urls.len();
            let base = &self.urls[url_idx];
            let place = redacted_base(base);
            let mut request = self
                .http
                .post(format!("{}/query", base.as_str().trim_end_matches('/')))
                .form(&[("q", statement.as_str())]);
            if !self.username.is_empty() {
                request = request.basic_auth(&self.username, Some(&self.password));
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let text = response.text().await.unwrap_or_default();
                    // InfluxDB answers 200 with an error inside the results on failure.
                    if text.contains("\"error\"") {
                        return Err(SinkError::Rejected {
                            url: place,
                            status: 200,
                            body: server_message(&text),
                        });
                    }
                    return Ok(());
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    last_error = SinkError::Rejected {
                        url: place,
                        status,
                        body: server_message(&text),
                    };
                }
                Err(error) => {
                    last_error = SinkError::Unavailable(format!("{place}: {}", error_chain(&error)))
                }
            }
        }
        Err(last_error)
    }
}

/// Classify a non-2xx answer.
fn classify(status: StatusCode, text: &str, message: String) -> WriteOutcome {
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        return WriteOutcome::Retry { message };
    }
    if code == 404 && text.contains("database not found") {
        return WriteOutcome::DatabaseNotFound { message };
    }
    if code == 400 && text.contains("partial write") {
        if let Some(dropped) = parse_dropped(text) {
            return WriteOutcome::Partial { dropped, message };
        }
    }
    WriteOutcome::Rejected {
        status: code,
        message,
    }
}

/// The `N` of InfluxDB's `... dropped=N` (the last one in the body).
pub fn parse_dropped(text: &str) -> Option<u64> {
    let start = text.rfind("dropped=")? + "dropped=".len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The `error` (v1) or `message` (v2) of a JSON error body, else the text; at most 1 KiB.
pub fn server_message(text: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(text).ok();
    let message = parsed
        .as_ref()
        .and_then(|value| value.get("error").or_else(|| value.get("message")))
        .and_then(|value| value.as_str())
        .unwrap_or(text)
        .trim();
    let mut end = message.len().min(MAX_MESSAGE_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_owned()
}

fn redacted_base(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // The URL has a password, so it can take another one.
        let _ = url.set_password(Some(super::config::REDACTED));
    }
    url.as_str().trim_end_matches('/').to_owned()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn gzip(lines: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(lines.len() / 4), Compression::fast());
    encoder.write_all(lines)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_influxdb_answers() {
        let partial = r#"{"error":"partial write: field type conflict: input field \"used\" on measurement \"mem\" is type string, already exists as type integer dropped=1"}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, partial, "m".into()),
            WriteOutcome::Partial {
                dropped: 1,
                message: "m".into()
            }
        );
        let not_found = r#"{"error":"database not found: \"nodb\""}"#;
        assert_eq!(
            classify(StatusCode::NOT_FOUND, not_found, "m".into()),
            WriteOutcome::DatabaseNotFound {
                message: "m".into()
            }
        );
        let bad = r#"{"error":"unable to parse 'cpu,host=a value=': missing field value"}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, bad, "m".into()),
            WriteOutcome::Rejected {
                status: 400,
                message: "m".into()
            }
        );
        let rp = r#"{"error":"retention policy not found: nope"}"#;
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, rp, "m".into()),
            WriteOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, "", "m".into()),
            WriteOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, "404 page not found", "m".into()),
            WriteOutcome::Rejected { status: 404, .. }
        ));
    }

    #[test]
    fn extracts_server_messages_and_dropped_counts() {
        assert_eq!(server_message(r#"{"error":"boom"}"#), "boom");
        assert_eq!(
            server_message(r#"{"code":"invalid","message":"bad"}"#),
            "bad"
        );
        assert_eq!(server_message(" plain text\n"), "plain text");
        assert_eq!(server_message(&"é".repeat(1000)).len(), 1024);
        assert_eq!(parse_dropped("partial write: x dropped=12"), Some(12));
        assert_eq!(parse_dropped("partial write: x"), None);
    }

    #[test]
    fn v2_has_no_minute_or_hour_precision() {
        assert_eq!(
            Client::wire_precision(ApiVersion::V2, Precision::Hours),
            Precision::Seconds
        );
        assert_eq!(
            Client::wire_precision(ApiVersion::V1, Precision::Hours),
            Precision::Hours
        );
        assert_eq!(
            Client::wire_precision(ApiVersion::V2, Precision::Milliseconds),
            Precision::Milliseconds
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let body = gzip(b"m v=1i 1\n").unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "m v=1i 1\n");
    }

    #[test]
    fn rejects_configs_without_urls() {
        let config = InfluxDbConfig {
            urls: Vec::new(),
            ..InfluxDbConfig::default()
        };
        assert!(Client::new(&config).is_err());
        let config = InfluxDbConfig {
            ssl_ca: "/nonexistent/ca.pem".into(),
            ..InfluxDbConfig::default()
        };
        let error = Client::new(&config).unwrap_err().to_string();
        assert!(error.contains("ssl-ca /nonexistent/ca.pem"), "{error}");
    }
}
