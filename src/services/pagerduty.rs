//! `[pagerduty]` and `.pagerDuty()`: the generic events API (v1).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing, Site};

/// `[pagerduty]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to PagerDuty.
    pub enabled: bool,
    /// The create-event URL.
    pub url: String,
    /// Default service key.
    pub service_key: String,
    /// Send every alert here.
    pub global: bool,
}

/// The event request: trigger, or resolve on recovery.
pub fn request(config: &Config, options: &Options<'_>, event: &Event, site: &Site) -> Outgoing {
    let body = json!({
        "service_key": options.or("service-key", &config.service_key),
        "event_type": if event.is_ok() { "resolve" } else { "trigger" },
        "description": event.message,
        "client": "kapacitor",
        "client_url": site.client_url,
        "details": event.details,
        "incident_key": event.id,
    });
    Outgoing::json(config.url.clone(), &body, true)
}
