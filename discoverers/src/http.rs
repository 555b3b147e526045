//! The HTTP client shared by the HTTP-based discoverers, with Kapacitor's TLS keys
//! (`ssl-ca`, `ssl-cert`, `ssl-key`, `ssl-server-name`, `insecure-skip-verify`).

use std::time::Duration;

/// Kapacitor's `ssl-ca`, `ssl-cert`, `ssl-key` and `insecure-skip-verify` keys.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TlsFiles<'a> {
    pub ca: Option<&'a str>,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub insecure_skip_verify: bool,
}

/// Build a client; the errors name the file that could not be used.
pub(crate) fn client(
    tls: TlsFiles<'_>,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, String> {
    let mut builder = builder
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = tls.ca {
        let pem = std::fs::read(path).map_err(|error| format!("ssl-ca {path}: {error}"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| format!("ssl-ca {path}: {error}"))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    match (tls.cert, tls.key) {
        (Some(cert), Some(key)) => {
            let mut pem =
                std::fs::read(cert).map_err(|error| format!("ssl-cert {cert}: {error}"))?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).map_err(|error| format!("ssl-key {key}: {error}"))?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|error| format!("ssl-cert {cert} / ssl-key {key}: {error}"))?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err("ssl-cert and ssl-key must be given together".to_owned()),
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|error| format!("http client: {error}"))
}

/// A client for one base URL, with the URL to request and the `Host` header to send (set
/// when `ssl-server-name` replaced the URL's host).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub client: reqwest::Client,
    pub url: reqwest::Url,
    pub host: Option<String>,
}

impl Endpoint {
    /// Build the client for `url` with the TLS keys; errors name the key or file.
    pub(crate) async fn new(
        url: &str,
        tls: TlsFiles<'_>,
        server_name: Option<&str>,
        builder: reqwest::ClientBuilder,
    ) -> Result<Endpoint, String> {
        let url = reqwest::Url::parse(url).map_err(|error| format!("url {url:?}: {error}"))?;
        let (builder, url, host) = match server_name {
            Some(server_name) => {
                let (builder, dialled, host) = with_server_name(builder, &url, server_name).await?;
                (builder, dialled, Some(host))
            }
            None => (builder, url, None),
        };
        Ok(Endpoint {
            client: client(tls, builder)?,
            url,
            host,
        })
    }

    /// A GET of the endpoint's URL with `suffix` appended (as Prometheus appends API paths
    /// to a configured server, so a server URL may carry a path prefix).
    pub(crate) fn get(&self, suffix: &str) -> Result<reqwest::RequestBuilder, String> {
        let url = if suffix.is_empty() {
            self.url.clone()
        } else {
            let text = format!("{}{suffix}", self.url.as_str().trim_end_matches('/'));
            reqwest::Url::parse(&text).map_err(|error| format!("{text}: {error}"))?
        };
        let mut request = self.client.get(url);
        if let Some(host) = &self.host {
            request = request.header(reqwest::header::HOST, host);
        }
        Ok(request)
    }
}

/// `ssl-server-name`: dial `url`'s host and port while TLS sends and checks `server_name`.
/// Returns the builder that resolves `server_name` to `url`'s addresses, the URL to request
/// (with `server_name` as its host) and the original `Host` header value to send with it.
pub(crate) async fn with_server_name(
    builder: reqwest::ClientBuilder,
    url: &reqwest::Url,
    server_name: &str,
) -> Result<(reqwest::ClientBuilder, reqwest::Url, String), String> {
    let host = url
        .host_str()
        .ok_or_else(|| format!("{url} has no host"))?
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{url} has no port"))?;
    let lookup = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<_> = tokio::net::lookup_host((lookup, port))
        .await
        .map_err(|error| format!("{host}:{port}: {error}"))?
        .collect();
    let mut dialled = url.clone();
    dialled
        .set_host(Some(server_name))
        .map_err(|error| format!("ssl-server-name {server_name:?}: {error}"))?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Ok((
        builder.resolve_to_addrs(server_name, &addresses),
        dialled,
        authority,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let tls = TlsFiles {
            ca: Some("/nonexistent/ca.pem"),
            ..TlsFiles::default()
        };
        let error = client(tls, reqwest::Client::builder()).unwrap_err();
        assert!(error.starts_with("ssl-ca /nonexistent/ca.pem"), "{error}");
        let tls = TlsFiles {
            cert: Some("/c.pem"),
            ..TlsFiles::default()
        };
        assert!(
            client(tls, reqwest::Client::builder())
                .unwrap_err()
                .contains("together")
        );
        assert!(client(TlsFiles::default(), reqwest::Client::builder()).is_ok());
    }
}

/// An OAuth 2 access token from a token endpoint's form POST (Azure AD's client credentials,
/// Google's JWT bearer grant), kept until a minute before it expires.
#[derive(Debug, Default)]
pub(crate) struct TokenCache(Option<(String, std::time::Instant)>);

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds; Azure AD sends a string, Google a number.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenCache {
    /// The token, while it has not expired.
    pub(crate) fn current(&self) -> Option<String> {
        self.0
            .as_ref()
            .filter(|(_, until)| std::time::Instant::now() < *until)
            .map(|(token, _)| token.clone())
    }

    /// Forget the token (a round failed with it).
    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    /// Ask `url` for a new token with `form`; `what` names the source in errors.
    pub(crate) async fn fetch(
        &mut self,
        client: &reqwest::Client,
        what: &str,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<String, weir_engine::DiscoverError> {
        use weir_engine::DiscoverError;
        let response = client
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|error| DiscoverError::Peer(format!("{what} token {url}: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(DiscoverError::Peer(format!(
                "{what} token {url} returned {status}: {}",
                body.trim()
            )));
        }
        let token: TokenAnswer = response
            .json()
            .await
            .map_err(|error| DiscoverError::Invalid(format!("{what} token {url}: {error}")))?;
        let seconds = match &token.expires_in {
            Some(serde_json::Value::String(text)) => text.parse().unwrap_or(0),
            Some(serde_json::Value::Number(number)) => number.as_u64().unwrap_or(0),
            _ => 0,
        };
        // Renew a minute early (or every round when the endpoint does not say).
        let until = std::time::Instant::now() + Duration::from_secs(seconds.saturating_sub(60));
        self.0 = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }
}
