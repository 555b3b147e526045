//! `[alerta]` and `.alerta()`: `POST {url}/alert`, the handler's options rendered as
//! templates over the event.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Options, Outgoing};

/// `[alerta]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to Alerta.
    pub enabled: bool,
    /// The API base URL.
    pub url: String,
    /// Skip TLS verification (unused by weir).
    pub insecure_skip_verify: bool,
    /// Default token.
    pub token: String,
    /// The token's `Authorization` scheme (empty: `Bearer`).
    pub token_prefix: String,
    /// Default environment.
    pub environment: String,
    /// Default origin.
    pub origin: String,
    /// Alert timeout (empty or "0s": 24h).
    #[serde(with = "weir_engine::duration::serde")]
    pub timeout: std::time::Duration,
}

/// The alert request.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Result<Outgoing, String> {
    let template = |key: &str, default: &str| -> Result<String, String> {
        event
            .render(&options.or(key, default))
            .map_err(|e| format!("alerta: option {key}: {e}"))
    };
    let severity = match event.level.as_str() {
        "OK" => "ok".to_owned(),
        "INFO" => "informational".to_owned(),
        level => level.to_ascii_lowercase(),
    };
    build(config, options, event, &severity, template)
}

fn build(
    config: &Config,
    options: &Options<'_>,
    event: &Event,
    severity: &str,
    template: impl Fn(&str, &str) -> Result<String, String>,
) -> Result<Outgoing, String> {
    let timeout = match options.get("timeout").and_then(|t| t.as_i64()) {
        Some(nanos) if nanos > 0 => nanos / 1_000_000_000,
        _ if !config.timeout.is_zero() => config.timeout.as_secs() as i64,
        _ => 86_400,
    };
    let tags: Vec<String> = event.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let body = json!({
        "resource": template("resource", &event.id)?,
        "event": template("event", &event.id)?,
        "environment": template("environment", &config.environment)?,
        "severity": severity,
        "group": template("group", "")?,
        "value": template("value", "")?,
        "text": event.message,
        "origin": template("origin", &config.origin)?,
        "service": options.strings("service").unwrap_or_default(),
        "tags": tags,
        "timeout": timeout,
        "rawData": event.data,
    });
    let token = options.or("token", &config.token);
    let prefix = if config.token_prefix.is_empty() {
        "Bearer"
    } else {
        config.token_prefix.as_str()
    };
    let mut request = Outgoing::json(format!("{}/alert", config.url), &body, true);
    if !token.is_empty() {
        request = request.header("Authorization", format!("{prefix} {token}"));
    }
    Ok(request)
}
