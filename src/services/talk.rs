//! `[talk]` and `.talk()`: a Jianliao incoming-webhook POST.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Outgoing};

/// `[talk]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Send to Talk.
    pub enabled: bool,
    /// The webhook URL.
    pub url: String,
    /// Shown as the author.
    pub author_name: String,
}

/// The webhook request.
pub fn request(config: &Config, event: &Event) -> Outgoing {
    let body = json!({
        "authorName": config.author_name,
        "text": event.message,
        "title": event.id,
    });
    Outgoing::json(config.url.clone(), &body, true)
}
