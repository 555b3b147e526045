//! `[[gce]]`: instances of one project and zone from the Compute Engine API, with a
//! service-account token, and Prometheus' `__meta_gce_*` labels.
//!
//! The service account key (`credentials-file`, else `GOOGLE_APPLICATION_CREDENTIALS`) signs
//! an RS256 JWT that its `token_uri` exchanges for an access token (kept until shortly before
//! it expires); `GET <endpoint>projects/<project>/zones/<zone>/instances` (with `filter`,
//! following `nextPageToken`) lists the instances, and each one with a network interface is a
//! target at `<first interface's IP>:<port>`, in one group whose source is
//! `GCE_<project>_<zone>`, as Prometheus does. The metadata server (credentials on a GCE VM)
//! is not asked yet. Keys are Kapacitor's, plus `credentials-file` and `endpoint`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true, sanitize_label_name};
use crate::http::{TlsFiles, TokenCache, client};
use crate::refresh::Source;

const INSTANCE_ID: &str = "__meta_gce_instance_id";
const INSTANCE_NAME: &str = "__meta_gce_instance_name";
const INSTANCE_STATUS: &str = "__meta_gce_instance_status";
const INTERFACE_IPV4_PREFIX: &str = "__meta_gce_interface_ipv4_";
const LABEL_PREFIX: &str = "__meta_gce_label_";
const MACHINE_TYPE: &str = "__meta_gce_machine_type";
const METADATA_PREFIX: &str = "__meta_gce_metadata_";
const NETWORK: &str = "__meta_gce_network";
const PRIVATE_IP: &str = "__meta_gce_private_ip";
const PROJECT: &str = "__meta_gce_project";
const PUBLIC_IP: &str = "__meta_gce_public_ip";
const SUBNETWORK: &str = "__meta_gce_subnetwork";
const TAGS: &str = "__meta_gce_tags";
const ZONE: &str = "__meta_gce_zone";

/// The scope Prometheus asks for.
const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";

/// One `[[gce]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GceConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The GCP project.
    #[serde(default)]
    pub project: String,
    /// The zone (`us-east1-b`).
    #[serde(default)]
    pub zone: String,
    /// A Compute API filter expression (`labels.role = "web"`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// How often the instances are listed (default 60s).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// The targets' port (default 80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Wraps and joins the network tags in `__meta_gce_tags` (default `,`).
    #[serde(default = "default_tag_separator")]
    pub tag_separator: String,
    /// The service account key (JSON); `GOOGLE_APPLICATION_CREDENTIALS` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
    /// The Compute API (default `https://compute.googleapis.com/compute/v1/`).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// CA bundle (PEM) to verify the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_port() -> u16 {
    80
}

fn default_tag_separator() -> String {
    ",".to_owned()
}

fn default_endpoint() -> String {
    "https://compute.googleapis.com/compute/v1/".to_owned()
}

impl GceConfig {
    /// Check the project, zone, endpoint and interval.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Gce, &self.id);
        for (key, value) in [("project", &self.project), ("zone", &self.zone)] {
            if value.trim().is_empty() {
                problems.push(format!("`{key}` is required"));
            }
        }
        match reqwest::Url::parse(&self.endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => problems.push(format!(
                "endpoint {:?} must be an http or https URL",
                self.endpoint
            )),
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        problems.finish()
    }
}

/// The fields of a service account key that are used.
#[derive(Debug, Deserialize)]
struct ServiceAccount {
    #[serde(rename = "type", default)]
    kind: String,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceList {
    #[serde(default)]
    items: Option<Vec<Instance>>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    /// A uint64, sent as a string.
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    name: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    machine_type: String,
    #[serde(default)]
    network_interfaces: Option<Vec<NetworkInterface>>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInterface {
    #[serde(default)]
    name: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    subnetwork: String,
    #[serde(default, rename = "networkIP")]
    network_ip: String,
    #[serde(default)]
    access_configs: Option<Vec<AccessConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessConfig {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default, rename = "natIP")]
    nat_ip: String,
}

#[derive(Debug, Default, Deserialize)]
struct Tags {
    #[serde(default)]
    items: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    items: Option<Vec<MetadataItem>>,
}

#[derive(Debug, Default, Deserialize)]
struct MetadataItem {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<String>,
}

/// The signed JWT a service account trades for an access token (RFC 7523).
fn assertion(account: &ServiceAccount, now: SystemTime) -> Result<String, String> {
    use aws_lc_rs::{rand, signature};
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;

    let key = PrivateKeyDer::from_pem_slice(account.private_key.as_bytes())
        .map_err(|error| format!("private_key: {error}"))?;
    let PrivateKeyDer::Pkcs8(key) = key else {
        return Err("private_key: not a PKCS#8 key".to_owned());
    };
    let pair = signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der())
        .map_err(|error| format!("private_key: {error}"))?;
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": account.private_key_id});
    let claims = serde_json::json!({
        "iss": account.client_email, "scope": SCOPE, "aud": account.token_uri,
        "iat": iat, "exp": iat + 3600,
    });
    let signed = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .map_err(|error| format!("signing the token request: {error}"))?;
    Ok(format!("{signed}.{}", b64.encode(signature)))
}

/// Lists the instances of one project and zone.
pub struct GceDiscoverer {
    config: GceConfig,
    client: Option<reqwest::Client>,
    token: TokenCache,
}

impl GceDiscoverer {
    /// The discoverer of one section; the client is built on the first round.
    pub fn new(config: &GceConfig) -> GceDiscoverer {
        GceDiscoverer {
            config: config.clone(),
            client: None,
            token: TokenCache::default(),
        }
    }

    fn client(&mut self) -> Result<reqwest::Client, DiscoverError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let tls = TlsFiles {
            ca: self.config.ssl_ca.as_deref(),
            ..TlsFiles::default()
        };
        let builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
        let client = client(tls, builder).map_err(DiscoverError::Invalid)?;
        self.client = Some(client.clone());
        Ok(client)
    }

    async fn token(&mut self, client: &reqwest::Client) -> Result<String, DiscoverError> {
        if let Some(token) = self.token.current() {
            return Ok(token);
        }
        let path = match &self.config.credentials_file {
            Some(path) => path.clone(),
            None => std::env::var("GOOGLE_APPLICATION_CREDENTIALS").map_err(|_| {
                DiscoverError::Invalid(
                    "gce: no credentials-file and GOOGLE_APPLICATION_CREDENTIALS is not set"
                        .to_owned(),
                )
            })?,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|error| DiscoverError::Invalid(format!("gce credentials {path}: {error}")))?;
        let account: ServiceAccount = serde_json::from_str(&text)
            .map_err(|error| DiscoverError::Invalid(format!("gce credentials {path}: {error}")))?;
        if account.kind != "service_account" {
            return Err(DiscoverError::Invalid(format!(
                "gce credentials {path}: type {:?} is not service_account",
                account.kind
            )));
        }
        let jwt = assertion(&account, SystemTime::now())
            .map_err(|error| DiscoverError::Invalid(format!("gce credentials {path}: {error}")))?;
        let url = &account.token_uri;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", jwt.as_str()),
        ];
        self.token.fetch(client, "gce", url, &form).await
    }

    fn target(&self, instance: Instance) -> Option<Labels> {
        let interfaces = instance.network_interfaces.unwrap_or_default();
        let primary = interfaces.first()?;
        let id = match &instance.id {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            _ => "0".to_owned(),
        };
        let mut labels = Labels::from([
            (PROJECT.to_owned(), self.config.project.clone()),
            (ZONE.to_owned(), instance.zone),
            (INSTANCE_ID.to_owned(), id),
            (INSTANCE_NAME.to_owned(), instance.name),
            (INSTANCE_STATUS.to_owned(), instance.status),
            (MACHINE_TYPE.to_owned(), instance.machine_type),
            (NETWORK.to_owned(), primary.network.clone()),
            (SUBNETWORK.to_owned(), primary.subnetwork.clone()),
            (PRIVATE_IP.to_owned(), primary.network_ip.clone()),
            (
                ADDRESS_LABEL.to_owned(),
                format!("{}:{}", primary.network_ip, self.config.port),
            ),
        ]);
        for interface in &interfaces {
            labels.insert(
                sanitize_label_name(&format!("{INTERFACE_IPV4_PREFIX}{}", interface.name)),
                interface.network_ip.clone(),
            );
        }
        let tags = instance
            .tags
            .and_then(|tags| tags.items)
            .unwrap_or_default();
        if !tags.is_empty() {
            let separator = &self.config.tag_separator;
            labels.insert(
                TAGS.to_owned(),
                format!("{separator}{}{separator}", tags.join(separator)),
            );
        }
        for item in instance
            .metadata
            .and_then(|metadata| metadata.items)
            .unwrap_or_default()
        {
            if let Some(value) = item.value {
                labels.insert(
                    format!("{METADATA_PREFIX}{}", sanitize_label_name(&item.key)),
                    value,
                );
            }
        }
        for (key, value) in instance.labels.unwrap_or_default() {
            labels.insert(
                format!("{LABEL_PREFIX}{}", sanitize_label_name(&key)),
                value,
            );
        }
        if let Some(access) = primary.access_configs.as_ref().and_then(|a| a.first())
            && access.kind == "ONE_TO_ONE_NAT"
        {
            labels.insert(PUBLIC_IP.to_owned(), access.nat_ip.clone());
        }
        Some(labels)
    }
}

impl Discoverer for GceDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let client = self.client()?;
        let token = match self.token(&client).await {
            Ok(token) => token,
            Err(error) => {
                self.token.clear();
                return Err(error);
            }
        };
        let config = &self.config;
        let base = format!(
            "{}/projects/{}/zones/{}/instances",
            config.endpoint.trim_end_matches('/'),
            config.project,
            config.zone
        );
        let mut targets = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut request = client.get(&base).bearer_auth(&token);
            if !config.filter.is_empty() {
                request = request.query(&[("filter", config.filter.as_str())]);
            }
            if let Some(page) = &page_token {
                request = request.query(&[("pageToken", page.as_str())]);
            }
            let response = request
                .send()
                .await
                .map_err(|error| DiscoverError::Peer(format!("gce {base}: {error}")))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                if status == reqwest::StatusCode::UNAUTHORIZED {
                    self.token.clear();
                }
                return Err(DiscoverError::Peer(format!(
                    "gce {base} returned {status}: {}",
                    body.trim()
                )));
            }
            let list: InstanceList = response
                .json()
                .await
                .map_err(|error| DiscoverError::Invalid(format!("gce {base}: {error}")))?;
            targets.extend(
                list.items
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|instance| self.target(instance)),
            );
            match list.next_page_token.filter(|token| !token.is_empty()) {
                Some(next) => page_token = Some(next),
                None => break,
            }
        }
        Ok(vec![TargetGroup {
            source: format!("GCE_{}_{}", config.project, config.zone),
            targets,
            labels: Labels::new(),
        }])
    }
}

impl Source for GceDiscoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GceConfig {
        toml::from_str("id = \"g\"\nproject = \"p\"\nzone = \"us-east1-b\"").unwrap()
    }

    #[test]
    fn validation() {
        config().validate().unwrap();
        let bad: GceConfig = toml::from_str("id = \"g\"\nendpoint = \"x\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().len(), 3);
    }

    #[test]
    fn instance_labels() {
        let instance: Instance = serde_json::from_str(
            r#"{"id": "8390239404304393131", "name": "web-1", "status": "RUNNING",
                "zone": "https://www.googleapis.com/compute/v1/projects/p/zones/us-east1-b",
                "machineType": "zones/us-east1-b/machineTypes/e2-small",
                "tags": {"items": ["http", "prod"]},
                "labels": {"team-name": "infra"},
                "metadata": {"items": [{"key": "startup-script", "value": "x"}, {"key": "nil"}]},
                "networkInterfaces": [
                  {"name": "nic0", "network": "n0", "subnetwork": "s0", "networkIP": "10.0.0.2",
                   "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "natIP": "34.1.2.3"}]},
                  {"name": "nic1", "networkIP": "10.1.0.2"}]}"#,
        )
        .unwrap();
        let labels = GceDiscoverer::new(&config()).target(instance).unwrap();
        assert_eq!(labels[ADDRESS_LABEL], "10.0.0.2:80");
        assert_eq!(labels[INSTANCE_ID], "8390239404304393131");
        assert_eq!(labels[TAGS], ",http,prod,");
        assert_eq!(labels["__meta_gce_label_team_name"], "infra");
        assert_eq!(labels["__meta_gce_metadata_startup_script"], "x");
        assert!(!labels.contains_key("__meta_gce_metadata_nil"));
        assert_eq!(labels["__meta_gce_interface_ipv4_nic1"], "10.1.0.2");
        assert_eq!(labels[PUBLIC_IP], "34.1.2.3");
        let without: Instance = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
        assert!(GceDiscoverer::new(&config()).target(without).is_none());
    }
}
