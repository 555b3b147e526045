//! `[[discord]]` and `.discord()`: a webhook POST with one embed coloured by level.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// One `[[discord]]` webhook.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to this webhook.
    pub enabled: bool,
    /// The webhook handlers get when they name none.
    pub default: bool,
    /// Its name, for `.workspace()`.
    pub workspace: String,
    /// The webhook URL.
    pub url: String,
    /// Add the event time to the embed.
    pub timestamp: bool,
    /// Default user name.
    pub username: String,
    /// Default avatar.
    pub avatar_url: String,
    /// Default embed title.
    pub embed_title: String,
    /// Send every alert here.
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
    let color: u32 = match event.level.as_str() {
        "WARNING" => 0xF48D38,
        "CRITICAL" => 0xF95F53,
        "INFO" => 0x7289DA,
        _ => 0x7A65F2,
    };
    let mut embed = json!({
        "color": color,
        "title": options.or("embed-title", &config.embed_title),
        "description": event.message,
    });
    if options.bool("timestamp").unwrap_or(config.timestamp) {
        embed["timestamp"] = event.time.clone().into();
    }
    let body = json!({
        "avatar_url": options.or("avatar-url", &config.avatar_url),
        "embeds": [embed],
        "username": options.or("username", &config.username),
    });
    Outgoing::json(config.url.clone(), &body, true)
}
