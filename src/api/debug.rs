//! `GET /kapacitor/v1/debug/vars`: Kapacitor's expvar JSON, with what `kapacitor stats
//! general`, `stats ingress` and `vars` read (ids, task counts, `ingress` per database,
//! retention policy and measurement, `nodes` per task node, `topics`) and weir's own
//! counters as one `weir` statistic; and the store's backup.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{KAPACITOR_VERSION, error};
use crate::daemon::Daemon;

/// One Kapacitor statistic: `{"name", "tags", "values"}`, tagged with the server's ids.
fn stat(daemon: &Daemon, name: &str, mut tags: Map<String, Value>, values: Value) -> Value {
    let host = daemon.config.load().config.hostname.clone();
    tags.insert("cluster_id".into(), json!(daemon.server_ids.0));
    tags.insert("server_id".into(), json!(daemon.server_ids.1));
    tags.insert("host".into(), json!(host));
    json!({"name": name, "tags": tags, "values": values})
}

fn tags(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json!(value)))
        .collect()
}

/// `GET /kapacitor/v1/debug/vars`.
pub async fn vars(State(daemon): State<Arc<Daemon>>) -> Response {
    let work = daemon.clone();
    match tokio::task::spawn_blocking(move || build(&work)).await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /kapacitor/v1/storage/backup` (`kapacitor backup FILE`): the store as one SQLite file,
/// which `weir restore FILE` puts back.
pub async fn backup(State(daemon): State<Arc<Daemon>>) -> Response {
    match tokio::task::spawn_blocking(move || daemon.backup()).await {
        Ok(Ok(bytes)) => (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn build(daemon: &Daemon) -> Result<Value, String> {
    let tasks = daemon
        .store
        .tasks()
        .map_err(|e| format!("cannot read the tasks: {e}"))?;
    let mut stats = Map::new();
    for ((database, retention_policy, measurement), points) in daemon.ingress_counts.snapshot() {
        let key = format!("ingress:{database}:{retention_policy}:{measurement}");
        let tags = tags(&[
            ("task_master", weir_engine::topics::TASK_MASTER),
            ("database", &database),
            ("retention_policy", &retention_policy),
            ("measurement", &measurement),
        ]);
        let value = stat(daemon, "ingress", tags, json!({"points_received": points}));
        stats.insert(key, value);
    }
    for task in &tasks {
        let Some(task_stats) = daemon.engine.task_stats(&task.id) else {
            continue;
        };
        for (node, counters) in &task_stats.node_stats {
            let kind = node.trim_end_matches(|c: char| c.is_ascii_digit());
            let tags = tags(&[
                ("task", &task.id),
                ("node", node),
                ("type", &task.task_type),
                ("kind", kind),
            ]);
            let key = format!("nodes:{}:{node}", task.id);
            stats.insert(key, stat(daemon, "nodes", tags, json!(counters)));
        }
    }
    let topics = daemon.topics.topics_json(None, 0, "");
    for topic in topics["topics"].as_array().into_iter().flatten() {
        let id = topic["id"].as_str().unwrap_or_default();
        let values = json!({"collected": topic["collected"]});
        let value = stat(daemon, "topics", tags(&[("id", id)]), values);
        stats.insert(format!("topics:{id}"), value);
    }
    stats.insert(
        "weir".into(),
        stat(daemon, "weir", Map::new(), weir_counters(daemon)),
    );
    let enabled = tasks.iter().filter(|t| t.status == "enabled").count();
    Ok(json!({
        "cluster_id": daemon.server_ids.0,
        "server_id": daemon.server_ids.1,
        "host": daemon.config.load().config.hostname,
        "num_tasks": tasks.len(),
        "num_enabled_tasks": enabled,
        "num_subscriptions": 0,
        "platform": "OSS",
        "product": "kapacitor",
        "version": KAPACITOR_VERSION,
        "cmdline": std::env::args().collect::<Vec<_>>(),
        "kapacitor": stats,
    }))
}

fn weir_counters(daemon: &Daemon) -> Value {
    let metrics = &daemon.metrics;
    let outputs = &daemon.output_stats;
    let topics = daemon.topics.counters();
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    json!({
        "write_requests": load(&metrics.write_requests),
        "write_points": load(&metrics.points_received),
        "write_bad_lines": load(&metrics.write_errors),
        "writes_throttled": load(&metrics.writes_throttled),
        "scraped_points": load(&metrics.scraped_points),
        "ingress_replayed_points": load(&metrics.replayed_points),
        "reloads_applied": load(&metrics.reloads_applied),
        "reloads_rejected": load(&metrics.reloads_rejected),
        "http_posts": load(&outputs.http_posts),
        "http_post_errors": load(&outputs.http_post_errors),
        "alert_events": load(&outputs.alert_events),
        "alert_errors": load(&outputs.alert_errors),
        "sink_refused_points": load(&outputs.sink_refused_points),
        "topic_events_collected": topics.collected,
        "topic_events_delivered": topics.delivered,
        "topic_events_undelivered": topics.undelivered,
    })
}
