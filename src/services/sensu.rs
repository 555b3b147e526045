//! `[sensu]` and `.sensu()`: a check result as one JSON line over TCP to the Sensu client
//! socket, one connection per event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::{Event, Options, Outgoing};

/// `[sensu]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Send to Sensu.
    pub enabled: bool,
    /// The client socket, `host:port`.
    pub addr: String,
    /// Default source.
    pub source: String,
    /// Default Sensu handlers.
    pub handlers: Vec<String>,
}

/// The check result; `.metadata(k, v)` entries sit at the top level, as Kapacitor puts them.
pub fn request(config: &Config, options: &Options<'_>, event: &Event) -> Outgoing {
    let status = match event.level.as_str() {
        "CRITICAL" => 2,
        "WARNING" => 1,
        "INFO" => 0,
        _ => 0,
    };
    let mut body = Map::new();
    if let Some(Json::Object(metadata)) = options.get("metadata") {
        body.extend(metadata.clone());
    }
    body.insert("name".into(), event.id.clone().into());
    body.insert("source".into(), options.or("source", &config.source).into());
    body.insert("output".into(), event.message.clone().into());
    body.insert("status".into(), status.into());
    let handlers = options
        .strings("handlers")
        .unwrap_or_else(|| config.handlers.clone());
    if !handlers.is_empty() {
        body.insert("handlers".into(), handlers.into());
    }
    let mut request = Outgoing::json(format!("tcp://{}", config.addr), &Json::Object(body), true);
    request.content_type = "";
    request
}
