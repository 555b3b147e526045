//! A remote collector's configuration document (JSON, versioned by central): its scrapers
//! and discoverers under the same keys as the TOML sections, and `hostMetrics`. Unknown
//! properties are ignored, so a newer document does not break an older collector.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;

/// The sections a document may carry: scrapers and every discoverer kind.
pub const SECTIONS: &[&str] = &[
    "scraper",
    "static-discovery",
    "file-discovery",
    "http-discovery",
    "dns",
    "consul",
    "marathon",
    "triton",
    "nerve",
    "serverset",
    "azure",
    "gce",
    "kubernetes",
    "ec2",
];

/// Host metrics interval bounds, seconds.
pub const INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 10..=3600;

/// A validated document.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The scrapers and discoverers, parsed as the config file's sections are.
    pub sections: Config,
    /// Host metrics interval, `None` when off.
    pub host_metrics: Option<Duration>,
}

/// Validate a document: every problem in one message, or what to apply.
pub fn validate(document: &Value, revision: i64) -> Result<Accepted, String> {
    let Some(object) = document.as_object() else {
        return Err("the configuration is not a JSON object".to_owned());
    };
    let mut problems = Vec::new();
    let mut host_metrics = None;
    if let Some(host) = object.get("hostMetrics") {
        let enabled = host.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        match host.get("intervalSeconds") {
            None if enabled => host_metrics = Some(Duration::from_secs(60)),
            None => {}
            Some(value) => match value.as_u64() {
                Some(seconds) if INTERVAL_RANGE.contains(&seconds) => {
                    if enabled {
                        host_metrics = Some(Duration::from_secs(seconds));
                    }
                }
                _ => problems.push(format!(
                    "hostMetrics.intervalSeconds: {value} is out of range: use {} to {} seconds",
                    INTERVAL_RANGE.start(),
                    INTERVAL_RANGE.end()
                )),
            },
        }
    }
    let mut table = toml::Table::new();
    for section in SECTIONS {
        if let Some(value) = object.get(*section) {
            match toml::Value::try_from(value) {
                Ok(value) => {
                    table.insert((*section).to_owned(), value);
                }
                Err(e) => problems.push(format!("{section}: {e}")),
            }
        }
    }
    let text = toml::to_string(&table).unwrap_or_default();
    let origin = format!("remote configuration revision {revision}");
    let sections = match crate::config::parse(&text, &origin, &BTreeMap::new()) {
        Ok(loaded) => Some(loaded.config),
        Err(errors) => {
            problems.push(errors.to_string());
            None
        }
    };
    match sections {
        Some(sections) if problems.is_empty() => Ok(Accepted {
            sections,
            host_metrics,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// The config file's sections with an accepted document's added.
pub fn merge(config: &mut Config, accepted: &Config) {
    let extra = accepted.clone();
    config.scraper.extend(extra.scraper);
    config.static_discovery.extend(extra.static_discovery);
    config.file_discovery.extend(extra.file_discovery);
    config.http_discovery.extend(extra.http_discovery);
    config.dns.extend(extra.dns);
    config.consul.extend(extra.consul);
    config.marathon.extend(extra.marathon);
    config.triton.extend(extra.triton);
    config.nerve.extend(extra.nerve);
    config.serverset.extend(extra.serverset);
    config.azure.extend(extra.azure);
    config.gce.extend(extra.gce);
    #[cfg(feature = "kubernetes")]
    config.kubernetes.extend(extra.kubernetes);
    #[cfg(feature = "ec2")]
    config.ec2.extend(extra.ec2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interval_out_of_range_is_rejected_with_the_reason() {
        let error = validate(
            &json!({"hostMetrics": {"enabled": true, "intervalSeconds": 5}}),
            2,
        )
        .unwrap_err();
        assert!(
            error.contains("hostMetrics.intervalSeconds: 5 is out of range"),
            "{error}"
        );
        let accepted = validate(
            &json!({"hostMetrics": {"intervalSeconds": 10}, "future": {"x": 1}}),
            3,
        )
        .unwrap();
        assert_eq!(accepted.host_metrics, Some(Duration::from_secs(10)));
    }

    #[test]
    fn sections_parse_as_the_toml_ones() {
        let document = json!({
            "static-discovery": [{"id": "local", "targets": ["127.0.0.1:9100"]}],
            "scraper": [{"name": "node", "discoverer-id": "local", "discoverer-service": "static-discovery", "db": "remotes", "rp": "autogen", "enabled": true}],
        });
        let accepted = validate(&document, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(accepted.sections.scraper.len(), 1);
        assert_eq!(accepted.host_metrics, None);
        let error = validate(&json!({"scraper": [{"nmae": "x"}]}), 4).unwrap_err();
        assert!(error.contains("remote configuration revision 4"), "{error}");
    }
}
