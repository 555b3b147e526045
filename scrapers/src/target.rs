//! From discovered target groups to scrape targets: label defaults, relabelling, `instance`,
//! the scrape URL, and a stable key for diffing and spreading scrapes over the interval.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use weir_engine::discovery::{ADDRESS_LABEL, METRICS_PATH_LABEL, SCHEME_LABEL};
use weir_engine::{Labels, TargetGroup};

use crate::config::ScraperConfig;

/// The label naming the job (the scraper).
pub const JOB_LABEL: &str = "job";
/// The label naming the scraped instance (`host:port` by default).
pub const INSTANCE_LABEL: &str = "instance";
const PARAM_PREFIX: &str = "__param_";
const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";

/// One target to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// Labels before relabelling: group labels, the target's labels and the defaults.
    pub discovered: Labels,
    /// Labels after relabelling, without `__`-prefixed labels, with `instance` set: the
    /// tags every point of this target carries.
    pub labels: Labels,
    /// What is fetched.
    pub url: reqwest::Url,
    /// Hash of `labels` and `url`: equal keys are the same target.
    pub key: u64,
}

impl TargetSpec {
    /// Where in the interval this target's scrapes fall, so targets spread evenly.
    pub fn offset(&self, interval: Duration) -> Duration {
        let interval_nanos = interval.as_nanos().max(1);
        let offset = u128::from(self.key) % interval_nanos;
        // offset < interval, which fits a Duration.
        Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
    }

    /// The `instance` label.
    pub fn instance(&self) -> &str {
        self.labels.get(INSTANCE_LABEL).map_or("", String::as_str)
    }
}

/// Targets of a scraper and the targets dropped on the way, with reasons.
#[derive(Debug, Default)]
pub struct BuiltTargets {
    /// Unique targets, in a stable order.
    pub targets: Vec<TargetSpec>,
    /// Why discovered targets were dropped (relabelling drops are not listed).
    pub dropped: Vec<String>,
    /// Targets dropped by relabelling.
    pub n_relabel_dropped: usize,
}

/// Turn target groups into scrape targets for a scraper.
pub fn build_targets(config: &ScraperConfig, groups: &[TargetGroup]) -> BuiltTargets {
    let mut built = BuiltTargets::default();
    let mut by_key = BTreeMap::new();
    for group in groups {
        for (target_idx, target_labels) in group.targets.iter().enumerate() {
            let mut labels = group.labels.clone();
            labels.extend(target_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            add_defaults(config, &mut labels);
            let discovered = labels.clone();
            let Some(relabelled) = weir_engine::relabel::process(labels, &config.relabel_configs)
            else {
                built.n_relabel_dropped += 1;
                continue;
            };
            match finish(config, discovered, relabelled) {
                Ok(spec) => {
                    by_key.entry(spec.key).or_insert(spec);
                }
                Err(reason) => built
                    .dropped
                    .push(format!("{} target {target_idx}: {reason}", group.source)),
            }
        }
    }
    built.targets = by_key.into_values().collect();
    built
}

fn add_defaults(config: &ScraperConfig, labels: &mut Labels) {
    let defaults = [
        (JOB_LABEL, config.name.clone()),
        (SCHEME_LABEL, config.scheme.clone()),
        (METRICS_PATH_LABEL, config.metrics_path.clone()),
        (
            SCRAPE_INTERVAL_LABEL,
            weir_engine::duration::format(config.scrape_interval),
        ),
        (
            SCRAPE_TIMEOUT_LABEL,
            weir_engine::duration::format(config.scrape_timeout),
        ),
    ];
    for (name, value) in defaults {
        labels.entry(name.to_owned()).or_insert(value);
    }
    for (name, values) in &config.params {
        if let Some(first) = values.first() {
            labels
                .entry(format!("{PARAM_PREFIX}{name}"))
                .or_insert_with(|| first.clone());
        }
    }
}

fn finish(
    config: &ScraperConfig,
    discovered: Labels,
    mut labels: Labels,
) -> Result<TargetSpec, String> {
    let address = labels.get(ADDRESS_LABEL).cloned().unwrap_or_default();
    if address.is_empty() {
        return Err("no __address__ label".to_owned());
    }
    if address.contains('/') {
        return Err(format!("__address__ {address:?} contains a path"));
    }
    let scheme = labels.get(SCHEME_LABEL).map_or("http", String::as_str);
    let path = labels
        .get(METRICS_PATH_LABEL)
        .map_or("/metrics", String::as_str);
    let mut url = reqwest::Url::parse(&format!("{scheme}://{address}{path}"))
        .map_err(|error| format!("invalid scrape url {scheme}://{address}{path}: {error}"))?;
    // Config params, with the first value of each replaced by its `__param_` label.
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, values) in &config.params {
        let override_value = labels.get(&format!("{PARAM_PREFIX}{name}"));
        for (value_idx, value) in values.iter().enumerate() {
            let value = if value_idx == 0 {
                override_value.unwrap_or(value)
            } else {
                value
            };
            query.push((name.clone(), value.clone()));
        }
    }
    for (name, value) in &labels {
        match name.strip_prefix(PARAM_PREFIX) {
            Some(param) if !config.params.contains_key(param) => {
                query.push((param.to_owned(), value.clone()));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    labels.entry(INSTANCE_LABEL.to_owned()).or_insert(address);
    labels.retain(|name, value| !name.starts_with("__") && !value.is_empty());
    let instance = labels.get(INSTANCE_LABEL).map_or("", String::as_str);
    if config.blacklist.iter().any(|blocked| blocked == instance) {
        return Err(format!("instance {instance:?} is blacklisted"));
    }
    let mut hasher = DefaultHasher::new();
    labels.hash(&mut hasher);
    url.as_str().hash(&mut hasher);
    let key = hasher.finish();
    Ok(TargetSpec {
        discovered,
        labels,
        url,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn group(targets: &[&[(&str, &str)]], group_labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "static/0".to_owned(),
            targets: targets.iter().map(|t| labels(t)).collect(),
            labels: labels(group_labels),
        }
    }

    #[test]
    fn defaults_instance_and_url() {
        let config = ScraperConfig::new("node", "prom", "autogen");
        let built = build_targets(
            &config,
            &[group(
                &[&[("__address__", "127.0.0.1:9100"), ("env", "prod")]],
                &[("env", "test"), ("team", "infra")],
            )],
        );
        assert!(built.dropped.is_empty());
        let target = &built.targets[0];
        assert_eq!(target.url.as_str(), "http://127.0.0.1:9100/metrics");
        assert_eq!(
            target.labels,
            labels(&[
                ("env", "prod"),
                ("instance", "127.0.0.1:9100"),
                ("job", "node"),
                ("team", "infra")
            ])
        );
        assert_eq!(target.discovered["__scrape_interval__"], "1m0s");
        assert_eq!(target.discovered["__metrics_path__"], "/metrics");
        assert_eq!(target.instance(), "127.0.0.1:9100");
    }

    #[test]
    fn relabelling_params_and_overrides() {
        let mut config: ScraperConfig = serde_json::from_value(serde_json::json!({
            "name": "blackbox", "db": "d", "rp": "r", "scheme": "https",
            "params": {"module": ["http_2xx", "extra"]},
            "relabel-configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": "127.0.0.1:9115"},
                {"source_labels": ["__meta_drop"], "regex": "yes", "action": "drop"}
            ]
        }))
        .unwrap();
        config.metrics_path = "/probe".to_owned();
        let built = build_targets(
            &config,
            &[group(
                &[
                    &[("__address__", "example.org")],
                    &[("__address__", "x"), ("__meta_drop", "yes")],
                ],
                &[],
            )],
        );
        assert_eq!(built.n_relabel_dropped, 1);
        assert_eq!(built.targets.len(), 1);
        let target = &built.targets[0];
        assert_eq!(
            target.url.as_str(),
            "https://127.0.0.1:9115/probe?module=http_2xx&module=extra&target=example.org"
        );
        assert_eq!(
            target.labels,
            labels(&[("instance", "example.org"), ("job", "blackbox")])
        );
    }

    #[test]
    fn bad_targets_are_dropped_with_reasons_and_duplicates_merged() {
        let mut config = ScraperConfig::new("j", "d", "r");
        config.blacklist = vec!["10.0.0.9:80".to_owned()];
        let built = build_targets(
            &config,
            &[group(
                &[
                    &[("env", "x")],
                    &[("__address__", "10.0.0.9:80")],
                    &[("__address__", "a:1")],
                    &[("__address__", "a:1")],
                    &[("__address__", "a:1/x")],
                ],
                &[],
            )],
        );
        assert_eq!(built.targets.len(), 1);
        assert_eq!(
            built.dropped,
            [
                "static/0 target 0: no __address__ label",
                "static/0 target 1: instance \"10.0.0.9:80\" is blacklisted",
                "static/0 target 4: __address__ \"a:1/x\" contains a path",
            ]
        );
    }

    #[test]
    fn offsets_are_stable_and_within_the_interval() {
        let config = ScraperConfig::new("j", "d", "r");
        let groups: Vec<TargetGroup> = (0..50)
            .map(|idx| {
                let address = format!("10.0.0.{idx}:9100");
                group(&[&[("__address__", address.as_str())]], &[])
            })
            .collect();
        let built = build_targets(&config, &groups);
        let interval = Duration::from_secs(10);
        let offsets: Vec<Duration> = built.targets.iter().map(|t| t.offset(interval)).collect();
        assert!(offsets.iter().all(|offset| *offset < interval));
        // Spread: both halves of the interval are used.
        assert!(offsets.iter().any(|offset| *offset < interval / 2));
        assert!(offsets.iter().any(|offset| *offset >= interval / 2));
        let again = build_targets(&config, &groups);
        assert_eq!(again.targets, built.targets);
    }
}
