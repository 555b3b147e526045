//! `[victorops]` and `.victorOps()`: the REST endpoint's alert.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[victorops]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to VictorOps.
    pub enabled: bool,
    /// The API key (a URL segment).
    pub api_key: String,
    /// Default routing key.
    pub routing_key: String,
    /// The REST endpoint, without key and routing key.
    pub url: String,
    /// Send every alert here.
    pub global: bool,
    /// Send `data` as JSON rather than as a JSON string.
    pub json_data: bool,
}

/// The alert request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let message_type = match event.level.as_str() {
        "OK" => "RECOVERY",
        level => level,
    };
    let data = if config.json_data {
        event.data.clone()
    } else {
        event.data_json().into()
    };
    let body = json!({
        "message_type": message_type,
        "entity_id": event.id,
        "state_message": event.message,
        "timestamp": event.time_nanos.div_euclid(1_000_000_000),
        "monitoring_tool": "kapacitor",
        "data": data,
    });
    let routing_key = options.or("routing-key", &config.routing_key);
    let url = format!("{}/{}/{}", config.url, config.api_key, routing_key);
    Outgoing::json(url, &body, true)
}
