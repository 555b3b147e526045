//! `[telegram]` and `.telegram()`: the Bot API's `sendMessage`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[telegram]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to Telegram.
    pub enabled: bool,
    /// The Bot API base, `https://api.telegram.org/bot`.
    pub url: String,
    /// The bot token.
    pub token: String,
    /// Default chat.
    pub chat_id: String,
    /// `Markdown` or `HTML`.
    pub parse_mode: String,
    /// Default for `.disableWebPagePreview()`.
    pub disable_web_page_preview: bool,
    /// Default for `.disableNotification()`.
    pub disable_notification: bool,
    /// Send every alert here.
    pub global: bool,
    /// With `global`: only level changes.
    pub state_changes_only: bool,
}

/// The `sendMessage` request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let mut body = json!({
        "chat_id": options.or("chat-id", &config.chat_id),
        "text": event.message,
        "disable_web_page_preview": options.bool("disable-web-page-preview").unwrap_or(config.disable_web_page_preview),
        "disable_notification": options.bool("disable-notification").unwrap_or(config.disable_notification),
    });
    let parse_mode = options.or("parse-mode", &config.parse_mode);
    if !parse_mode.is_empty() {
        body["parse_mode"] = parse_mode.into();
    }
    let url = format!("{}{}/sendMessage", config.url, config.token);
    Outgoing::json(url, &body, true)
}
