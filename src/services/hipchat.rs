//! `[hipchat]` and `.hipChat()`: a room notification.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[hipchat]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to HipChat.
    pub enabled: bool,
    /// The room API base, `https://SUBDOMAIN.hipchat.com/v2/room`.
    pub url: String,
    /// Default token.
    pub token: String,
    /// Default room.
    pub room: String,
    /// Send every alert here.
    pub global: bool,
    /// With `global`: only level changes.
    pub state_changes_only: bool,
}

/// The notification request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Result<Outgoing, String> {
    let room = options.or("room", &config.room);
    if room.is_empty() {
        return Err("hipchat: no room: set .room() or room in [hipchat]".into());
    }
    let token = options.or("token", &config.token);
    let color = match event.level.as_str() {
        "WARNING" => "yellow",
        "CRITICAL" => "red",
        "INFO" => "gray",
        _ => "green",
    };
    let body = json!({
        "color": color,
        "from": "kapacitor",
        "message": event.message,
        "notify": true,
    });
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("auth_token", &token)
        .finish();
    let url = format!("{}/{}/notification?{query}", config.url, room);
    Ok(Outgoing::json(url, &body, true))
}
