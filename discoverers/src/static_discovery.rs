//! `[[static-discovery]]`: a fixed list of targets with shared labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::relabel::is_valid_label_name;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::refresh::Source;

/// One `[[static-discovery]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StaticConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// `host:port` (or `host`) of every target.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels added to every target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl StaticConfig {
    /// Check the targets and label names.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Static, &self.id);
        for target in &self.targets {
            if let Err(reason) = check_target_address(target) {
                problems.push(format!("target {target:?}: {reason}"));
            }
        }
        for name in self.labels.keys() {
            if !is_valid_label_name(name) {
                problems.push(format!("label name {name:?} is not valid"));
            }
        }
        problems.finish()
    }
}

/// Check a `host[:port]` target address as Prometheus does before scraping it.
pub(crate) fn check_target_address(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("empty target address");
    }
    if address.contains("://") || address.contains('/') {
        return Err("a target is host:port, without scheme or path");
    }
    if address.chars().any(char::is_whitespace) {
        return Err("a target address contains whitespace");
    }
    Ok(())
}

/// Serves the configured targets as one group.
#[derive(Debug, Clone)]
pub struct StaticDiscoverer {
    groups: Vec<TargetGroup>,
}

impl StaticDiscoverer {
    /// The discoverer of one section.
    pub fn new(config: &StaticConfig) -> StaticDiscoverer {
        let targets = config
            .targets
            .iter()
            .map(|target| Labels::from([(ADDRESS_LABEL.to_owned(), target.clone())]))
            .collect();
        let group = TargetGroup {
            source: format!("static-discovery/{}", config.id),
            targets,
            labels: config.labels.clone(),
        };
        StaticDiscoverer {
            groups: vec![group],
        }
    }
}

impl Discoverer for StaticDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        Ok(self.groups.clone())
    }
}

impl Source for StaticDiscoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_targets_with_group_labels() {
        let config: StaticConfig = toml::from_str(
            "id = \"local\"\ntargets = [\"127.0.0.1:9100\", \"web\"]\nlabels = { env = \"test\" }",
        )
        .unwrap();
        assert!(config.enabled);
        config.validate().unwrap();
        let groups = StaticDiscoverer::new(&config).discover().await.unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].targets[0][ADDRESS_LABEL], "127.0.0.1:9100");
        assert_eq!(groups[0].targets[1][ADDRESS_LABEL], "web");
        assert_eq!(groups[0].labels["env"], "test");
    }

    #[test]
    fn rejects_urls_and_bad_label_names() {
        let config = StaticConfig {
            enabled: true,
            id: "x".to_owned(),
            targets: vec!["http://a:1".to_owned(), String::new()],
            labels: BTreeMap::from([("bad-name".to_owned(), "v".to_owned())]),
        };
        assert_eq!(config.validate().unwrap_err().len(), 3);
    }
}
