//! weir's own API under `/weir/v1`: config and its status, scrapers, targets, discoverers,
//! sinks; and `/metrics`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error;
use crate::daemon::Daemon;

/// `GET /weir/v1/config`: the effective config, secrets redacted.
pub async fn config(State(daemon): State<Arc<Daemon>>) -> Response {
    let loaded = daemon.config.load();
    let mut value = serde_json::to_value(&loaded.config).unwrap_or_else(|_| json!({}));
    redact(&mut value);
    Json(value).into_response()
}

/// Replace every secret-looking value with `"***"` (Kapacitor marks them redacted too).
fn redact(value: &mut serde_json::Value) {
    const SECRET_KEYS: &[&str] = &[
        "password",
        "token",
        "secret-key",
        "access-key",
        "bearer-token",
        "enrollment-token",
        "password-sha256",
        "token-sha256",
        "api-key",
    ];
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let is_secret = SECRET_KEYS.contains(&key.as_str());
                let is_set = match inner {
                    serde_json::Value::String(s) => !s.is_empty(),
                    serde_json::Value::Null => false,
                    _ => true,
                };
                if is_secret && is_set {
                    *inner = serde_json::Value::String("***".to_owned());
                } else {
                    redact(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `POST /weir/v1/config/reload`.
pub async fn reload(State(daemon): State<Arc<Daemon>>) -> Response {
    let status = daemon.reload().await;
    let code = if status.state == "applied" {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (code, Json(status)).into_response()
}

/// `GET /weir/v1/config/status`.
pub async fn config_status(State(daemon): State<Arc<Daemon>>) -> Response {
    let status = daemon
        .status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(status).into_response()
}

/// `GET /weir/v1/scrapers`.
pub async fn scrapers(State(daemon): State<Arc<Daemon>>) -> Response {
    Json(json!({ "scrapers": daemon.scrapers.scrapers() })).into_response()
}

#[derive(serde::Deserialize)]
struct EnabledPatch {
    enabled: bool,
}

fn enabled_patch(body: &Bytes) -> Result<bool, Response> {
    serde_json::from_slice::<EnabledPatch>(body)
        .map(|patch| patch.enabled)
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"enabled\": true|false}}: {e}"),
            )
        })
}

/// `PATCH /weir/v1/scrapers/:name` with `{"enabled": bool}`.
pub async fn patch_scraper(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let enabled = match enabled_patch(&body) {
        Ok(enabled) => enabled,
        Err(response) => return response,
    };
    match daemon.switch_scraper(&name, enabled) {
        Ok(true) => Json(json!({ "name": name, "enabled": enabled })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no scraper named {name}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

/// `POST /weir/v1/scrapers/:name/collect`: scrape every target now; 409 when disabled.
pub async fn collect(State(daemon): State<Arc<Daemon>>, Path(name): Path<String>) -> Response {
    use weir_scrapers::CollectError;
    match daemon.scrapers.collect_now(&name).await {
        Ok(summary) => Json(summary).into_response(),
        Err(e @ CollectError::NotFound(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

#[derive(serde::Deserialize)]
pub struct TargetsQuery {
    #[serde(default)]
    unhealthy: bool,
    scraper: Option<String>,
}

/// `GET /weir/v1/targets[?unhealthy=true][&scraper=NAME]`.
pub async fn targets(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<TargetsQuery>,
) -> Response {
    let targets: Vec<serde_json::Value> = daemon
        .scrapers
        .targets()
        .into_iter()
        .filter_map(|target| serde_json::to_value(target).ok())
        .filter(|target| {
            query
                .scraper
                .as_deref()
                .is_none_or(|name| target.get("scraper").and_then(|s| s.as_str()) == Some(name))
        })
        .filter(|target| {
            !query.unhealthy
                || target
                    .get("state")
                    .and_then(|s| s.as_str())
                    .is_some_and(|s| s != "healthy" && s != "Healthy")
        })
        .collect();
    Json(json!({ "targets": targets })).into_response()
}

/// `GET /weir/v1/discoverers`.
pub async fn discoverers(State(daemon): State<Arc<Daemon>>) -> Response {
    Json(json!({ "discoverers": daemon.discovery.sources() })).into_response()
}

/// `PATCH /weir/v1/discoverers/:id` with `{"enabled": bool}`.
pub async fn patch_discoverer(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let enabled = match enabled_patch(&body) {
        Ok(enabled) => enabled,
        Err(response) => return response,
    };
    match daemon.switch_discoverer(&id, enabled) {
        Ok(true) => Json(json!({ "id": id, "enabled": enabled })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no discoverer with id {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

/// `POST /weir/v1/discoverers/:id/refresh`.
pub async fn refresh_discoverer(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Response {
    match daemon.discovery.refresh(&id).await {
        None => error(StatusCode::NOT_FOUND, format!("no discoverer with id {id}")),
        Some(true) => StatusCode::NO_CONTENT.into_response(),
        Some(false) => {
            let sources: Vec<_> = daemon
                .discovery
                .sources()
                .into_iter()
                .filter(|source| source.id == id && source.enabled)
                .collect();
            if sources.is_empty() {
                return error(StatusCode::CONFLICT, format!("discoverer {id} is disabled"));
            }
            let reasons: Vec<String> = sources
                .iter()
                .map(|source| {
                    let reason = source.last_error.as_deref().unwrap_or("unknown error");
                    format!("{} {id}: {reason}", source.kind)
                })
                .collect();
            error(
                StatusCode::BAD_GATEWAY,
                format!("refreshing discoverer {id} failed: {}", reasons.join("; ")),
            )
        }
    }
}

/// `GET /weir/v1/sinks`.
pub async fn sinks(State(daemon): State<Arc<Daemon>>) -> Response {
    Json(json!({ "sinks": daemon.sinks.stats() })).into_response()
}

fn cis_or_404(daemon: &Daemon) -> Result<&crate::ci::Cis, Response> {
    daemon.cis.as_deref().ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "the CI store is disabled ([ci] enabled = false)",
        )
    })
}

/// `GET /weir/v1/cis?kind=&source=&q=&related=&relation=`: current configuration items;
/// `related=kubernetes.node:X` lists what has a relationship to node X (what runs on it).
pub async fn cis(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<weir_sinks::ci::CiQuery>,
) -> Response {
    let cis = match cis_or_404(&daemon) {
        Ok(cis) => cis,
        Err(response) => return response,
    };
    if let Some(related) = query.related.as_deref().filter(|r| !r.contains(':')) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("related={related:?}: name a CI as kind:key (kubernetes.node:node-1)"),
        );
    }
    match cis.list(&query) {
        Ok(items) => {
            let items: Vec<serde_json::Value> = items
                .into_iter()
                .map(|state| {
                    let mut value = serde_json::to_value(&state).unwrap_or_default();
                    value["id"] = json!(state.key.id());
                    value
                })
                .collect();
            Json(json!({ "cis": items })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /weir/v1/cis/:id`: attributes, latest metrics, relationships both ways. The id is
/// `kind:key@source`, or `kind:key` when one source alone has that item.
pub async fn ci(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    let cis = match cis_or_404(&daemon) {
        Ok(cis) => cis,
        Err(response) => return response,
    };
    let id = if id.contains('@') {
        id
    } else {
        match cis.find(&id) {
            Ok(found) if found.len() == 1 => found.into_iter().next().unwrap_or_default(),
            Ok(found) if found.is_empty() => {
                return error(StatusCode::NOT_FOUND, format!("no configuration item {id}"));
            }
            Ok(found) => {
                return error(
                    StatusCode::CONFLICT,
                    format!(
                        "{id} is known to several sources; name one: {}",
                        found.join(", ")
                    ),
                );
            }
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    };
    match cis.get(&id) {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no configuration item {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /weir/v1/changes` query: times as `1h` (ago), ns or RFC 3339.
#[derive(serde::Deserialize)]
pub struct ChangesQuery {
    since: Option<String>,
    until: Option<String>,
    kind: Option<String>,
    source: Option<String>,
    ci: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /weir/v1/changes?since=&until=&kind=&source=&ci=`: history, newest first, paged.
pub async fn changes(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ChangesQuery>,
) -> Response {
    let cis = match cis_or_404(&daemon) {
        Ok(cis) => cis,
        Err(response) => return response,
    };
    let now = crate::tasks::now_nanos();
    let mut times = [None, None];
    for (slot, (name, text)) in times
        .iter_mut()
        .zip([("since", &query.since), ("until", &query.until)])
    {
        if let Some(text) = text {
            match crate::ci::parse_time(text, now) {
                Some(time) => *slot = Some(time),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "{name}={text:?}: use a duration ago (1h), nanoseconds or RFC 3339"
                        ),
                    );
                }
            }
        }
    }
    let query = weir_sinks::ci::ChangeQuery {
        since: times[0],
        until: times[1],
        kind: query.kind,
        source: query.source,
        ci: query.ci,
        limit: query.limit,
        offset: query.offset,
    };
    match cis.changes(&query) {
        Ok(changes) => {
            let changes: Vec<serde_json::Value> = changes
                .into_iter()
                .map(|change| {
                    json!({
                        "ci": change.key.id(),
                        "kind": change.key.kind,
                        "source": change.key.source,
                        "key": change.key.key,
                        "change": change.kind.as_str(),
                        "time": crate::tasks::format_rfc3339(change.time),
                        "diffs": change.diffs,
                    })
                })
                .collect();
            Json(json!({ "changes": changes })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /metrics`: self-metrics in Prometheus text format.
pub async fn metrics(State(daemon): State<Arc<Daemon>>) -> Response {
    let mut out = String::with_capacity(8192);
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    let metrics = &daemon.metrics;
    counter(
        &mut out,
        "weir_write_requests_total",
        "Write requests received.",
        metrics.write_requests.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_write_points_total",
        "Points accepted by /write.",
        metrics.points_received.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_write_bad_lines_total",
        "Malformed lines in /write bodies.",
        metrics.write_errors.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_scraped_points_total",
        "Points produced by scrapes and routed to tasks.",
        metrics.scraped_points.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_config_reloads_applied_total",
        "Config reloads applied.",
        metrics.reloads_applied.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_config_reloads_rejected_total",
        "Config reloads rejected.",
        metrics.reloads_rejected.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_write_throttled_total",
        "/write requests answered 503 (queue or ingress log full).",
        metrics.writes_throttled.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_ingress_replayed_points_total",
        "Points replayed from the ingress log at start (at least once: some may be duplicates).",
        metrics.replayed_points.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_connections_refused_total",
        "Connections closed at once because max-connections were open.",
        crate::listener::REFUSED_CONNECTIONS.load(Ordering::Relaxed),
    );
    if let Some(log) = &daemon.ingress {
        counter(
            &mut out,
            "weir_ingress_log_appended_bytes_total",
            "Bytes appended to the ingress log.",
            log.stats.appended_bytes.load(Ordering::Relaxed),
        );
        let (bytes, held) = log.depth();
        gauge(
            &mut out,
            "weir_ingress_log_bytes",
            "Bytes in the ingress log.",
            bytes,
        );
        gauge(
            &mut out,
            "weir_ingress_log_pending_writes",
            "Logged writes a task still needs.",
            held as u64,
        );
    }
    let outputs = &daemon.output_stats;
    counter(
        &mut out,
        "weir_http_post_total",
        "httpPost requests sent.",
        outputs.http_posts.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_http_post_errors_total",
        "httpPost requests that failed.",
        outputs.http_post_errors.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_alert_events_total",
        "Alert events handed to handlers.",
        outputs.alert_events.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_alert_handler_errors_total",
        "Alert handler failures.",
        outputs.alert_errors.load(Ordering::Relaxed),
    );
    let services = daemon.services.stats();
    for (name, help, pick) in [
        (
            "weir_alert_service_sent_total",
            "Requests an alert service (slack, pagerduty2, ...) accepted.",
            0,
        ),
        (
            "weir_alert_service_failed_total",
            "Alert service requests that failed after their retries, or could not be built.",
            1,
        ),
        (
            "weir_alert_service_dropped_total",
            "Alert events dropped because the service's queue was full.",
            2,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (service, stats) in &services {
            let value = match pick {
                0 => &stats.sent,
                1 => &stats.failed,
                _ => &stats.dropped,
            };
            let _ = writeln!(
                out,
                "{name}{{service=\"{service}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
    counter(
        &mut out,
        "weir_sink_refused_points_total",
        "Points refused by a full sink queue.",
        outputs.sink_refused_points.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "weir_ci_dropped_observations_total",
        "ciOut observations dropped (CI store disabled or its writer behind).",
        outputs.ci_dropped_observations.load(Ordering::Relaxed),
    );
    if let Some(cis) = &daemon.cis {
        counter(
            &mut out,
            "weir_ci_changes_total",
            "Configuration-item changes recorded.",
            cis.changes_recorded.load(Ordering::Relaxed),
        );
    }
    write_task_metrics(&daemon, &mut out);
    daemon.scrapers.write_metrics(&mut out);
    daemon.discovery.write_metrics(&mut out);
    daemon.sinks.write_metrics(&mut out);
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response()
}

fn write_task_metrics(daemon: &Daemon, out: &mut String) {
    let tasks = daemon.engine.running_tasks();
    let _ = writeln!(
        out,
        "# HELP weir_tasks_running Tasks running in the engine.\n# TYPE weir_tasks_running gauge\nweir_tasks_running {}",
        tasks.len()
    );
    let mut lines: [(String, &str, &str); 3] = [
        (
            String::new(),
            "weir_task_node_collected_total",
            "Points or batches a task node received.",
        ),
        (
            String::new(),
            "weir_task_node_emitted_total",
            "Points or batches a task node emitted.",
        ),
        (
            String::new(),
            "weir_task_node_errors_total",
            "Errors in a task node.",
        ),
    ];
    for task in &tasks {
        let Some(stats) = daemon
            .engine
            .task_stats(task)
            .and_then(|s| serde_json::to_value(s).ok())
        else {
            continue;
        };
        let Some(nodes) = stats.get("node-stats").and_then(|n| n.as_object()) else {
            continue;
        };
        for (node, values) in nodes {
            for (line, name, _) in lines.iter_mut() {
                let key = name
                    .trim_start_matches("weir_task_node_")
                    .trim_end_matches("_total");
                if let Some(value) = values.get(key).and_then(|v| v.as_u64()) {
                    let _ = writeln!(
                        line,
                        "{name}{{task=\"{}\",node=\"{}\"}} {value}",
                        escape(task),
                        escape(node)
                    );
                }
            }
        }
    }
    for (body, name, help) in lines {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{body}");
    }
}

/// Escape a Prometheus label value.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets_but_not_empty_ones() {
        let mut value = json!({"influxdb": [{"password": "p", "username": "u", "token": ""}], "http": {"users": [{"token-sha256": "abc"}]}});
        redact(&mut value);
        assert_eq!(value["influxdb"][0]["password"], "***");
        assert_eq!(value["influxdb"][0]["username"], "u");
        assert_eq!(value["influxdb"][0]["token"], "");
        assert_eq!(value["http"]["users"][0]["token-sha256"], "***");
    }
}
