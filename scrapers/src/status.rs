//! The data behind the operator views (scrapers, targets, "collect now") and the
//! self-metrics text. The binary serves these; nothing here does I/O.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;
use weir_engine::Labels;
use weir_engine::health_history::HealthHistory;

use crate::health::TargetHealth;
use crate::manager::{ScraperShared, TargetShared, lock};

/// One scraper, as the scrapers view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScraperStatus {
    /// The scraper's name (its job).
    pub name: String,
    /// Whether it scrapes (config `enabled`, changed by `set_enabled`).
    pub enabled: bool,
    /// Database of its points.
    pub db: String,
    /// Retention policy of its points.
    pub rp: String,
    /// The discoverer it follows.
    pub discoverer_id: String,
    /// The kind of that discoverer.
    pub discoverer_service: String,
    /// Go-style scrape interval (`1m0s`).
    pub scrape_interval: String,
    /// Go-style scrape timeout.
    pub scrape_timeout: String,
    /// Targets being scraped.
    pub targets: usize,
    /// Targets whose last scrape succeeded.
    pub targets_up: usize,
    /// Targets whose circuit is open.
    pub circuits_open: usize,
    /// Discovered targets that could not be scraped, with reasons.
    pub dropped_targets: Vec<String>,
    /// The most recent scrape of any target (RFC 3339).
    pub last_collection: Option<String>,
    /// The next scheduled scrape of any target (RFC 3339), when enabled.
    pub next_collection: Option<String>,
    /// Samples of the latest scrape of every target, summed.
    pub samples_per_interval: usize,
    /// Scrapes attempted since the scraper started.
    pub scrapes_total: u64,
    /// Scrapes that failed.
    pub errors_total: u64,
    /// Malformed lines skipped.
    pub parse_errors_total: u64,
    /// Health changes of its targets, circuit openings included.
    pub circuit_transitions: u64,
    /// Why the scraper cannot scrape at all (a bad TLS file, ...).
    pub error: Option<String>,
}

/// One target, as the targets view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    /// The scraper it belongs to.
    pub scraper: String,
    /// What is fetched.
    pub url: String,
    /// Labels before relabelling.
    pub discovered_labels: Labels,
    /// Labels after relabelling: the tags of its points.
    pub labels: Labels,
    /// Health; `disabled` while its scraper is.
    pub state: TargetHealth,
    /// When it was last scraped (RFC 3339).
    pub last_scrape: Option<String>,
    /// How long the last scrape took.
    pub last_duration_seconds: Option<f64>,
    /// Samples of the last scrape, after metric relabelling.
    pub last_samples: usize,
    /// Why the last scrape failed.
    pub last_error: Option<String>,
    /// The first malformed line of the last scrape.
    pub last_parse_error: Option<String>,
    /// The next scheduled scrape (RFC 3339).
    pub next_scrape: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Scrapes attempted.
    pub scrapes_total: u64,
    /// Scrapes that failed.
    pub failures_total: u64,
    /// Scrapes skipped because the circuit was open.
    pub skipped_total: u64,
    /// Health changes, circuit openings included.
    pub circuit_transitions: u64,
    /// The last failures and health transitions (switching the scraper included), timed,
    /// oldest first.
    pub history: HealthHistory,
}

/// The answer of "collect now".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectSummary {
    /// The scraper collected.
    pub scraper: String,
    /// Targets scraped.
    pub targets: usize,
    /// Points produced, synthetic series excluded.
    pub samples: usize,
    /// The targets that failed and why.
    pub failures: Vec<CollectFailure>,
    /// Wall time of the whole collection.
    pub duration_seconds: f64,
}

/// One failed target of a "collect now".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectFailure {
    /// The target's URL.
    pub url: String,
    /// The target's `instance`.
    pub instance: String,
    /// Why it failed.
    pub reason: String,
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

impl ScraperStatus {
    pub(crate) fn of(shared: &ScraperShared) -> ScraperStatus {
        let config = &shared.config;
        let enabled = shared.enabled.load(Ordering::Relaxed);
        let mut status = ScraperStatus {
            name: config.name.clone(),
            enabled,
            db: config.db.clone(),
            rp: config.rp.clone(),
            discoverer_id: config.discoverer_id.clone(),
            discoverer_service: config.discoverer_service.clone(),
            scrape_interval: weir_engine::duration::format(config.scrape_interval),
            scrape_timeout: weir_engine::duration::format(config.scrape_timeout),
            targets: 0,
            targets_up: 0,
            circuits_open: 0,
            dropped_targets: lock(&shared.dropped).clone(),
            last_collection: None,
            next_collection: None,
            samples_per_interval: 0,
            scrapes_total: 0,
            errors_total: 0,
            parse_errors_total: 0,
            circuit_transitions: 0,
            error: shared.client_error().map(str::to_owned),
        };
        let mut last: Option<SystemTime> = None;
        let mut next: Option<SystemTime> = None;
        for target in lock(&shared.targets).values() {
            let state = lock(&target.state);
            status.targets += 1;
            match state.health.state() {
                _ if !enabled => {}
                TargetHealth::Healthy | TargetHealth::Degraded => status.targets_up += 1,
                TargetHealth::CircuitOpen => status.circuits_open += 1,
                TargetHealth::Unknown | TargetHealth::Unhealthy | TargetHealth::Disabled => {}
            }
            status.samples_per_interval += state.last_samples;
            status.scrapes_total += state.scrapes_total;
            status.errors_total += state.failures_total;
            status.parse_errors_total += state.parse_errors_total;
            status.circuit_transitions += state.health.transitions();
            last = last.max(state.last_scrape);
            next = match (next, state.next_scrape) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        status.last_collection = last.map(rfc3339);
        status.next_collection = if enabled { next.map(rfc3339) } else { None };
        status
    }
}

impl TargetStatus {
    pub(crate) fn all_of(shared: &ScraperShared) -> Vec<TargetStatus> {
        let targets: Vec<Arc<TargetShared>> = lock(&shared.targets).values().cloned().collect();
        let enabled = shared.enabled.load(Ordering::Relaxed);
        let mut statuses: Vec<TargetStatus> = targets
            .iter()
            .map(|target| TargetStatus::of(&shared.config.name, enabled, target))
            .collect();
        statuses.sort_by(|a, b| a.url.cmp(&b.url));
        statuses
    }

    fn of(scraper: &str, enabled: bool, target: &TargetShared) -> TargetStatus {
        let state = lock(&target.state);
        TargetStatus {
            scraper: scraper.to_owned(),
            url: target.spec.url.to_string(),
            discovered_labels: target.spec.discovered.clone(),
            labels: target.spec.labels.clone(),
            state: if enabled {
                state.health.state()
            } else {
                TargetHealth::Disabled
            },
            last_scrape: state.last_scrape.map(rfc3339),
            last_duration_seconds: state.last_duration.map(|d| d.as_secs_f64()),
            last_samples: state.last_samples,
            last_error: state.last_error.clone(),
            last_parse_error: state.last_parse_error.clone(),
            next_scrape: state.next_scrape.filter(|_| enabled).map(rfc3339),
            consecutive_failures: state.health.consecutive_failures(),
            scrapes_total: state.scrapes_total,
            failures_total: state.failures_total,
            skipped_total: state.skipped_total,
            circuit_transitions: state.health.transitions(),
            history: state.history.clone(),
        }
    }
}

/// Escape a label value for the Prometheus text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The self-metrics families: name, type, help.
const FAMILIES: [(&str, &str, &str); 7] = [
    (
        "weir_scraper_enabled",
        "gauge",
        "Whether the scraper is enabled.",
    ),
    (
        "weir_scrape_target_up",
        "gauge",
        "Whether the last scrape of the target succeeded.",
    ),
    (
        "weir_scrape_target_duration_seconds",
        "gauge",
        "Duration of the last scrape.",
    ),
    (
        "weir_scrape_target_samples",
        "gauge",
        "Samples of the last scrape.",
    ),
    (
        "weir_scrape_target_scrapes_total",
        "counter",
        "Scrapes attempted.",
    ),
    (
        "weir_scrape_target_failures_total",
        "counter",
        "Scrapes that failed.",
    ),
    (
        "weir_scrape_target_circuit_transitions_total",
        "counter",
        "Target health changes.",
    ),
];

/// Append the self-metrics of these scrapers as Prometheus text.
pub(crate) fn write_metrics(scrapers: &[Arc<ScraperShared>], out: &mut String) {
    let statuses: Vec<(String, bool, Vec<TargetStatus>)> = scrapers
        .iter()
        .map(|shared| {
            (
                shared.config.name.clone(),
                shared.enabled.load(Ordering::Relaxed),
                TargetStatus::all_of(shared),
            )
        })
        .collect();
    for (family_idx, (family, kind, help)) in FAMILIES.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
        for (scraper, enabled, targets) in &statuses {
            if family_idx == 0 {
                let _ = writeln!(
                    out,
                    "{family}{{scraper=\"{}\"}} {}",
                    escape(scraper),
                    u8::from(*enabled)
                );
                continue;
            }
            for target in targets {
                let value = match family_idx {
                    1 => f64::from(u8::from(matches!(
                        target.state,
                        TargetHealth::Healthy | TargetHealth::Degraded
                    ))),
                    2 => target.last_duration_seconds.unwrap_or(0.0),
                    3 => target.last_samples as f64,
                    4 => target.scrapes_total as f64,
                    5 => target.failures_total as f64,
                    _ => target.circuit_transitions as f64,
                };
                let instance = target.labels.get("instance").map_or("", String::as_str);
                let _ = writeln!(
                    out,
                    "{family}{{scraper=\"{}\",instance=\"{}\",url=\"{}\"}} {value}",
                    escape(scraper),
                    escape(instance),
                    escape(&target.url)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn empty_metrics_are_valid_exposition() {
        let mut out = String::new();
        write_metrics(&[], &mut out);
        let mut errors = 0;
        let summary = crate::exposition::parse(
            out.as_bytes(),
            crate::exposition::Format::PrometheusText,
            |_| {},
            |_, _| errors += 1,
        );
        assert_eq!(errors, 0);
        assert_eq!(summary.samples, 0);
        assert!(out.contains("# TYPE weir_scrape_target_failures_total counter"));
    }
}
