//! `[opsgenie2]` and `.opsGenie2()`: OpsGenie's v2 alert API; a recovery adds a note to the
//! alert or closes it (`recovery_action`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use super::{Event, Options, Outgoing};

/// `[opsgenie2]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to OpsGenie.
    pub enabled: bool,
    /// The API key (`Authorization: GenieKey ...`).
    pub api_key: String,
    /// Default teams.
    pub teams: Vec<String>,
    /// Default recipients (users).
    pub recipients: Vec<String>,
    /// The alerts URL.
    pub url: String,
    /// `notes` or `close`.
    #[serde(rename = "recovery_action")]
    pub recovery_action: String,
    /// Send every alert here.
    pub global: bool,
}

/// The alert, note or close request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let alias = base64::engine::general_purpose::URL_SAFE.encode(event.id.as_bytes());
    let auth = format!("GenieKey {}", config.api_key);
    if event.is_ok() {
        let action = match options
            .or("recovery-action", &config.recovery_action)
            .as_str()
        {
            "close" => "close",
            _ => "notes",
        };
        let url = format!("{}/{alias}/{action}?identifierType=alias", config.url);
        return Outgoing::json(url, &json!({"note": event.message}), true)
            .header("Authorization", auth);
    }
    let priority = match event.level.as_str() {
        "CRITICAL" => "P1",
        "WARNING" => "P3",
        _ => "P5",
    };
    let mut details = Map::new();
    for (key, value) in &event.tags {
        details.insert(key.clone(), value.clone().into());
    }
    details.insert("Kapacitor Task Name".into(), event.name.clone().into());
    details.insert("Level".into(), event.level.clone().into());
    details.insert("Monitoring Tool".into(), "Kapacitor".into());
    let teams = options
        .strings("teams")
        .unwrap_or_else(|| config.teams.clone());
    let users = options
        .strings("recipients")
        .unwrap_or_else(|| config.recipients.clone());
    let responders: Vec<Json> = teams
        .iter()
        .map(|name| json!({"type": "team", "name": name}))
        .chain(
            users
                .iter()
                .map(|user| json!({"type": "user", "username": user})),
        )
        .collect();
    let body = json!({
        "message": event.message,
        "entity": event.id,
        "alias": alias,
        "note": "",
        "priority": priority,
        "details": details,
        "description": event.data_json(),
        "responders": responders,
    });
    Outgoing::json(config.url.clone(), &body, true).header("Authorization", auth)
}
