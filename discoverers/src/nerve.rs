//! `[[nerve]]`: AirBnB Nerve registrations in ZooKeeper, with Prometheus' `__meta_nerve_*`
//! labels. Every node under `paths` holding `{"host": ..., "port": ..., "name": ...}` is one
//! target; the ZooKeeper side is in `zookeeper.rs`.

use serde::Deserialize;
use weir_engine::Labels;
use weir_engine::discovery::ADDRESS_LABEL;

use crate::config::{ConfigError, SourceKind};
use crate::zookeeper::{ZookeeperConfig, ZookeeperDiscoverer, join_host_port};

const PATH: &str = "__meta_nerve_path";
const ENDPOINT_HOST: &str = "__meta_nerve_endpoint_host";
const ENDPOINT_PORT: &str = "__meta_nerve_endpoint_port";
const ENDPOINT_NAME: &str = "__meta_nerve_endpoint_name";

/// One `[[nerve]]` section: Kapacitor's `servers`, `paths` and `timeout`.
pub type NerveConfig = ZookeeperConfig;

/// Check one `[[nerve]]` section.
pub fn validate(config: &NerveConfig) -> Result<(), Vec<ConfigError>> {
    config.validate_as(SourceKind::Nerve)
}

/// The discoverer of one `[[nerve]]` section.
pub fn discoverer(config: &NerveConfig) -> ZookeeperDiscoverer {
    ZookeeperDiscoverer::new(config, SourceKind::Nerve, parse_member)
}

/// A Nerve registration (unknown fields are ignored).
#[derive(Debug, Deserialize)]
struct Member {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: i64,
    #[serde(default)]
    name: String,
}

fn parse_member(data: &[u8], path: &str) -> Option<Labels> {
    let member: Member = serde_json::from_slice(data).ok()?;
    Some(Labels::from([
        (PATH.to_owned(), path.to_owned()),
        (
            ADDRESS_LABEL.to_owned(),
            join_host_port(&member.host, member.port),
        ),
        (ENDPOINT_HOST.to_owned(), member.host),
        (ENDPOINT_PORT.to_owned(), member.port.to_string()),
        (ENDPOINT_NAME.to_owned(), member.name),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_become_targets() {
        let labels = parse_member(
            br#"{"host": "10.0.0.7", "port": 9100, "name": "web_0", "weight": 1}"#,
            "/nerve/services/web/services/i-1",
        )
        .unwrap();
        assert_eq!(labels[ADDRESS_LABEL], "10.0.0.7:9100");
        assert_eq!(labels[PATH], "/nerve/services/web/services/i-1");
        assert_eq!(labels[ENDPOINT_NAME], "web_0");
        assert_eq!(labels[ENDPOINT_PORT], "9100");
        assert!(parse_member(b"", "/x").is_none());
        assert!(parse_member(b"not json", "/x").is_none());
    }
}
