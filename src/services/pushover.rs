//! `[pushover]` and `.pushover()`: a form POST to the messages API.

use serde::{Deserialize, Serialize};

use super::{Event, Options, Outgoing};

/// `[pushover]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to Pushover.
    pub enabled: bool,
    /// The application token.
    pub token: String,
    /// Default user key.
    pub user_key: String,
    /// The messages URL.
    pub url: String,
}

/// The form request (keys sorted, as Go's `url.Values` encodes them).
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let priority = match event.level.as_str() {
        "CRITICAL" => "1",
        "WARNING" => "0",
        "INFO" => "-1",
        _ => "-2",
    };
    let mut form = std::collections::BTreeMap::new();
    form.insert("token", config.token.clone());
    form.insert("user", options.or("user-key", &config.user_key));
    form.insert("message", event.message.clone());
    form.insert("priority", priority.to_owned());
    for (key, option) in [
        ("device", "device"),
        ("title", "title"),
        ("url", "url"),
        ("url_title", "url-title"),
        ("sound", "sound"),
    ] {
        if let Some(value) = options.str(option).filter(|v| !v.is_empty()) {
            form.insert(key, value);
        }
    }
    let mut encoder = form_urlencoded::Serializer::new(String::new());
    for (key, value) in &form {
        encoder.append_pair(key, value);
    }
    Outgoing {
        url: config.url.clone(),
        headers: Vec::new(),
        content_type: "application/x-www-form-urlencoded",
        body: encoder.finish().into_bytes(),
        timeout: None,
    }
}
