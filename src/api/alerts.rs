//! Kapacitor's alert topic endpoints (`/kapacitor/v1/alerts/topics/...`); the topics and
//! their JSON live in `weir_engine::topics`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weir_engine::topics::{HandlerSpec, TopicError, parse_level};

use super::error;
use crate::daemon::Daemon;

fn topic_error(topic_error: TopicError) -> Response {
    let status = StatusCode::from_u16(topic_error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, topic_error.to_string())
}

fn answer(result: Result<serde_json::Value, TopicError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => topic_error(e),
    }
}

/// The `pattern` and `min-level` of a query string.
fn query(raw: Option<&str>) -> Result<(Option<String>, u8), Response> {
    let mut pattern = None;
    let mut min_level = 0;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "pattern" if !value.is_empty() => {
                if value.chars().count() > crate::tasks::MAX_PATTERN_CHARS {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "invalid pattern: longer than 256 characters",
                    ));
                }
                pattern = Some(value.into_owned());
            }
            "min-level" => min_level = parse_level(&value).map_err(topic_error)?,
            _ => {}
        }
    }
    Ok((pattern, min_level))
}

/// `GET /kapacitor/v1/alerts/topics`.
pub async fn list_topics(
    State(daemon): State<Arc<Daemon>>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match query(uri.query()) {
        Ok((pattern, min_level)) => Json(daemon.topics.topics_json(
            pattern.as_deref(),
            min_level,
            &uri.to_string(),
        ))
        .into_response(),
        Err(response) => response,
    }
}

/// `GET /kapacitor/v1/alerts/topics/{topic}`.
pub async fn get_topic(State(daemon): State<Arc<Daemon>>, Path(topic): Path<String>) -> Response {
    answer(daemon.topics.topic_json(&topic))
}

/// `DELETE /kapacitor/v1/alerts/topics/{topic}`.
pub async fn delete_topic(
    State(daemon): State<Arc<Daemon>>,
    Path(topic): Path<String>,
) -> Response {
    daemon.topics.delete_topic(&topic);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /kapacitor/v1/alerts/topics/{topic}/events`.
pub async fn list_events(
    State(daemon): State<Arc<Daemon>>,
    Path(topic): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match query(raw.as_deref()) {
        Ok((_, min_level)) => answer(daemon.topics.events_json(&topic, min_level)),
        Err(response) => response,
    }
}

/// `GET /kapacitor/v1/alerts/topics/{topic}/events/{event}`.
pub async fn get_event(
    State(daemon): State<Arc<Daemon>>,
    Path((topic, event)): Path<(String, String)>,
) -> Response {
    answer(daemon.topics.event_json(&topic, &event))
}

/// `GET /kapacitor/v1/alerts/topics/{topic}/handlers`.
pub async fn list_handlers(
    State(daemon): State<Arc<Daemon>>,
    Path(topic): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match query(uri.query()) {
        Ok((pattern, _)) => Json(daemon.topics.handlers_json(
            &topic,
            pattern.as_deref(),
            &uri.to_string(),
        ))
        .into_response(),
        Err(response) => response,
    }
}

fn handler_spec(topic: String, body: &Bytes) -> Result<HandlerSpec, Response> {
    let mut spec: HandlerSpec = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("invalid handler json: {e}"),
        )
    })?;
    spec.topic = topic;
    Ok(spec)
}

/// `POST /kapacitor/v1/alerts/topics/{topic}/handlers`.
pub async fn create_handler(
    State(daemon): State<Arc<Daemon>>,
    Path(topic): Path<String>,
    body: Bytes,
) -> Response {
    match handler_spec(topic, &body) {
        Ok(spec) => answer(daemon.topics.put_handler(spec, false)),
        Err(response) => response,
    }
}

/// `GET /kapacitor/v1/alerts/topics/{topic}/handlers/{handler}`.
pub async fn get_handler(
    State(daemon): State<Arc<Daemon>>,
    Path((topic, handler)): Path<(String, String)>,
) -> Response {
    answer(daemon.topics.handler_json(&topic, &handler))
}

/// `PUT /kapacitor/v1/alerts/topics/{topic}/handlers/{handler}`: replace it (a new id renames).
pub async fn replace_handler(
    State(daemon): State<Arc<Daemon>>,
    Path((topic, handler)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if daemon.topics.handler_spec(&topic, &handler).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("unknown handler: {handler:?}"),
        );
    }
    let spec = match handler_spec(topic.clone(), &body) {
        Ok(spec) => spec,
        Err(response) => return response,
    };
    let renamed = spec.id != handler;
    let result = daemon.topics.put_handler(spec, !renamed);
    if renamed && result.is_ok() {
        if let Err(e) = daemon.topics.delete_handler(&topic, &handler) {
            return topic_error(e);
        }
    }
    answer(result)
}

/// `PATCH /kapacitor/v1/alerts/topics/{topic}/handlers/{handler}`: an RFC 6902 JSON Patch
/// of the handler's spec (`[{"op": "replace", "path": "/options/channel", "value": "#x"}]`).
pub async fn patch_handler(
    State(daemon): State<Arc<Daemon>>,
    Path((topic, handler)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(spec) = daemon.topics.handler_spec(&topic, &handler) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("unknown handler: {handler:?}"),
        );
    };
    let patch: json_patch::Patch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid patch json: {e}; send a JSON Patch list of operations"),
            );
        }
    };
    let mut document = serde_json::to_value(&spec).unwrap_or_default();
    if let Err(e) = json_patch::patch(&mut document, &patch) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("failed to apply patch: {e}"),
        );
    }
    let mut patched: HandlerSpec = match serde_json::from_value(document) {
        Ok(patched) => patched,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the patched handler is not a handler spec: {e}"),
            );
        }
    };
    if patched.topic != topic {
        return error(StatusCode::BAD_REQUEST, "cannot change topic in update");
    }
    patched.topic = topic.clone();
    let renamed = patched.id != handler;
    let result = daemon.topics.put_handler(patched, !renamed);
    if renamed && result.is_ok() {
        if let Err(e) = daemon.topics.delete_handler(&topic, &handler) {
            return topic_error(e);
        }
    }
    answer(result)
}

/// `DELETE /kapacitor/v1/alerts/topics/{topic}/handlers/{handler}`.
pub async fn delete_handler(
    State(daemon): State<Arc<Daemon>>,
    Path((topic, handler)): Path<(String, String)>,
) -> Response {
    match daemon.topics.delete_handler(&topic, &handler) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => topic_error(e),
    }
}
