//! `[[azure]]`: virtual machines of a subscription from the Azure Resource Manager API, with
//! an OAuth client-credentials token, and Prometheus' `__meta_azure_*` labels.
//!
//! Each round takes a token from `<active-directory-endpoint><tenant-id>/oauth2/token` (kept
//! until shortly before it expires), lists the network interfaces and the virtual machines
//! (all, or those of `resource-group`), follows `nextLink` pages, and makes one target per VM
//! at `<primary private IP>:<port>`, as Prometheus 2.42 does (the labels are compared with it):
//! a VM without a private IP fails the round; power states are neither fetched nor filtered
//! (newer Prometheus versions skip deallocated VMs). Scale-set VMs are not listed yet. Keys are Kapacitor's, plus Prometheus'
//! `resource-group` and the two endpoints (for other clouds, Azure Stack, or a test).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{
    ConfigError, Problems, SourceKind, default_true, join_host_port, sanitize_label_name,
};
use crate::http::{TlsFiles, TokenCache, client};
use crate::refresh::Source;

const SUBSCRIPTION_ID: &str = "__meta_azure_subscription_id";
const TENANT_ID: &str = "__meta_azure_tenant_id";
const MACHINE_ID: &str = "__meta_azure_machine_id";
const MACHINE_RESOURCE_GROUP: &str = "__meta_azure_machine_resource_group";
const MACHINE_NAME: &str = "__meta_azure_machine_name";
const MACHINE_COMPUTER_NAME: &str = "__meta_azure_machine_computer_name";
const MACHINE_OS_TYPE: &str = "__meta_azure_machine_os_type";
const MACHINE_LOCATION: &str = "__meta_azure_machine_location";
const MACHINE_PRIVATE_IP: &str = "__meta_azure_machine_private_ip";
const MACHINE_PUBLIC_IP: &str = "__meta_azure_machine_public_ip";
const MACHINE_TAG_PREFIX: &str = "__meta_azure_machine_tag_";
const MACHINE_SIZE: &str = "__meta_azure_machine_size";

/// The API versions Prometheus' azure SD uses.
const COMPUTE_API_VERSION: &str = "2021-12-01";
const NETWORK_API_VERSION: &str = "2021-05-01";

/// One `[[azure]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AzureConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The targets' port (default 80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The subscription whose VMs are listed.
    #[serde(default)]
    pub subscription_id: String,
    /// The Azure AD tenant of the service principal.
    #[serde(default)]
    pub tenant_id: String,
    /// The service principal's application (client) id.
    #[serde(default)]
    pub client_id: String,
    /// The service principal's secret.
    #[serde(default)]
    pub client_secret: String,
    /// Only the VMs of this resource group (all when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group: String,
    /// How often the VMs are listed (default 5m).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// Azure Resource Manager (default `https://management.azure.com/`).
    #[serde(default = "default_resource_manager_endpoint")]
    pub resource_manager_endpoint: String,
    /// Azure AD (default `https://login.microsoftonline.com/`).
    #[serde(default = "default_active_directory_endpoint")]
    pub active_directory_endpoint: String,
    /// CA bundle (PEM) to verify the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    /// Do not verify the endpoints' certificates.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_port() -> u16 {
    80
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_resource_manager_endpoint() -> String {
    "https://management.azure.com/".to_owned()
}

fn default_active_directory_endpoint() -> String {
    "https://login.microsoftonline.com/".to_owned()
}

impl AzureConfig {
    /// Check the credentials, endpoints and interval.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Azure, &self.id);
        for (key, value) in [
            ("subscription-id", &self.subscription_id),
            ("tenant-id", &self.tenant_id),
            ("client-id", &self.client_id),
            ("client-secret", &self.client_secret),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("`{key}` is required"));
            }
        }
        for (key, value) in [
            ("resource-manager-endpoint", &self.resource_manager_endpoint),
            ("active-directory-endpoint", &self.active_directory_endpoint),
        ] {
            match reqwest::Url::parse(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                _ => problems.push(format!("{key} {value:?} must be an http or https URL")),
            }
        }
        if self.refresh_interval < Duration::from_secs(1) {
            problems.push("`refresh-interval` must be at least 1s");
        }
        problems.finish()
    }
}

/// One page of an ARM list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(default)]
    next_link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct VirtualMachine {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    properties: Option<VmProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmProperties {
    #[serde(default)]
    storage_profile: Option<StorageProfile>,
    #[serde(default)]
    os_profile: Option<OsProfile>,
    #[serde(default)]
    network_profile: Option<NetworkProfile>,
    #[serde(default)]
    hardware_profile: Option<HardwareProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HardwareProfile {
    #[serde(default)]
    vm_size: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StorageProfile {
    #[serde(default)]
    os_disk: Option<OsDisk>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OsDisk {
    #[serde(default)]
    os_type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OsProfile {
    #[serde(default)]
    computer_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkProfile {
    #[serde(default)]
    network_interfaces: Vec<Reference>,
}

#[derive(Debug, Default, Deserialize)]
struct Reference {
    #[serde(default)]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct NetworkInterface {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    properties: Option<NicProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NicProperties {
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    ip_configurations: Vec<IpConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
struct IpConfiguration {
    #[serde(default)]
    properties: Option<IpConfigurationProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpConfigurationProperties {
    #[serde(default, rename = "privateIPAddress")]
    private_ip_address: Option<String>,
    #[serde(default, rename = "publicIPAddress")]
    public_ip_address: Option<PublicIp>,
}

#[derive(Debug, Default, Deserialize)]
struct PublicIp {
    #[serde(default)]
    properties: Option<PublicIpProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicIpProperties {
    #[serde(default)]
    ip_address: Option<String>,
}

/// An OAuth token answer (Azure AD v1 sends `expires_in` as a string).
/// The primary NIC's private and public IP, as Prometheus' `getAddress`.
fn nic_address(nic: &NetworkInterface) -> Option<(String, Option<String>)> {
    let properties = nic.properties.as_ref()?;
    if !properties.primary {
        return None;
    }
    properties.ip_configurations.iter().find_map(|ip| {
        let ip = ip.properties.as_ref()?;
        let private = ip.private_ip_address.clone()?;
        let public = ip
            .public_ip_address
            .as_ref()
            .and_then(|public| public.properties.as_ref())
            .and_then(|properties| properties.ip_address.clone());
        Some((private, public))
    })
}

/// Lists the VMs of one subscription.
pub struct AzureDiscoverer {
    config: AzureConfig,
    client: Option<reqwest::Client>,
    token: TokenCache,
}

impl AzureDiscoverer {
    /// The discoverer of one section; the client is built on the first round.
    pub fn new(config: &AzureConfig) -> AzureDiscoverer {
        AzureDiscoverer {
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
            insecure_skip_verify: self.config.insecure_skip_verify,
            ..TlsFiles::default()
        };
        let builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
        let client = client(tls, builder).map_err(DiscoverError::Invalid)?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// A bearer token for Resource Manager, from Azure AD's client-credentials flow.
    async fn token(&mut self, client: &reqwest::Client) -> Result<String, DiscoverError> {
        if let Some(token) = self.token.current() {
            return Ok(token);
        }
        let config = &self.config;
        let url = format!(
            "{}/{}/oauth2/token",
            config.active_directory_endpoint.trim_end_matches('/'),
            config.tenant_id
        );
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("resource", config.resource_manager_endpoint.as_str()),
        ];
        self.token.fetch(client, "azure", &url, &form).await
    }

    /// Every item of an ARM list, following `nextLink`.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        token: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, DiscoverError> {
        let base = self.config.resource_manager_endpoint.trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}{path}"))
            .map_err(|error| DiscoverError::Invalid(format!("azure {base}{path}: {error}")))?;
        url.query_pairs_mut().extend_pairs(query);
        let mut items = Vec::new();
        let mut next = Some(url.to_string());
        while let Some(url) = next.take() {
            let response = client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|error| DiscoverError::Peer(format!("azure {url}: {error}")))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(DiscoverError::Peer(format!(
                    "azure {url} returned {status}: {}",
                    body.trim()
                )));
            }
            let page: Page<T> = response
                .json()
                .await
                .map_err(|error| DiscoverError::Invalid(format!("azure {url}: {error}")))?;
            items.extend(page.value);
            next = page.next_link.filter(|link| !link.is_empty());
        }
        Ok(items)
    }

    fn targets(
        &self,
        machines: Vec<VirtualMachine>,
        nics: &HashMap<String, (String, Option<String>)>,
    ) -> Result<Vec<Labels>, DiscoverError> {
        let config = &self.config;
        let mut targets = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for machine in machines {
            let Some(id) = machine.id.clone() else {
                continue;
            };
            // /subscriptions/S/resourceGroups/G/providers/P/T/NAME; the group in lower case.
            let lower = id.to_lowercase();
            let parts: Vec<&str> = lower.split('/').collect();
            if (parts.len() != 9 && parts.len() != 11) || !seen.insert(lower.clone()) {
                continue;
            }
            let properties = machine.properties.unwrap_or_default();
            let mut address = None;
            for nic in properties
                .network_profile
                .iter()
                .flat_map(|profile| &profile.network_interfaces)
            {
                if let Some(found) = nics.get(&nic.id.to_lowercase()) {
                    address = Some(found.clone());
                }
            }
            let Some((private_ip, public_ip)) = address else {
                return Err(DiscoverError::Invalid(format!(
                    "azure: unable to find a private IP for VM {}",
                    machine.name
                )));
            };
            let os_type = properties
                .storage_profile
                .and_then(|profile| profile.os_disk)
                .map(|disk| disk.os_type)
                .unwrap_or_default();
            let size = properties
                .hardware_profile
                .map(|profile| profile.vm_size)
                .unwrap_or_default();
            let computer_name = properties
                .os_profile
                .and_then(|profile| profile.computer_name)
                .unwrap_or_default();
            let mut labels = Labels::from([
                (SUBSCRIPTION_ID.to_owned(), config.subscription_id.clone()),
                (TENANT_ID.to_owned(), config.tenant_id.clone()),
                (MACHINE_ID.to_owned(), id.clone()),
                (MACHINE_NAME.to_owned(), machine.name.clone()),
                (MACHINE_COMPUTER_NAME.to_owned(), computer_name),
                (MACHINE_OS_TYPE.to_owned(), os_type),
                (MACHINE_LOCATION.to_owned(), machine.location.clone()),
                (MACHINE_RESOURCE_GROUP.to_owned(), parts[4].to_owned()),
                (MACHINE_SIZE.to_owned(), size),
                (
                    ADDRESS_LABEL.to_owned(),
                    join_host_port(&private_ip, config.port),
                ),
                (MACHINE_PRIVATE_IP.to_owned(), private_ip),
            ]);
            for (key, value) in machine.tags.unwrap_or_default() {
                labels.insert(
                    format!("{MACHINE_TAG_PREFIX}{}", sanitize_label_name(&key)),
                    value,
                );
            }
            if let Some(public_ip) = public_ip.filter(|ip| !ip.is_empty()) {
                labels.insert(MACHINE_PUBLIC_IP.to_owned(), public_ip);
            }
            targets.push(labels);
        }
        targets.sort();
        Ok(targets)
    }
}

impl Discoverer for AzureDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let client = self.client()?;
        let token = match self.token(&client).await {
            Ok(token) => token,
            Err(error) => {
                self.token.clear();
                return Err(error);
            }
        };
        let subscription = format!("/subscriptions/{}", self.config.subscription_id);
        let nics: Vec<NetworkInterface> = self
            .list(
                &client,
                &token,
                &format!("{subscription}/providers/Microsoft.Network/networkInterfaces"),
                &[("api-version", NETWORK_API_VERSION)],
            )
            .await?;
        let nics: HashMap<String, (String, Option<String>)> = nics
            .iter()
            .filter_map(|nic| Some((nic.id.as_deref()?.to_lowercase(), nic_address(nic)?)))
            .collect();
        let vm_path = if self.config.resource_group.is_empty() {
            format!("{subscription}/providers/Microsoft.Compute/virtualMachines")
        } else {
            format!(
                "{subscription}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines",
                self.config.resource_group
            )
        };
        let machines: Vec<VirtualMachine> = self
            .list(
                &client,
                &token,
                &vm_path,
                &[("api-version", COMPUTE_API_VERSION)],
            )
            .await?;
        let targets = self.targets(machines, &nics)?;
        Ok(vec![TargetGroup {
            source: format!("azure/{}", self.config.subscription_id),
            targets,
            labels: Labels::new(),
        }])
    }
}

impl Source for AzureDiscoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let config: AzureConfig = toml::from_str("id = \"a\"").unwrap();
        assert_eq!(config.port, 80);
        assert_eq!(config.refresh_interval, Duration::from_secs(300));
        assert_eq!(config.validate().unwrap_err().len(), 4);
        let config: AzureConfig = toml::from_str(
            "id = \"a\"\nsubscription-id = \"s\"\ntenant-id = \"t\"\nclient-id = \"c\"\n\
             client-secret = \"x\"\nresource-manager-endpoint = \"management\"",
        )
        .unwrap();
        let errors = config.validate().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.starts_with("resource-manager-endpoint"));
    }

    #[test]
    fn primary_addresses() {
        let nic: NetworkInterface = serde_json::from_str(
            r#"{"id": "/x", "properties": {"primary": true, "ipConfigurations": [
                {"properties": {"privateIPAddress": "10.0.0.4",
                 "publicIPAddress": {"id": "/p", "properties": {"ipAddress": "52.1.2.3"}}}}]}}"#,
        )
        .unwrap();
        assert_eq!(
            nic_address(&nic),
            Some(("10.0.0.4".to_owned(), Some("52.1.2.3".to_owned())))
        );
        let secondary: NetworkInterface =
            serde_json::from_str(r#"{"id": "/y", "properties": {"primary": false}}"#).unwrap();
        assert_eq!(nic_address(&secondary), None);
    }
}
