//! `[[consul]]`: services from Consul's catalog and health API, with blocking queries.
//!
//! Each round blocks on `/v1/catalog/services?index=…&wait=…` until the catalog changes or
//! `refresh-interval` passes, then reads `/v1/health/service/<name>` for every selected
//! service. So catalog changes show up at once and health-only changes within the interval.
//! Labels are Prometheus' `__meta_consul_*` set.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{
    ConfigError, Problems, SourceKind, default_true, is_host_port, join_host_port,
};
use crate::http::{TlsFiles, client};
use crate::refresh::Source;

const ADDRESS: &str = "__meta_consul_address";
const DC: &str = "__meta_consul_dc";
const HEALTH: &str = "__meta_consul_health";
const METADATA_PREFIX: &str = "__meta_consul_metadata_";
const NODE: &str = "__meta_consul_node";
const SERVICE: &str = "__meta_consul_service";
const SERVICE_ADDRESS: &str = "__meta_consul_service_address";
const SERVICE_ID: &str = "__meta_consul_service_id";
const SERVICE_METADATA_PREFIX: &str = "__meta_consul_service_metadata_";
const SERVICE_PORT: &str = "__meta_consul_service_port";
const TAGGED_ADDRESS_PREFIX: &str = "__meta_consul_tagged_address_";
const TAGS: &str = "__meta_consul_tags";

/// One `[[consul]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConsulConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// `host:port` of the Consul agent (default `127.0.0.1:8500`).
    #[serde(default = "default_address")]
    pub address: String,
    /// ACL token, sent as `X-Consul-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The datacenter; asked from `/v1/agent/self` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// Wraps and joins the tags in `__meta_consul_tags` (default `,`).
    #[serde(default = "default_tag_separator")]
    pub tag_separator: String,
    /// `http` (default) or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Basic auth user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Only these services (all when empty).
    #[serde(default)]
    pub services: Vec<String>,
    /// Only service instances carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Allow any Consul server, not only the leader, to answer (default true).
    #[serde(default = "default_true")]
    pub allow_stale: bool,
    /// The longest a blocking query waits (default 30s).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// CA bundle (PEM) to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    /// Client certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    /// Client key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
    /// The name the server certificate is checked against (the address is still dialled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_server_name: Option<String>,
    /// Do not verify the server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_address() -> String {
    "127.0.0.1:8500".to_owned()
}

fn default_tag_separator() -> String {
    ",".to_owned()
}

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(30)
}

impl ConsulConfig {
    /// Check address, scheme and TLS keys.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Consul, &self.id);
        if !is_host_port(&self.address) {
            problems.push(format!("address {:?} is not host:port", self.address));
        }
        if self.scheme != "http" && self.scheme != "https" {
            problems.push(format!("scheme {:?} must be http or https", self.scheme));
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            problems.push("ssl-cert and ssl-key must be given together");
        }
        if self.password.is_some() && self.username.is_none() {
            problems.push("password needs a username");
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        problems.finish()
    }
}

/// Consul's `/v1/health/service/<name>` entry (unknown fields are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceEntry {
    node: Node,
    service: Service,
    #[serde(default)]
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default)]
    node: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tagged_addresses: Option<BTreeMap<String, String>>,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    address: String,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    port: u16,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(rename = "CheckID", default)]
    check_id: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentSelf {
    config: AgentConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentConfig {
    datacenter: String,
}

/// Watches one Consul agent.
pub struct ConsulDiscoverer {
    config: ConsulConfig,
    client: Option<(reqwest::Client, String)>,
    datacenter: Option<String>,
    index: u64,
}

impl ConsulDiscoverer {
    /// The discoverer of one section; the client is built on the first round.
    pub fn new(config: &ConsulConfig) -> ConsulDiscoverer {
        ConsulDiscoverer {
            config: config.clone(),
            client: None,
            datacenter: config.datacenter.clone(),
            index: 0,
        }
    }

    /// The client and base URL, built once (dialling `address` while naming `ssl-server-name`).
    async fn client(&mut self) -> Result<(reqwest::Client, String), DiscoverError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let config = &self.config;
        let mut builder = reqwest::Client::builder();
        let mut host = config.address.clone();
        if let Some(server_name) = &config.ssl_server_name {
            let addresses: Vec<_> = tokio::net::lookup_host(&config.address)
                .await
                .map_err(|error| {
                    DiscoverError::Peer(format!("consul address {}: {error}", config.address))
                })?
                .collect();
            builder = builder.resolve_to_addrs(server_name, &addresses);
            let port = config
                .address
                .rsplit_once(':')
                .map_or("8500", |(_, port)| port);
            host = format!("{server_name}:{port}");
        }
        let tls = TlsFiles {
            ca: config.ssl_ca.as_deref(),
            cert: config.ssl_cert.as_deref(),
            key: config.ssl_key.as_deref(),
            insecure_skip_verify: config.insecure_skip_verify,
        };
        let client = client(tls, builder).map_err(DiscoverError::Invalid)?;
        let base = format!("{}://{host}", config.scheme);
        self.client = Some((client.clone(), base.clone()));
        Ok((client, base))
    }

    async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        query: &[(&str, String)],
        timeout: Duration,
    ) -> Result<(reqwest::Response, u64), DiscoverError> {
        let mut request = client.get(url).query(query).timeout(timeout);
        if let Some(token) = &self.config.token {
            request = request.header("X-Consul-Token", token);
        }
        if let Some(username) = &self.config.username {
            request = request.basic_auth(username, self.config.password.as_deref());
        }
        let response = request
            .send()
            .await
            .map_err(|error| DiscoverError::Peer(format!("consul {url}: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(DiscoverError::Peer(format!(
                "consul {url} returned {status}: {}",
                body.trim()
            )));
        }
        let index = response
            .headers()
            .get("X-Consul-Index")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        Ok((response, index))
    }

    fn common_query(&self, datacenter: &str) -> Vec<(&'static str, String)> {
        let mut query = vec![("dc", datacenter.to_owned())];
        if self.config.allow_stale {
            query.push(("stale", String::new()));
        }
        query
    }

    async fn datacenter(
        &mut self,
        client: &reqwest::Client,
        base: &str,
    ) -> Result<String, DiscoverError> {
        if let Some(datacenter) = &self.datacenter {
            return Ok(datacenter.clone());
        }
        let url = format!("{base}/v1/agent/self");
        let (response, _) = self.get(client, &url, &[], Duration::from_secs(30)).await?;
        let agent: AgentSelf = response
            .json()
            .await
            .map_err(|error| DiscoverError::Invalid(format!("consul {url}: {error}")))?;
        self.datacenter = Some(agent.config.datacenter.clone());
        Ok(agent.config.datacenter)
    }

    fn wanted(&self, name: &str, tags: &[String]) -> bool {
        let by_name =
            self.config.services.is_empty() || self.config.services.iter().any(|s| s == name);
        by_name && self.config.tags.iter().all(|wanted| tags.contains(wanted))
    }

    fn targets(&self, datacenter: &str, entries: Vec<ServiceEntry>) -> Vec<Labels> {
        let separator = &self.config.tag_separator;
        let mut targets: Vec<Labels> = entries
            .into_iter()
            .map(|entry| {
                let mut labels = Labels::new();
                let host = if entry.service.address.is_empty() {
                    &entry.node.address
                } else {
                    &entry.service.address
                };
                labels.insert(
                    ADDRESS_LABEL.to_owned(),
                    join_host_port(host, entry.service.port),
                );
                labels.insert(ADDRESS.to_owned(), entry.node.address.clone());
                labels.insert(DC.to_owned(), datacenter.to_owned());
                labels.insert(
                    HEALTH.to_owned(),
                    aggregated_status(&entry.checks).to_owned(),
                );
                labels.insert(NODE.to_owned(), entry.node.node.clone());
                labels.insert(SERVICE.to_owned(), entry.service.service.clone());
                labels.insert(SERVICE_ADDRESS.to_owned(), entry.service.address.clone());
                labels.insert(SERVICE_ID.to_owned(), entry.service.id.clone());
                labels.insert(SERVICE_PORT.to_owned(), entry.service.port.to_string());
                let tags = entry.service.tags.unwrap_or_default();
                labels.insert(
                    TAGS.to_owned(),
                    format!("{separator}{}{separator}", tags.join(separator)),
                );
                for (key, value) in entry.node.meta.unwrap_or_default() {
                    labels.insert(format!("{METADATA_PREFIX}{}", sanitize(&key)), value);
                }
                for (key, value) in entry.service.meta.unwrap_or_default() {
                    labels.insert(
                        format!("{SERVICE_METADATA_PREFIX}{}", sanitize(&key)),
                        value,
                    );
                }
                for (key, value) in entry.node.tagged_addresses.unwrap_or_default() {
                    labels.insert(format!("{TAGGED_ADDRESS_PREFIX}{}", sanitize(&key)), value);
                }
                labels
            })
            .collect();
        targets.sort();
        targets
    }
}

/// Consul's aggregated check status: maintenance, then critical, then warning, then passing.
fn aggregated_status(checks: &[Check]) -> &'static str {
    let mut rank = 0;
    for check in checks {
        let check_rank = if check.check_id == "_node_maintenance"
            || check.check_id.starts_with("_service_maintenance:")
            || check.status == "maintenance"
        {
            3
        } else {
            match check.status.as_str() {
                "critical" => 2,
                "warning" => 1,
                _ => 0,
            }
        };
        rank = rank.max(check_rank);
    }
    ["passing", "warning", "critical", "maintenance"][rank]
}

/// Replace every character that cannot be in a label name with `_`.
fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Discoverer for ConsulDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let result = self.fetch().await;
        if result.is_err() {
            // The agent may have restarted with a lower index: ask without blocking next time.
            self.index = 0;
        }
        result
    }
}

impl ConsulDiscoverer {
    async fn fetch(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let (client, base) = self.client().await?;
        let datacenter = self.datacenter(&client, &base).await?;
        let wait = self.config.refresh_interval;
        let mut query = self.common_query(&datacenter);
        if self.index > 0 {
            query.push(("index", self.index.to_string()));
            query.push(("wait", format!("{}ms", wait.as_millis())));
        }
        let url = format!("{base}/v1/catalog/services");
        // Consul may answer up to wait/16 late; leave room for that and the transfer.
        let timeout = wait + wait / 8 + Duration::from_secs(10);
        let (response, index) = self.get(&client, &url, &query, timeout).await?;
        let services: BTreeMap<String, Vec<String>> = response
            .json()
            .await
            .map_err(|error| DiscoverError::Invalid(format!("consul {url}: {error}")))?;
        let mut groups = Vec::new();
        for (name, tags) in &services {
            if !self.wanted(name, tags) {
                continue;
            }
            let url = format!("{base}/v1/health/service/{name}");
            let mut query = self.common_query(&datacenter);
            query.extend(self.config.tags.iter().map(|tag| ("tag", tag.clone())));
            let (response, _) = self
                .get(&client, &url, &query, Duration::from_secs(30))
                .await?;
            let entries: Vec<ServiceEntry> = response
                .json()
                .await
                .map_err(|error| DiscoverError::Invalid(format!("consul {url}: {error}")))?;
            let targets = self.targets(&datacenter, entries);
            groups.push(TargetGroup {
                source: name.clone(),
                targets,
                labels: Labels::new(),
            });
        }
        // The index must not go backwards; real clients start over when it does, and treat 0 as 1.
        self.index = if index < self.index { 0 } else { index.max(1) };
        Ok(groups)
    }
}

impl Source for ConsulDiscoverer {
    fn reset(&mut self) {
        self.index = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConsulConfig {
        toml::from_str("id = \"c\"").unwrap()
    }

    #[test]
    fn defaults_and_validation() {
        let config = config();
        assert_eq!(config.address, "127.0.0.1:8500");
        assert_eq!(config.tag_separator, ",");
        assert_eq!(config.scheme, "http");
        config.validate().unwrap();
        let bad: ConsulConfig =
            toml::from_str("id = \"c\"\nscheme = \"ftp\"\naddress = \"x\"\nssl-cert = \"a\"")
                .unwrap();
        assert_eq!(bad.validate().unwrap_err().len(), 3);
    }

    #[test]
    fn builds_prometheus_labels() {
        let entries: Vec<ServiceEntry> = serde_json::from_str(
            r#"[{"Node": {"Node": "node-a", "Address": "127.0.0.1", "Datacenter": "dc1",
                  "TaggedAddresses": {"lan": "127.0.0.1", "wan": "10.0.0.1"},
                  "Meta": {"weird-key.x": "r1"}},
                 "Service": {"ID": "web-1", "Service": "web", "Tags": ["prod", "metrics"],
                  "Address": "", "Meta": {"version": "1.2"}, "Port": 19100},
                 "Checks": [{"CheckID": "serfHealth", "Status": "passing"},
                            {"CheckID": "svc", "Status": "critical"}]}]"#,
        )
        .unwrap();
        let discoverer = ConsulDiscoverer::new(&config());
        let labels = &discoverer.targets("dc1", entries)[0];
        assert_eq!(labels[ADDRESS_LABEL], "127.0.0.1:19100");
        assert_eq!(labels[HEALTH], "critical");
        assert_eq!(labels[TAGS], ",prod,metrics,");
        assert_eq!(labels["__meta_consul_metadata_weird_key_x"], "r1");
        assert_eq!(labels["__meta_consul_service_metadata_version"], "1.2");
        assert_eq!(labels["__meta_consul_tagged_address_wan"], "10.0.0.1");
        assert_eq!(labels[SERVICE_ADDRESS], "");
        assert_eq!(labels[SERVICE_ID], "web-1");
        assert_eq!(labels[DC], "dc1");
    }

    #[test]
    fn filters_by_service_and_tags() {
        let mut config = config();
        config.services = vec!["web".to_owned()];
        config.tags = vec!["prod".to_owned()];
        let discoverer = ConsulDiscoverer::new(&config);
        assert!(discoverer.wanted("web", &["prod".to_owned(), "x".to_owned()]));
        assert!(!discoverer.wanted("web", &["dev".to_owned()]));
        assert!(!discoverer.wanted("db", &["prod".to_owned()]));
    }

    #[test]
    fn aggregates_like_consul() {
        let check = |id: &str, status: &str| Check {
            check_id: id.to_owned(),
            status: status.to_owned(),
        };
        assert_eq!(aggregated_status(&[]), "passing");
        assert_eq!(
            aggregated_status(&[check("a", "warning"), check("b", "passing")]),
            "warning"
        );
        assert_eq!(
            aggregated_status(&[
                check("_node_maintenance", "critical"),
                check("b", "critical")
            ]),
            "maintenance"
        );
    }
}
