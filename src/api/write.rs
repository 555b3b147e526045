//! `POST /write` and `/kapacitor/v1/write`: InfluxDB 1.x line protocol in, routed into tasks.
//!
//! Good lines are accepted even when some lines are bad (InfluxDB's partial-write
//! behaviour); the 400 response names the first bad line.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use weir_engine::line_protocol::{self, Precision};
use weir_engine::{IngressTracker, Lease, PointBatch, Ticket};
use weir_sinks::buffer::ingress::AppendError;

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
    body: Body,
) -> Response {
    // The body is read here, not by an extractor: axum's extractors stop at 2 MiB whatever
    // `max-body-size` says.
    let max = daemon.max_body_size();
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request Entity Too Large: the body exceeds max-body-size ({max} bytes)"),
        )
    };
    let body = match read_body(body, max).await {
        Ok(Some(body)) => body,
        Ok(None) => return too_large(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            );
        }
    };
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
    // Room in the tasks' queues, in KiB of body, before anything is parsed: a burst of
    // writers waits here instead of growing memory, and is told to come back after
    // `queue-timeout`.
    let (queue_timeout, queue_max_bytes) = {
        let config = daemon.config.load();
        let ingress = &config.config.ingress;
        (ingress.queue_timeout, ingress.queue_max_bytes.0)
    };
    let kib = u32::try_from(bytes.len().saturating_mul(POINTS_PER_BODY_BYTE) / 1024 + 1)
        .unwrap_or(u32::MAX)
        .min(daemon.write_budget_kib);
    let budget = daemon.write_budget.clone().acquire_many_owned(kib);
    let permit = match tokio::time::timeout(queue_timeout, budget).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return unavailable(
                &daemon,
                format!(
                    "the tasks' write queue is full ([ingress] queue-max-bytes = {queue_max_bytes}); retry later"
                ),
            );
        }
    };
    let (text, utf8_errors) = valid_lines(bytes);
    let now = crate::tasks::now_nanos();
    let (points, mut errors) = line_protocol::parse(&text, precision, now);
    if !utf8_errors.is_empty() {
        errors.extend(utf8_errors);
        errors.sort_by_key(|error| error.line);
    }
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
        // Logged before it is acknowledged: from here on a crash replays it.
        let logged = match &daemon.ingress {
            Some(log) => {
                match log.append(
                    now,
                    precision,
                    &database,
                    &retention_policy,
                    text.as_bytes(),
                ) {
                    Ok(seq) => Some((log.clone(), seq)),
                    Err(full @ AppendError::Full { .. }) => {
                        return unavailable(&daemon, full.to_string());
                    }
                    Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
            None => None,
        };
        let ticket = logged.as_ref().map(|(log, seq)| {
            let tracker: Arc<dyn IngressTracker> = log.clone();
            Ticket::new(*seq, tracker)
        });
        let lease: Lease = Arc::new(permit);
        let batch = PointBatch {
            database,
            retention_policy,
            points,
        };
        daemon.ingress_counts.count(&batch);
        daemon.recordings.offer(&batch);
        daemon.engine.write_logged(batch, ticket, Some(lease)).await;
        if let Some((log, seq)) = logged {
            // The writer's own hold: the tasks that got the batch hold it now.
            log.release(seq);
        }
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

/// Memory the parsed points of one byte of line protocol take while queued for the tasks (a
/// 50-byte line becomes a point of about 200 bytes: its name, shared tags and its fields).
const POINTS_PER_BODY_BYTE: usize = 4;

/// 503 with `Retry-After`: a full queue or log never drops what a client sends, it asks the
/// client to send it again.
fn unavailable(daemon: &Daemon, message: String) -> Response {
    daemon
        .metrics
        .writes_throttled
        .fetch_add(1, Ordering::Relaxed);
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert("Retry-After", axum::http::HeaderValue::from_static("1"));
    response
}

/// The body, or `None` when it is larger than `max`. The rest of a too-large body is read and
/// discarded (memory stays bounded; `read-body-timeout` bounds the time), so the client reads
/// the 413 instead of a connection reset.
async fn read_body(body: Body, max: u64) -> Result<Option<Bytes>, axum::Error> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut collected = bytes::BytesMut::new();
    let mut too_large = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if too_large {
            continue;
        }
        if (collected.len() + data.len()) as u64 > max {
            too_large = true;
            collected = bytes::BytesMut::new();
            continue;
        }
        collected.extend_from_slice(&data);
    }
    Ok((!too_large).then(|| collected.freeze()))
}

/// The body as text, with each line that is not UTF-8 blanked out (so line numbers stay) and
/// reported as a bad line: one bad line never rejects the good ones.
fn valid_lines(bytes: &[u8]) -> (Cow<'_, str>, Vec<line_protocol::LineError>) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(text), Vec::new());
    }
    let mut text = String::with_capacity(bytes.len());
    let mut errors = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if index > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(line) => text.push_str(line),
            Err(e) => errors.push(line_protocol::LineError {
                line: index + 1,
                text: String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned(),
                message: format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
            }),
        }
    }
    (Cow::Owned(text), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_rejects_only_its_line() {
        let body = b"cpu value=1 1\ncpu,host=\xff value=2 2\ncpu value=3 3\n";
        let (text, errors) = valid_lines(body);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("UTF-8"), "{}", errors[0].message);
        let (points, parse_errors) = line_protocol::parse(&text, Precision::Nanoseconds, 0);
        assert_eq!(points.len(), 2);
        assert!(parse_errors.is_empty());
    }
}
