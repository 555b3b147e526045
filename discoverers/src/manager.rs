//! [`DiscoveryManager`]: runs one refresh loop per configured source, applies config changes
//! without restarting unchanged sources, and serves target sets, status and self-metrics.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use weir_engine::TargetGroup;
use weir_engine::health_history::HealthHistory;

use crate::azure::{AzureConfig, AzureDiscoverer};
use crate::config::{DiscoveryConfig, SourceKind};
use crate::consul::{ConsulConfig, ConsulDiscoverer};
use crate::dns::{DnsConfig, DnsDiscoverer};
#[cfg(feature = "ec2")]
use crate::ec2::{Ec2Config, Ec2Discoverer};
use crate::file::{FileConfig, FileDiscoverer};
use crate::gce::{GceConfig, GceDiscoverer};
use crate::http_discovery::{HttpDiscoverer, HttpDiscoveryConfig};
#[cfg(feature = "kubernetes")]
use crate::kubernetes::{KubernetesConfig, KubernetesDiscoverer};
use crate::marathon::{MarathonConfig, MarathonDiscoverer};
use crate::nerve::NerveConfig;
use crate::refresh::{Command, HealthPolicy, HealthState, Runner, Schedule, Status, lock};
use crate::serverset::ServersetConfig;
use crate::static_discovery::{StaticConfig, StaticDiscoverer};
use crate::triton::{TritonConfig, TritonDiscoverer};

/// How often ZooKeeper sources read their trees again without a watch event.
const ZOOKEEPER_RESYNC: Duration = Duration::from_secs(60);

/// One configured source, whatever its backend.
#[derive(Debug, Clone, PartialEq)]
enum SourceConfig {
    Static(StaticConfig),
    File(FileConfig),
    Http(HttpDiscoveryConfig),
    Dns(DnsConfig),
    Consul(ConsulConfig),
    Marathon(MarathonConfig),
    Triton(TritonConfig),
    Nerve(NerveConfig),
    Serverset(ServersetConfig),
    Azure(AzureConfig),
    Gce(GceConfig),
    #[cfg(feature = "kubernetes")]
    Kubernetes(KubernetesConfig),
    #[cfg(feature = "ec2")]
    Ec2(Ec2Config),
}

impl SourceConfig {
    fn all(config: &DiscoveryConfig) -> Vec<SourceConfig> {
        let mut sources = Vec::new();
        sources.extend(
            config
                .static_discovery
                .iter()
                .cloned()
                .map(SourceConfig::Static),
        );
        sources.extend(
            config
                .file_discovery
                .iter()
                .cloned()
                .map(SourceConfig::File),
        );
        sources.extend(
            config
                .http_discovery
                .iter()
                .cloned()
                .map(SourceConfig::Http),
        );
        sources.extend(config.dns.iter().cloned().map(SourceConfig::Dns));
        sources.extend(config.consul.iter().cloned().map(SourceConfig::Consul));
        sources.extend(config.marathon.iter().cloned().map(SourceConfig::Marathon));
        sources.extend(config.triton.iter().cloned().map(SourceConfig::Triton));
        sources.extend(config.nerve.iter().cloned().map(SourceConfig::Nerve));
        sources.extend(
            config
                .serverset
                .iter()
                .cloned()
                .map(SourceConfig::Serverset),
        );
        sources.extend(config.azure.iter().cloned().map(SourceConfig::Azure));
        sources.extend(config.gce.iter().cloned().map(SourceConfig::Gce));
        #[cfg(feature = "kubernetes")]
        sources.extend(
            config
                .kubernetes
                .iter()
                .cloned()
                .map(SourceConfig::Kubernetes),
        );
        #[cfg(feature = "ec2")]
        sources.extend(config.ec2.iter().cloned().map(SourceConfig::Ec2));
        sources
    }

    fn key(&self) -> (SourceKind, String) {
        let (kind, id) = match self {
            SourceConfig::Static(config) => (SourceKind::Static, &config.id),
            SourceConfig::File(config) => (SourceKind::File, &config.id),
            SourceConfig::Http(config) => (SourceKind::Http, &config.id),
            SourceConfig::Dns(config) => (SourceKind::Dns, &config.id),
            SourceConfig::Consul(config) => (SourceKind::Consul, &config.id),
            SourceConfig::Marathon(config) => (SourceKind::Marathon, &config.id),
            SourceConfig::Triton(config) => (SourceKind::Triton, &config.id),
            SourceConfig::Nerve(config) => (SourceKind::Nerve, &config.id),
            SourceConfig::Serverset(config) => (SourceKind::Serverset, &config.id),
            SourceConfig::Azure(config) => (SourceKind::Azure, &config.id),
            SourceConfig::Gce(config) => (SourceKind::Gce, &config.id),
            #[cfg(feature = "kubernetes")]
            SourceConfig::Kubernetes(config) => (SourceKind::Kubernetes, &config.id),
            #[cfg(feature = "ec2")]
            SourceConfig::Ec2(config) => (SourceKind::Ec2, &config.id),
        };
        (kind, id.clone())
    }

    fn enabled(&self) -> bool {
        match self {
            SourceConfig::Static(config) => config.enabled,
            SourceConfig::File(config) => config.enabled,
            SourceConfig::Http(config) => config.enabled,
            SourceConfig::Dns(config) => config.enabled,
            SourceConfig::Consul(config) => config.enabled,
            SourceConfig::Marathon(config) => config.enabled,
            SourceConfig::Triton(config) => config.enabled,
            SourceConfig::Nerve(config) => config.enabled,
            SourceConfig::Serverset(config) => config.enabled,
            SourceConfig::Azure(config) => config.enabled,
            SourceConfig::Gce(config) => config.enabled,
            #[cfg(feature = "kubernetes")]
            SourceConfig::Kubernetes(config) => config.enabled,
            #[cfg(feature = "ec2")]
            SourceConfig::Ec2(config) => config.enabled,
        }
    }

    fn schedule(&self) -> Schedule {
        let poll = |interval| Schedule {
            interval,
            long_poll: false,
        };
        match self {
            // Static targets never change; the interval only matters for "refresh now".
            SourceConfig::Static(_) => poll(Duration::from_secs(3600)),
            SourceConfig::File(config) => poll(config.refresh_interval),
            SourceConfig::Http(config) => poll(config.refresh_interval),
            SourceConfig::Dns(config) => poll(config.refresh_interval),
            SourceConfig::Consul(config) => Schedule {
                interval: config.refresh_interval,
                long_poll: true,
            },
            SourceConfig::Marathon(config) => poll(config.refresh_interval),
            SourceConfig::Triton(config) => poll(config.refresh_interval),
            SourceConfig::Nerve(_) | SourceConfig::Serverset(_) => poll(ZOOKEEPER_RESYNC),
            SourceConfig::Azure(config) => poll(config.refresh_interval),
            SourceConfig::Gce(config) => poll(config.refresh_interval),
            #[cfg(feature = "kubernetes")]
            SourceConfig::Kubernetes(_) => Schedule {
                interval: Duration::from_secs(30),
                long_poll: true,
            },
            #[cfg(feature = "ec2")]
            SourceConfig::Ec2(config) => poll(config.refresh_interval),
        }
    }

    fn spawn(&self, runner: Runner) -> JoinHandle<()> {
        match self {
            SourceConfig::Static(config) => tokio::spawn(runner.run(StaticDiscoverer::new(config))),
            SourceConfig::File(config) => tokio::spawn(runner.run(FileDiscoverer::new(config))),
            SourceConfig::Http(config) => tokio::spawn(runner.run(HttpDiscoverer::new(config))),
            SourceConfig::Dns(config) => tokio::spawn(runner.run(DnsDiscoverer::new(config))),
            SourceConfig::Consul(config) => tokio::spawn(runner.run(ConsulDiscoverer::new(config))),
            SourceConfig::Marathon(config) => {
                tokio::spawn(runner.run(MarathonDiscoverer::new(config)))
            }
            SourceConfig::Triton(config) => tokio::spawn(runner.run(TritonDiscoverer::new(config))),
            SourceConfig::Nerve(config) => {
                tokio::spawn(runner.run(crate::nerve::discoverer(config)))
            }
            SourceConfig::Serverset(config) => {
                tokio::spawn(runner.run(crate::serverset::discoverer(config)))
            }
            SourceConfig::Azure(config) => tokio::spawn(runner.run(AzureDiscoverer::new(config))),
            SourceConfig::Gce(config) => tokio::spawn(runner.run(GceDiscoverer::new(config))),
            #[cfg(feature = "kubernetes")]
            SourceConfig::Kubernetes(config) => {
                tokio::spawn(runner.run(KubernetesDiscoverer::new(config)))
            }
            #[cfg(feature = "ec2")]
            SourceConfig::Ec2(config) => tokio::spawn(runner.run(Ec2Discoverer::new(config))),
        }
    }
}

struct Entry {
    config: SourceConfig,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    status: Arc<Mutex<Status>>,
}

#[derive(Default)]
struct State {
    sources: BTreeMap<(SourceKind, String), Entry>,
    channels: HashMap<(String, String), watch::Sender<Vec<TargetGroup>>>,
    /// Run-time switches by id, which win over the config's `enabled`.
    switches: BTreeMap<String, bool>,
    stopped: bool,
}

struct Inner {
    policy: HealthPolicy,
    state: Mutex<State>,
}

/// Runs every configured discoverer; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct DiscoveryManager {
    inner: Arc<Inner>,
}

impl Default for DiscoveryManager {
    fn default() -> Self {
        DiscoveryManager::new()
    }
}

/// What `sources()` reports about one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    /// The section's `id`.
    pub id: String,
    /// The section (`discoverer-service`).
    pub kind: SourceKind,
    /// Health.
    pub state: HealthState,
    /// Whether it runs (the config's `enabled`, or the last `set_enabled`).
    pub enabled: bool,
    /// How many targets the last good round found.
    pub targets: usize,
    /// When the last successful round ended (RFC 3339).
    pub last_refresh: Option<String>,
    /// When the next round is due (RFC 3339); none for disabled sources.
    pub next_refresh: Option<String>,
    /// How long the last round took, in seconds.
    pub last_refresh_seconds: Option<f64>,
    /// Failed rounds (and rounds with warnings) since the source started.
    pub error_count: u64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The last error or warning.
    pub last_error: Option<String>,
    /// The last failures (warnings included) and health transitions, timed, oldest first.
    pub history: HealthHistory,
    /// For watching sources (Kubernetes): the watch and its periodic full lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchStatus>,
}

/// The watch of a watching source and the full lists that reconcile it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchStatus {
    /// `watch` (events) with a full list every `reconcile_interval_seconds`.
    pub mode: String,
    /// The pause between two full lists.
    pub reconcile_interval_seconds: f64,
    /// When the last watch event arrived (RFC 3339).
    pub last_watch_event: Option<String>,
    /// When the last full list was reconciled (RFC 3339).
    pub last_reconciliation: Option<String>,
    /// Objects the last full list added that the watch had missed.
    pub last_added: u64,
    /// Objects the last full list removed that the watch had missed.
    pub last_removed: u64,
    /// Objects the last full list changed (another `resourceVersion`).
    pub last_changed: u64,
    /// Every correction since the source started.
    pub total_corrections: u64,
}

impl DiscoveryManager {
    /// A manager with the default health thresholds; call inside a tokio runtime.
    pub fn new() -> DiscoveryManager {
        DiscoveryManager::with_policy(HealthPolicy::default())
    }

    /// A manager with custom health thresholds (tests use short ones).
    pub fn with_policy(policy: HealthPolicy) -> DiscoveryManager {
        DiscoveryManager {
            inner: Arc::new(Inner {
                policy,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Hot reload: start new sources, stop removed ones (their targets disappear), and
    /// restart only the sources whose config changed (their old targets stay until the new
    /// loop's first good round). Call with a validated config.
    pub fn apply(&self, config: &DiscoveryConfig) {
        let wanted: BTreeMap<(SourceKind, String), SourceConfig> = SourceConfig::all(config)
            .into_iter()
            .map(|source| (source.key(), source))
            .collect();
        let mut state = lock(&self.inner.state);
        if state.stopped {
            return;
        }
        let removed: Vec<_> = state
            .sources
            .keys()
            .filter(|key| !wanted.contains_key(*key))
            .cloned()
            .collect();
        for key in removed {
            if let Some(entry) = state.sources.remove(&key) {
                entry.task.abort();
                tracing::info!(kind = %key.0, id = %key.1, "discovery source removed");
            }
            if let Some(sender) = state.channels.get(&channel_key(&key)) {
                sender.send_replace(Vec::new());
            }
        }
        for (key, source) in wanted {
            let enabled = state
                .switches
                .get(&key.1)
                .copied()
                .unwrap_or_else(|| source.enabled());
            if let Some(entry) = state.sources.get(&key).filter(|e| e.config == source) {
                let mut status = lock(&entry.status);
                if status.enabled != enabled {
                    status.enabled = enabled;
                    let _ = entry.commands.send(Command::SetEnabled(enabled));
                }
                continue;
            }
            let restarted = state
                .sources
                .remove(&key)
                .map(|entry| entry.task.abort())
                .is_some();
            let targets = state
                .channels
                .entry(channel_key(&key))
                .or_insert_with(|| watch::channel(Vec::new()).0)
                .clone();
            let (commands, receiver) = mpsc::unbounded_channel();
            let runner = Runner::new(
                key.0,
                &key.1,
                enabled,
                self.inner.policy,
                source.schedule(),
                targets,
                receiver,
            );
            let status = runner.status.clone();
            let task = source.spawn(runner);
            tracing::info!(kind = %key.0, id = %key.1, restarted, "discovery source started");
            state.sources.insert(
                key,
                Entry {
                    config: source,
                    commands,
                    task,
                    status,
                },
            );
        }
    }

    /// The target groups of one source, by section name and id. Works before the source
    /// exists (empty until it does) and across restarts and reloads.
    pub fn subscribe(&self, service: &str, id: &str) -> watch::Receiver<Vec<TargetGroup>> {
        let mut state = lock(&self.inner.state);
        state
            .channels
            .entry((service.to_owned(), id.to_owned()))
            .or_insert_with(|| watch::channel(Vec::new()).0)
            .subscribe()
    }

    /// The status of every source, sorted by section and id.
    pub fn sources(&self) -> Vec<SourceStatus> {
        let state = lock(&self.inner.state);
        state
            .sources
            .iter()
            .map(|((kind, id), entry)| {
                let status = lock(&entry.status);
                SourceStatus {
                    id: id.clone(),
                    kind: *kind,
                    state: status.state,
                    enabled: status.enabled,
                    targets: status.targets,
                    last_refresh: status.last_refresh.map(rfc3339),
                    next_refresh: status.next_refresh.map(rfc3339),
                    last_refresh_seconds: status.last_duration.map(|d| d.as_secs_f64()),
                    error_count: status.error_count,
                    consecutive_failures: status.consecutive_failures,
                    last_error: status.last_error.clone(),
                    history: status.history.clone(),
                    watch: status.watch.as_ref().map(|probe| (probe.0)()),
                }
            })
            .collect()
    }

    /// Run-time switches by id (what the binary keeps in its store), which win over the
    /// config's `enabled` from the next [`apply`](Self::apply) on.
    pub fn set_switches(&self, switches: BTreeMap<String, bool>) {
        lock(&self.inner.state).switches = switches;
    }

    /// The config's `enabled` of the sources with this id: true when one of them is enabled
    /// there; `None` when no source has this id.
    pub fn config_enabled(&self, id: &str) -> Option<bool> {
        let state = lock(&self.inner.state);
        state
            .sources
            .iter()
            .filter(|((_, source_id), _)| source_id == id)
            .map(|(_, entry)| entry.config.enabled())
            .reduce(|a, b| a || b)
    }

    /// Turn every source with this id on or off, keeping its config; false when none has it.
    /// The setting is a switch that holds across reloads and restarts of the source until
    /// [`set_switches`](Self::set_switches) replaces it.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let mut state = lock(&self.inner.state);
        let mut found = false;
        for ((_, source_id), entry) in &state.sources {
            if source_id == id {
                found = true;
                lock(&entry.status).enabled = enabled;
                let _ = entry.commands.send(Command::SetEnabled(enabled));
            }
        }
        if found {
            state.switches.insert(id.to_owned(), enabled);
        }
        found
    }

    /// Refresh every source with this id now: `Some(true)` when at least one enabled source
    /// with this id refreshed successfully, `Some(false)` when every one failed or is
    /// disabled, `None` when no source has this id.
    pub async fn refresh(&self, id: &str) -> Option<bool> {
        let (found, replies) = {
            let state = lock(&self.inner.state);
            let entries: Vec<&Entry> = state
                .sources
                .iter()
                .filter(|((_, source_id), _)| source_id == id)
                .map(|(_, entry)| entry)
                .collect();
            let replies: Vec<oneshot::Receiver<bool>> = entries
                .iter()
                .filter_map(|entry| {
                    let (reply, answer) = oneshot::channel();
                    entry
                        .commands
                        .send(Command::Refresh(reply))
                        .ok()
                        .map(|()| answer)
                })
                .collect();
            (!entries.is_empty(), replies)
        };
        if !found {
            return None;
        }
        let mut any_ok = false;
        for answer in replies {
            any_ok |= answer.await.unwrap_or(false);
        }
        Some(any_ok)
    }

    /// Append Prometheus text-format self-metrics.
    pub fn write_metrics(&self, out: &mut String) {
        let statuses: Vec<(SourceKind, String, Status)> = {
            let state = lock(&self.inner.state);
            state
                .sources
                .iter()
                .map(|((kind, id), entry)| (*kind, id.clone(), lock(&entry.status).clone()))
                .collect()
        };
        let labels = |kind: SourceKind, id: &str| {
            format!(
                "kind=\"{}\",id=\"{}\"",
                kind.as_str(),
                escape_label_value(id)
            )
        };
        out.push_str("# HELP weir_discovery_targets Targets found by the last good round.\n");
        out.push_str("# TYPE weir_discovery_targets gauge\n");
        for (kind, id, status) in &statuses {
            let _ = writeln!(
                out,
                "weir_discovery_targets{{{}}} {}",
                labels(*kind, id),
                status.targets
            );
        }
        out.push_str("# HELP weir_discovery_refreshes_total Discovery rounds by result.\n");
        out.push_str("# TYPE weir_discovery_refreshes_total counter\n");
        for (kind, id, status) in &statuses {
            let labels = labels(*kind, id);
            let _ = writeln!(
                out,
                "weir_discovery_refreshes_total{{{labels},result=\"success\"}} {}",
                status.success_count
            );
            let _ = writeln!(
                out,
                "weir_discovery_refreshes_total{{{labels},result=\"error\"}} {}",
                status.error_count
            );
        }
        out.push_str(
            "# HELP weir_discovery_refresh_duration_seconds Duration of the last round.\n",
        );
        out.push_str("# TYPE weir_discovery_refresh_duration_seconds gauge\n");
        for (kind, id, status) in &statuses {
            if let Some(duration) = status.last_duration {
                let _ = writeln!(
                    out,
                    "weir_discovery_refresh_duration_seconds{{{}}} {}",
                    labels(*kind, id),
                    duration.as_secs_f64()
                );
            }
        }
        out.push_str(
            "# HELP weir_discovery_last_success_timestamp_seconds When the last good round ended.\n",
        );
        out.push_str("# TYPE weir_discovery_last_success_timestamp_seconds gauge\n");
        for (kind, id, status) in &statuses {
            if let Some(at) = status.last_refresh {
                let seconds = at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "weir_discovery_last_success_timestamp_seconds{{{}}} {}",
                    labels(*kind, id),
                    seconds.as_secs_f64()
                );
            }
        }
        out.push_str("# HELP weir_discovery_state Current health state (1 for the current one).\n");
        out.push_str("# TYPE weir_discovery_state gauge\n");
        for (kind, id, status) in &statuses {
            let labels = labels(*kind, id);
            for state in HealthState::ALL {
                let value = u8::from(status.state == state);
                let _ = writeln!(
                    out,
                    "weir_discovery_state{{{labels},state=\"{}\"}} {value}",
                    state.as_str()
                );
            }
        }
        out.push_str(
            "# HELP weir_discovery_state_transitions_total Health transitions by target state.\n",
        );
        out.push_str("# TYPE weir_discovery_state_transitions_total counter\n");
        for (kind, id, status) in &statuses {
            let labels = labels(*kind, id);
            for (state, count) in &status.transitions {
                let _ = writeln!(
                    out,
                    "weir_discovery_state_transitions_total{{{labels},to=\"{}\"}} {count}",
                    state.as_str()
                );
            }
        }
    }

    /// Stop every source and wait for their tasks to end; later `apply` calls do nothing.
    pub async fn shutdown(&self) {
        let entries: Vec<Entry> = {
            let mut state = lock(&self.inner.state);
            state.stopped = true;
            std::mem::take(&mut state.sources).into_values().collect()
        };
        for entry in &entries {
            entry.task.abort();
        }
        for entry in entries {
            // The task was aborted: a cancellation error is the expected outcome.
            let _ = entry.task.await;
        }
    }
}

fn channel_key(key: &(SourceKind, String)) -> (String, String) {
    (key.0.as_str().to_owned(), key.1.clone())
}

pub(crate) fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DiscoveryConfig {
        let config: DiscoveryConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        config
    }

    async fn addresses(receiver: &mut watch::Receiver<Vec<TargetGroup>>) -> Vec<String> {
        let groups = receiver.borrow_and_update().clone();
        groups
            .iter()
            .flat_map(|g| g.targets.iter().map(|t| t["__address__"].clone()))
            .collect()
    }

    #[tokio::test]
    async fn hot_reload_restarts_only_changed_sources() {
        let manager = DiscoveryManager::new();
        let mut a = manager.subscribe("static-discovery", "a");
        let mut b = manager.subscribe("static-discovery", "b");
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:1\"]\n[[static-discovery]]\nid = \"b\"\ntargets = [\"b:1\"]",
        ));
        a.changed().await.unwrap();
        b.changed().await.unwrap();
        assert_eq!(addresses(&mut a).await, ["a:1"]);
        let a_task_before = {
            let state = lock(&manager.inner.state);
            state.sources[&(SourceKind::Static, "a".to_owned())]
                .task
                .id()
        };
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:1\"]\n[[static-discovery]]\nid = \"b\"\ntargets = [\"b:2\"]",
        ));
        b.changed().await.unwrap();
        assert_eq!(addresses(&mut b).await, ["b:2"]);
        let a_task_after = {
            let state = lock(&manager.inner.state);
            state.sources[&(SourceKind::Static, "a".to_owned())]
                .task
                .id()
        };
        assert_eq!(a_task_before, a_task_after, "unchanged source kept running");
        assert!(!a.has_changed().unwrap());
        manager.apply(&config(
            "[[static-discovery]]\nid = \"b\"\ntargets = [\"b:2\"]",
        ));
        a.changed().await.unwrap();
        assert!(
            addresses(&mut a).await.is_empty(),
            "removed source's targets disappear"
        );
        assert_eq!(manager.sources().len(), 1);
        manager.shutdown().await;
    }

    #[tokio::test]
    async fn status_enable_disable_refresh_and_metrics() {
        let manager = DiscoveryManager::new();
        let mut a = manager.subscribe("static-discovery", "a");
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:1\", \"a:2\"]",
        ));
        a.changed().await.unwrap();
        let status = &manager.sources()[0];
        assert_eq!(status.state, HealthState::Healthy);
        assert_eq!(status.targets, 2);
        assert!(status.last_refresh.is_some());
        assert!(manager.set_enabled("a", false));
        assert!(!manager.set_enabled("nope", false));
        a.changed().await.unwrap();
        assert!(a.borrow().is_empty());
        assert_eq!(manager.refresh("a").await, Some(false));
        assert_eq!(manager.refresh("nope").await, None);
        assert_eq!(manager.sources()[0].state, HealthState::Disabled);
        assert!(!manager.sources()[0].enabled);
        assert!(manager.set_enabled("a", true));
        assert_eq!(manager.refresh("a").await, Some(true));
        assert_eq!(addresses(&mut a).await.len(), 2);
        let json = serde_json::to_value(manager.sources()).unwrap();
        assert_eq!(json[0]["kind"], "static-discovery");
        assert_eq!(json[0]["state"], "healthy");
        let mut metrics = String::new();
        manager.write_metrics(&mut metrics);
        assert!(metrics.contains("weir_discovery_targets{kind=\"static-discovery\",id=\"a\"} 2"));
        assert!(metrics.contains(
            "weir_discovery_state{kind=\"static-discovery\",id=\"a\",state=\"healthy\"} 1"
        ));
        assert!(metrics.contains(
            "weir_discovery_state_transitions_total{kind=\"static-discovery\",id=\"a\",to=\"disabled\"} 1"
        ));
        manager.shutdown().await;
        manager.apply(&config("[[static-discovery]]\nid = \"z\"\ntargets = []"));
        assert!(
            manager.sources().is_empty(),
            "apply after shutdown does nothing"
        );
    }

    #[tokio::test]
    async fn switches_win_over_the_config_across_restarts_of_the_source() {
        let manager = DiscoveryManager::new();
        let mut a = manager.subscribe("static-discovery", "a");
        manager.set_switches(BTreeMap::from([("a".to_owned(), false)]));
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:1\"]",
        ));
        assert_eq!(manager.sources()[0].state, HealthState::Disabled);
        assert_eq!(manager.config_enabled("a"), Some(true));
        assert_eq!(manager.config_enabled("b"), None);
        // Another config restarts the source, still switched off.
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:2\"]",
        ));
        assert_eq!(manager.sources()[0].state, HealthState::Disabled);
        assert!(!manager.sources()[0].enabled);
        tokio::task::yield_now().await;
        assert!(a.borrow_and_update().is_empty());
        // The switch goes: the same config now runs the source, without a restart.
        manager.set_switches(BTreeMap::new());
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:2\"]",
        ));
        a.changed().await.unwrap();
        assert_eq!(addresses(&mut a).await, ["a:2"]);
        assert!(manager.sources()[0].enabled);
        // A run-time switch is kept by the manager when the source restarts.
        assert!(manager.set_enabled("a", false));
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\ntargets = [\"a:3\"]",
        ));
        assert_eq!(manager.sources()[0].state, HealthState::Disabled);
        manager.shutdown().await;
    }

    #[tokio::test]
    async fn disabled_in_config_publishes_nothing() {
        let manager = DiscoveryManager::new();
        manager.apply(&config(
            "[[static-discovery]]\nid = \"a\"\nenabled = false\ntargets = [\"a:1\"]",
        ));
        tokio::task::yield_now().await;
        assert_eq!(manager.sources()[0].state, HealthState::Disabled);
        assert!(
            manager
                .subscribe("static-discovery", "a")
                .borrow()
                .is_empty()
        );
        manager.shutdown().await;
    }
}
