//! `[[triton]]`: containers (or compute nodes) from Triton's discovery endpoint (triton-cmon),
//! `GET https://<endpoint>:<port>/v<version>/discover` (`/gz/discover` for `role = "cn"`).
//!
//! As Prometheus' triton SD: one group whose source is the endpoint URL; each container is
//! the target `<vm_uuid>.<dns-suffix>:<port>` with `__meta_triton_machine_id`,
//! `_machine_alias`, `_machine_brand`, `_machine_image`, `_server_id` and `_groups`; compute
//! nodes carry the first two. `port` is both the endpoint's and the targets' port, as in
//! Prometheus and Kapacitor. Keys are Kapacitor's, plus Prometheus' `role` and `groups`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::http::{Endpoint, TlsFiles};
use crate::refresh::Source;

const GROUPS: &str = "__meta_triton_groups";
const MACHINE_ID: &str = "__meta_triton_machine_id";
const MACHINE_ALIAS: &str = "__meta_triton_machine_alias";
const MACHINE_BRAND: &str = "__meta_triton_machine_brand";
const MACHINE_IMAGE: &str = "__meta_triton_machine_image";
const SERVER_ID: &str = "__meta_triton_server_id";

/// One `[[triton]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TritonConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The Triton account (required, as in Prometheus; the endpoint authenticates by the
    /// client certificate).
    #[serde(default)]
    pub account: String,
    /// The DNS suffix of the targets (`<vm_uuid>.<dns-suffix>`).
    #[serde(default)]
    pub dns_suffix: String,
    /// Host name of the discovery endpoint.
    #[serde(default)]
    pub endpoint: String,
    /// Port of the endpoint and of the targets (default 9163).
    #[serde(default = "default_port")]
    pub port: u16,
    /// How often the endpoint is asked (default 60s).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// The discovery API version (default 1).
    #[serde(default = "default_version")]
    pub version: u32,
    /// `container` (default) or `cn` (compute nodes).
    #[serde(default = "default_role")]
    pub role: String,
    /// Only containers in these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// CA bundle (PEM) to verify the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    /// Client certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    /// Client key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
    /// The name the endpoint's certificate is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_server_name: Option<String>,
    /// Do not verify the endpoint's certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_port() -> u16 {
    9163
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_version() -> u32 {
    1
}

fn default_role() -> String {
    "container".to_owned()
}

impl TritonConfig {
    /// Check the required keys, the role and the TLS keys.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Triton, &self.id);
        for (key, value) in [
            ("account", &self.account),
            ("dns-suffix", &self.dns_suffix),
            ("endpoint", &self.endpoint),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("`{key}` is required"));
            }
        }
        if self.endpoint.contains("://") || self.endpoint.contains('/') {
            problems.push(format!(
                "endpoint {:?} must be a host name, not a URL",
                self.endpoint
            ));
        }
        if self.role != "container" && self.role != "cn" {
            problems.push(format!("role {:?} must be container or cn", self.role));
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            problems.push("ssl-cert and ssl-key must be given together");
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        problems.finish()
    }

    /// The discovery URL, as Prometheus builds it.
    fn url(&self) -> String {
        let path = if self.role == "cn" {
            "gz/discover"
        } else {
            "discover"
        };
        let mut url = format!(
            "https://{}:{}/v{}/{path}",
            self.endpoint, self.port, self.version
        );
        if !self.groups.is_empty() {
            let groups: String =
                form_urlencoded::byte_serialize(self.groups.join(",").as_bytes()).collect();
            url.push_str(&format!("?groups={groups}"));
        }
        url
    }
}

#[derive(Debug, Deserialize)]
struct Containers {
    #[serde(default)]
    containers: Option<Vec<Container>>,
}

#[derive(Debug, Deserialize)]
struct Container {
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    server_uuid: String,
    #[serde(default)]
    vm_alias: String,
    #[serde(default)]
    vm_brand: String,
    #[serde(default)]
    vm_image_uuid: String,
    #[serde(default)]
    vm_uuid: String,
}

#[derive(Debug, Deserialize)]
struct ComputeNodes {
    #[serde(default)]
    cns: Option<Vec<ComputeNode>>,
}

#[derive(Debug, Deserialize)]
struct ComputeNode {
    #[serde(default)]
    server_uuid: String,
    #[serde(default)]
    server_hostname: String,
}

/// Asks one Triton discovery endpoint.
pub struct TritonDiscoverer {
    config: TritonConfig,
    endpoint: Option<Endpoint>,
}

impl TritonDiscoverer {
    /// The discoverer of one section; the client is built on the first round.
    pub fn new(config: &TritonConfig) -> TritonDiscoverer {
        TritonDiscoverer {
            config: config.clone(),
            endpoint: None,
        }
    }

    fn targets(&self, body: &[u8], url: &str) -> Result<Vec<Labels>, String> {
        let suffix = &self.config.dns_suffix;
        let port = self.config.port;
        let address = |id: &str| format!("{id}.{suffix}:{port}");
        if self.config.role == "cn" {
            let nodes: ComputeNodes =
                serde_json::from_slice(body).map_err(|error| format!("triton {url}: {error}"))?;
            return Ok(nodes
                .cns
                .unwrap_or_default()
                .into_iter()
                .map(|node| {
                    Labels::from([
                        (ADDRESS_LABEL.to_owned(), address(&node.server_uuid)),
                        (MACHINE_ID.to_owned(), node.server_uuid),
                        (MACHINE_ALIAS.to_owned(), node.server_hostname),
                    ])
                })
                .collect());
        }
        let containers: Containers =
            serde_json::from_slice(body).map_err(|error| format!("triton {url}: {error}"))?;
        Ok(containers
            .containers
            .unwrap_or_default()
            .into_iter()
            .map(|container| {
                let mut labels = Labels::from([
                    (ADDRESS_LABEL.to_owned(), address(&container.vm_uuid)),
                    (MACHINE_ID.to_owned(), container.vm_uuid),
                    (MACHINE_ALIAS.to_owned(), container.vm_alias),
                    (MACHINE_BRAND.to_owned(), container.vm_brand),
                    (MACHINE_IMAGE.to_owned(), container.vm_image_uuid),
                    (SERVER_ID.to_owned(), container.server_uuid),
                ]);
                let groups = container.groups.unwrap_or_default();
                if !groups.is_empty() {
                    labels.insert(GROUPS.to_owned(), format!(",{},", groups.join(",")));
                }
                labels
            })
            .collect())
    }
}

impl Discoverer for TritonDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let url = self.config.url();
        let endpoint = match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let config = &self.config;
                let tls = TlsFiles {
                    ca: config.ssl_ca.as_deref(),
                    cert: config.ssl_cert.as_deref(),
                    key: config.ssl_key.as_deref(),
                    insecure_skip_verify: config.insecure_skip_verify,
                };
                let builder = reqwest::Client::builder().timeout(config.refresh_interval);
                let endpoint = Endpoint::new(&url, tls, config.ssl_server_name.as_deref(), builder)
                    .await
                    .map_err(DiscoverError::Invalid)?;
                self.endpoint = Some(endpoint.clone());
                endpoint
            }
        };
        let response = endpoint
            .get("")
            .map_err(DiscoverError::Invalid)?
            .send()
            .await
            .map_err(|error| DiscoverError::Peer(format!("triton {url}: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(DiscoverError::Peer(format!(
                "triton {url} returned {status}"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| DiscoverError::Peer(format!("triton {url}: {error}")))?;
        let targets = self.targets(&body, &url).map_err(DiscoverError::Invalid)?;
        Ok(vec![TargetGroup {
            source: url,
            targets,
            labels: Labels::new(),
        }])
    }
}

impl Source for TritonDiscoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> TritonConfig {
        toml::from_str(&format!(
            "id = \"t\"\naccount = \"a\"\ndns-suffix = \"triton.example\"\n\
             endpoint = \"cmon.example\"\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn validation_and_url() {
        let ok = config("");
        ok.validate().unwrap();
        assert_eq!(ok.url(), "https://cmon.example:9163/v1/discover");
        let cn = config("role = \"cn\"\nversion = 2\ngroups = [\"a b\", \"c\"]\nport = 443");
        assert_eq!(
            cn.url(),
            "https://cmon.example:443/v2/gz/discover?groups=a+b%2Cc"
        );
        let bad: TritonConfig =
            toml::from_str("id = \"t\"\nendpoint = \"https://x\"\nrole = \"vm\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().len(), 4);
    }

    #[test]
    fn container_and_compute_node_labels() {
        let discoverer = TritonDiscoverer::new(&config(""));
        let targets = discoverer
            .targets(
                br#"{"containers": [{"groups": ["web", "prod"], "server_uuid": "s1",
                    "vm_alias": "web-1", "vm_brand": "lx", "vm_image_uuid": "img",
                    "vm_uuid": "u1"}, {"vm_uuid": "u2", "groups": []}]}"#,
                "u",
            )
            .unwrap();
        assert_eq!(targets[0][ADDRESS_LABEL], "u1.triton.example:9163");
        assert_eq!(targets[0][GROUPS], ",web,prod,");
        assert_eq!(targets[0][MACHINE_BRAND], "lx");
        assert!(!targets[1].contains_key(GROUPS));
        let discoverer = TritonDiscoverer::new(&config("role = \"cn\""));
        let targets = discoverer
            .targets(
                br#"{"cns": [{"server_uuid": "s9", "server_hostname": "cn9"}]}"#,
                "u",
            )
            .unwrap();
        assert_eq!(targets[0][ADDRESS_LABEL], "s9.triton.example:9163");
        assert_eq!(targets[0][MACHINE_ALIAS], "cn9");
        assert!(
            discoverer
                .targets(b"\"x\"", "u")
                .unwrap_err()
                .starts_with("triton u:")
        );
    }
}
