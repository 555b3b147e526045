//! `kapacitor record stream|batch|query`, `kapacitor replay` and `replay-live`:
//! `/kapacitor/v1/recordings` and `/kapacitor/v1/replays`. Recordings live in the store
//! (`weir_sinks::state::recordings`); batch and query recordings run the queries through the
//! daemon's batch sources; a replay runs the task's program over a recording through
//! `weir_engine::replay`, the machinery `weir test` uses, with the daemon's outputs.

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

/// What `record batch|query` and `replay-live batch|query` ask for: the task's queries over a
/// past range, or one InfluxQL query recorded as a stream or as one batch run.
#[derive(Debug, Clone)]
enum Source {
    Batch {
        program: weir_dsl::Program,
        start: i64,
        stop: i64,
        cluster: Option<String>,
    },
    Query {
        query: String,
        stream: bool,
        cluster: Option<String>,
    },
}

/// The most query runs one batch recording makes (a small `every` over a long range).
const MAX_RUNS: usize = 100_000;

fn series_points(series: Vec<weir_engine::QuerySeries>) -> Vec<weir_engine::Point> {
    series
        .into_iter()
        .flat_map(|series| {
            let name: weir_engine::point::Name = series.name.into();
            let tags = series.tags;
            series
                .rows
                .into_iter()
                .filter(|(_, fields)| !fields.is_empty())
                .map(move |(time, fields)| weir_engine::Point {
                    name: name.clone(),
                    tags: tags.clone(),
                    fields,
                    time,
                })
        })
        .collect()
}

/// `"db"."rp"."m"` in the FROM clause of an InfluxQL query: the database and retention
/// policy a stream query recording files its points under (`autogen` when none is named).
fn query_dbrp(query: &str) -> Option<(String, String)> {
    let upper = query.to_ascii_uppercase();
    let at = upper.find(" FROM ")? + " FROM ".len();
    let rest = query[at..].trim_start();
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(String::new()),
            c if c.is_whitespace() && !quoted => break,
            c => parts.last_mut()?.push(c),
        }
    }
    match parts.as_slice() {
        [db, rp, _] if !db.is_empty() => {
            let rp = if rp.is_empty() { "autogen" } else { rp };
            Some((db.clone(), rp.to_owned()))
        }
        _ => None,
    }
}

/// Query the daemon's batch sources for `source`: the recording's data in the formats
/// [`weir_engine::parse_batch_recording`] and [`weir_engine::parse_directed`] read.
async fn run_queries(daemon: &Daemon, source: Source) -> Result<Vec<u8>, String> {
    use weir_engine::QuerySource as _;
    use weir_engine::nodes::query::{QueryPlan, Schedule};
    let mut data = Vec::new();
    match source {
        Source::Batch {
            program,
            start,
            stop,
            cluster,
        } => {
            let queries = program.nodes.iter().filter_map(|node| match &node.spec {
                weir_dsl::NodeSpec::Query(spec) => Some((node.name.as_str(), spec)),
                _ => None,
            });
            for (index, (name, spec)) in queries.enumerate() {
                let plan = QueryPlan::new(spec).map_err(|e| format!("{name}: {e}"))?;
                let schedule = Schedule::new(spec, start).map_err(|e| format!("{name}: {e}"))?;
                let mut after = start;
                let mut n_runs = 0;
                while let Some(run_time) = schedule.next_run(after).filter(|run| *run <= stop) {
                    n_runs += 1;
                    if n_runs > MAX_RUNS {
                        return Err(format!(
                            "{name} runs more than {MAX_RUNS} times in the range: record a shorter one"
                        ));
                    }
                    let mut request = plan.request(run_time);
                    if cluster.is_some() {
                        request.cluster.clone_from(&cluster);
                    }
                    let series = daemon
                        .batch_sources
                        .query(request)
                        .await
                        .map_err(|e| format!("{name}: query failed: {e}"))?;
                    weir_sinks::state::recordings::encode_batch_run(
                        &mut data,
                        index,
                        run_time,
                        &series_points(series),
                    );
                    after = run_time;
                }
            }
        }
        Source::Query {
            query,
            stream,
            cluster,
        } => {
            let now = now_nanos();
            let request = weir_engine::QueryRequest {
                language: weir_dsl::nodes::QueryLanguage::InfluxQl,
                cluster,
                query: query.clone(),
                start: 0,
                end: now,
                step: None,
            };
            let series = daemon
                .batch_sources
                .query(request)
                .await
                .map_err(|e| format!("query failed: {e}"))?;
            let points = series_points(series);
            if stream {
                let (db, rp) = query_dbrp(&query).unwrap_or_default();
                weir_sinks::state::recordings::encode_stream(&mut data, &db, &rp, &points);
            } else {
                let newest = points.iter().map(|p| p.time).max().unwrap_or(now);
                weir_sinks::state::recordings::encode_batch_run(&mut data, 0, newest, &points);
            }
        }
    }
    Ok(data)
}

/// The request fields `record batch`/`replay-live batch` and `record query`/`replay-live
/// query` send (Kapacitor's `RecordBatchOptions`, `RecordQueryOptions`, `ReplayBatchOptions`,
/// `ReplayQueryOptions`).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct SourceRequest {
    #[serde(default)]
    id: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    query: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    recording_time: bool,
    #[serde(default)]
    clock: String,
}

impl SourceRequest {
    fn cluster(&self) -> Option<String> {
        Some(self.cluster.clone()).filter(|cluster| !cluster.is_empty())
    }

    fn batch(&self, daemon: &Daemon) -> Result<Source, Response> {
        if self.task.is_empty() {
            return Err(error(StatusCode::BAD_REQUEST, "must provide a task ID"));
        }
        let time = |name: &str, text: &str| {
            parse_rfc3339(text).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid {name} time {text:?}: give an RFC 3339 time"),
                )
            })
        };
        let start = time("start", &self.start)?;
        let stop = if self.stop.is_empty() {
            now_nanos()
        } else {
            time("stop", &self.stop)?
        };
        if stop <= start {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("stop {:?} must be after start {:?}", self.stop, self.start),
            ));
        }
        let program = match daemon.tasks.program(&self.task) {
            Ok((program, _)) => program,
            Err(e) => return Err(error(StatusCode::BAD_REQUEST, e.to_string())),
        };
        if program.task_type != weir_dsl::TaskType::Batch {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "task {} is a stream task: record it with kapacitor record stream",
                    self.task
                ),
            ));
        }
        Ok(Source::Batch {
            program,
            start,
            stop,
            cluster: self.cluster(),
        })
    }

    fn query(&self, stream: bool) -> Result<Source, Response> {
        if self.query.trim().is_empty() {
            return Err(error(StatusCode::BAD_REQUEST, "must provide a query"));
        }
        if stream && query_dbrp(&self.query).is_none() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "a stream recording of a query needs the database in its FROM clause: FROM \"db\".\"rp\".\"measurement\"",
            ));
        }
        Ok(Source::Query {
            query: self.query.clone(),
            stream,
            cluster: self.cluster(),
        })
    }

    fn query_kind(&self) -> Result<bool, Response> {
        match self.kind.as_str() {
            "stream" => Ok(true),
            "batch" => Ok(false),
            other => Err(error(
                StatusCode::BAD_REQUEST,
                format!("invalid query recording type {other:?}: use stream or batch"),
            )),
        }
    }
}

/// `POST /kapacitor/v1/recordings/batch` (`{"id"?, "task", "start", "stop", "cluster"?}`) and
/// `/recordings/query` (`{"id"?, "query", "type": "stream"|"batch", "cluster"?}`): 201 with
/// the recording running; the queries run in the background (the CLI polls until it is done).
pub async fn record_source(
    State(daemon): State<Arc<Daemon>>,
    Path(kind): Path<String>,
    bytes: Bytes,
) -> Response {
    let request: SourceRequest = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let parsed = match kind.as_str() {
        "batch" => request.batch(&daemon).map(|source| (source, "batch")),
        "query" => request.query_kind().and_then(|stream| {
            request
                .query(stream)
                .map(|source| (source, if stream { "stream" } else { "batch" }))
        }),
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    let (source, recording_type) = match parsed {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let id = if request.id.is_empty() {
        new_id()
    } else {
        request.id
    };
    let recording = match daemon.recordings.create(
        &id,
        recording_type,
        &request.task,
        &format_rfc3339(now_nanos()),
    ) {
        Ok(recording) => recording,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let answer = recording.json();
    tokio::spawn(async move {
        let result = run_queries(&daemon, source).await;
        if let Err(e) = daemon.recordings.finish(recording, result) {
            tracing::error!(recording = %id, "cannot store the recording: {e}");
        }
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// `POST /kapacitor/v1/replays/batch|query` (`kapacitor replay-live batch|query`): the same
/// queries as `record batch|query`, replayed into the task at once without keeping a
/// recording; 201 with the replay running.
pub async fn replay_live(
    State(daemon): State<Arc<Daemon>>,
    Path(kind): Path<String>,
    bytes: Bytes,
) -> Response {
    let request: SourceRequest = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let source = match kind.as_str() {
        "batch" => request.batch(&daemon),
        // The task decides how a query's rows are replayed: written as points to a stream
        // task, handed to the query node of a batch task.
        "query" => match daemon.tasks.program(&request.task) {
            Ok((program, _)) => request.query(program.task_type == weir_dsl::TaskType::Stream),
            Err(e) => Err(error(StatusCode::BAD_REQUEST, e.to_string())),
        },
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    let source = match source {
        Ok(source) => source,
        Err(response) => return response,
    };
    let replay = ReplayRequest {
        id: request.id,
        task: request.task,
        recording: String::new(),
        recording_time: request.recording_time,
        clock: request.clock,
    };
    start_replay(daemon, replay, ReplayData::Live(source)).await
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

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ReplayRequest {
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

/// What a replay runs over: a stored recording or the answers of live queries.
enum ReplayData {
    Recording(Vec<u8>),
    Live(Source),
}

/// `POST /kapacitor/v1/replays` with `{"id"?, "task", "recording", "recording-time", "clock"}`:
/// 201 with the replay running; it finishes in the background.
pub async fn replay(State(daemon): State<Arc<Daemon>>, bytes: Bytes) -> Response {
    let request: ReplayRequest = match body(&bytes) {
        Ok(request) => request,
        Err(response) => return response,
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
    start_replay(daemon, request, ReplayData::Recording(data)).await
}

async fn start_replay(daemon: Arc<Daemon>, request: ReplayRequest, data: ReplayData) -> Response {
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
    tokio::spawn(async move {
        let data = match data {
            ReplayData::Recording(data) => Ok(data),
            ReplayData::Live(source) => run_queries(&daemon, source).await,
        };
        let runner = daemon.clone();
        let task = record["task"].as_str().unwrap_or_default().to_owned();
        let recording_time = record["recording-time"] == true;
        let result = match data {
            Ok(data) => tokio::task::spawn_blocking(move || {
                weir_engine::test_run::replay_recording(
                    &task,
                    &program,
                    &String::from_utf8_lossy(&data),
                    runner.outputs(),
                    recording_time,
                    clock == "real",
                )
            })
            .await
            .unwrap_or_else(|e| Err(format!("the replay stopped: {e}"))),
            Err(message) => Err(message),
        };
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
        if let Err(e) = daemon.recordings.put_replay(&id, &record) {
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

    #[test]
    fn stream_query_recordings_take_db_and_rp_from_the_from_clause() {
        let dbrp = |q: &str| query_dbrp(q);
        let pair = |db: &str, rp: &str| Some((db.to_owned(), rp.to_owned()));
        assert_eq!(
            dbrp(r#"SELECT * FROM "tel"."autogen"."cpu""#),
            pair("tel", "autogen")
        );
        assert_eq!(
            dbrp("select usage from tel..cpu where time > now() - 1h"),
            pair("tel", "autogen")
        );
        assert_eq!(
            dbrp(r#"SELECT * FROM "a.b"."rp"."m" LIMIT 1"#),
            pair("a.b", "rp")
        );
        assert_eq!(dbrp("SELECT * FROM cpu"), None);
        assert_eq!(dbrp("SELECT * FROM rp.cpu"), None);
    }
}
