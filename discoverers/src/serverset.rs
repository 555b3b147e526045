//! `[[serverset]]`: Twitter/Finagle serversets in ZooKeeper, with Prometheus'
//! `__meta_serverset_*` labels. Every node under `paths` holding a member
//! (`serviceEndpoint`, `additionalEndpoints`, `status`, `shard`) is one target; the ZooKeeper
//! side is in `zookeeper.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use weir_engine::Labels;
use weir_engine::discovery::ADDRESS_LABEL;

use crate::config::{ConfigError, SourceKind, sanitize_label_name};
use crate::zookeeper::{ZookeeperConfig, ZookeeperDiscoverer, join_host_port};

const PATH: &str = "__meta_serverset_path";
const ENDPOINT: &str = "__meta_serverset_endpoint";
const STATUS: &str = "__meta_serverset_status";
const SHARD: &str = "__meta_serverset_shard";

/// One `[[serverset]]` section: Kapacitor's `servers`, `paths` and `timeout`.
pub type ServersetConfig = ZookeeperConfig;

/// Check one `[[serverset]]` section.
pub fn validate(config: &ServersetConfig) -> Result<(), Vec<ConfigError>> {
    config.validate_as(SourceKind::Serverset)
}

/// The discoverer of one `[[serverset]]` section.
pub fn discoverer(config: &ServersetConfig) -> ZookeeperDiscoverer {
    ZookeeperDiscoverer::new(config, SourceKind::Serverset, parse_member)
}

/// A serverset member (unknown fields are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    #[serde(default)]
    service_endpoint: Endpoint,
    #[serde(default)]
    additional_endpoints: Option<BTreeMap<String, Endpoint>>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    shard: i64,
}

#[derive(Debug, Default, Deserialize)]
struct Endpoint {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: i64,
}

fn parse_member(data: &[u8], path: &str) -> Option<Labels> {
    let member: Member = serde_json::from_slice(data).ok()?;
    let endpoint = &member.service_endpoint;
    let mut labels = Labels::from([
        (PATH.to_owned(), path.to_owned()),
        (
            ADDRESS_LABEL.to_owned(),
            join_host_port(&endpoint.host, endpoint.port),
        ),
        (format!("{ENDPOINT}_host"), endpoint.host.clone()),
        (format!("{ENDPOINT}_port"), endpoint.port.to_string()),
        (STATUS.to_owned(), member.status),
        (SHARD.to_owned(), member.shard.to_string()),
    ]);
    for (name, endpoint) in member.additional_endpoints.unwrap_or_default() {
        let name = sanitize_label_name(&name);
        labels.insert(format!("{ENDPOINT}_host_{name}"), endpoint.host);
        labels.insert(format!("{ENDPOINT}_port_{name}"), endpoint.port.to_string());
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_become_targets() {
        let labels = parse_member(
            br#"{"serviceEndpoint": {"host": "10.0.0.8", "port": 8080},
                 "additionalEndpoints": {"admin-http": {"host": "10.0.0.8", "port": 9990}},
                 "status": "ALIVE", "shard": 3}"#,
            "/aurora/jobs/web/member_0000000003",
        )
        .unwrap();
        assert_eq!(labels[ADDRESS_LABEL], "10.0.0.8:8080");
        assert_eq!(
            labels["__meta_serverset_endpoint_host_admin_http"],
            "10.0.0.8"
        );
        assert_eq!(labels["__meta_serverset_endpoint_port_admin_http"], "9990");
        assert_eq!(labels[STATUS], "ALIVE");
        assert_eq!(labels[SHARD], "3");
        assert!(parse_member(b"", "/x").is_none());
    }
}
