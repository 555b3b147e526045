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

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weir_engine::{DiscoverError, Discoverer, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::refresh::{Source, lock};
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
    let kube_config = if config.in_cluster {
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
    Client::try_from(kube_config).map_err(|error| format!("kubernetes client: {error}"))
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

    /// Spawn one watcher task feeding one store (only the keys of its namespace).
    fn watch<K>(
        &mut self,
        api: Api<K>,
        config: &watcher::Config,
        namespace: Option<&str>,
        store: fn(&mut Stores) -> &mut Store<K>,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let index = self.tasks.len();
        let shared = self.shared.clone();
        let scope = namespace.map(|ns| format!("{ns}/"));
        let in_scope = move |key: &str| {
            scope
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
        };
        let mut stream = watch_stream(api, config.clone()).default_backoff().boxed();
        self.tasks.push(tokio::spawn(async move {
            let mut buffer: Store<K> = Store::new();
            while let Some(event) = stream.next().await {
                let mut state = lock(&shared.state);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
