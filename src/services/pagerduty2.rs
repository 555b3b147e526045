//! `[pagerduty2]` and `.pagerDuty2()`: Events API v2 (`trigger`, or `resolve` on recovery).

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{Event, Options, Outgoing, Site};

/// `[pagerduty2]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to PagerDuty.
    pub enabled: bool,
    /// The enqueue URL.
    pub url: String,
    /// Default routing key.
    pub routing_key: String,
    /// Send every alert here.
    pub global: bool,
}

/// The enqueue request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event, site: &Site) -> Outgoing {
    let routing_key = options.or("routing-key", &config.routing_key);
    let body = if event.is_ok() {
        json!({"routing_key": routing_key, "dedup_key": event.id, "event_action": "resolve"})
    } else {
        let links = match options.get("links") {
            Some(Json::Array(links)) => Json::Array(links.clone()),
            _ => Json::Null,
        };
        let timestamp = {
            let rfc = weir_engine::json::format_time(event.time_nanos);
            let (seconds, nanos) = (
                rfc.split('.')
                    .next()
                    .unwrap_or(&rfc)
                    .trim_end_matches('Z')
                    .to_owned(),
                event.time_nanos.rem_euclid(1_000_000_000),
            );
            format!("{seconds}.{nanos:09}Z")
        };
        json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": event.id,
            "payload": {
                "summary": event.message,
                "source": event.tags.get("host").cloned().unwrap_or_else(|| "unknown".into()),
                "severity": event.level.to_ascii_lowercase(),
                "timestamp": timestamp,
                "class": event.task,
                "component": "",
                "group": "",
                "custom_details": {"result": event.data},
            },
            "images": null,
            "links": links,
            "client": "kapacitor",
            "client_url": site.client_url,
        })
    };
    Outgoing::json(config.url.clone(), &body, true)
        .header("Accept", "application/vnd.pagerduty+json;version=2".into())
}
