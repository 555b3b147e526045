//! Kapacitor's task and template endpoints, with its request and response shapes.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{KAPACITOR_VERSION, error};
use crate::daemon::Daemon;
use crate::tasks::{ListQuery, TaskError, TaskRequest, TaskView, TemplateRequest};

/// `GET|HEAD /kapacitor/v1/ping`.
pub async fn ping() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "X-Kapacitor-Version",
        HeaderValue::from_static(KAPACITOR_VERSION),
    );
    (StatusCode::NO_CONTENT, headers).into_response()
}

fn task_error(task_error: TaskError) -> Response {
    let status =
        StatusCode::from_u16(task_error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, task_error.to_string())
}

/// Run task and template work (compiling scripts, rendering DOT and JSON) on the blocking
/// pool, off the async workers, so a large script never delays `/ping` or `/write`.
async fn blocking(
    daemon: &Arc<Daemon>,
    work: impl FnOnce(&Daemon) -> Result<serde_json::Value, TaskError> + Send + 'static,
) -> Response {
    let daemon = daemon.clone();
    match tokio::task::spawn_blocking(move || work(&daemon)).await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(e)) => task_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON request body: {e}"),
        )
    })
}

fn view(query: &ListQuery) -> TaskView {
    TaskView {
        dot_labels: query.dot_view.as_deref() == Some("labels"),
        formatted_script: query.script_format.as_deref() == Some("formatted"),
    }
}

/// `GET /kapacitor/v1/tasks`.
pub async fn list_tasks(State(daemon): State<Arc<Daemon>>, RawQuery(raw): RawQuery) -> Response {
    let query = match ListQuery::parse(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    blocking(&daemon, move |d| d.tasks.list_json(&query, &view(&query))).await
}

/// `POST /kapacitor/v1/tasks`.
pub async fn define_task(State(daemon): State<Arc<Daemon>>, body: Bytes) -> Response {
    let request: TaskRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    blocking(&daemon, move |d| d.tasks.define(request)).await
}

/// `GET /kapacitor/v1/tasks/:id`.
pub async fn get_task(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match ListQuery::parse(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    blocking(&daemon, move |d| d.tasks.task_json(&id, &view(&query))).await
}

/// `PATCH /kapacitor/v1/tasks/:id`.
pub async fn update_task(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let request: TaskRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    blocking(&daemon, move |d| d.tasks.update(&id, request)).await
}

/// `DELETE /kapacitor/v1/tasks/:id`: 204 whether or not it existed, as Kapacitor does.
pub async fn delete_task(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    let tasks = daemon.clone();
    match tokio::task::spawn_blocking(move || {
        let deleted = tasks.tasks.delete(&id);
        // Its anonymous topics go with it (after its last event); named topics stay, as in
        // Kapacitor.
        tasks.topics.delete_task_topics(&id);
        deleted
    })
    .await
    {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => task_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /kapacitor/v1/tasks/:id/:endpoint`: the latest `httpOut` results.
pub async fn http_out(
    State(daemon): State<Arc<Daemon>>,
    Path((id, endpoint)): Path<(String, String)>,
) -> Response {
    match daemon.engine.http_out(&id, &endpoint) {
        Some(body) => Json(body).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no endpoint {endpoint} on task {id}"),
        ),
    }
}

/// `GET /kapacitor/v1/templates`.
pub async fn list_templates(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match ListQuery::parse(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    blocking(&daemon, move |d| {
        d.tasks.list_templates_json(query.pattern.as_deref())
    })
    .await
}

/// `POST /kapacitor/v1/templates`.
pub async fn define_template(State(daemon): State<Arc<Daemon>>, body: Bytes) -> Response {
    let request: TemplateRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    blocking(&daemon, move |d| d.tasks.define_template(request)).await
}

/// `GET /kapacitor/v1/templates/:id`.
pub async fn get_template(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    blocking(&daemon, move |d| d.tasks.template_json(&id)).await
}

/// `PATCH /kapacitor/v1/templates/:id`.
pub async fn update_template(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let request: TemplateRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    blocking(&daemon, move |d| d.tasks.update_template(&id, request)).await
}

/// `DELETE /kapacitor/v1/templates/:id`.
pub async fn delete_template(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Response {
    match daemon.tasks.delete_template(&id) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => task_error(e),
    }
}

/// Kapacitor 1.5.7 routes weir does not serve, with why (ARCHITECTURE.md lists them): 501
/// in Kapacitor's error shape, never a bare 404, so a CLI command says what is missing.
pub async fn not_served(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let reason = if path.starts_with("/kapacitor/v1/config") {
        "weir does not change its configuration through the API: edit the config file and reload it (SIGHUP or POST /weir/v1/config/reload); GET /weir/v1/config shows it"
    } else if path.starts_with("/kapacitor/v1/service-tests") {
        "weir has no service tests yet: define a topic handler or an alert handler and watch /metrics for its deliveries"
    } else if path.starts_with("/kapacitor/v1/users") {
        "weir's users come from [http] users in the config file, not from the API"
    } else if path.starts_with("/kapacitor/v1/storage/stores") {
        "weir's state is one SQLite file with no separate stores to rebuild: back it up with kapacitor backup"
    } else if path.starts_with("/kapacitor/v1/debug/pprof") {
        "weir has no Go profiler: profile the process with perf"
    } else if path.starts_with("/kapacitor/v1/sideloads") {
        "weir has no sideload node yet"
    } else {
        "weir does not serve this Kapacitor route"
    };
    super::error(StatusCode::NOT_IMPLEMENTED, format!("{path}: {reason}"))
}
