//! `POST /kapacitor/v1/loglevel` (`kapacitor level`) and `GET /kapacitor/v1preview/logs`
//! (`kapacitor logs`, `kapacitor watch TASK`): the running level, and a stream of the log
//! entries that match the query (`task=cpu node=log2`, `lvl=error` or `lvl=warn+`), as JSON
//! lines when the request says `Content-Type: application/json`, else logfmt.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error;
use crate::logging::{self, Entry, LEVELS};

/// `POST /kapacitor/v1/loglevel` with `{"level": "debug"}`.
pub async fn set_level(body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Request {
        level: String,
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid JSON request body: {e}; send {{\"level\": \"debug\"}}"),
            );
        }
    };
    match logging::set_level(&request.level) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

/// What a session lets through: entries at `min_level` or above (exactly `level` without
/// `+`), whose fields equal every other parameter.
struct Matcher {
    levels: Vec<&'static str>,
    fields: BTreeMap<String, String>,
}

impl Matcher {
    fn parse(raw: Option<&str>) -> Result<Matcher, String> {
        let mut matcher = Matcher {
            levels: LEVELS.to_vec(),
            fields: BTreeMap::new(),
        };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if key == "lvl" || key == "level" {
                let (name, and_above) = match value.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (value.as_ref(), false),
                };
                let at = LEVELS.iter().position(|l| *l == name).ok_or_else(|| {
                    format!(
                        "invalid lvl {value:?}: use one of {}, with + for that level and above",
                        LEVELS.join(", ")
                    )
                })?;
                matcher.levels = if and_above {
                    LEVELS[at..].to_vec()
                } else {
                    vec![LEVELS[at]]
                };
            } else {
                matcher.fields.insert(key.into_owned(), value.into_owned());
            }
        }
        Ok(matcher)
    }

    fn matches(&self, entry: &Entry) -> bool {
        let level = entry.get("lvl").and_then(Value::as_str).unwrap_or("info");
        self.levels.contains(&level)
            && self
                .fields
                .iter()
                .all(|(key, value)| entry.get(key).and_then(Value::as_str) == Some(value))
    }
}

/// logfmt: `ts=... lvl=info msg="..." task=cpu`, quoting values with spaces or quotes.
fn logfmt(entry: &Entry) -> String {
    let mut line = String::new();
    let first = ["ts", "lvl", "msg"];
    let ordered = first
        .iter()
        .filter_map(|key| entry.get(*key).map(|v| (*key, v)))
        .chain(
            entry
                .iter()
                .filter(|(k, _)| !first.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v)),
        );
    for (key, value) in ordered {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(key);
        line.push('=');
        if text.is_empty() || text.contains([' ', '"', '=']) {
            line.push_str(&Value::String(text).to_string());
        } else {
            line.push_str(&text);
        }
    }
    line.push('\n');
    line
}

/// `GET /kapacitor/v1preview/logs`: follow the log until the client goes away.
pub async fn logs(headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let matcher = match Matcher::parse(raw.as_deref()) {
        Ok(matcher) => matcher,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (receiver, ended) = logging::subscribe();
    let lines = futures::stream::unfold(
        (receiver, ended, matcher),
        move |(mut receiver, mut ended, matcher)| async move {
            loop {
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    _ = ended.wait_for(|ended| *ended) => return None,
                };
                match received {
                    Ok(entry) if matcher.matches(&entry) => {
                        let line = if json {
                            format!("{}\n", Value::Object((*entry).clone()))
                        } else {
                            logfmt(&entry)
                        };
                        return Some((Ok::<_, std::io::Error>(line), (receiver, ended, matcher)));
                    }
                    Ok(_) => {}
                    // A slow reader skips what it missed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let content_type = if json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(lines),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn entry(value: Value) -> Entry {
        Arc::new(value.as_object().cloned().unwrap())
    }

    #[test]
    fn sessions_match_fields_and_levels() {
        let warn = entry(json!({"lvl": "warn", "msg": "slow", "task": "cpu", "node": "log2"}));
        let debug = entry(json!({"lvl": "debug", "msg": "x", "task": "cpu"}));
        let task = Matcher::parse(Some("task=cpu")).unwrap();
        assert!(task.matches(&warn) && task.matches(&debug));
        let warn_up = Matcher::parse(Some("task=cpu&lvl=warn%2B")).unwrap();
        assert!(warn_up.matches(&warn) && !warn_up.matches(&debug));
        let exact = Matcher::parse(Some("lvl=debug")).unwrap();
        assert!(!exact.matches(&warn) && exact.matches(&debug));
        assert!(!Matcher::parse(Some("node=log3")).unwrap().matches(&warn));
        let error = Matcher::parse(Some("lvl=loud")).err().unwrap();
        assert!(error.contains("debug, info, warn, error"), "{error}");
        assert_eq!(logfmt(&warn), "lvl=warn msg=slow node=log2 task=cpu\n",);
        let spaced = entry(json!({"ts": "t", "lvl": "info", "msg": "a b"}));
        assert_eq!(logfmt(&spaced), "ts=t lvl=info msg=\"a b\"\n");
    }
}
