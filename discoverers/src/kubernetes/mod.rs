//! `[[kubernetes]]`: targets from the Kubernetes API, listed and then watched through kube's
//! `watcher` (wrapped in `.default_backoff()`).
//!
//! Each watched resource (and namespace) has its own watcher task that keeps a store up to
//! date; `discover` is a long poll that answers with a fresh snapshot once every store has
//! been listed and then whenever one changes. Roles: `node`, `pod`, `service`, `endpoints`
//! (also `endpoint`), `endpointslice` and `ingress`; the labels are Prometheus'
//! `__meta_kubernetes_*` (see `targets.rs`).

mod targets;

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use weir_engine::{DiscoverError, Discoverer, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::manager::{WatchStatus, rfc3339};
use crate::refresh::{Source, WatchProbe, lock};
use targets::{Store, key};

/// Which objects become targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KubernetesRole {
    /// Every node's kubelet.
    Node,
    /// Every pod container port (the default).
    #[default]
    Pod,
    /// Every service port.
    Service,
    /// Every endpoint address and port.
    #[serde(alias = "endpoint")]
    Endpoints,
    /// Every EndpointSlice endpoint and port.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    /// Every ingress rule host and path.
    Ingress,
}

/// One `[[kubernetes]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// Use the pod's service account (`KUBERNETES_SERVICE_HOST`, the mounted token and CA).
    #[serde(default)]
    pub in_cluster: bool,
    /// API server URLs; the first one is used. Empty with `in-cluster = false` means the
    /// kubeconfig (`KUBECONFIG` or `~/.kube/config`), then the in-cluster config.
    #[serde(default)]
    pub api_servers: Vec<String>,
    /// Bearer token for `api-servers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// CA bundle (PEM) that signs the API server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_path: Option<String>,
    /// Do not verify the API server's certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The name TLS sends (SNI) and checks the API server's certificate against, instead of
    /// the server URL's host (kubeconfig's `tls-server-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_server_name: Option<String>,
    /// One namespace to watch (added to `namespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Namespaces to watch; all when empty (nodes are cluster-wide).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// `node`, `pod` (default), `service`, `endpoints`, `endpointslice` or `ingress`.
    #[serde(default)]
    pub resource: KubernetesRole,
    /// Label selector for the role's objects (`app=web,tier!=db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Field selector for the role's objects (`metadata.name=web`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selector: Option<String>,
    /// How often each watched resource is listed in full to correct what the watch missed
    /// (default 5m).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}

impl KubernetesConfig {
    /// Check the connection keys.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Kubernetes, &self.id);
        if self.in_cluster && !self.api_servers.is_empty() {
            problems.push("in-cluster and api-servers exclude each other");
        }
        for server in &self.api_servers {
            if !(server.starts_with("http://") || server.starts_with("https://")) {
                problems.push(format!("api server {server:?} is not a URL"));
            }
        }
        if self.refresh_interval.is_zero() {
            problems.push("refresh-interval must be positive");
        }
        if self
            .ssl_server_name
            .as_deref()
            .is_some_and(|name| rustls_pki_types::ServerName::try_from(name).is_err())
        {
            problems.push(format!(
                "ssl-server-name {:?} is not a host name",
                self.ssl_server_name.as_deref().unwrap_or_default()
            ));
        }
        if self.api_servers.is_empty() && (self.token.is_some() || self.ca_path.is_some()) {
            problems.push("token and ca-path need api-servers");
        }
        problems.finish()
    }

    fn namespaces(&self) -> Vec<Option<String>> {
        let mut namespaces: Vec<Option<String>> = self
            .namespaces
            .iter()
            .chain(&self.namespace)
            .cloned()
            .map(Some)
            .collect();
        namespaces.sort();
        namespaces.dedup();
        if namespaces.is_empty() || self.resource == KubernetesRole::Node {
            vec![None]
        } else {
            namespaces
        }
    }
}

/// Build the client the section asks for.
async fn client(config: &KubernetesConfig) -> Result<Client, String> {
    Client::try_from(kube_config(config).await?)
        .map_err(|error| format!("kubernetes client: {error}"))
}

/// The client config the section asks for (`ssl-server-name` also over a kubeconfig's).
async fn kube_config(config: &KubernetesConfig) -> Result<kube::Config, String> {
    let mut kube_config = if config.in_cluster {
        kube::Config::incluster()
            .map_err(|error| format!("kubernetes in-cluster config: {error}"))?
    } else if let Some(server) = config.api_servers.first() {
        let mut cluster = serde_json::json!({ "server": server });
        if let Some(ca_path) = &config.ca_path {
            cluster["certificate-authority"] = ca_path.clone().into();
        }
        if config.insecure_skip_verify {
            cluster["insecure-skip-tls-verify"] = true.into();
        }
        let mut user = serde_json::json!({});
        if let Some(token) = &config.token {
            user["token"] = token.clone().into();
        }
        let kubeconfig: Kubeconfig = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "weir", "cluster": cluster}],
            "users": [{"name": "weir", "user": user}],
            "contexts": [{"name": "weir", "context": {"cluster": "weir", "user": "weir"}}],
            "current-context": "weir",
        }))
        .map_err(|error| format!("kubernetes config: {error}"))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|error| format!("kubernetes config for {server}: {error}"))?
    } else {
        kube::Config::infer()
            .await
            .map_err(|error| format!("kubernetes config: {error}"))?
    };
    if let Some(server_name) = &config.ssl_server_name {
        kube_config.tls_server_name = Some(server_name.clone());
    }
    Ok(kube_config)
}

/// What the watcher tasks maintain.
#[derive(Default)]
struct Stores {
    nodes: Store<Node>,
    pods: Store<Pod>,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    ingresses: Store<Ingress>,
}

#[derive(Default)]
struct WatchState {
    stores: Stores,
    /// Watchers that finished their first list.
    ready: HashSet<usize>,
    version: u64,
    error: Option<String>,
    stats: Stats,
}

/// What the status shows of the watch and the reconciliations.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    last_watch_event: Option<SystemTime>,
    last_reconciliation: Option<SystemTime>,
    last_corrections: Corrections,
    total_corrections: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<WatchState>,
    changed: Notify,
}

/// Watches one role.
pub struct KubernetesDiscoverer {
    config: KubernetesConfig,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    seen_version: Option<u64>,
    answer_now: bool,
}

impl KubernetesDiscoverer {
    /// The discoverer of one section; the watchers start on the first round.
    pub fn new(config: &KubernetesConfig) -> KubernetesDiscoverer {
        KubernetesDiscoverer {
            config: config.clone(),
            shared: Arc::new(Shared::default()),
            tasks: Vec::new(),
            seen_version: None,
            answer_now: false,
        }
    }

    async fn start(&mut self) -> Result<(), DiscoverError> {
        let client = client(&self.config).await.map_err(DiscoverError::Invalid)?;
        let mut selected = watcher::Config::default();
        if let Some(labels) = &self.config.label_selector {
            selected = selected.labels(labels);
        }
        if let Some(fields) = &self.config.field_selector {
            selected = selected.fields(fields);
        }
        let all = watcher::Config::default();
        for namespace in self.config.namespaces() {
            let ns = namespace.as_deref();
            match self.config.resource {
                KubernetesRole::Node => {
                    self.watch::<Node>(Api::all(client.clone()), &selected, None, |s| &mut s.nodes);
                }
                KubernetesRole::Pod => {
                    self.watch(api::<Pod>(&client, ns), &selected, ns, |s| &mut s.pods);
                }
                KubernetesRole::Service => {
                    self.watch(api::<Service>(&client, ns), &selected, ns, |s| {
                        &mut s.services
                    });
                }
                KubernetesRole::Endpoints => {
                    self.watch(api::<Endpoints>(&client, ns), &selected, ns, |s| {
                        &mut s.endpoints
                    });
                    self.watch(api::<Pod>(&client, ns), &all, ns, |s| &mut s.pods);
                    self.watch(api::<Service>(&client, ns), &all, ns, |s| &mut s.services);
                }
                KubernetesRole::EndpointSlice => {
                    self.watch(api::<EndpointSlice>(&client, ns), &selected, ns, |s| {
                        &mut s.slices
                    });
                    self.watch(api::<Pod>(&client, ns), &all, ns, |s| &mut s.pods);
                    self.watch(api::<Service>(&client, ns), &all, ns, |s| &mut s.services);
                }
                KubernetesRole::Ingress => {
                    self.watch(api::<Ingress>(&client, ns), &selected, ns, |s| {
                        &mut s.ingresses
                    });
                }
            }
        }
        Ok(())
    }

    /// Spawn one watcher task feeding one store (only the keys of its namespace). Every
    /// `refresh-interval` the task lists the same objects in full and replaces the store's
    /// in-scope content with them, counting what the watch had missed.
    fn watch<K>(
        &mut self,
        api: Api<K>,
        config: &watcher::Config,
        namespace: Option<&str>,
        store: fn(&mut Stores) -> &mut Store<K>,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default,
    {
        let index = self.tasks.len();
        let shared = self.shared.clone();
        let scope = namespace.map(|ns| format!("{ns}/"));
        let in_scope = move |key: &str| {
            scope
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
        };
        let mut params = ListParams::default().limit(LIST_PAGE);
        if let Some(labels) = &config.label_selector {
            params = params.labels(labels);
        }
        if let Some(fields) = &config.field_selector {
            params = params.fields(fields);
        }
        let what = format!(
            "{}{}",
            namespace.map(|ns| format!("{ns}/")).unwrap_or_default(),
            K::plural(&K::DynamicType::default())
        );
        let id = self.config.id.clone();
        let every = self.config.refresh_interval;
        let mut stream = watch_stream(api.clone(), config.clone())
            .default_backoff()
            .boxed();
        self.tasks.push(tokio::spawn(async move {
            let mut buffer: Store<K> = Store::new();
            let mut reconcile = tokio::time::interval_at(Instant::now() + every, every);
            reconcile.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                let event = tokio::select! {
                    event = stream.next() => match event {
                        Some(event) => event,
                        None => break,
                    },
                    _ = reconcile.tick() => {
                        if !lock(&shared.state).ready.contains(&index) {
                            continue; // the watcher's own list is still to come
                        }
                        let listed = list_all(&api, &params).await;
                        let mut state = lock(&shared.state);
                        match listed {
                            Ok(objects) => {
                                let target = store(&mut state.stores);
                                let corrections = replace_in_scope(target, objects, &in_scope);
                                state.stats.last_reconciliation = Some(SystemTime::now());
                                state.stats.last_corrections = corrections;
                                if corrections.any() {
                                    tracing::info!(
                                        id = %id,
                                        resource = %what,
                                        added = corrections.added,
                                        removed = corrections.removed,
                                        changed = corrections.changed,
                                        "kubernetes reconciliation corrected the watch"
                                    );
                                    state.stats.total_corrections += corrections.total();
                                    state.version += 1;
                                } else {
                                    continue;
                                }
                            }
                            Err(error) => {
                                state.error =
                                    Some(format!("kubernetes reconciliation of {what}: {error}"));
                            }
                        }
                        drop(state);
                        shared.changed.notify_waiters();
                        continue;
                    }
                };
                let mut state = lock(&shared.state);
                if event.is_ok() {
                    state.stats.last_watch_event = Some(SystemTime::now());
                }
                match event {
                    Ok(Event::Init) => {
                        buffer.clear();
                        continue;
                    }
                    Ok(Event::InitApply(object)) => {
                        buffer.insert(key(object.meta()), object);
                        continue;
                    }
                    Ok(Event::InitDone) => {
                        let target = store(&mut state.stores);
                        target.retain(|key, _| !in_scope(key));
                        target.append(&mut buffer);
                        state.ready.insert(index);
                    }
                    Ok(Event::Apply(object)) => {
                        store(&mut state.stores).insert(key(object.meta()), object);
                    }
                    Ok(Event::Delete(object)) => {
                        store(&mut state.stores).remove(&key(object.meta()));
                    }
                    Err(error) => state.error = Some(format!("kubernetes watch: {error}")),
                }
                state.version += 1;
                drop(state);
                shared.changed.notify_waiters();
            }
        }));
    }

    fn snapshot(&self, stores: &Stores) -> Vec<TargetGroup> {
        match self.config.resource {
            KubernetesRole::Node => stores
                .nodes
                .values()
                .filter_map(targets::node_group)
                .collect(),
            KubernetesRole::Pod => stores
                .pods
                .values()
                .filter_map(targets::pod_group)
                .collect(),
            KubernetesRole::Service => stores
                .services
                .values()
                .map(targets::service_group)
                .collect(),
            KubernetesRole::Endpoints => stores
                .endpoints
                .values()
                .map(|endpoints| {
                    targets::endpoints_group(endpoints, &stores.pods, &stores.services)
                })
                .collect(),
            KubernetesRole::EndpointSlice => stores
                .slices
                .values()
                .map(|slice| targets::endpointslice_group(slice, &stores.pods, &stores.services))
                .collect(),
            KubernetesRole::Ingress => stores
                .ingresses
                .values()
                .map(targets::ingress_group)
                .collect(),
        }
    }
}

/// Page size of the reconciliation lists.
const LIST_PAGE: u32 = 500;

/// Every object the list parameters select, page by page.
async fn list_all<K>(api: &Api<K>, params: &ListParams) -> Result<Store<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut objects = Store::new();
    let mut params = params.clone();
    loop {
        let page = api.list(&params).await?;
        for object in page.items {
            objects.insert(key(object.meta()), object);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(objects),
        }
    }
}

/// What one reconciliation corrected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Corrections {
    /// Listed but missing from the store.
    pub added: u64,
    /// In the store but no longer listed.
    pub removed: u64,
    /// In both with another `resourceVersion`.
    pub changed: u64,
}

impl Corrections {
    fn total(&self) -> u64 {
        self.added + self.removed + self.changed
    }

    fn any(&self) -> bool {
        self.total() > 0
    }
}

/// Replace the in-scope part of `store` with `listed`, counting the differences.
fn replace_in_scope<K: Resource>(
    store: &mut Store<K>,
    mut listed: Store<K>,
    in_scope: &dyn Fn(&str) -> bool,
) -> Corrections {
    let mut corrections = Corrections::default();
    for (key, object) in store.iter().filter(|(key, _)| in_scope(key)) {
        match listed.get(key) {
            None => corrections.removed += 1,
            Some(new) if new.meta().resource_version != object.meta().resource_version => {
                corrections.changed += 1
            }
            Some(_) => {}
        }
    }
    corrections.added = listed
        .keys()
        .filter(|key| !store.contains_key(*key))
        .count() as u64;
    store.retain(|key, _| !in_scope(key));
    store.append(&mut listed);
    corrections
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

impl Drop for KubernetesDiscoverer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Discoverer for KubernetesDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        if self.tasks.is_empty() {
            self.start().await?;
        }
        let shared = self.shared.clone();
        loop {
            let changed = shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = lock(&shared.state);
                if let Some(error) = state.error.take() {
                    // The watcher retries with back-off; answer at once when asked again.
                    self.answer_now = true;
                    return Err(DiscoverError::Peer(error));
                }
                let listed = state.ready.len() == self.tasks.len();
                if listed && (self.answer_now || self.seen_version != Some(state.version)) {
                    self.answer_now = false;
                    self.seen_version = Some(state.version);
                    return Ok(self.snapshot(&state.stores));
                }
            }
            changed.await;
        }
    }
}

impl Source for KubernetesDiscoverer {
    fn reset(&mut self) {
        self.answer_now = true;
    }

    fn watch_probe(&self) -> Option<WatchProbe> {
        let shared = self.shared.clone();
        let every = self.config.refresh_interval;
        Some(WatchProbe(Arc::new(move || {
            let stats = lock(&shared.state).stats;
            WatchStatus {
                mode: "watch".to_owned(),
                reconcile_interval_seconds: every.as_secs_f64(),
                last_watch_event: stats.last_watch_event.map(rfc3339),
                last_reconciliation: stats.last_reconciliation.map(rfc3339),
                last_added: stats.last_corrections.added,
                last_removed: stats.last_corrections.removed,
                last_changed: stats.last_corrections.changed,
                total_corrections: stats.total_corrections,
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ssl_server_name_names_the_api_server_for_tls() {
        let config: KubernetesConfig = toml::from_str(
            "id = \"k\"\napi-servers = [\"https://127.0.0.1:6443\"]\nssl-server-name = \"kubernetes.internal\"",
        )
        .unwrap();
        config.validate().unwrap();
        let built = kube_config(&config).await.unwrap();
        assert_eq!(
            built.tls_server_name.as_deref(),
            Some("kubernetes.internal")
        );
        assert_eq!(built.cluster_url.host(), Some("127.0.0.1"));
        let plain: KubernetesConfig =
            toml::from_str("id = \"k\"\napi-servers = [\"https://127.0.0.1:6443\"]").unwrap();
        assert_eq!(kube_config(&plain).await.unwrap().tls_server_name, None);
        let bad: KubernetesConfig = toml::from_str(
            "id = \"k\"\napi-servers = [\"https://127.0.0.1:6443\"]\nssl-server-name = \"a b\"",
        )
        .unwrap();
        assert_eq!(bad.validate().unwrap_err().len(), 1);
    }

    #[test]
    fn config_keys_and_validation() {
        let config: KubernetesConfig = toml::from_str(
            "id = \"k\"\napi-servers = [\"http://127.0.0.1:18443\"]\nresource = \"endpoint\"\nnamespaces = [\"b\", \"a\"]\nnamespace = \"a\"",
        )
        .unwrap();
        assert_eq!(config.resource, KubernetesRole::Endpoints);
        config.validate().unwrap();
        assert_eq!(
            config.namespaces(),
            vec![Some("a".to_owned()), Some("b".to_owned())]
        );
        let bad: KubernetesConfig = toml::from_str(
            "id = \"k\"\nin-cluster = true\napi-servers = [\"nope\"]\ntoken = \"t\"",
        )
        .unwrap();
        assert_eq!(bad.validate().unwrap_err().len(), 2);
        let slices: KubernetesConfig =
            toml::from_str("id = \"k\"\nresource = \"endpointslice\"").unwrap();
        assert_eq!(slices.resource, KubernetesRole::EndpointSlice);
        assert_eq!(slices.namespaces(), vec![None]);
        assert_eq!(slices.refresh_interval, Duration::from_secs(300));
        let fast: KubernetesConfig =
            toml::from_str("id = \"k\"\nrefresh-interval = \"1m30s\"").unwrap();
        assert_eq!(fast.refresh_interval, Duration::from_secs(90));
        let zero: KubernetesConfig =
            toml::from_str("id = \"k\"\nrefresh-interval = \"0s\"").unwrap();
        assert!(
            zero.validate().unwrap_err()[0]
                .to_string()
                .contains("refresh-interval")
        );
    }

    fn pod(namespace: &str, name: &str, version: &str) -> (String, Pod) {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some(namespace.to_owned());
        pod.metadata.name = Some(name.to_owned());
        pod.metadata.resource_version = Some(version.to_owned());
        (key(&pod.metadata), pod)
    }

    #[test]
    fn reconciliation_replaces_only_its_scope_and_counts() {
        let mut store: Store<Pod> = [
            pod("a", "kept", "1"),
            pod("a", "gone", "1"),
            pod("a", "stale", "1"),
            pod("b", "other", "1"),
        ]
        .into_iter()
        .collect();
        let listed: Store<Pod> = [
            pod("a", "kept", "1"),
            pod("a", "stale", "2"),
            pod("a", "new", "3"),
        ]
        .into_iter()
        .collect();
        let corrections = replace_in_scope(&mut store, listed, &|key: &str| key.starts_with("a/"));
        assert_eq!(
            corrections,
            Corrections {
                added: 1,
                removed: 1,
                changed: 1
            }
        );
        let keys: Vec<&str> = store.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a/kept", "a/new", "a/stale", "b/other"]);
        assert_eq!(
            store["a/stale"].metadata.resource_version.as_deref(),
            Some("2")
        );
    }
}
