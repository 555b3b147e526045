//! `[teams]` and `.teams()`: a Microsoft Teams MessageCard.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[teams]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to Teams.
    pub enabled: bool,
    /// The channel's incoming-webhook URL.
    pub channel_url: String,
    /// Send every alert here.
    pub global: bool,
    /// With `global`: only level changes.
    pub state_changes_only: bool,
}

/// The webhook request (Kapacitor sends it without a trailing newline).
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let title = format!("{}: [{}]", event.level, event.id);
    let body = json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "title": title,
        "text": event.message,
        "summary": format!("{title} - {}...", event.message),
    });
    Outgoing::json(options.or("channel-url", &config.channel_url), &body, false)
}
