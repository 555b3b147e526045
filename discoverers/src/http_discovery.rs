//! `[[http-discovery]]`: Prometheus' HTTP SD, a URL that answers with file_sd JSON.
//!
//! Every `refresh-interval` the URL is fetched with `Accept: application/json` and
//! `X-Prometheus-Refresh-Interval-Seconds`; the answer must be `200` with a JSON content type
//! and a list of `{"targets": [...], "labels": {...}}` groups. Group `i` becomes the source
//! `<url>:<i>` and carries `__meta_url`. As in Prometheus, a failed fetch keeps the last good
//! targets. Auth is basic (`username`/`password`) or `bearer-token`; TLS uses Kapacitor's keys.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::relabel::is_valid_label_name;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::http::{Endpoint, TlsFiles};
use crate::refresh::Source;

/// The label naming the URL a target came from.
pub const URL_LABEL: &str = "__meta_url";

/// One `[[http-discovery]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpDiscoveryConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The `http` or `https` URL that answers with the target groups.
    pub url: String,
    /// How often the URL is fetched; also the request timeout (default 1m, as Prometheus).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// Basic auth user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// CA bundle (PEM) to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    /// Client certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    /// Client key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
    /// The name the server certificate is checked against (the URL's host is still dialled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_server_name: Option<String>,
    /// Do not verify the server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(60)
}

impl HttpDiscoveryConfig {
    /// Check the URL, auth and TLS keys.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Http, &self.id);
        match reqwest::Url::parse(&self.url) {
            Ok(url) if url.scheme() != "http" && url.scheme() != "https" => {
                problems.push(format!("url {:?}: scheme must be http or https", self.url));
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                problems.push(format!("url {:?} has no host", self.url));
            }
            Ok(_) => {}
            Err(error) => problems.push(format!("url {:?}: {error}", self.url)),
        }
        if self.password.is_some() && self.username.is_none() {
            problems.push("password needs a username");
        }
        if self.username.is_some() && self.bearer_token.is_some() {
            problems.push("username and bearer-token cannot both be set");
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            problems.push("ssl-cert and ssl-key must be given together");
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        problems.finish()
    }
}

/// One target group of the answer (unknown fields are ignored, as Prometheus does).
#[derive(Debug, Deserialize)]
struct HttpGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Fetches one URL.
pub struct HttpDiscoverer {
    config: HttpDiscoveryConfig,
    /// Built on first use.
    endpoint: Option<Endpoint>,
}

impl HttpDiscoverer {
    /// The discoverer of one section; the client is built on the first round.
    pub fn new(config: &HttpDiscoveryConfig) -> HttpDiscoverer {
        HttpDiscoverer {
            config: config.clone(),
            endpoint: None,
        }
    }

    async fn endpoint(&mut self) -> Result<Endpoint, DiscoverError> {
        if let Some(endpoint) = &self.endpoint {
            return Ok(endpoint.clone());
        }
        let config = &self.config;
        let tls = TlsFiles {
            ca: config.ssl_ca.as_deref(),
            cert: config.ssl_cert.as_deref(),
            key: config.ssl_key.as_deref(),
            insecure_skip_verify: config.insecure_skip_verify,
        };
        let builder = reqwest::Client::builder().timeout(config.refresh_interval);
        let endpoint = Endpoint::new(&config.url, tls, config.ssl_server_name.as_deref(), builder)
            .await
            .map_err(DiscoverError::Invalid)?;
        self.endpoint = Some(endpoint.clone());
        Ok(endpoint)
    }
}

impl Discoverer for HttpDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let endpoint = self.endpoint().await?;
        let shown = &self.config.url;
        let mut request = endpoint
            .get("")
            .map_err(DiscoverError::Invalid)?
            .header("Accept", "application/json")
            .header(
                "X-Prometheus-Refresh-Interval-Seconds",
                self.config.refresh_interval.as_secs_f64().to_string(),
            );
        if let Some(username) = &self.config.username {
            request = request.basic_auth(username, self.config.password.as_deref());
        }
        if let Some(token) = &self.config.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| DiscoverError::Peer(format!("{shown}: {error}")))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(DiscoverError::Peer(format!("{shown} returned {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json_content_type(&content_type) {
            return Err(DiscoverError::Invalid(format!(
                "{shown}: unsupported content type {content_type:?} (want application/json)"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| DiscoverError::Peer(format!("{shown}: {error}")))?;
        parse(shown, &body).map_err(DiscoverError::Invalid)
    }
}

impl Source for HttpDiscoverer {}

/// Prometheus accepts `application/json`, optionally with `charset=utf-8` (any case).
fn is_json_content_type(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let Some(rest) = value.strip_prefix("application/json") else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(parameter) = rest.strip_prefix(';') else {
        return false;
    };
    matches!(
        parameter.trim_start(),
        "charset=utf-8" | "charset=\"utf-8\""
    )
}

/// The target groups of an answer from `url`; a `null` group or a bad label name fails it.
fn parse(url: &str, body: &[u8]) -> Result<Vec<TargetGroup>, String> {
    let groups: Option<Vec<Option<HttpGroup>>> = serde_json::from_slice(body).map_err(|error| {
        format!(
            "{url}: line {} column {}: {error}",
            error.line(),
            error.column()
        )
    })?;
    let mut out = Vec::new();
    for (idx, group) in groups.unwrap_or_default().into_iter().enumerate() {
        let Some(group) = group else {
            return Err(format!("{url}: target group {idx} is null"));
        };
        if let Some(name) = group.labels.keys().find(|name| !is_valid_label_name(name)) {
            return Err(format!(
                "{url}: target group {idx}: {name:?} is not a valid label name"
            ));
        }
        let mut labels = group.labels;
        labels.insert(URL_LABEL.to_owned(), url.to_owned());
        let targets = group
            .targets
            .into_iter()
            .map(|target| Labels::from([(ADDRESS_LABEL.to_owned(), target)]))
            .collect();
        out.push(TargetGroup {
            source: format!("{url}:{idx}"),
            targets,
            labels,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> HttpDiscoveryConfig {
        toml::from_str(&format!(
            "id = \"h\"\nurl = \"http://127.0.0.1:1/sd\"\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn defaults_and_validation() {
        let ok = config("");
        assert_eq!(ok.refresh_interval, Duration::from_secs(60));
        ok.validate().unwrap();
        let bad = config(
            "password = \"p\"\nbearer-token = \"t\"\nssl-key = \"k\"\nrefresh-interval = \"0s\"",
        );
        assert_eq!(bad.validate().unwrap_err().len(), 3, "{:?}", bad.validate());
        let both = config("username = \"u\"\nbearer-token = \"t\"");
        assert!(both.validate().unwrap_err()[0].message.contains("both"));
        for (url, want) in [
            ("ftp://x/sd", "scheme"),
            ("not a url", "relative URL"),
            ("http://:80/sd", "empty host"),
            ("unix:/run/sd.sock", "scheme"),
        ] {
            let mut bad = config("");
            bad.url = url.to_owned();
            let errors = bad.validate().unwrap_err();
            assert!(errors[0].message.contains(want), "{url}: {errors:?}");
        }
    }

    #[test]
    fn groups_get_url_and_source() {
        let body = br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "x"}, "extra": 1},
                        {"targets": ["c:3"]}]"#;
        let groups = parse("http://sd/x", body).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, "http://sd/x:0");
        assert_eq!(groups[1].source, "http://sd/x:1");
        assert_eq!(groups[0].labels[URL_LABEL], "http://sd/x");
        assert_eq!(groups[0].labels["env"], "x");
        assert_eq!(groups[1].labels[URL_LABEL], "http://sd/x");
        assert_eq!(groups[0].targets[1][ADDRESS_LABEL], "b:2");
        assert!(parse("u", b"null").unwrap().is_empty());
        assert!(parse("u", b"[]").unwrap().is_empty());
    }

    #[test]
    fn bad_answers_are_named() {
        let error = parse("u", br#"[{"targets": []}, null]"#).unwrap_err();
        assert_eq!(error, "u: target group 1 is null");
        let error = parse("u", br#"[{"labels": {"bad-name": "x"}}]"#).unwrap_err();
        assert!(
            error.contains("\"bad-name\" is not a valid label name"),
            "{error}"
        );
        let error = parse("u", b"[\n{\"targets\": 1}]").unwrap_err();
        assert!(error.starts_with("u: line 2 column"), "{error}");
    }

    #[test]
    fn content_types_as_prometheus() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"utf-8\"",
            " application/json ",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/json; charset=latin1",
            "application/jsonx",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }
}
