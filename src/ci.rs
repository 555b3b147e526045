//! Wiring of the CI change sink: discovery sources feed complete collections into the CI
//! store on a dedicated writer thread, so a burst of changes never stalls anything else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_discoverers::DiscoveryManager;
use weir_engine::TargetGroup;
use weir_sinks::ci::{Change, ChangeQuery, CiDetail, CiQuery, CiState, CiStore, Observation, extract};

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
        CiConfig { enabled: true, history_retention: default_retention(), webhooks: Vec::new() }
    }
}

enum Command {
    Collection { source: String, observations: Vec<Observation>, complete: bool },
    Expire { before: i64 },
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
                    Command::Collection { source, observations, complete } => store
                        .apply(&source, observations, complete, now)
                        .and_then(|mut changes| {
                            changes.extend(store.enrich_dns(now)?);
                            Ok(changes)
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
        Ok(Cis { store, commands, changes_recorded })
    }

    fn read<T>(&self, f: impl FnOnce(&CiStore) -> T) -> T {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&store)
    }

    /// Record a complete collection of a discovery source.
    pub fn collection(&self, service: &str, id: &str, groups: &[TargetGroup]) {
        let observations = extract::from_discovery(service, id, groups);
        let source = format!("{service}/{id}");
        if self.commands.try_send(Command::Collection { source: source.clone(), observations, complete: true }).is_err() {
            tracing::warn!(%source, "ci writer is behind; this collection is skipped (the next one catches up)");
        }
    }

    /// Record observations from a pipeline's `ciOut()` (never complete: no deletions).
    pub fn observations(&self, source: String, observations: Vec<Observation>) {
        let _ = self.commands.try_send(Command::Collection { source, observations, complete: false });
    }

    /// Drop history older than `retention`.
    pub fn expire(&self, retention: Duration) {
        let before = now_nanos().saturating_sub(i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX));
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

    /// History.
    pub fn changes(&self, query: &ChangeQuery) -> anyhow::Result<Vec<Change>> {
        Ok(self.read(|store| store.changes(query))?)
    }
}

fn forward(runtime: &tokio::runtime::Handle, client: &reqwest::Client, urls: &[String], changes: Vec<Change>) {
    for url in urls {
        for change in &changes {
            let request = client.post(url).json(change).timeout(Duration::from_secs(10));
            let url = url.clone();
            runtime.spawn(async move {
                if let Err(error) = request.send().await.and_then(|r| r.error_for_status()) {
                    tracing::warn!(%url, %error, "ci webhook failed");
                }
            });
        }
    }
}

/// Follow every discovery source: each update of a healthy, enabled source is a complete
/// collection. Updates of a disabled or failing source are ignored, so they never delete.
pub fn follow_discovery(cis: Arc<Cis>, discovery: DiscoveryManager, sources: Vec<(String, String)>) {
    let mut followed: BTreeMap<(String, String), ()> = BTreeMap::new();
    for (service, id) in sources {
        if followed.insert((service.clone(), id.clone()), ()).is_some() {
            continue;
        }
        let mut receiver = discovery.subscribe(&service, &id);
        let cis = cis.clone();
        let discovery = discovery.clone();
        tokio::spawn(async move {
            loop {
                if receiver.changed().await.is_err() {
                    return;
                }
                let groups = receiver.borrow_and_update().clone();
                if source_is_healthy(&discovery, &id) {
                    cis.collection(&service, &id, &groups);
                }
            }
        });
    }
}

fn source_is_healthy(discovery: &DiscoveryManager, id: &str) -> bool {
    discovery
        .sources()
        .into_iter()
        .filter_map(|status| serde_json::to_value(status).ok())
        .find(|status| status.get("id").and_then(|v| v.as_str()) == Some(id))
        .is_none_or(|status| {
            let state = status.get("state").and_then(|v| v.as_str()).unwrap_or("").to_ascii_lowercase();
            let enabled = status.get("enabled").and_then(|v| v.as_bool()).unwrap_or(true);
            enabled && !state.contains("disabled") && !state.contains("circuit") && !state.contains("unhealthy")
        })
}
