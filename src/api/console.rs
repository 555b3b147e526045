//! The web console: a page at `/` with its script and style compiled into the binary
//! (`console/`), the same-origin guard on every state-changing request, and the few JSON
//! views the console needs beyond the rest of the API (a filtered page of targets, CI
//! search by attribute and address, CI counts per source).
//!
//! The page and its assets hold no data and are served without credentials; everything they
//! show comes from the protected API, so with `auth-enabled` the console asks for a user or
//! token first and sends it as an `Authorization` header.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error;
use crate::daemon::Daemon;

/// The console's files: path, content type, content.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "/console/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "/console/app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
];

/// The header the console sends with every request: a 401 answered to it carries no
/// `WWW-Authenticate`, so the browser shows the console's own sign-in form, not its dialog.
pub const CONSOLE_HEADER: &str = "x-weir-console";

/// Whether `path` is one of the console's files (served without credentials).
pub fn is_asset(path: &str) -> bool {
    ASSETS.iter().any(|(asset, _, _)| *asset == path)
}

/// The console's files as routes, in `api::routes()` form.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(path, _, _)| *path)
}

/// `GET` of one console file.
pub async fn asset(request: Request) -> Response {
    let path = request.uri().path();
    match ASSETS.iter().find(|(asset, _, _)| *asset == path) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                    ),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Refuse a state-changing request that a browser sent from another origin: a page elsewhere
/// can make the browser POST here (a form needs no CORS), but the browser then names that
/// page in `Origin` (and `Sec-Fetch-Site`). Clients that are not browsers (the CLI, curl,
/// Kapacitor's client) send neither and pass.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    match cross_origin(request.headers()) {
        Some(reason) => error(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused: {reason}"),
        ),
        None => next.run(request).await,
    }
}

/// Why the request came from another site, or `None`.
fn cross_origin(headers: &axum::http::HeaderMap) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers that send Sec-Fetch-Site say it themselves (and a proxy that rewrites Host does
    // not confuse it); the others are judged by Origin against Host.
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => None,
            other => Some(format!("Sec-Fetch-Site is {other}")),
        };
    }
    let origin = text("origin")?;
    let host = text("host").unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match origin_host {
        Some(origin_host) if origin_host.eq_ignore_ascii_case(host) => None,
        _ => Some(format!("Origin {origin} is not this server ({host})")),
    }
}

/// `GET /weir/v1/console/targets?q=&state=&scraper=&offset=&limit=&problems_first=` query.
#[derive(serde::Deserialize)]
pub struct TargetsPage {
    /// Substring of the URL, job, instance or any label value.
    q: Option<String>,
    /// One state (`circuit-open`), or `problem` for every state but healthy.
    state: Option<String>,
    /// One scraper.
    scraper: Option<String>,
    /// Targets in the worst state first (the collectors page shows those).
    #[serde(default)]
    problems_first: bool,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// How bad a state is, for `problems_first`.
fn severity(state: &str) -> u8 {
    match state {
        "circuit-open" => 0,
        "unhealthy" => 1,
        "degraded" => 2,
        "unknown" => 3,
        "healthy" => 4,
        _ => 5,
    }
}

/// `GET /weir/v1/console/targets`: one page of targets, filtered and sorted by scraper and
/// URL, with the total that matched and the count per state (for 10,000 targets the console
/// never loads them all, and only the page is turned into JSON).
pub async fn targets(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<TargetsPage>,
) -> Response {
    let needle = query.q.as_deref().unwrap_or("").to_lowercase();
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let offset = query.offset.unwrap_or(0);
    let scraper = query.scraper.as_deref().filter(|name| !name.is_empty());
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut matched = Vec::new();
    for target in daemon.scrapers.targets() {
        if scraper.is_some_and(|name| target.scraper != name) {
            continue;
        }
        if !needle.is_empty() && !target_contains(&target, &needle) {
            continue;
        }
        let state = target.state.as_str();
        *states.entry(state).or_default() += 1;
        let wanted = match query.state.as_deref() {
            None | Some("") => true,
            Some("problem") => state != "healthy",
            Some(one) => one == state,
        };
        if wanted {
            matched.push(target);
        }
    }
    matched.sort_by(|a, b| {
        let rank = |t: &weir_scrapers::TargetStatus| {
            if query.problems_first {
                severity(t.state.as_str())
            } else {
                0
            }
        };
        (rank(a), &a.scraper, &a.url).cmp(&(rank(b), &b.scraper, &b.url))
    });
    let total = matched.len();
    let page: Vec<serde_json::Value> = matched
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter_map(|target| serde_json::to_value(target).ok())
        .collect();
    Json(json!({
        "total": total,
        "offset": offset,
        "limit": limit,
        "states": states,
        "targets": page,
    }))
    .into_response()
}

/// Whether the URL, scraper, last error or any label (discovered or final) contains
/// `needle` (lowercase).
fn target_contains(target: &weir_scrapers::TargetStatus, needle: &str) -> bool {
    let contains = |text: &str| text.to_lowercase().contains(needle);
    contains(&target.url)
        || contains(&target.scraper)
        || target.last_error.as_deref().is_some_and(contains)
        || target.labels.values().any(|v| contains(v))
        || target.discovered_labels.values().any(|v| contains(v))
}

/// `GET /weir/v1/console/cis?kind=&name=&attribute=&address=&source=&limit=` query.
#[derive(serde::Deserialize)]
pub struct CiSearch {
    /// Exact kind.
    kind: Option<String>,
    /// Substring of the key (the name).
    name: Option<String>,
    /// `attribute=value` (value a substring), or a substring of any attribute value.
    attribute: Option<String>,
    /// An address the item answers on (substring: `10.2.` finds a subnet's items).
    address: Option<String>,
    /// A source or its service prefix.
    source: Option<String>,
    limit: Option<usize>,
}

/// `GET /weir/v1/console/cis`: CIs by kind, name, attribute and address, with the kinds that
/// exist (for the console's kind list).
pub async fn cis(State(daemon): State<Arc<Daemon>>, Query(search): Query<CiSearch>) -> Response {
    let Some(cis) = daemon.cis.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "the CI store is disabled ([ci] enabled = false)",
        );
    };
    let result = tokio::task::spawn_blocking(move || {
        let query = weir_sinks::ci::CiQuery {
            source: search.source.clone().filter(|s| !s.is_empty()),
            limit: Some(usize::MAX),
            ..Default::default()
        };
        cis.list(&query).map(|items| search_cis(items, &search))
    })
    .await;
    match result {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn search_cis(items: Vec<weir_sinks::ci::CiState>, search: &CiSearch) -> serde_json::Value {
    let limit = search.limit.unwrap_or(200).clamp(1, 5000);
    let kind = search.kind.as_deref().filter(|k| !k.is_empty());
    let name = search.name.as_deref().unwrap_or("").to_lowercase();
    let address = search.address.as_deref().unwrap_or("").trim().to_owned();
    let attribute = search.attribute.as_deref().unwrap_or("").trim().to_owned();
    let (attribute_name, attribute_value) = match attribute.split_once('=') {
        Some((name, value)) => (Some(name.trim().to_owned()), value.trim().to_lowercase()),
        None => (None, attribute.to_lowercase()),
    };
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    let mut out = Vec::new();
    for state in items {
        *kinds.entry(state.key.kind.clone()).or_default() += 1;
        if kind.is_some_and(|k| k != state.key.kind) {
            continue;
        }
        if !name.is_empty() && !state.key.key.to_lowercase().contains(&name) {
            continue;
        }
        if !address.is_empty() && !state.addresses.iter().any(|a| a.contains(&address)) {
            continue;
        }
        let attribute_matches = |(key, value): (&String, &String)| {
            attribute_name.as_deref().is_none_or(|n| n == key)
                && value.to_lowercase().contains(&attribute_value)
        };
        if !attribute.is_empty() && !state.config.iter().any(attribute_matches) {
            continue;
        }
        total += 1;
        if out.len() < limit {
            let mut value = serde_json::to_value(&state).unwrap_or_default();
            value["id"] = json!(state.key.id());
            value["updated"] = json!(crate::tasks::format_rfc3339(state.updated));
            value["seen"] = json!(crate::tasks::format_rfc3339(state.seen));
            value["created"] = json!(crate::tasks::format_rfc3339(state.created));
            out.push(value);
        }
    }
    json!({ "total": total, "kinds": kinds, "cis": out })
}

/// `GET /weir/v1/console/ci-counts`: how many CIs each source has (`kubernetes/prod`).
pub async fn ci_counts(State(daemon): State<Arc<Daemon>>) -> Response {
    let Some(cis) = daemon.cis.clone() else {
        return Json(json!({ "enabled": false, "sources": {} })).into_response();
    };
    let result = tokio::task::spawn_blocking(move || {
        let query = weir_sinks::ci::CiQuery {
            limit: Some(usize::MAX),
            ..Default::default()
        };
        cis.list(&query).map(|items| {
            let mut sources: BTreeMap<String, usize> = BTreeMap::new();
            for state in items {
                *sources.entry(state.key.source).or_default() += 1;
            }
            sources
        })
    })
    .await;
    match result {
        Ok(Ok(sources)) => Json(json!({ "enabled": true, "sources": sources })).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass() {
        assert_eq!(cross_origin(&headers(&[("host", "127.0.0.1:9092")])), None);
        assert_eq!(
            cross_origin(&headers(&[
                ("host", "127.0.0.1:9092"),
                ("origin", "http://127.0.0.1:9092"),
                ("sec-fetch-site", "same-origin"),
            ])),
            None
        );
    }

    #[test]
    fn other_origins_are_refused() {
        for pairs in [
            &[
                ("host", "127.0.0.1:9092"),
                ("origin", "http://evil.example"),
            ][..],
            &[
                ("host", "127.0.0.1:9092"),
                ("origin", "http://127.0.0.1:9093"),
            ],
            &[("host", "127.0.0.1:9092"), ("origin", "null")],
            &[("host", "127.0.0.1:9092"), ("sec-fetch-site", "cross-site")],
            &[("host", "127.0.0.1:9092"), ("sec-fetch-site", "same-site")],
            &[
                ("host", "127.0.0.1:9092"),
                ("origin", "http://127.0.0.1:9092"),
                ("sec-fetch-site", "cross-site"),
            ],
        ] {
            assert!(cross_origin(&headers(pairs)).is_some(), "{pairs:?}");
        }
    }
}
