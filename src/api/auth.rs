//! Authentication: with `[http] auth-enabled`, every route but the ping routes needs a bearer
//! token or basic credentials whose SHA-256 matches a `[[http.users]]` entry.
//!
//! Which routes are open is decided by the router (`super::OPEN_PATHS`): this middleware is
//! layered only on the protected routes and the fallback, and never looks at the path.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error;
use crate::config::UserConfig;
use crate::daemon::Daemon;

/// Hex SHA-256, as stored in `password-sha256` and `token-sha256`.
pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The middleware.
pub async fn require(
    State(daemon): State<Arc<Daemon>>,
    mut request: Request,
    next: Next,
) -> Response {
    // A remote collector's credential is checked whether or not auth is on: it opens only
    // the collector endpoints and `/write` into its databases (`super::remotes`).
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = header.strip_prefix("Bearer ").map(str::trim) {
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|path| path.as_str().to_owned());
        if token.starts_with(super::remotes::CREDENTIAL_PREFIX) {
            let decision = super::remotes::authorize(
                &daemon.remotes,
                token,
                route.as_deref(),
                request.uri().query(),
            );
            return match decision {
                super::remotes::Decision::Deny(response) => response,
                super::remotes::Decision::Allow(identity) => {
                    let upload_id = request
                        .headers()
                        .get(super::remotes::UPLOAD_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    request.extensions_mut().insert(identity.clone());
                    super::remotes::dedupe_upload(
                        &daemon.remotes,
                        &identity,
                        upload_id,
                        next.run(request),
                    )
                    .await
                }
            };
        }
        // An enrollment token opens the enrollment endpoint only (the handler checks it).
        if token.starts_with(super::remotes::ENROLL_PREFIX)
            && route.as_deref() == Some(super::remotes::COLLECTOR_PATHS[0])
        {
            return next.run(request).await;
        }
    }
    let config = daemon.config.load();
    if !config.config.http.auth_enabled {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let query_credentials = request.uri().query().and_then(query_credentials);
    let from_console = request
        .headers()
        .contains_key(super::console::CONSOLE_HEADER);
    if authorized(&config.config.http.users, header, query_credentials) {
        next.run(request).await
    } else if from_console {
        // The console asks for credentials itself; the header would make the browser ask.
        error(
            StatusCode::UNAUTHORIZED,
            "authorization failed: missing or wrong credentials",
        )
    } else {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "authorization failed: missing or wrong credentials",
        );
        response.headers_mut().insert(
            "WWW-Authenticate",
            axum::http::HeaderValue::from_static("Basic realm=\"weir\""),
        );
        response
    }
}

/// InfluxDB/Kapacitor clients may send `?u=user&p=pass`.
fn query_credentials(query: &str) -> Option<(String, String)> {
    let mut user = None;
    let mut password = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("u", value)) => user = Some(value.to_owned()),
            Some(("p", value)) => password = Some(value.to_owned()),
            _ => {}
        }
    }
    Some((user?, password?))
}

fn authorized(users: &[UserConfig], header: &str, query: Option<(String, String)>) -> bool {
    let matches_user = |user: &str, password: &str| {
        let hash = sha256_hex(password);
        users
            .iter()
            .any(|u| !u.username.is_empty() && u.username == user && u.password_sha256 == hash)
    };
    if let Some(token) = header.strip_prefix("Bearer ") {
        let hash = sha256_hex(token.trim());
        return users
            .iter()
            .any(|u| !u.token_sha256.is_empty() && u.token_sha256 == hash);
    }
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        return text
            .split_once(':')
            .is_some_and(|(user, password)| matches_user(user, password));
    }
    query.is_some_and(|(user, password)| matches_user(&user, &password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<UserConfig> {
        vec![
            UserConfig {
                username: "ops".into(),
                password_sha256: sha256_hex("secret"),
                token_sha256: String::new(),
            },
            UserConfig {
                username: String::new(),
                password_sha256: String::new(),
                token_sha256: sha256_hex("tok"),
            },
        ]
    }

    #[test]
    fn accepts_basic_bearer_and_query_credentials() {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:secret")
        );
        assert!(authorized(&users(), &basic, None));
        assert!(authorized(&users(), "Bearer tok", None));
        assert!(authorized(
            &users(),
            "",
            Some(("ops".into(), "secret".into()))
        ));
    }

    #[test]
    fn rejects_wrong_or_missing_credentials() {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:nope")
        );
        assert!(!authorized(&users(), &basic, None));
        assert!(!authorized(&users(), "Bearer nope", None));
        assert!(!authorized(&users(), "", None));
        assert!(!authorized(&users(), "Basic !!!", None));
    }
}
