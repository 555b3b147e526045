//! `[[slack]]` and `.slack()`: an incoming-webhook POST with one attachment coloured by level.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// One `[[slack]]` workspace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to this workspace.
    pub enabled: bool,
    /// The workspace handlers get when they name none.
    pub default: bool,
    /// Its name, for `.workspace()`.
    pub workspace: String,
    /// The incoming-webhook URL.
    pub url: String,
    /// Default channel.
    pub channel: String,
    /// Default user name.
    pub username: String,
    /// Default icon emoji.
    pub icon_emoji: String,
    /// Send every alert here, not only the tasks' `.slack()`.
    pub global: bool,
    /// With `global`: only level changes.
    pub state_changes_only: bool,
    /// Kapacitor's TLS keys; weir uses the system roots.
    pub ssl_ca: String,
    /// Client certificate (unused by weir).
    pub ssl_cert: String,
    /// Client key (unused by weir).
    pub ssl_key: String,
    /// Skip TLS verification (unused by weir).
    pub insecure_skip_verify: bool,
}

/// The webhook request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let color = match event.level.as_str() {
        "WARNING" => "warning",
        "CRITICAL" => "danger",
        _ => "good",
    };
    let body = json!({
        "as_user": false,
        "attachments": [{
            "fallback": event.message,
            "color": color,
            "text": event.message,
            "mrkdwn_in": ["text"],
        }],
        "channel": options.or("channel", &config.channel),
        "icon_emoji": options.or("icon-emoji", &config.icon_emoji),
        "text": "",
        "username": options.or("username", &config.username),
    });
    Outgoing::json(config.url.clone(), &body, true)
}
