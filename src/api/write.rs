//! `POST /write` and `/kapacitor/v1/write`: InfluxDB 1.x line protocol in, routed into tasks.
//!
//! Good lines are accepted even when some lines are bad (InfluxDB's partial-write
//! behaviour); the 400 response names the first bad line.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use weir_engine::PointBatch;
use weir_engine::line_protocol::{self, Precision};

use super::error;
use crate::daemon::Daemon;

/// `/write` query parameters.
#[derive(Debug, serde::Deserialize)]
pub struct WriteQuery {
    db: Option<String>,
    rp: Option<String>,
    precision: Option<String>,
}

/// The handler.
pub async fn write(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let max = daemon.max_body_size();
    if body.len() as u64 > max {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {max} bytes"),
        );
    }
    let Some(database) = query.db.filter(|db| !db.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "database is required");
    };
    let retention_policy = query
        .rp
        .filter(|rp| !rp.is_empty())
        .unwrap_or_else(|| "autogen".to_owned());
    let precision = match query.precision.as_deref().filter(|p| !p.is_empty()) {
        None => Precision::Nanoseconds,
        Some(text) => match Precision::from_query(text) {
            Some(precision) => precision,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid precision {text:?}: use n, u, ms, s, m or h"),
                );
            }
        },
    };
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let decoded;
    let bytes: &[u8] = if gzip {
        let mut out = Vec::new();
        let limit = max.saturating_add(1);
        match flate2::read::GzDecoder::new(&body[..])
            .take(limit)
            .read_to_end(&mut out)
        {
            Ok(_) if out.len() as u64 > max => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body exceeds {max} bytes"),
                );
            }
            Ok(_) => {}
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid gzip body: {e}")),
        }
        decoded = out;
        &decoded
    } else {
        &body
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not UTF-8: {e}")),
    };
    let now = crate::tasks::now_nanos();
    let (points, errors) = line_protocol::parse(text, precision, now);
    daemon
        .metrics
        .write_requests
        .fetch_add(1, Ordering::Relaxed);
    daemon
        .metrics
        .points_received
        .fetch_add(points.len() as u64, Ordering::Relaxed);
    daemon
        .metrics
        .write_errors
        .fetch_add(errors.len() as u64, Ordering::Relaxed);
    if !points.is_empty() {
        daemon
            .engine
            .write(PointBatch {
                database,
                retention_policy,
                points,
            })
            .await;
    }
    match errors.first() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(first) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "unable to parse '{}': {} (line {}{})",
                first.text,
                first.message,
                first.line,
                if errors.len() > 1 {
                    format!("; {} more bad lines", errors.len() - 1)
                } else {
                    String::new()
                }
            ),
        ),
    }
}
