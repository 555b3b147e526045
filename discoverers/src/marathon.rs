//! `[[marathon]]`: the tasks of every Marathon app, from `GET /v2/apps/?embed=apps.tasks`.
//!
//! As Prometheus' marathon SD: one group per app (source = app id) with
//! `__meta_marathon_app`, `__meta_marathon_image` and `__meta_marathon_app_label_*`, and one
//! target per task and port, whose port comes from the app's port mappings (Marathon ≥ 1.5 or
//! older), its port definitions, or the task's own ports, with `__meta_marathon_task`,
//! `__meta_marathon_port_index` and the port's labels. The servers are tried in turn until one
//! answers. Keys are Kapacitor's.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true, sanitize_label_name};
use crate::http::{Endpoint, TlsFiles};
use crate::refresh::Source;

const APP: &str = "__meta_marathon_app";
const APP_LABEL_PREFIX: &str = "__meta_marathon_app_label_";
const IMAGE: &str = "__meta_marathon_image";
const PORT_INDEX: &str = "__meta_marathon_port_index";
const TASK: &str = "__meta_marathon_task";
const PORT_MAPPING_LABEL_PREFIX: &str = "__meta_marathon_port_mapping_label_";
const PORT_DEFINITION_LABEL_PREFIX: &str = "__meta_marathon_port_definition_label_";

/// The app list with its tasks, as Prometheus asks for it.
const APPS_PATH: &str = "/v2/apps/?embed=apps.tasks";

/// One `[[marathon]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MarathonConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// Marathon base URLs (`http://marathon:8080`), tried in turn.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Request timeout (default 30s).
    #[serde(default = "default_interval", with = "weir_engine::duration::serde")]
    pub timeout: Duration,
    /// How often the apps are listed (default 30s).
    #[serde(default = "default_interval", with = "weir_engine::duration::serde")]
    pub refresh_interval: Duration,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// CA bundle (PEM) to verify the servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    /// Client certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    /// Client key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
    /// The name the server certificates are checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_server_name: Option<String>,
    /// Do not verify the server certificates.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

impl MarathonConfig {
    /// Check the servers, intervals and TLS keys.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Marathon, &self.id);
        if self.servers.is_empty() {
            problems.push("`servers` must list at least one Marathon URL");
        }
        for server in &self.servers {
            match reqwest::Url::parse(server) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                Ok(_) => problems.push(format!("server {server:?} must be an http or https URL")),
                Err(error) => problems.push(format!("server {server:?}: {error}")),
            }
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            problems.push("ssl-cert and ssl-key must be given together");
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        if self.timeout.is_zero() {
            problems.push("`timeout` must be positive");
        }
        problems.finish()
    }
}

/// Marathon's answer (unknown fields are ignored; `null` lists and maps are empty).
#[derive(Debug, Default, Deserialize)]
struct AppList {
    #[serde(default)]
    apps: Option<Vec<App>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct App {
    #[serde(default)]
    id: String,
    #[serde(default)]
    tasks: Option<Vec<Task>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    port_definitions: Option<Vec<PortDefinition>>,
    #[serde(default)]
    networks: Option<Vec<Network>>,
    #[serde(default)]
    require_ports: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    #[serde(default)]
    id: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    ports: Option<Vec<u32>>,
    #[serde(default)]
    ip_addresses: Option<Vec<IpAddress>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpAddress {
    #[serde(default)]
    ip_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    #[serde(default)]
    docker: Option<Docker>,
    #[serde(default)]
    port_mappings: Option<Vec<PortMapping>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Docker {
    #[serde(default)]
    image: String,
    #[serde(default)]
    port_mappings: Option<Vec<PortMapping>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortMapping {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    container_port: u32,
    #[serde(default)]
    host_port: u32,
}

#[derive(Debug, Default, Deserialize)]
struct PortDefinition {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    port: u32,
}

#[derive(Debug, Default, Deserialize)]
struct Network {
    #[serde(default)]
    mode: String,
}

impl App {
    /// The app's first network is in `container` mode: tasks are reached at their own IP.
    fn container_network(&self) -> bool {
        self.networks
            .as_ref()
            .and_then(|networks| networks.first())
            .is_some_and(|network| network.mode == "container")
    }

    fn image(&self) -> &str {
        self.container
            .as_ref()
            .and_then(|container| container.docker.as_ref())
            .map_or("", |docker| docker.image.as_str())
    }
}

/// The target group of one app.
fn app_group(app: &App) -> TargetGroup {
    let mut labels = Labels::from([
        (APP.to_owned(), app.id.clone()),
        (IMAGE.to_owned(), app.image().to_owned()),
    ]);
    for (name, value) in app.labels.iter().flatten() {
        labels.insert(
            format!("{APP_LABEL_PREFIX}{}", sanitize_label_name(name)),
            value.clone(),
        );
    }
    TargetGroup {
        source: app.id.clone(),
        targets: app_targets(app),
        labels,
    }
}

/// One target per task and port, Prometheus' way of choosing the port.
fn app_targets(app: &App) -> Vec<Labels> {
    let container_network = app.container_network();
    let container = app.container.as_ref();
    let mappings = container
        .and_then(|c| c.port_mappings.as_ref())
        .filter(|m| !m.is_empty())
        .or_else(|| {
            container
                .and_then(|c| c.docker.as_ref())
                .and_then(|d| d.port_mappings.as_ref())
                .filter(|m| !m.is_empty())
        });
    let definitions = app.port_definitions.as_ref().filter(|d| !d.is_empty());
    let empty = BTreeMap::new();
    let (mut ports, port_labels, prefix): (Vec<u32>, Vec<&BTreeMap<String, String>>, &str) =
        if let Some(mappings) = mappings {
            (
                mappings
                    .iter()
                    .map(|m| {
                        if container_network {
                            m.container_port
                        } else {
                            m.host_port
                        }
                    })
                    .collect(),
                mappings
                    .iter()
                    .map(|m| m.labels.as_ref().unwrap_or(&empty))
                    .collect(),
                PORT_MAPPING_LABEL_PREFIX,
            )
        } else if let Some(definitions) = definitions {
            (
                definitions
                    .iter()
                    // Without requirePorts the definition's port is the service port.
                    .map(|d| if app.require_ports { d.port } else { 0 })
                    .collect(),
                definitions
                    .iter()
                    .map(|d| d.labels.as_ref().unwrap_or(&empty))
                    .collect(),
                PORT_DEFINITION_LABEL_PREFIX,
            )
        } else {
            (Vec::new(), Vec::new(), "")
        };
    let mut targets = Vec::new();
    for task in app.tasks.iter().flatten() {
        let task_ports = task.ports.as_deref().unwrap_or_default();
        if ports.is_empty() && !task_ports.is_empty() {
            ports = task_ports.to_vec();
        }
        for (idx, &port) in ports.iter().enumerate() {
            // Zero: chosen by Mesos, so the task's port of the same index.
            let port = if port == 0 && task_ports.len() == ports.len() {
                task_ports[idx]
            } else {
                port
            };
            let host = match task.ip_addresses.as_deref() {
                Some([first, ..]) if container_network => first.ip_address.as_str(),
                _ => task.host.as_str(),
            };
            // Go's net.JoinHostPort.
            let address = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let mut target = Labels::from([
                (ADDRESS_LABEL.to_owned(), address),
                (TASK.to_owned(), task.id.clone()),
                (PORT_INDEX.to_owned(), idx.to_string()),
            ]);
            if let Some(labels) = port_labels.get(idx) {
                for (name, value) in labels.iter() {
                    target.insert(
                        format!("{prefix}{}", sanitize_label_name(name)),
                        value.clone(),
                    );
                }
            }
            targets.push(target);
        }
    }
    targets
}

/// Lists the apps of one Marathon cluster.
pub struct MarathonDiscoverer {
    config: MarathonConfig,
    /// One per server, built on first use.
    endpoints: Vec<Option<Endpoint>>,
    /// The server asked first next time (the last one that answered).
    next: usize,
}

impl MarathonDiscoverer {
    /// The discoverer of one section; clients are built on the first round.
    pub fn new(config: &MarathonConfig) -> MarathonDiscoverer {
        MarathonDiscoverer {
            config: config.clone(),
            endpoints: vec![None; config.servers.len()],
            next: 0,
        }
    }

    async fn endpoint(&mut self, idx: usize) -> Result<Endpoint, String> {
        if let Some(endpoint) = &self.endpoints[idx] {
            return Ok(endpoint.clone());
        }
        let config = &self.config;
        let tls = TlsFiles {
            ca: config.ssl_ca.as_deref(),
            cert: config.ssl_cert.as_deref(),
            key: config.ssl_key.as_deref(),
            insecure_skip_verify: config.insecure_skip_verify,
        };
        let builder = reqwest::Client::builder().timeout(config.timeout);
        let endpoint = Endpoint::new(
            &config.servers[idx],
            tls,
            config.ssl_server_name.as_deref(),
            builder,
        )
        .await?;
        self.endpoints[idx] = Some(endpoint.clone());
        Ok(endpoint)
    }

    async fn fetch(&mut self, idx: usize) -> Result<AppList, String> {
        let server = self.config.servers[idx].clone();
        let endpoint = self.endpoint(idx).await?;
        let mut request = endpoint.get(APPS_PATH)?;
        if let Some(token) = &self.config.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("marathon {server}: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("marathon {server}{APPS_PATH} returned {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("marathon {server}: {error}"))?;
        serde_json::from_slice(&body)
            .map_err(|error| format!("marathon {server}{APPS_PATH}: {error}"))
    }
}

impl Discoverer for MarathonDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let n_servers = self.config.servers.len();
        let mut errors = Vec::new();
        for attempt in 0..n_servers {
            let idx = (self.next + attempt) % n_servers;
            match self.fetch(idx).await {
                Ok(list) => {
                    self.next = idx;
                    let mut groups: Vec<TargetGroup> =
                        list.apps.iter().flatten().map(app_group).collect();
                    groups.sort_by(|a, b| a.source.cmp(&b.source));
                    return Ok(groups);
                }
                Err(error) => errors.push(error),
            }
        }
        Err(DiscoverError::Peer(errors.join("; ")))
    }
}

impl Source for MarathonDiscoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps(json: &str) -> Vec<TargetGroup> {
        let list: AppList = serde_json::from_str(json).unwrap();
        list.apps.iter().flatten().map(app_group).collect()
    }

    #[test]
    fn validation() {
        let config: MarathonConfig = toml::from_str("id = \"m\"").unwrap();
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.validate().unwrap_err().len(), 1);
        let config: MarathonConfig =
            toml::from_str("id = \"m\"\nservers = [\"http://m:8080\", \"m:8080\"]").unwrap();
        let errors = config.validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("\"m:8080\""), "{errors:?}");
    }

    #[test]
    fn task_ports_with_host_networking() {
        let groups = apps(
            r#"{"apps": [{"id": "/web", "labels": {"team.name": "a"},
                "container": {"docker": {"image": "nginx:1"}},
                "tasks": [{"id": "web.1", "host": "h1", "ports": [31000, 31001]}]}]}"#,
        );
        assert_eq!(groups[0].source, "/web");
        assert_eq!(groups[0].labels[APP], "/web");
        assert_eq!(groups[0].labels[IMAGE], "nginx:1");
        assert_eq!(groups[0].labels["__meta_marathon_app_label_team_name"], "a");
        let targets = &groups[0].targets;
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[1][ADDRESS_LABEL], "h1:31001");
        assert_eq!(targets[1][PORT_INDEX], "1");
        assert_eq!(targets[1][TASK], "web.1");
    }

    #[test]
    fn port_mappings_and_definitions() {
        let groups = apps(
            r#"{"apps": [
              {"id": "/bridge", "container": {"portMappings": [
                  {"containerPort": 80, "hostPort": 0, "labels": {"prom": "yes"}}]},
               "tasks": [{"id": "b.1", "host": "h2", "ports": [31500]}]},
              {"id": "/cnet", "networks": [{"mode": "container", "name": "dcos"}],
               "container": {"docker": {"portMappings": [{"containerPort": 9100}]}},
               "tasks": [{"id": "c.1", "host": "h3", "ipAddresses": [{"ipAddress": "10.1.0.5"}]}]},
              {"id": "/defs", "requirePorts": true, "portDefinitions": [{"port": 9000, "labels": {"x": "1"}}],
               "tasks": [{"id": "d.1", "host": "h4", "ports": [9000]}]},
              {"id": "/nodefs", "portDefinitions": [{"port": 10000}],
               "tasks": [{"id": "n.1", "host": "h5", "ports": [31777]}]}]}"#,
        );
        assert_eq!(groups[0].targets[0][ADDRESS_LABEL], "h2:31500");
        assert_eq!(
            groups[0].targets[0]["__meta_marathon_port_mapping_label_prom"],
            "yes"
        );
        assert_eq!(groups[1].targets[0][ADDRESS_LABEL], "10.1.0.5:9100");
        assert_eq!(groups[2].targets[0][ADDRESS_LABEL], "h4:9000");
        assert_eq!(
            groups[2].targets[0]["__meta_marathon_port_definition_label_x"],
            "1"
        );
        assert_eq!(groups[3].targets[0][ADDRESS_LABEL], "h5:31777");
    }
}
