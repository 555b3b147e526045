//! `kapacitor record stream` and `kapacitor replay`: `/kapacitor/v1/recordings` and
//! `/kapacitor/v1/replays`. Recordings live in the store (`weir_sinks::state::recordings`);
//! a replay runs the task's program over a recording through `weir_engine::replay`, the
//! machinery `weir test` uses, with the daemon's outputs.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error;
use crate::daemon::Daemon;
use crate::tasks::{format_rfc3339, now_nanos};

/// A random id in UUID form (Kapacitor's recording and replay ids).
fn new_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(now_nanos());
    let high = hasher.finish();
    hasher.write_u64(high);
    let low = hasher.finish();
    let hex = format!("{high:016x}{low:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// RFC 3339 with `Z` or a `±HH:MM` offset (Go's `time.Time` in JSON), in ns.
fn parse_rfc3339(text: &str) -> Option<i64> {
    if text.ends_with('Z') {
        return crate::ci::parse_time(text, 0).filter(|_| text.contains('T'));
    }
    let at = text.len().checked_sub(6)?;
    let (base, zone) = text.split_at(at);
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = zone.get(1..3)?.parse().ok()?;
    let minutes: i64 = zone.get(4..6)?.parse().ok()?;
    let utc = crate::ci::parse_time(&format!("{base}Z"), 0)?;
    Some(utc - sign * (hours * 3600 + minutes * 60) * 1_000_000_000)
}

fn store_error(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON request body: {e}"),
        )
    })
}

/// `POST /kapacitor/v1/recordings/stream` with `{"id"?, "task", "stop"}`: 201.
pub async fn record_stream(State(daemon): State<Arc<Daemon>>, bytes: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Request {
        #[serde(default)]
        id: String,
        #[serde(default)]
        task: String,
        #[serde(default)]
        stop: String,
    }
    let request: Request = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.task.is_empty() {
        return error(StatusCode::BAD_REQUEST, "must provide a task ID to record");
    }
    let Some(stop) = parse_rfc3339(&request.stop) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid stop time {:?}: give an RFC 3339 time (the CLI sends now + -duration)",
                request.stop
            ),
        );
    };
    let dbrps = match daemon.tasks.program(&request.task) {
        Ok((_, dbrps)) => dbrps,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let id = if request.id.is_empty() {
        new_id()
    } else {
        request.id
    };
    let date = format_rfc3339(now_nanos());
    match daemon
        .recordings
        .start_stream(&id, &request.task, dbrps, stop, &date)
    {
        Ok(recording) => (StatusCode::CREATED, Json(recording.json())).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `POST /kapacitor/v1/recordings/batch|query` and `/replays/batch|query`: not done by weir
/// yet (501 with what to do instead).
pub async fn unsupported(Path(kind): Path<String>) -> Response {
    if kind != "batch" && kind != "query" {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    error(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "weir does not record or replay {kind}es yet: record a stream task (kapacitor record stream), or test a batch task with weir test --data"
        ),
    )
}

/// `GET /kapacitor/v1/recordings`.
pub async fn list_recordings(State(daemon): State<Arc<Daemon>>) -> Response {
    match daemon.recordings.list() {
        Ok(list) => {
            let recordings: Vec<Value> = list.iter().map(|r| r.json()).collect();
            Json(json!({ "recordings": recordings })).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /kapacitor/v1/recordings/{id}`.
pub async fn get_recording(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.recordings.get(&id) {
        Ok(Some(recording)) => Json(recording.json()).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no recording exists with ID {id}"),
        ),
        Err(e) => store_error(e),
    }
}

/// `DELETE /kapacitor/v1/recordings/{id}`.
pub async fn delete_recording(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> Response {
    match daemon.recordings.delete(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => store_error(e),
    }
}

/// `POST /kapacitor/v1/replays` with `{"id"?, "task", "recording", "recording-time", "clock"}`:
/// 201 with the replay running; it finishes in the background.
pub async fn replay(State(daemon): State<Arc<Daemon>>, bytes: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Request {
        #[serde(default)]
        id: String,
        #[serde(default)]
        task: String,
        #[serde(default)]
        recording: String,
        #[serde(default)]
        recording_time: bool,
        #[serde(default)]
        clock: String,
    }
    let request: Request = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let clock = match request.clock.as_str() {
        "" | "fast" => "fast",
        "real" => "real",
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid clock {other:?}: use fast or real"),
            );
        }
    };
    let program = match daemon.tasks.program(&request.task) {
        Ok((program, _)) => program,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let data = match daemon.recordings.data(&request.recording) {
        Ok(Some(data)) => data,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "no finished recording with ID {:?}: list them with kapacitor list recordings",
                    request.recording
                ),
            );
        }
        Err(e) => return store_error(e),
    };
    let id = if request.id.is_empty() {
        new_id()
    } else {
        request.id
    };
    let mut record = json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/replays/{id}")},
        "id": id,
        "task": request.task,
        "recording": request.recording,
        "recording-time": request.recording_time,
        "clock": clock,
        "date": format_rfc3339(now_nanos()),
        "error": "",
        "status": "running",
        "progress": 0,
        "stats": {},
    });
    if let Err(e) = daemon.recordings.put_replay(&id, &record) {
        return store_error(e);
    }
    let answer = record.clone();
    let runner = daemon.clone();
    tokio::task::spawn_blocking(move || {
        let task = record["task"].as_str().unwrap_or_default().to_owned();
        let result = weir_engine::test_run::replay_recording(
            &task,
            &program,
            &String::from_utf8_lossy(&data),
            runner.outputs(),
            record["recording-time"] == true,
            clock == "real",
        );
        match result {
            Ok((stats, http_out)) => {
                record["status"] = json!("finished");
                record["stats"] = serde_json::to_value(stats).unwrap_or_default();
                // weir's addition: what the task's httpOut nodes hold after the replay.
                record["http-out"] = Value::Object(http_out.into_iter().collect());
            }
            Err(message) => {
                record["status"] = json!("failed");
                record["error"] = json!(message);
            }
        }
        record["progress"] = json!(1);
        if let Err(e) = runner.recordings.put_replay(&id, &record) {
            tracing::error!(replay = %id, "cannot store the replay: {e}");
        }
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// `GET /kapacitor/v1/replays`: without their statistics, as Kapacitor lists them.
pub async fn list_replays(State(daemon): State<Arc<Daemon>>) -> Response {
    match daemon.recordings.replays() {
        Ok(mut replays) => {
            for replay in &mut replays {
                if let Some(object) = replay.as_object_mut() {
                    object.remove("stats");
                }
            }
            Json(json!({ "replays": replays })).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /kapacitor/v1/replays/{id}`.
pub async fn get_replay(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.recordings.replay(&id) {
        Ok(Some(replay)) => Json(replay).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no replay exists with ID {id}"),
        ),
        Err(e) => store_error(e),
    }
}

/// `DELETE /kapacitor/v1/replays/{id}`.
pub async fn delete_replay(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.recordings.delete_replay(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => store_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_times_and_ids() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:01.5+01:00"),
            Some(1_500_000_000)
        );
        assert_eq!(parse_rfc3339("soon"), None);
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
    }
}
