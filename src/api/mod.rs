//! The HTTP API: Kapacitor-compatible endpoints under `/kapacitor/v1` and `/write`, weir's
//! own under `/weir/v1`, and self-metrics at `/metrics`.
//!
//! Errors are `{"error": "..."}` with Kapacitor's status codes.

// Handlers return a ready `Response` as their error: it is built once, on the error path only.
#![allow(clippy::result_large_err)]

mod alerts;
mod auth;
mod console;
mod debug;
mod kapacitor;
mod logs;
mod recordings;
mod remotes;
mod weir;
mod write;

pub use auth::sha256_hex;
pub use remotes::UPLOAD_ID_HEADER;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, head, patch, post, put};
use serde_json::json;

use crate::daemon::Daemon;

/// The version weir reports in `X-Kapacitor-Version` (Kapacitor clients check it exists).
pub const KAPACITOR_VERSION: &str = concat!("1.5.7-weir-", env!("CARGO_PKG_VERSION"));

/// A JSON error response.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// One route: method, path, whether it is open without credentials, and its handler.
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path pattern, as axum writes it (`/kapacitor/v1/tasks/{id}`).
    pub path: &'static str,
    /// Reachable without credentials when auth is on (only the ping endpoints).
    pub open: bool,
    handler: MethodRouter<Arc<Daemon>>,
}

/// The paths answered without credentials when auth is on: exactly these, by route.
pub const OPEN_PATHS: [&str; 2] = ["/kapacitor/v1/ping", "/kapacitor/v1preview/ping"];

fn route(method: Method, path: &'static str, handler: MethodRouter<Arc<Daemon>>) -> Route {
    Route {
        open: OPEN_PATHS.contains(&path) || console::is_asset(path),
        method,
        path,
        handler,
    }
}

const RECORDING: &str = "/kapacitor/v1/recordings/{id}";
const REMOTE: &str = "/weir/v1/remotes/{id}";
const REPLAY: &str = "/kapacitor/v1/replays/{id}";
const TOPICS: &str = "/kapacitor/v1/alerts/topics";
const NOT_SERVED_CONFIG: &str = "/kapacitor/v1/config/{*section}";
const NOT_SERVED_USER: &str = "/kapacitor/v1/users/{name}";
const TOPIC: &str = "/kapacitor/v1/alerts/topics/{topic}";
const EVENTS: &str = "/kapacitor/v1/alerts/topics/{topic}/events";
const EVENT: &str = "/kapacitor/v1/alerts/topics/{topic}/events/{event}";
const HANDLERS: &str = "/kapacitor/v1/alerts/topics/{topic}/handlers";
const HANDLER: &str = "/kapacitor/v1/alerts/topics/{topic}/handlers/{handler}";

/// Every route of the API, one row per method and path. The router is built from this table
/// alone, so a test that walks it walks everything the server answers.
pub fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, "/kapacitor/v1/ping", get(kapacitor::ping)),
        route(M::HEAD, "/kapacitor/v1/ping", head(kapacitor::ping)),
        route(M::GET, "/kapacitor/v1preview/ping", get(kapacitor::ping)),
        route(M::HEAD, "/kapacitor/v1preview/ping", head(kapacitor::ping)),
        route(M::POST, "/write", post(write::write)),
        route(M::POST, "/kapacitor/v1/write", post(write::write)),
        route(M::GET, "/kapacitor/v1/tasks", get(kapacitor::list_tasks)),
        route(M::POST, "/kapacitor/v1/tasks", post(kapacitor::define_task)),
        route(M::GET, "/kapacitor/v1/tasks/{id}", get(kapacitor::get_task)),
        route(
            M::PATCH,
            "/kapacitor/v1/tasks/{id}",
            patch(kapacitor::update_task),
        ),
        route(
            M::DELETE,
            "/kapacitor/v1/tasks/{id}",
            delete(kapacitor::delete_task),
        ),
        route(
            M::GET,
            "/kapacitor/v1/tasks/{id}/{endpoint}",
            get(kapacitor::http_out),
        ),
        route(
            M::GET,
            "/kapacitor/v1/templates",
            get(kapacitor::list_templates),
        ),
        route(
            M::POST,
            "/kapacitor/v1/templates",
            post(kapacitor::define_template),
        ),
        route(
            M::GET,
            "/kapacitor/v1/templates/{id}",
            get(kapacitor::get_template),
        ),
        route(
            M::PATCH,
            "/kapacitor/v1/templates/{id}",
            patch(kapacitor::update_template),
        ),
        route(
            M::DELETE,
            "/kapacitor/v1/templates/{id}",
            delete(kapacitor::delete_template),
        ),
        route(M::GET, "/kapacitor/v1/debug/vars", get(debug::vars)),
        route(M::GET, "/kapacitor/v1/storage/backup", get(debug::backup)),
        route(M::POST, "/kapacitor/v1/loglevel", post(logs::set_level)),
        route(M::GET, "/kapacitor/v1preview/logs", get(logs::logs)),
        route(
            M::POST,
            "/kapacitor/v1/recordings/stream",
            post(recordings::record_stream),
        ),
        route(M::POST, RECORDING, post(recordings::record_source)),
        route(
            M::GET,
            "/kapacitor/v1/recordings",
            get(recordings::list_recordings),
        ),
        route(M::GET, RECORDING, get(recordings::get_recording)),
        route(M::DELETE, RECORDING, delete(recordings::delete_recording)),
        route(M::POST, "/kapacitor/v1/replays", post(recordings::replay)),
        route(M::POST, REPLAY, post(recordings::replay_live)),
        route(
            M::GET,
            "/kapacitor/v1/replays",
            get(recordings::list_replays),
        ),
        route(M::GET, REPLAY, get(recordings::get_replay)),
        route(M::DELETE, REPLAY, delete(recordings::delete_replay)),
        route(M::GET, TOPICS, get(alerts::list_topics)),
        route(M::GET, TOPIC, get(alerts::get_topic)),
        route(M::DELETE, TOPIC, delete(alerts::delete_topic)),
        route(M::GET, EVENTS, get(alerts::list_events)),
        route(M::GET, EVENT, get(alerts::get_event)),
        route(M::GET, HANDLERS, get(alerts::list_handlers)),
        route(M::POST, HANDLERS, post(alerts::create_handler)),
        route(M::GET, HANDLER, get(alerts::get_handler)),
        route(M::PUT, HANDLER, put(alerts::replace_handler)),
        route(M::PATCH, HANDLER, patch(alerts::patch_handler)),
        route(M::DELETE, HANDLER, delete(alerts::delete_handler)),
        // Kapacitor 1.5.7 routes weir does not serve: 501 with the reason.
        route(M::GET, "/kapacitor/v1/config", get(kapacitor::not_served)),
        route(M::GET, NOT_SERVED_CONFIG, get(kapacitor::not_served)),
        route(M::POST, NOT_SERVED_CONFIG, post(kapacitor::not_served)),
        route(
            M::GET,
            "/kapacitor/v1/service-tests",
            get(kapacitor::not_served),
        ),
        route(
            M::GET,
            "/kapacitor/v1/service-tests/{name}",
            get(kapacitor::not_served),
        ),
        route(
            M::POST,
            "/kapacitor/v1/service-tests/{name}",
            post(kapacitor::not_served),
        ),
        route(M::GET, "/kapacitor/v1/users", get(kapacitor::not_served)),
        route(M::POST, "/kapacitor/v1/users", post(kapacitor::not_served)),
        route(M::GET, NOT_SERVED_USER, get(kapacitor::not_served)),
        route(M::PATCH, NOT_SERVED_USER, patch(kapacitor::not_served)),
        route(M::DELETE, NOT_SERVED_USER, delete(kapacitor::not_served)),
        route(
            M::GET,
            "/kapacitor/v1/storage/stores",
            get(kapacitor::not_served),
        ),
        route(
            M::POST,
            "/kapacitor/v1/storage/stores/{name}",
            post(kapacitor::not_served),
        ),
        route(
            M::GET,
            "/kapacitor/v1/debug/pprof/{*profile}",
            get(kapacitor::not_served),
        ),
        route(
            M::POST,
            "/kapacitor/v1/sideloads/{source}/reload",
            post(kapacitor::not_served),
        ),
        route(M::GET, "/weir/v1/config", get(weir::config)),
        route(M::POST, "/weir/v1/config/reload", post(weir::reload)),
        route(M::GET, "/weir/v1/config/status", get(weir::config_status)),
        route(M::GET, "/weir/v1/scrapers", get(weir::scrapers)),
        route(
            M::PATCH,
            "/weir/v1/scrapers/{name}",
            patch(weir::patch_scraper),
        ),
        route(
            M::POST,
            "/weir/v1/scrapers/{name}/collect",
            post(weir::collect),
        ),
        route(M::GET, "/weir/v1/targets", get(weir::targets)),
        route(M::GET, "/weir/v1/discoverers", get(weir::discoverers)),
        route(
            M::PATCH,
            "/weir/v1/discoverers/{id}",
            patch(weir::patch_discoverer),
        ),
        route(
            M::POST,
            "/weir/v1/discoverers/{id}/refresh",
            post(weir::refresh_discoverer),
        ),
        route(M::GET, "/weir/v1/sinks", get(weir::sinks)),
        route(M::GET, "/weir/v1/cis", get(weir::cis)),
        route(M::GET, "/weir/v1/cis/{id}", get(weir::ci)),
        route(M::GET, "/weir/v1/changes", get(weir::changes)),
        route(M::GET, "/metrics", get(weir::metrics)),
        route(M::GET, "/weir/v1/console/targets", get(console::targets)),
        route(M::GET, "/weir/v1/console/cis", get(console::cis)),
        route(
            M::GET,
            "/weir/v1/console/ci-counts",
            get(console::ci_counts),
        ),
        // Remote collectors: operators manage them, collectors call the collector routes.
        route(M::GET, "/weir/v1/remotes", get(remotes::list)),
        route(M::POST, "/weir/v1/remotes", post(remotes::create)),
        route(M::GET, REMOTE, get(remotes::get)),
        route(M::POST, "/weir/v1/remotes/{id}/token", post(remotes::token)),
        route(
            M::POST,
            "/weir/v1/remotes/{id}/rotate",
            post(remotes::rotate),
        ),
        route(
            M::POST,
            "/weir/v1/remotes/{id}/revoke",
            post(remotes::revoke),
        ),
        route(
            M::PUT,
            "/weir/v1/remotes/{id}/config",
            put(remotes::put_config),
        ),
        route(M::POST, remotes::COLLECTOR_PATHS[0], post(remotes::enroll)),
        route(
            M::POST,
            remotes::COLLECTOR_PATHS[1],
            post(remotes::heartbeat),
        ),
        route(
            M::GET,
            remotes::COLLECTOR_PATHS[2],
            get(remotes::collector_config),
        ),
        route(
            M::POST,
            remotes::COLLECTOR_PATHS[3],
            post(remotes::config_ack),
        ),
        route(M::GET, "/weir/v1/remote", get(remotes::own_status)),
    ]
    .into_iter()
    .chain(console::asset_paths().map(|path| route(M::GET, path, get(console::asset))))
    .collect()
}

/// Every route, with authentication decided per route: the open ones are served by a router
/// without the auth layer, every other route (and the 404 fallback) by one with it.
pub fn router(daemon: Arc<Daemon>) -> Router {
    let mut open: BTreeMap<&'static str, MethodRouter<Arc<Daemon>>> = BTreeMap::new();
    let mut protected: BTreeMap<&'static str, MethodRouter<Arc<Daemon>>> = BTreeMap::new();
    for route in routes() {
        tracing::debug!(method = %route.method, path = route.path, open = route.open, "route");
        let table = if route.open {
            &mut open
        } else {
            &mut protected
        };
        let merged = match table.remove(route.path) {
            Some(existing) => existing.merge(route.handler),
            None => route.handler,
        };
        table.insert(route.path, merged);
    }
    let open = open
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        });
    let protected = protected
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            daemon.clone(),
            auth::require,
        ));
    let body_timeout = daemon.config.load().config.http.read_body_timeout;
    protected
        .merge(open)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .layer(axum::middleware::from_fn(console::same_origin))
        .with_state(daemon)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use base64::Engine as _;
    use tower::ServiceExt as _;

    use super::*;

    /// A daemon with auth on, one user `ops:secret` and one token, and nothing else running.
    async fn daemon(dir: &std::path::Path) -> Arc<Daemon> {
        let text = format!(
            "data_dir = {dir:?}\n[http]\nauth-enabled = true\n[[http.users]]\nusername = \"ops\"\npassword-sha256 = {:?}\n[[http.users]]\ntoken-sha256 = {:?}\n[load]\nenabled = false\n",
            sha256_hex("secret"),
            sha256_hex("tok"),
            dir = dir.display().to_string(),
        );
        let loaded = crate::config::parse(&text, "test.toml", &BTreeMap::new())
            .unwrap_or_else(|errors| panic!("{errors}"));
        Daemon::start(loaded).await.expect("daemon starts")
    }

    /// The path of a route with every parameter named `ping`: the name the suffix check let
    /// through (a task, template, scraper or discoverer called `ping`).
    fn concrete(path: &str) -> String {
        path.split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "ping"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    async fn status(app: &Router, method: &Method, path: &str, auth: Option<&str>) -> StatusCode {
        let mut request = Request::builder().method(method.clone()).uri(path);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let body = if *method == Method::POST || *method == Method::PATCH {
            Body::from("{}")
        } else {
            Body::empty()
        };
        let response = app
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        response.status()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_route_needs_credentials_except_ping() {
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = daemon(dir.path()).await;
        let app = router(daemon.clone());
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:secret")
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:nope")
        );
        let table = routes();
        assert!(table.len() > 30, "the table lists every route");
        let mut open = Vec::new();
        for route in &table {
            let path = concrete(route.path);
            let anonymous = status(&app, &route.method, &path, None).await;
            let wrong_credentials = status(&app, &route.method, &path, Some(&wrong)).await;
            let bad_token = status(&app, &route.method, &path, Some("Bearer nope")).await;
            let with_basic = status(&app, &route.method, &path, Some(&basic)).await;
            let with_token = status(&app, &route.method, &path, Some("Bearer tok")).await;
            let name = format!("{} {}", route.method, route.path);
            if route.open {
                open.push(route.path);
                assert!(anonymous.is_success(), "{name}: {anonymous}");
            } else {
                assert_eq!(
                    anonymous,
                    StatusCode::UNAUTHORIZED,
                    "{name} without credentials"
                );
                assert_eq!(
                    wrong_credentials,
                    StatusCode::UNAUTHORIZED,
                    "{name} wrong password"
                );
                assert_eq!(bad_token, StatusCode::UNAUTHORIZED, "{name} wrong token");
            }
            assert_ne!(
                with_basic,
                StatusCode::UNAUTHORIZED,
                "{name} with credentials"
            );
            assert_ne!(with_token, StatusCode::UNAUTHORIZED, "{name} with a token");
            // A method the route does not have is no way around auth either.
            let other = if route.method == Method::PUT {
                Method::OPTIONS
            } else {
                Method::PUT
            };
            if !route.open {
                let status = status(&app, &other, &path, None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{other} {}", route.path);
            }
        }
        open.dedup();
        let (assets, open): (Vec<&str>, Vec<&str>) =
            open.into_iter().partition(|path| console::is_asset(path));
        assert_eq!(open, OPEN_PATHS, "exactly the ping routes are open");
        assert_eq!(
            assets,
            console::asset_paths().collect::<Vec<_>>(),
            "and the console's files, which hold no data"
        );
        // Paths that end in /ping but are not the ping routes, and unknown paths.
        for path in [
            "/kapacitor/v1/tasks/ping",
            "/weir/v1/scrapers/ping",
            "/ping",
            "/nowhere/ping",
            "/kapacitor/v1/ping/../tasks",
            "/kapacitor/v1//ping",
        ] {
            for method in [Method::GET, Method::PATCH, Method::DELETE] {
                let got = status(&app, &method, path, None).await;
                assert_eq!(got, StatusCode::UNAUTHORIZED, "{method} {path}");
            }
        }
        daemon.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn console_is_open_but_its_data_and_actions_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = daemon(dir.path()).await;
        let app = router(daemon.clone());
        let send = |request: Request<Body>| {
            let app = app.clone();
            async move { app.oneshot(request).await.expect("infallible") }
        };
        let page = send(Request::get("/").body(Body::empty()).expect("request")).await;
        assert_eq!(page.status(), StatusCode::OK);
        // The console's own requests get a 401 without the header that makes browsers ask.
        let console = send(
            Request::get("/weir/v1/scrapers")
                .header(console::CONSOLE_HEADER, "1")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(console.status(), StatusCode::UNAUTHORIZED);
        assert!(!console.headers().contains_key("www-authenticate"));
        let other = send(
            Request::get("/weir/v1/scrapers")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert!(other.headers().contains_key("www-authenticate"));
        // A browser POST from another site is refused even with good credentials.
        let cross = send(
            Request::post("/weir/v1/config/reload")
                .header("authorization", "Bearer tok")
                .header("host", "127.0.0.1:9092")
                .header("origin", "http://evil.example")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        daemon.shutdown().await;
    }
}
