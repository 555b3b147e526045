//! Wiring of the CI change sink: discovery sources feed complete collections into the CI
//! store on a dedicated writer thread, so a burst of changes never stalls anything else.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_discoverers::{DiscoveryManager, HealthState};
use weir_engine::{CiWrite, TargetGroup};
use weir_sinks::ci::{
    Change, ChangeQuery, CiDetail, CiKey, CiQuery, CiState, CiStore, Observation, extract,
};

use crate::tasks::now_nanos;

/// `[ci]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiConfig {
    /// Keep CIs and their history.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How long change history is kept.
    #[serde(default = "default_retention", with = "weir_engine::duration::serde")]
    pub history_retention: Duration,
    /// POST each change as JSON to these URLs.
    #[serde(default)]
    pub webhooks: Vec<String>,
}

fn default_true() -> bool {
    true
}

fn default_retention() -> Duration {
    Duration::from_secs(90 * 86_400)
}

impl Default for CiConfig {
    fn default() -> CiConfig {
        CiConfig {
            enabled: true,
            history_retention: default_retention(),
            webhooks: Vec::new(),
        }
    }
}

enum Command {
    Collection {
        source: String,
        observations: Vec<Observation>,
        complete: bool,
    },
    Expire {
        before: i64,
    },
}

/// The CI service: a writer thread plus read access for the API.
pub struct Cis {
    store: Arc<Mutex<CiStore>>,
    commands: crossbeam_channel::Sender<Command>,
    /// Changes recorded so far (for `/metrics`).
    pub changes_recorded: Arc<std::sync::atomic::AtomicU64>,
}

impl Cis {
    /// Open the store under `data_dir/ci` and start the writer.
    pub fn start(data_dir: &Path, webhooks: Vec<String>) -> anyhow::Result<Cis> {
        let store = Arc::new(Mutex::new(CiStore::open(&data_dir.join("ci"))?));
        let (commands, receiver) = crossbeam_channel::bounded::<Command>(1024);
        let changes_recorded = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer_store = store.clone();
        let counter = changes_recorded.clone();
        let runtime = tokio::runtime::Handle::current();
        let client = reqwest::Client::new();
        std::thread::Builder::new().name("weir-ci".to_owned()).spawn(move || {
            for command in receiver {
                let mut store = writer_store.lock().unwrap_or_else(|p| p.into_inner());
                let now = now_nanos();
                let result = match command {
                    // Links can only change where something changed: after a discovery
                    // change every link is recomputed, after a pipeline change only the
                    // changed items' links.
                    Command::Collection { source, observations, complete } => store
                        .apply(&source, observations, complete, now)
                        .and_then(|mut changes| {
                            let pipeline = source.starts_with("pipeline/");
                            if !changes.is_empty() && pipeline {
                                let ids: Vec<String> =
                                    changes.iter().map(|change| change.key.id()).collect();
                                changes.extend(store.enrich_targets(now, Some(&ids))?);
                            } else if !changes.is_empty() {
                                changes.extend(store.enrich_dns(now)?);
                                changes.extend(store.enrich_targets(now, None)?);
                            }
                            // A creation its links amended in this write is one entry.
                            Ok(weir_sinks::ci::diff::fold_created(changes))
                        }),
                    Command::Expire { before } => store.expire_history(before).map(|_| Vec::new()),
                };
                drop(store);
                match result {
                    Ok(changes) => {
                        counter.fetch_add(changes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        for change in &changes {
                            tracing::debug!(ci = %change.key, kind = change.kind.as_str(), "ci change");
                        }
                        if !webhooks.is_empty() && !changes.is_empty() {
                            forward(&runtime, &client, &webhooks, changes);
                        }
                    }
                    Err(error) => tracing::error!(%error, "ci store write failed"),
                }
            }
        })?;
        Ok(Cis {
            store,
            commands,
            changes_recorded,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&CiStore) -> T) -> T {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&store)
    }

    /// Record a complete collection of a discovery source.
    pub fn collection(&self, service: &str, id: &str, groups: &[TargetGroup]) {
        let observations = extract::from_discovery(service, id, groups);
        let source = format!("{service}/{id}");
        if self
            .commands
            .try_send(Command::Collection {
                source: source.clone(),
                observations,
                complete: true,
            })
            .is_err()
        {
            tracing::warn!(%source, "ci writer is behind; this collection is skipped (the next one catches up)");
        }
    }

    /// Record observations (never complete: no deletions); false when the writer is behind
    /// and they were dropped.
    pub fn observations(&self, source: String, observations: Vec<Observation>) -> bool {
        let sent = self.commands.try_send(Command::Collection {
            source: source.clone(),
            observations,
            complete: false,
        });
        if sent.is_err() {
            tracing::warn!(%source, "ci writer is behind; these observations are skipped");
        }
        sent.is_ok()
    }

    /// Record what a task's `ciOut()` observed; the source is `pipeline/<task>`.
    pub fn pipeline_observations(&self, write: CiWrite) -> bool {
        let (source, observations) = from_pipeline(write);
        self.observations(source, observations)
    }

    /// Drop history older than `retention`.
    pub fn expire(&self, retention: Duration) {
        let before =
            now_nanos().saturating_sub(i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX));
        let _ = self.commands.try_send(Command::Expire { before });
    }

    /// Current items.
    pub fn list(&self, query: &CiQuery) -> anyhow::Result<Vec<CiState>> {
        Ok(self.read(|store| store.list(query))?)
    }

    /// One item.
    pub fn get(&self, id: &str) -> anyhow::Result<Option<CiDetail>> {
        Ok(self.read(|store| store.get(id))?)
    }

    /// Ids of the items of `kind:key` in any source.
    pub fn find(&self, kind_key: &str) -> anyhow::Result<Vec<String>> {
        Ok(self.read(|store| store.find(kind_key))?)
    }

    /// History.
    pub fn changes(&self, query: &ChangeQuery) -> anyhow::Result<Vec<Change>> {
        Ok(self.read(|store| store.changes(query))?)
    }
}

/// A `ciOut` hand-over as store observations: the task is the source, each item keeps its
/// kind and key, its tracked configuration and its latest metrics.
pub fn from_pipeline(write: CiWrite) -> (String, Vec<Observation>) {
    let source = format!("pipeline/{}", write.task);
    let observations = write
        .observations
        .into_iter()
        .map(|observation| Observation {
            key: Some(CiKey::new(
                source.clone(),
                observation.kind,
                observation.key,
            )),
            config: observation.config,
            metrics: observation.metrics,
            relations: Vec::new(),
            addresses: Vec::new(),
        })
        .collect();
    (source, observations)
}

fn forward(
    runtime: &tokio::runtime::Handle,
    client: &reqwest::Client,
    urls: &[String],
    changes: Vec<Change>,
) {
    for url in urls {
        for change in &changes {
            let request = client
                .post(url)
                .json(change)
                .timeout(Duration::from_secs(10));
            let url = url.clone();
            runtime.spawn(async move {
                if let Err(error) = request.send().await.and_then(|r| r.error_for_status()) {
                    tracing::warn!(%url, %error, "ci webhook failed");
                }
            });
        }
    }
}

/// Follow a discovery source: each update of a healthy, enabled source is a complete
/// collection. While a source is pending, disabled or failing its updates are ignored, so
/// it never causes deletions.
pub fn follow_source(cis: Arc<Cis>, discovery: DiscoveryManager, service: String, id: String) {
    let mut receiver = discovery.subscribe(&service, &id);
    tokio::spawn(async move {
        loop {
            let groups = receiver.borrow_and_update().clone();
            if source_is_healthy(&discovery, &id) {
                cis.collection(&service, &id, &groups);
            }
            if receiver.changed().await.is_err() {
                return;
            }
        }
    });
}

fn source_is_healthy(discovery: &DiscoveryManager, id: &str) -> bool {
    discovery
        .sources()
        .into_iter()
        .find(|status| status.id == id)
        .is_some_and(|status| {
            status.enabled && matches!(status.state, HealthState::Healthy | HealthState::Degraded)
        })
}

/// Parse an API or CLI time: a duration ago (`1h`, `30m`), nanoseconds since the epoch, or
/// RFC 3339 UTC (`2026-01-02T15:04:05Z`).
pub fn parse_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    if let Ok(nanos) = text.parse::<i64>() {
        return Some(nanos);
    }
    if let Ok(ago) = weir_engine::duration::parse(text) {
        return Some(now.saturating_sub(i64::try_from(ago.as_nanos()).unwrap_or(i64::MAX)));
    }
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (
        clock_parts.next()??,
        clock_parts.next()??,
        clock_parts.next()??,
    );
    let nanos_fraction = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").get(..9)?.parse::<i64>().ok()?
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000_000) + nanos_fraction)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = 10_000_000_000_000;
        assert_eq!(parse_time("1s", now), Some(now - 1_000_000_000));
        assert_eq!(parse_time("42", now), Some(42));
        assert_eq!(
            parse_time("2021-01-01T00:00:02.5Z", now),
            Some(1_609_459_202_500_000_000)
        );
        assert_eq!(parse_time("yesterday", now), None);
    }
}
