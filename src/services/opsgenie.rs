//! `[opsgenie]` and `.opsGenie()`: OpsGenie's v1 alert API (the recovery goes to
//! `recovery_url`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[opsgenie]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to OpsGenie.
    pub enabled: bool,
    /// The API key.
    pub api_key: String,
    /// Default teams.
    pub teams: Vec<String>,
    /// Default recipients.
    pub recipients: Vec<String>,
    /// The alert URL.
    pub url: String,
    /// Where recoveries go.
    #[serde(rename = "recovery_url")]
    pub recovery_url: String,
    /// Send every alert here.
    pub global: bool,
}

/// The alert (or recovery note) request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let recovery = event.is_ok();
    let level = if recovery {
        "RECOVERY"
    } else {
        event.level.as_str()
    };
    let body = json!({
        "apiKey": config.api_key,
        "message": event.message,
        "entity": event.id,
        "alias": event.id,
        "note": if recovery { event.message.as_str() } else { "" },
        "monitoring_tool": "kapacitor",
        "details": {"Level": level, "Monitoring Tool": "Kapacitor"},
        "description": event.data_json(),
        "teams": options.strings("teams").unwrap_or_else(|| config.teams.clone()),
        "recipients": options.strings("recipients").unwrap_or_else(|| config.recipients.clone()),
    });
    let url = if recovery {
        &config.recovery_url
    } else {
        &config.url
    };
    Outgoing::json(format!("{url}/"), &body, true)
}
