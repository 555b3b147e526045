//! The HTTP API: Kapacitor-compatible endpoints under `/kapacitor/v1` and `/write`, weir's
//! own under `/weir/v1`, and self-metrics at `/metrics`.
//!
//! Errors are `{"error": "..."}` with Kapacitor's status codes.

// Handlers return a ready `Response` as their error: it is built once, on the error path only.
#![allow(clippy::result_large_err)]

mod auth;
mod kapacitor;
mod weir;
mod write;

pub use auth::sha256_hex;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::daemon::Daemon;

/// The version weir reports in `X-Kapacitor-Version` (Kapacitor clients check it exists).
pub const KAPACITOR_VERSION: &str = concat!("1.5.7-weir-", env!("CARGO_PKG_VERSION"));

/// A JSON error response.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// Every route.
pub fn router(daemon: Arc<Daemon>) -> Router {
    let api = Router::new()
        .route(
            "/kapacitor/v1/ping",
            get(kapacitor::ping).head(kapacitor::ping),
        )
        .route(
            "/kapacitor/v1preview/ping",
            get(kapacitor::ping).head(kapacitor::ping),
        )
        .route("/write", post(write::write))
        .route("/kapacitor/v1/write", post(write::write))
        .route(
            "/kapacitor/v1/tasks",
            get(kapacitor::list_tasks).post(kapacitor::define_task),
        )
        .route(
            "/kapacitor/v1/tasks/{id}",
            get(kapacitor::get_task)
                .patch(kapacitor::update_task)
                .delete(kapacitor::delete_task),
        )
        .route(
            "/kapacitor/v1/tasks/{id}/{endpoint}",
            get(kapacitor::http_out),
        )
        .route(
            "/kapacitor/v1/templates",
            get(kapacitor::list_templates).post(kapacitor::define_template),
        )
        .route(
            "/kapacitor/v1/templates/{id}",
            get(kapacitor::get_template)
                .patch(kapacitor::update_template)
                .delete(kapacitor::delete_template),
        )
        .route("/weir/v1/config", get(weir::config))
        .route("/weir/v1/config/reload", post(weir::reload))
        .route("/weir/v1/config/status", get(weir::config_status))
        .route("/weir/v1/scrapers", get(weir::scrapers))
        .route(
            "/weir/v1/scrapers/{name}",
            axum::routing::patch(weir::patch_scraper),
        )
        .route("/weir/v1/scrapers/{name}/collect", post(weir::collect))
        .route("/weir/v1/targets", get(weir::targets))
        .route("/weir/v1/discoverers", get(weir::discoverers))
        .route(
            "/weir/v1/discoverers/{id}",
            axum::routing::patch(weir::patch_discoverer),
        )
        .route(
            "/weir/v1/discoverers/{id}/refresh",
            post(weir::refresh_discoverer),
        )
        .route("/weir/v1/sinks", get(weir::sinks))
        .route("/weir/v1/cis", get(weir::cis))
        .route("/weir/v1/cis/{id}", get(weir::ci))
        .route("/weir/v1/changes", get(weir::changes))
        .route("/metrics", get(weir::metrics))
        .fallback(not_found);
    api.layer(axum::middleware::from_fn_with_state(
        daemon.clone(),
        auth::require,
    ))
    .with_state(daemon)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}
