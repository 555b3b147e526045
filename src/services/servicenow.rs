//! `[servicenow]` and `.serviceNow()`: an event for ServiceNow's event management, the
//! handler's options rendered as templates over the event.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[servicenow]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to ServiceNow.
    pub enabled: bool,
    /// The event API URL.
    pub url: String,
    /// Default source.
    pub source: String,
    /// Basic-auth user.
    pub username: String,
    /// Basic-auth password.
    pub password: String,
    /// Send every alert here.
    pub global: bool,
    /// With `global`: only level changes.
    pub state_changes_only: bool,
}

/// The event request (Kapacitor sends it without a trailing newline).
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let render = |key: &str| {
        options
            .str(key)
            .map(|source| event.render(&source).unwrap_or(source))
            .unwrap_or_default()
    };
    let severity = match event.level.as_str() {
        "CRITICAL" => "1",
        "WARNING" => "4",
        _ => "5",
    };
    let mut body = json!({
        "source": options.or("source", &config.source),
        "node": render("node"),
        "type": render("type"),
        "resource": render("resource"),
        "metric_name": render("metric-name"),
        "message_key": render("message-key"),
        "severity": severity,
        "description": event.message,
    });
    if let Some(info) = options.get("additional-info").filter(|i| i.is_object()) {
        body["additional_info"] = info.clone();
    }
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", config.username, config.password));
    Outgoing::json(config.url.clone(), &body, false)
        .header("Authorization", format!("Basic {credentials}"))
}
