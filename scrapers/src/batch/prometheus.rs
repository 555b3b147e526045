//! A `[[prometheus]]` source: PromQL through `/api/v1/query_range`, matrix results only.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::{FieldValue, Fields, QueryError, QueryRequest, QuerySeries, Tags};

/// `[[prometheus]]`: a Prometheus (or compatible) server that batch tasks query.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrometheusConfig {
    /// Source name; `query(...).cluster(name)` selects it.
    pub name: String,
    /// A disabled source is not used.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The source used when a query names none (else the first enabled one).
    #[serde(default)]
    pub default: bool,
    /// Base URL (`http://127.0.0.1:9090`); `/api/v1/query_range` is appended.
    pub url: String,
    /// Per-query timeout.
    #[serde(default = "default_timeout", with = "weir_engine::duration::serde")]
    pub timeout: Duration,
    /// Sent with every query in the `api-key-header` header.
    #[serde(default)]
    pub api_key: String,
    /// The header that carries `api-key`; with `Authorization` (the default) the value is
    /// sent as `Bearer <api-key>`.
    #[serde(default = "default_api_key_header")]
    pub api_key_header: String,
}

impl fmt::Debug for PrometheusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusConfig")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("default", &self.default)
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("api_key_header", &self.api_key_header)
            .finish()
    }
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_api_key_header() -> String {
    "Authorization".to_owned()
}

impl PrometheusConfig {
    /// A config with the defaults.
    pub fn new(name: &str, url: &str) -> PrometheusConfig {
        PrometheusConfig {
            name: name.to_owned(),
            enabled: true,
            default: false,
            url: url.to_owned(),
            timeout: default_timeout(),
            api_key: String::new(),
            api_key_header: default_api_key_header(),
        }
    }

    /// Every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let name = &self.name;
        if name.is_empty() {
            errors.push("name must not be empty".to_owned());
        }
        match reqwest::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(url) => errors.push(format!(
                "{name:?}: url {:?} must be http or https, not {}",
                self.url,
                url.scheme()
            )),
            Err(error) => errors.push(format!("{name:?}: url {:?}: {error}", self.url)),
        }
        if self.timeout.is_zero() {
            errors.push(format!("{name:?}: timeout must be positive"));
        }
        if reqwest::header::HeaderName::from_bytes(self.api_key_header.as_bytes()).is_err() {
            errors.push(format!(
                "{name:?}: api-key-header {:?} is not a header name",
                self.api_key_header
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A client for one `[[prometheus]]` source.
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    config: PrometheusConfig,
    client: reqwest::Client,
}

impl PrometheusSource {
    /// Build the client.
    pub fn new(config: PrometheusConfig) -> Result<PrometheusSource, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .timeout(config.timeout)
            .build()
            .map_err(|error| format!("prometheus {:?}: {error}", config.name))?;
        Ok(PrometheusSource { config, client })
    }

    /// The config it was built from.
    pub fn config(&self) -> &PrometheusConfig {
        &self.config
    }

    /// Run `request.query` over `[start, end]` every `step`.
    pub async fn query_range(
        &self,
        request: &QueryRequest,
    ) -> Result<Vec<QuerySeries>, QueryError> {
        let name = &self.config.name;
        let url = format!(
            "{}/api/v1/query_range",
            self.config.url.trim_end_matches('/')
        );
        let step = request.step.unwrap_or(60_000_000_000);
        let form = [
            ("query", request.query.clone()),
            ("start", seconds(request.start)),
            ("end", seconds(request.end)),
            ("step", seconds(step)),
        ];
        let mut builder = self.client.post(&url).form(&form);
        if !self.config.api_key.is_empty() {
            let value = if self
                .config
                .api_key_header
                .eq_ignore_ascii_case("authorization")
            {
                format!("Bearer {}", self.config.api_key)
            } else {
                self.config.api_key.clone()
            };
            builder = builder.header(self.config.api_key_header.as_str(), value);
        }
        let response = builder.send().await.map_err(|error| {
            QueryError(format!(
                "prometheus {name:?} at {url}: {}",
                error_chain(&error)
            ))
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| {
            QueryError(format!("prometheus {name:?}: reading the answer: {error}"))
        })?;
        parse_query_range(&body).map_err(|why| {
            if status.is_success() {
                QueryError(format!("prometheus {name:?}: {why}"))
            } else {
                QueryError(format!(
                    "prometheus {name:?} returned {}: {why}",
                    status.as_u16()
                ))
            }
        })
    }
}

/// An error with its sources (`error sending request: connection refused`).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Nanoseconds as Prometheus' float seconds, to the millisecond it keeps.
fn seconds(nanos: i64) -> String {
    let millis = nanos.div_euclid(1_000_000);
    format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct AnswerData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: Tags,
    #[serde(default)]
    values: Vec<(serde_json::Number, String)>,
}

/// A `query_range` answer → one series per matrix entry (`__name__` becomes the name, NaN
/// samples are dropped). Anything but a successful matrix is an error with the server's
/// message.
pub fn parse_query_range(body: &[u8]) -> Result<Vec<QuerySeries>, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|error| {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        format!("not a Prometheus API answer ({error}): {text}")
    })?;
    if answer.status != "success" {
        return Err(
            match (answer.error_type.is_empty(), answer.error.is_empty()) {
                (_, true) => format!("status {:?} without an error message", answer.status),
                (true, false) => answer.error,
                (false, false) => format!("{}: {}", answer.error_type, answer.error),
            },
        );
    }
    let data = answer
        .data
        .ok_or_else(|| "a successful answer without data".to_owned())?;
    if data.result_type != "matrix" {
        return Err(format!(
            "the query returned a {} result; batch queries need a range vector (matrix)",
            data.result_type
        ));
    }
    let matrix: Vec<MatrixSeries> = serde_json::from_value(data.result)
        .map_err(|error| format!("malformed matrix: {error}"))?;
    matrix
        .into_iter()
        .map(|series| {
            let mut tags = series.metric;
            let name = tags.remove("__name__").unwrap_or_default();
            let mut rows = Vec::with_capacity(series.values.len());
            for (time, value) in series.values {
                let seconds = time
                    .as_f64()
                    .ok_or_else(|| format!("bad sample time {time}"))?;
                let value: f64 = match value.as_str() {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    other => other
                        .parse()
                        .map_err(|_| format!("bad sample value {other:?}"))?,
                };
                if value.is_nan() {
                    continue;
                }
                let nanos = (seconds * 1000.0).round() as i64 * 1_000_000;
                rows.push((
                    nanos,
                    Fields::from([("value".into(), FieldValue::Float(value))]),
                ));
            }
            Ok(QuerySeries { name, tags, rows })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_become_series() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","instance":"127.0.0.1:19090","job":"static"},
             "values":[[1795311916.123,"1"],[1795311921,"NaN"],[1795311926.1,"+Inf"]]},
            {"metric":{},"values":[[1795311916.123,"2.5"]]}]}}"#;
        let series = parse_query_range(body).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].name, "up");
        assert_eq!(series[0].tags["job"], "static");
        assert!(!series[0].tags.contains_key("__name__"));
        assert_eq!(series[0].rows.len(), 2, "NaN is dropped");
        assert_eq!(series[0].rows[0].0, 1_795_311_916_123_000_000);
        assert_eq!(series[0].rows[1].0, 1_795_311_926_100_000_000);
        assert_eq!(
            series[0].rows[1].1["value"],
            FieldValue::Float(f64::INFINITY)
        );
        assert_eq!(series[1].name, "");
    }

    #[test]
    fn errors_carry_the_server_message() {
        let error = parse_query_range(
            br#"{"status":"error","errorType":"bad_data","error":"1:4: parse error: unclosed left parenthesis"}"#,
        )
        .unwrap_err();
        assert_eq!(
            error,
            "bad_data: 1:4: parse error: unclosed left parenthesis"
        );
        let error = parse_query_range(
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .unwrap_err();
        assert!(error.contains("vector result"), "{error}");
        let error = parse_query_range(b"<html>bad gateway</html>").unwrap_err();
        assert!(error.contains("<html>bad gateway"), "{error}");
    }

    #[test]
    fn times_are_float_seconds_to_the_millisecond() {
        assert_eq!(seconds(1_700_000_000_123_456_789), "1700000000.123");
        assert_eq!(seconds(15_000_000_000), "15.000");
        assert_eq!(seconds(500_000), "0.000");
    }

    /// Answer one HTTP request with `answer`; returns the request as text.
    async fn serve_once(
        listener: tokio::net::TcpListener,
        status: &'static str,
        answer: &'static str,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).to_string()
    }

    #[tokio::test]
    async fn sends_the_range_step_and_api_key() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_once(
            listener,
            "200 OK",
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        ));
        let mut config = PrometheusConfig::new("p", &format!("http://{address}/prefix/"));
        config.api_key = "s3cret".into();
        let source = PrometheusSource::new(config).unwrap();
        let request = QueryRequest {
            language: weir_engine::QueryLanguage::PromQl,
            cluster: None,
            query: "sum(rate(x[1m]))".into(),
            start: 1_700_000_000_123_000_000,
            end: 1_700_000_300_000_000_000,
            step: Some(15_000_000_000),
        };
        assert!(source.query_range(&request).await.unwrap().is_empty());
        let seen = server.await.unwrap();
        assert!(
            seen.starts_with("POST /prefix/api/v1/query_range HTTP/1.1"),
            "{seen}"
        );
        assert!(
            seen.to_ascii_lowercase()
                .contains("authorization: bearer s3cret"),
            "{seen}"
        );
        assert!(
            seen.ends_with("query=sum%28rate%28x%5B1m%5D%29%29&start=1700000000.123&end=1700000300.000&step=15.000"),
            "{seen}"
        );

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_once(
            listener,
            "503 Service Unavailable",
            r#"{"status":"error","errorType":"unavailable","error":"too many queries"}"#,
        ));
        let mut config = PrometheusConfig::new("p", &format!("http://{address}"));
        config.api_key = "k".into();
        config.api_key_header = "X-API-Key".into();
        let source = PrometheusSource::new(config).unwrap();
        let error = source.query_range(&request).await.unwrap_err();
        assert_eq!(
            error.0,
            "prometheus \"p\" returned 503: unavailable: too many queries"
        );
        let seen = server.await.unwrap();
        assert!(
            seen.to_ascii_lowercase().contains("x-api-key: k\r\n"),
            "{seen}"
        );
    }

    #[test]
    fn config_validation_reports_every_problem() {
        let mut config = PrometheusConfig::new("", "ftp://x");
        config.timeout = Duration::ZERO;
        config.api_key_header = "bad header".into();
        let errors = config.validate().unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            PrometheusConfig::new("p", "http://127.0.0.1:9090")
                .validate()
                .is_ok()
        );
    }
}
