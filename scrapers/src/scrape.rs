//! One scrape of one target: the HTTP fetch with its limits, and the pure conversion of a
//! body into points (relabelling, tags, limits, synthetic series).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::time::Duration;

use weir_engine::{Labels, Point, Tags};

use crate::config::{Compat, ScraperConfig};
use crate::exposition::{self, Format, Sample};
use crate::target::{JOB_LABEL, TargetSpec};

/// What Prometheus 2.42 sends, so exporters answer in the format we parse best.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,\
    text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// The header telling exporters how long they have.
pub const TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";
const NAME_LABEL: &str = "__name__";

/// Why a scrape failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// The request could not be sent or the body not read.
    #[error("{url}: {reason}")]
    Request {
        /// The scrape URL.
        url: String,
        /// The error chain, joined with `: `.
        reason: String,
    },
    /// The target answered with a non-2xx status.
    #[error("{url}: server returned HTTP status {status}")]
    Status {
        /// The scrape URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The scrape took longer than `scrape-timeout`.
    #[error("{url}: scrape timed out after {}", weir_engine::duration::format(*timeout))]
    Timeout {
        /// The scrape URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The body was larger than `body-size-limit`; reading stopped at the limit.
    #[error("{url}: body size limit of {limit} bytes exceeded")]
    BodyTooLarge {
        /// The scrape URL.
        url: String,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// More samples than `sample-limit` after metric relabelling.
    #[error("{url}: sample limit of {limit} exceeded ({samples} samples)")]
    SampleLimit {
        /// The scrape URL.
        url: String,
        /// The configured limit.
        limit: usize,
        /// Samples counted before giving up.
        samples: usize,
    },
    /// A series had more labels than `label-limit`.
    #[error("{url}: label limit of {limit} exceeded by series {series} on line {line}")]
    LabelLimit {
        /// The scrape URL.
        url: String,
        /// The configured limit.
        limit: usize,
        /// The offending series name.
        series: String,
        /// Its line in the body.
        line: usize,
    },
}

/// A fetched body and its Content-Type.
#[derive(Debug)]
pub struct Fetched {
    /// The uncompressed body.
    pub body: Vec<u8>,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
}

/// Fetch a target's body, within the scrape timeout and body-size limit.
pub async fn fetch(
    client: &reqwest::Client,
    config: &ScraperConfig,
    url: &reqwest::Url,
) -> Result<Fetched, ScrapeError> {
    fetch_via(client, config, url, None).await
}

/// [`fetch`], requesting `via`'s URL with its `Host` header instead of `url` (with
/// `ssl-server-name`, whose name the URL carries); errors name `url`.
pub async fn fetch_via(
    client: &reqwest::Client,
    config: &ScraperConfig,
    url: &reqwest::Url,
    via: Option<(&reqwest::Url, &str)>,
) -> Result<Fetched, ScrapeError> {
    let timeout = config.scrape_timeout;
    match tokio::time::timeout(timeout, fetch_inner(client, config, url, via)).await {
        Ok(result) => result,
        Err(_) => Err(ScrapeError::Timeout {
            url: url.to_string(),
            timeout,
        }),
    }
}

async fn fetch_inner(
    client: &reqwest::Client,
    config: &ScraperConfig,
    url: &reqwest::Url,
    via: Option<(&reqwest::Url, &str)>,
) -> Result<Fetched, ScrapeError> {
    let request_error = |error: reqwest::Error| ScrapeError::Request {
        url: url.to_string(),
        reason: error_chain(&error.without_url()),
    };
    let mut request = client
        .get(via.map_or(url, |(dialled, _)| dialled).clone())
        .header(reqwest::header::ACCEPT, ACCEPT_HEADER)
        .header(TIMEOUT_HEADER, format_seconds(config.scrape_timeout));
    if let Some((_, host)) = via {
        request = request.header(reqwest::header::HOST, host);
    }
    if !config.bearer_token.is_empty() {
        request = request.bearer_auth(&config.bearer_token);
    } else if !config.username.is_empty() || !config.password.is_empty() {
        request = request.basic_auth(&config.username, Some(&config.password));
    }
    let mut response = request.send().await.map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(ScrapeError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let limit = config.body_size_limit.0;
    let too_large = || ScrapeError::BodyTooLarge {
        url: url.to_string(),
        limit,
    };
    if limit > 0
        && response
            .content_length()
            .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let capacity = response
        .content_length()
        .unwrap_or(64 * 1024)
        .min(if limit > 0 { limit } else { 64 << 20 });
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if limit > 0 && (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { body, content_type })
}

/// Seconds as Go's `strconv.FormatFloat(s, 'f', -1, 64)` writes them: `10`, `1.5`.
fn format_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    format!("{seconds}")
}

/// An error and its sources, joined with `: `, so "connection refused" is visible.
pub fn error_chain(error: &dyn std::error::Error) -> String {
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

/// Series hashes of one scrape. foldhash instead of SipHash: the keys are our own hashes,
/// not attacker-chosen, and SipHash was a tenth of the conversion cost.
pub type SeriesSet = HashSet<u64, foldhash::fast::FixedState>;

/// The hasher of series identities (name and tags). Fixed seed: hashes only need to agree
/// between scrapes of one process.
const SERIES_HASHER: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x7765_6972);

/// The points of one successful scrape, before the synthetic series are added.
#[derive(Debug, Default)]
pub struct Converted {
    /// One point per kept sample.
    pub points: Vec<Point>,
    /// Samples in the body.
    pub samples_scraped: usize,
    /// Samples left after metric relabelling.
    pub samples_post_relabel: usize,
    /// Malformed lines skipped.
    pub parse_errors: usize,
    /// The first malformed line, for the target view.
    pub first_parse_error: Option<String>,
    /// Hashes of every series, to count new series at the next scrape.
    pub series: SeriesSet,
}

/// Turn a body into points for a target. `scrape_time_ns` is used for samples without
/// their own timestamp (or all of them without `honor-timestamps`).
pub fn convert(
    config: &ScraperConfig,
    target: &TargetSpec,
    body: &[u8],
    format: Format,
    scrape_time_ns: i64,
) -> Result<Converted, ScrapeError> {
    // One line per sample at most: reserving up front saves the Vec doubling (and copying)
    // of ~80-byte points and the rehashing of the series set. Counting newlines runs at
    // memory speed.
    let mut capacity = memchr::memchr_iter(b'\n', body).count() + 1;
    if config.sample_limit > 0 {
        capacity = capacity.min(config.sample_limit);
    }
    let mut converted = Converted {
        points: Vec::with_capacity(capacity),
        series: SeriesSet::with_capacity_and_hasher(capacity, SERIES_HASHER),
        ..Converted::default()
    };
    let mut failure: Option<ScrapeError> = None;
    let url = || target.url.to_string();
    let on_sample = |sample: &Sample<'_>| {
        converted.samples_scraped += 1;
        if failure.is_some() {
            return;
        }
        let (name, tags) = if config.metric_relabel_configs.is_empty() {
            let labels = sample
                .labels
                .iter()
                .map(|label| (label.name, label.value.as_ref()));
            (
                sample.name.to_owned(),
                tags_for(config, target, sample.name, labels),
            )
        } else {
            let Some((name, labels)) = relabel_sample(config, sample) else {
                return;
            };
            let labels = labels
                .iter()
                .map(|(label, value)| (label.as_str(), value.as_str()));
            let tags = tags_for(config, target, &name, labels);
            (name, tags)
        };
        converted.samples_post_relabel += 1;
        if config.sample_limit > 0 && converted.samples_post_relabel > config.sample_limit {
            // Keep counting but stop building points: memory stays bounded by the limit.
            converted.points = Vec::new();
            failure = Some(ScrapeError::SampleLimit {
                url: url(),
                limit: config.sample_limit,
                samples: converted.samples_post_relabel,
            });
            return;
        }
        if config.label_limit > 0 && tags.len() > config.label_limit {
            converted.points = Vec::new();
            failure = Some(ScrapeError::LabelLimit {
                url: url(),
                limit: config.label_limit,
                series: name,
                line: sample.line,
            });
            return;
        }
        if sample.value.is_nan() {
            // Kapacitor drops NaN samples (and with them stale markers).
            return;
        }
        let time = match (config.honor_timestamps, sample.timestamp_ms) {
            (true, Some(ms)) => ms.saturating_mul(1_000_000),
            _ => scrape_time_ns,
        };
        converted
            .series
            .insert(SERIES_HASHER.hash_one((&name, &tags)));
        converted
            .points
            .push(Point::gauge(name, tags, sample.value, time));
    };
    let mut parse_errors = 0usize;
    let mut first_parse_error = None;
    exposition::parse(body, format, on_sample, |line, reason| {
        parse_errors += 1;
        if first_parse_error.is_none() {
            first_parse_error = Some(format!("line {line}: {reason}"));
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    converted.parse_errors = parse_errors;
    converted.first_parse_error = first_parse_error;
    Ok(converted)
}

/// Apply `metric-relabel-configs`; `None` when the sample is dropped.
fn relabel_sample(config: &ScraperConfig, sample: &Sample<'_>) -> Option<(String, Labels)> {
    let mut labels: Labels = sample
        .labels
        .iter()
        .map(|label| (label.name.to_owned(), label.value.as_ref().to_owned()))
        .collect();
    labels.insert(NAME_LABEL.to_owned(), sample.name.to_owned());
    let mut labels = weir_engine::relabel::process(labels, &config.metric_relabel_configs)?;
    let name = labels.remove(NAME_LABEL).filter(|name| !name.is_empty())?;
    Some((name, labels))
}

/// The tags of a point: the target's labels, the sample's labels (renamed
/// `exported_<name>` on a clash unless `honor-labels`), without empty values; Kapacitor
/// compatibility removes `job` and adds `__name__`.
fn tags_for<'l>(
    config: &ScraperConfig,
    target: &TargetSpec,
    name: &str,
    sample_labels: impl IntoIterator<Item = (&'l str, &'l str)>,
) -> Tags {
    let mut tags = target.labels.clone();
    for (label, value) in sample_labels {
        if label == NAME_LABEL {
            continue;
        }
        if config.honor_labels || !tags.contains_key(label) {
            if value.is_empty() {
                tags.remove(label);
            } else {
                tags.insert(label.to_owned(), value.to_owned());
            }
        } else if !value.is_empty() {
            tags.insert(format!("exported_{label}"), value.to_owned());
        }
    }
    if config.compat == Compat::Kapacitor {
        tags.remove(JOB_LABEL);
        tags.insert(NAME_LABEL.to_owned(), name.to_owned());
    }
    Tags::from(tags)
}

/// The five synthetic series Prometheus adds per target and scrape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeReport {
    /// Whether the scrape succeeded.
    pub up: bool,
    /// How long it took.
    pub duration: Duration,
    /// Samples in the body.
    pub samples_scraped: usize,
    /// Samples after metric relabelling.
    pub samples_post_relabel: usize,
    /// Series not seen in the previous scrape.
    pub series_added: usize,
}

/// Points for the synthetic series of one scrape.
pub fn synthetic_points(
    config: &ScraperConfig,
    target: &TargetSpec,
    report: ScrapeReport,
    time_ns: i64,
) -> Vec<Point> {
    let series = [
        ("up", if report.up { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", report.duration.as_secs_f64()),
        ("scrape_samples_scraped", report.samples_scraped as f64),
        (
            "scrape_samples_post_metric_relabeling",
            report.samples_post_relabel as f64,
        ),
        ("scrape_series_added", report.series_added as f64),
    ];
    series
        .into_iter()
        .map(|(name, value)| {
            let tags = tags_for(config, target, name, []);
            Point::gauge(name, tags, value, time_ns)
        })
        .collect()
}

#[cfg(test)]
mod tests;
