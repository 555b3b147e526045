//! Remote collectors, central side: registration and enrollment tokens, rotation and
//! revocation, configuration revisions (`/weir/v1/remotes...`, for operators) and the
//! collector endpoints (`/weir/v1/collector/...`, for remote weirs with their machine
//! credential). [`authorize`] is what the auth layer asks about a machine credential: it
//! may call the collector endpoints and `/write` into its registration's databases, and
//! nothing else (403).
//!
//! Tokens and credentials are random 256-bit values, shown once and stored as SHA-256 hex.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::{Value, json};
use weir_sinks::state::remotes::{EnrollError, Heartbeat, RemoteRecord, RemoteStoreError, Remotes};

use super::{error, sha256_hex};
use crate::daemon::Daemon;
use crate::tasks::{format_rfc3339, now_nanos};

/// The prefix of an enrollment token.
pub const ENROLL_PREFIX: &str = "weir-enroll-";
/// The prefix of a machine credential.
pub const CREDENTIAL_PREFIX: &str = "weir-remote-";
/// The header that names an upload, so a retried upload is not counted twice.
pub const UPLOAD_ID_HEADER: &str = "x-weir-upload-id";
/// How long an enrollment token is valid unless the request says.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long upload ids are remembered.
const UPLOAD_MEMORY: Duration = Duration::from_secs(24 * 3600);
/// The database a collector writes into unless its registration names others.
const DEFAULT_DATABASE: &str = "remotes";

/// Collector routes a machine credential may call.
pub const COLLECTOR_PATHS: [&str; 4] = [
    "/weir/v1/collector/enroll",
    "/weir/v1/collector/heartbeat",
    "/weir/v1/collector/config",
    "/weir/v1/collector/config/ack",
];
const WRITE_PATHS: [&str; 2] = ["/write", "/kapacitor/v1/write"];

/// The collector a request's machine credential belongs to (put there by the auth layer).
#[derive(Debug, Clone)]
pub struct Identity {
    /// The collector.
    pub record: RemoteRecord,
}

fn secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

fn new_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn store_error(err: RemoteStoreError) -> Response {
    let status = match err {
        RemoteStoreError::NotFound(_) => StatusCode::NOT_FOUND,
        RemoteStoreError::NameTaken(_) | RemoteStoreError::WrongStatus { .. } => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

fn age_seconds(then_ns: i64, now_ns: i64) -> Value {
    if then_ns == 0 {
        Value::Null
    } else {
        json!(((now_ns - then_ns) as f64 / 1e9).max(0.0).round())
    }
}

/// A collector as `GET /weir/v1/remotes` lists it.
pub fn remote_json(record: &RemoteRecord, now_ns: i64) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "databases": record.databases,
        "hostname": record.hostname,
        "os": record.os,
        "version": record.version,
        "last_seen": if record.last_seen_ns == 0 { Value::Null } else { json!(format_rfc3339(record.last_seen_ns)) },
        "last_seen_age_seconds": age_seconds(record.last_seen_ns, now_ns),
        "queue_points": record.queue_points,
        "queue_bytes": record.queue_bytes,
        "dropped_points": record.dropped_points,
        "clock_skew_seconds": record.clock_skew_seconds,
        "config_revision": record.config_revision,
        "config_state": record.config_state,
        "config_error": record.config_error,
        "rotation_pending": record.rotate_requested,
    })
}

/// Body of `POST /weir/v1/remotes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    #[serde(default)]
    databases: Vec<String>,
    /// Lifetime of the enrollment token, e.g. `"1h"` (default 24h).
    #[serde(default)]
    token_ttl: Option<String>,
}

/// Body of `POST /weir/v1/remotes/{id}/token`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    token_ttl: Option<String>,
}

fn token_ttl(text: Option<&str>) -> Result<Duration, Response> {
    match text {
        None => Ok(DEFAULT_TOKEN_TTL),
        Some(text) => weir_engine::duration::parse(text)
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("token_ttl {text:?}: {e}"))),
    }
}

fn token_answer(record: &RemoteRecord, token: &str, now_ns: i64) -> Response {
    let mut value = remote_json(record, now_ns);
    value["enrollment_token"] = json!(token);
    value["token_expires_at"] = json!(format_rfc3339(record.token_expires_ns));
    (StatusCode::CREATED, Json(value)).into_response()
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// `POST /weir/v1/remotes`: register a pending collector; the answer holds its one-time
/// enrollment token.
pub async fn create(State(daemon): State<Arc<Daemon>>, body: axum::body::Bytes) -> Response {
    let request: CreateRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let name = request.name.trim();
    if name.is_empty() {
        return error(StatusCode::BAD_REQUEST, "name must not be empty");
    }
    let ttl = match token_ttl(request.token_ttl.as_deref()) {
        Ok(ttl) => ttl,
        Err(response) => return response,
    };
    let databases = if request.databases.is_empty() {
        vec![DEFAULT_DATABASE.to_owned()]
    } else {
        request.databases
    };
    let token = secret(ENROLL_PREFIX);
    let now = now_nanos();
    let expires = now.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX));
    match daemon.remotes.create(
        &new_id(),
        name,
        &databases,
        &sha256_hex(&token),
        expires,
        now,
    ) {
        Ok(record) => {
            tracing::info!(remote = %record.id, name = %record.name, "remote collector registered");
            token_answer(&record, &token, now)
        }
        Err(err) => store_error(err),
    }
}

/// `GET /weir/v1/remotes`.
pub async fn list(State(daemon): State<Arc<Daemon>>) -> Response {
    let now = now_nanos();
    match daemon.remotes.list() {
        Ok(records) => Json(json!({
            "remotes": records.iter().map(|r| remote_json(r, now)).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(err) => store_error(err),
    }
}

/// `GET /weir/v1/remotes/{id}`.
pub async fn get(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.remotes.get(&id) {
        Ok(Some(record)) => Json(remote_json(&record, now_nanos())).into_response(),
        Ok(None) => store_error(RemoteStoreError::NotFound(id)),
        Err(err) => store_error(err),
    }
}

/// `POST /weir/v1/remotes/{id}/token`: a new enrollment token for a pending collector.
pub async fn token(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        match parse_json(&body) {
            Ok(request) => request,
            Err(response) => return response,
        }
    };
    let ttl = match token_ttl(request.token_ttl.as_deref()) {
        Ok(ttl) => ttl,
        Err(response) => return response,
    };
    let token = secret(ENROLL_PREFIX);
    let now = now_nanos();
    let expires = now.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX));
    match daemon
        .remotes
        .replace_token(&id, &sha256_hex(&token), expires)
    {
        Ok(record) => token_answer(&record, &token, now),
        Err(err) => store_error(err),
    }
}

/// `POST /weir/v1/remotes/{id}/rotate`: the collector gets a new credential at its next
/// heartbeat; the old one stops working once the new one is used.
pub async fn rotate(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.remotes.request_rotation(&id) {
        Ok(record) => Json(remote_json(&record, now_nanos())).into_response(),
        Err(err) => store_error(err),
    }
}

/// `POST /weir/v1/remotes/{id}/revoke`: final.
pub async fn revoke(State(daemon): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    match daemon.remotes.revoke(&id) {
        Ok(record) => {
            tracing::warn!(remote = %record.id, name = %record.name, "remote collector revoked");
            Json(remote_json(&record, now_nanos())).into_response()
        }
        Err(err) => store_error(err),
    }
}

/// `PUT /weir/v1/remotes/{id}/config`: store a new configuration revision (a JSON object;
/// the collector validates it).
pub async fn put_config(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let document: Value = match parse_json(&body) {
        Ok(document) => document,
        Err(response) => return response,
    };
    if !document.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "the configuration must be a JSON object",
        );
    }
    match daemon
        .remotes
        .put_config(&id, &document.to_string(), now_nanos())
    {
        Ok(revision) => (
            StatusCode::CREATED,
            Json(json!({"id": id, "revision": revision})),
        )
            .into_response(),
        Err(err) => store_error(err),
    }
}

/// Body of `POST /weir/v1/collector/enroll`.
#[derive(Debug, Deserialize)]
pub struct EnrollRequest {
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    instance_id: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// `POST /weir/v1/collector/enroll`: the enrollment token as bearer token, host facts in
/// the body; the answer holds the collector id and its machine credential.
pub async fn enroll(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(token) = bearer(&headers).filter(|t| t.starts_with(ENROLL_PREFIX)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "enrollment takes the enrollment token as the bearer token",
        );
    };
    let request: EnrollRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let credential = secret(CREDENTIAL_PREFIX);
    let facts = Heartbeat {
        version: request.version,
        instance_id: request.instance_id,
        ..Heartbeat::default()
    };
    match daemon.remotes.enroll(
        &sha256_hex(token),
        &sha256_hex(&credential),
        &facts,
        &request.hostname,
        &request.os,
        now_nanos(),
    ) {
        Ok(record) => {
            tracing::info!(remote = %record.id, name = %record.name, hostname = %record.hostname, "remote collector enrolled");
            Json(json!({
                "id": record.id,
                "name": record.name,
                "credential": credential,
                "databases": record.databases,
            }))
            .into_response()
        }
        Err(EnrollError::Store(err)) => store_error(err),
        Err(err) => error(StatusCode::UNAUTHORIZED, err.to_string()),
    }
}

/// Body of `POST /weir/v1/collector/heartbeat`.
#[derive(Debug, Deserialize)]
pub struct HeartbeatRequest {
    #[serde(default)]
    version: String,
    #[serde(default)]
    instance_id: String,
    #[serde(default)]
    interval_seconds: f64,
    #[serde(default)]
    queue_points: u64,
    #[serde(default)]
    queue_bytes: u64,
    #[serde(default)]
    dropped_points: u64,
    /// The collector's clock, Unix seconds.
    #[serde(default)]
    clock_unix_seconds: f64,
}

fn identity(identity: Option<axum::Extension<Identity>>) -> Result<Identity, Response> {
    identity.map(|i| i.0).ok_or_else(|| {
        error(
            StatusCode::FORBIDDEN,
            "collector endpoints take a remote collector's machine credential",
        )
    })
}

/// Skew beyond this is logged.
const SKEW_WARNING_SECONDS: f64 = 30.0;

/// `POST /weir/v1/collector/heartbeat`.
pub async fn heartbeat(
    State(daemon): State<Arc<Daemon>>,
    who: Option<axum::Extension<Identity>>,
    body: axum::body::Bytes,
) -> Response {
    let who = match identity(who) {
        Ok(who) => who,
        Err(response) => return response,
    };
    let request: HeartbeatRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let now = now_nanos();
    let skew = if request.clock_unix_seconds > 0.0 {
        request.clock_unix_seconds - now as f64 / 1e9
    } else {
        0.0
    };
    let beat = Heartbeat {
        version: request.version,
        instance_id: request.instance_id,
        interval_seconds: request.interval_seconds,
        queue_points: request.queue_points,
        queue_bytes: request.queue_bytes,
        dropped_points: request.dropped_points,
        clock_skew_seconds: skew,
    };
    let before = who.record.status.clone();
    let record = match daemon.remotes.heartbeat(&who.record.id, &beat, now) {
        Ok(record) => record,
        Err(err) => return store_error(err),
    };
    if record.status != before {
        tracing::warn!(remote = %record.id, name = %record.name, status = %record.status, "remote collector changed status");
    }
    if skew.abs() > SKEW_WARNING_SECONDS {
        tracing::warn!(remote = %record.id, name = %record.name, skew_seconds = skew, "remote collector clock skew");
    }
    let mut answer = json!({
        "id": record.id,
        "status": record.status,
        "databases": record.databases,
        "server_time_unix_seconds": now as f64 / 1e9,
        "config_revision": match daemon.remotes.latest_config(&record.id) {
            Ok(latest) => latest.map_or(0, |(revision, _)| revision),
            Err(err) => return store_error(err),
        },
    });
    if record.rotate_requested {
        let credential = secret(CREDENTIAL_PREFIX);
        if let Err(err) = daemon.remotes.rotate(&record.id, &sha256_hex(&credential)) {
            return store_error(err);
        }
        tracing::info!(remote = %record.id, "remote collector credential rotated");
        answer["credential"] = json!(credential);
    }
    Json(answer).into_response()
}

/// `GET /weir/v1/collector/config`: the newest revision.
pub async fn collector_config(
    State(daemon): State<Arc<Daemon>>,
    who: Option<axum::Extension<Identity>>,
) -> Response {
    let who = match identity(who) {
        Ok(who) => who,
        Err(response) => return response,
    };
    match daemon.remotes.latest_config(&who.record.id) {
        Ok(Some((revision, document))) => Json(json!({
            "revision": revision,
            "config": serde_json::from_str::<Value>(&document).unwrap_or(Value::Null),
        }))
        .into_response(),
        Ok(None) => Json(json!({"revision": 0, "config": {}})).into_response(),
        Err(err) => store_error(err),
    }
}

/// Body of `POST /weir/v1/collector/config/ack`.
#[derive(Debug, Deserialize)]
pub struct AckRequest {
    revision: i64,
    state: String,
    #[serde(default)]
    error: String,
}

/// `POST /weir/v1/collector/config/ack`: `applied` or `rejected` with the reason.
pub async fn config_ack(
    State(daemon): State<Arc<Daemon>>,
    who: Option<axum::Extension<Identity>>,
    body: axum::body::Bytes,
) -> Response {
    let who = match identity(who) {
        Ok(who) => who,
        Err(response) => return response,
    };
    let request: AckRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.state != "applied" && request.state != "rejected" {
        return error(
            StatusCode::BAD_REQUEST,
            format!("state {:?}: use applied or rejected", request.state),
        );
    }
    if request.state == "rejected" {
        tracing::warn!(remote = %who.record.id, revision = request.revision, reason = %request.error, "remote collector rejected a configuration");
    }
    match daemon.remotes.config_ack(
        &who.record.id,
        request.revision,
        &request.state,
        &request.error,
    ) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => store_error(err),
    }
}

/// What the auth layer does with a request that carries a machine credential.
pub enum Decision {
    /// Go on, with the collector's identity.
    Allow(Identity),
    /// Answer this.
    Deny(Response),
}

fn query_db(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "db")
        .map(|(_, value)| value.into_owned())
}

/// Decide about a machine credential on a route (`None`: no route matched).
pub fn authorize(
    remotes: &Remotes,
    credential: &str,
    route: Option<&str>,
    query: Option<&str>,
) -> Decision {
    let hash = sha256_hex(credential);
    let record = match remotes.by_credential(&hash) {
        Ok(Some(record)) => record,
        Ok(None) => {
            return Decision::Deny(error(
                StatusCode::UNAUTHORIZED,
                "unknown remote collector credential",
            ));
        }
        Err(err) => return Decision::Deny(store_error(err)),
    };
    if record.status == weir_sinks::state::remotes::REVOKED {
        return Decision::Deny(error(
            StatusCode::FORBIDDEN,
            format!("remote collector {} is revoked", record.id),
        ));
    }
    let route = route.unwrap_or("");
    if WRITE_PATHS.contains(&route) {
        let db = query_db(query).unwrap_or_default();
        if !record.databases.contains(&db) {
            return Decision::Deny(error(
                StatusCode::FORBIDDEN,
                format!(
                    "remote collector {} may write only into {:?}, not {db:?}",
                    record.id, record.databases
                ),
            ));
        }
    } else if !COLLECTOR_PATHS.contains(&route) || route == COLLECTOR_PATHS[0] {
        return Decision::Deny(error(
            StatusCode::FORBIDDEN,
            "a remote collector credential may call only the collector endpoints and /write",
        ));
    }
    if let Err(err) = remotes.credential_used(&record.id, &hash) {
        return Decision::Deny(store_error(err));
    }
    Decision::Allow(Identity { record })
}

/// Run a collector's `/write` once per upload id: a retried upload whose first attempt was
/// accepted is answered 204 without being written again.
pub async fn dedupe_upload(
    remotes: &Remotes,
    identity: &Identity,
    upload_id: Option<String>,
    run: impl std::future::Future<Output = Response>,
) -> Response {
    let Some(upload_id) = upload_id else {
        return run.await;
    };
    match remotes.upload_seen(&identity.record.id, &upload_id) {
        Ok(true) => {
            tracing::debug!(remote = %identity.record.id, upload = %upload_id, "retried upload already written");
            return StatusCode::NO_CONTENT.into_response();
        }
        Ok(false) => {}
        Err(err) => return store_error(err),
    }
    let response = run.await;
    if response.status().is_success() {
        let now = now_nanos();
        let forget = now - i64::try_from(UPLOAD_MEMORY.as_nanos()).unwrap_or(i64::MAX);
        if let Err(err) = remotes.remember_upload(&identity.record.id, &upload_id, now, forget) {
            tracing::warn!(error = %err, "cannot remember an upload id");
        }
    }
    response
}

/// `GET /weir/v1/remote`: this weir's own collector role (enrolled id, central's view, the
/// configuration revision it runs, the latest error such as a refused credential).
pub async fn own_status(State(daemon): State<Arc<Daemon>>) -> Response {
    let config = daemon.config.load();
    if config.config.remote.url.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "this weir is not a remote collector (no [remote] url)",
        );
    }
    Json(daemon.remote.snapshot()).into_response()
}
