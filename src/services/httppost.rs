//! `[[httppost]]` and `.post().endpoint('name')`: the alert JSON (or the endpoint's
//! `alert-template`, rendered) to the endpoint's URL, with its headers and basic auth.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{Event, Options, Outgoing};

/// One `[[httppost]]` endpoint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Its name, for `.endpoint()`.
    pub endpoint: String,
    /// Where the requests go.
    pub url: String,
    /// Headers of every request.
    pub headers: BTreeMap<String, String>,
    /// Basic auth of every request.
    pub basic_auth: BasicAuth,
    /// A template for the body of alert requests (Go's `text/template` over the alert).
    pub alert_template: String,
    /// A file holding the alert template.
    pub alert_template_file: String,
    /// Kapacitor's template for `httpPost` node rows (not used by weir's `httpPost`).
    pub row_template: String,
    /// A file holding the row template.
    pub row_template_file: String,
}

/// `[httppost.basic-auth]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The request to the endpoint the handler names.
pub fn request(
    configs: &[Config],
    options: &Options<'_>,
    event: &Event,
    event_json: &[u8],
) -> Result<Outgoing, String> {
    let name = options.str("endpoint").unwrap_or_default();
    let config = configs
        .iter()
        .find(|config| config.endpoint == name)
        .ok_or_else(|| format!("no [[httppost]] section with endpoint = {name:?}"))?;
    let template = if config.alert_template_file.is_empty() {
        config.alert_template.clone()
    } else {
        std::fs::read_to_string(&config.alert_template_file).map_err(|e| {
            format!(
                "httppost {name}: alert-template-file {}: {e}",
                config.alert_template_file
            )
        })?
    };
    let (body, content_type) = if template.is_empty() {
        (event_json.to_vec(), "application/json")
    } else {
        // Kapacitor sends a rendered template without a Content-Type.
        let body = event
            .render(&template)
            .map_err(|e| format!("httppost {name}: alert-template: {e}"))?;
        (body.into_bytes(), "")
    };
    let mut headers: Vec<(String, String)> = config
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !config.basic_auth.username.is_empty() {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            config.basic_auth.username, config.basic_auth.password
        ));
        headers.push(("Authorization".into(), format!("Basic {credentials}")));
    }
    if let Some(Json::Object(task_headers)) = options.get("headers") {
        for (key, value) in task_headers {
            headers.push((key.clone(), value.as_str().unwrap_or_default().to_owned()));
        }
    }
    Ok(Outgoing {
        url: config.url.clone(),
        headers,
        content_type,
        body,
        timeout: None,
    })
}
