//! `[[ec2]]`: instances from EC2's DescribeInstances (Query API, version 2016-11-15).
//!
//! Credentials come from aws-config's chain (or `access-key`/`secret-key`, `profile`,
//! `role-arn`); requests are signed with aws-sigv4, sent with reqwest and parsed with
//! quick-xml, following `NextToken`. Labels are Prometheus' `__meta_ec2_*` set; as in
//! Prometheus, instances without a private IP (terminated ones) are left out.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true, join_host_port};
use crate::http::{TlsFiles, client};
use crate::refresh::Source;

const API_VERSION: &str = "2016-11-15";
const SEPARATOR: &str = ",";
const AMI: &str = "__meta_ec2_ami";
const ARCHITECTURE: &str = "__meta_ec2_architecture";
const AVAILABILITY_ZONE: &str = "__meta_ec2_availability_zone";
const AVAILABILITY_ZONE_ID: &str = "__meta_ec2_availability_zone_id";
const INSTANCE_ID: &str = "__meta_ec2_instance_id";
const INSTANCE_LIFECYCLE: &str = "__meta_ec2_instance_lifecycle";
const INSTANCE_STATE: &str = "__meta_ec2_instance_state";
const INSTANCE_TYPE: &str = "__meta_ec2_instance_type";
const IPV6_ADDRESSES: &str = "__meta_ec2_ipv6_addresses";
const OWNER_ID: &str = "__meta_ec2_owner_id";
const PLATFORM: &str = "__meta_ec2_platform";
const PRIMARY_IPV6_ADDRESSES: &str = "__meta_ec2_primary_ipv6_addresses";
const PRIMARY_SUBNET_ID: &str = "__meta_ec2_primary_subnet_id";
const PRIVATE_DNS_NAME: &str = "__meta_ec2_private_dns_name";
const PRIVATE_IP: &str = "__meta_ec2_private_ip";
const PUBLIC_DNS_NAME: &str = "__meta_ec2_public_dns_name";
const PUBLIC_IP: &str = "__meta_ec2_public_ip";
const REGION: &str = "__meta_ec2_region";
const SUBNET_ID: &str = "__meta_ec2_subnet_id";
const TAG_PREFIX: &str = "__meta_ec2_tag_";
const VPC_ID: &str = "__meta_ec2_vpc_id";

/// A DescribeInstances filter, as in Prometheus' `filters` (`name`, `values`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Filter {
    /// The filter name, e.g. `tag:env` or `instance-state-name`.
    pub name: String,
    /// Accepted values (any of them).
    pub values: Vec<String>,
}

/// One `[[ec2]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Ec2Config {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The AWS region (required).
    #[serde(default)]
    pub region: String,
    /// Static access key (with `secret-key`); otherwise the default credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// Static secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Named profile of the shared AWS config files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// How often instances are listed (default 60s).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// The port of every target (default 80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The EC2 endpoint URL; default from `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, or
    /// `https://ec2.<region>.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// DescribeInstances filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Ec2Filter>,
    /// A role to assume (through STS) with the resolved credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_port() -> u16 {
    80
}

impl Ec2Config {
    /// Check region, keys and filters.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Ec2, &self.id);
        if self.region.is_empty() {
            problems.push("`region` is required");
        }
        if self.access_key.is_some() != self.secret_key.is_some() {
            problems.push("access-key and secret-key must be given together");
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            problems.push(format!("endpoint {endpoint:?} must be an http(s) URL"));
        }
        for filter in &self.filters {
            if filter.name.is_empty() || filter.values.is_empty() {
                problems.push(format!("filter {:?} needs a name and values", filter.name));
            }
        }
        if self.refresh_interval.is_zero() {
            problems.push("`refresh-interval` must be positive");
        }
        problems.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeInstancesResponse {
    #[serde(default)]
    reservation_set: ItemList<Reservation>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ItemList<T> {
    #[serde(default = "Vec::new")]
    item: Vec<T>,
}

impl<T> Default for ItemList<T> {
    fn default() -> Self {
        ItemList { item: Vec::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reservation {
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    instances_set: ItemList<Instance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    #[serde(default)]
    instance_id: String,
    #[serde(default)]
    image_id: Option<String>,
    #[serde(default)]
    instance_state: Option<InstanceState>,
    #[serde(default)]
    private_dns_name: Option<String>,
    #[serde(default)]
    dns_name: Option<String>,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    placement: Option<Placement>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    subnet_id: Option<String>,
    #[serde(default)]
    vpc_id: Option<String>,
    #[serde(default)]
    private_ip_address: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    instance_lifecycle: Option<String>,
    #[serde(default)]
    network_interface_set: ItemList<NetworkInterface>,
    #[serde(default)]
    tag_set: ItemList<Tag>,
}

#[derive(Debug, Default, Deserialize)]
struct InstanceState {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placement {
    #[serde(default)]
    availability_zone: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInterface {
    #[serde(default)]
    subnet_id: Option<String>,
    #[serde(default)]
    attachment: Option<Attachment>,
    #[serde(default)]
    ipv6_addresses_set: ItemList<Ipv6Address>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    #[serde(default)]
    device_index: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ipv6Address {
    #[serde(default)]
    ipv6_address: String,
    #[serde(default)]
    is_primary_ipv6: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Tag {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeAvailabilityZonesResponse {
    #[serde(default)]
    availability_zone_info: ItemList<AvailabilityZone>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityZone {
    #[serde(default)]
    zone_name: String,
    #[serde(default)]
    zone_id: String,
}

/// Everything resolved on the first round: HTTP client, endpoint and credentials.
struct Session {
    client: reqwest::Client,
    endpoint: String,
    credentials: SharedCredentialsProvider,
}

/// Lists the instances of one region.
pub struct Ec2Discoverer {
    config: Ec2Config,
    session: Option<Session>,
}

impl Ec2Discoverer {
    /// The discoverer of one section; credentials are resolved on the first round.
    pub fn new(config: &Ec2Config) -> Ec2Discoverer {
        Ec2Discoverer {
            config: config.clone(),
            session: None,
        }
    }

    async fn session(&mut self) -> Result<&Session, DiscoverError> {
        if self.session.is_none() {
            let config = &self.config;
            let region = aws_config::Region::new(config.region.clone());
            let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region.clone());
            if let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) {
                loader = loader.credentials_provider(Credentials::new(
                    access_key, secret_key, None, None, "weir",
                ));
            }
            if let Some(profile) = &config.profile {
                loader = loader.profile_name(profile);
            }
            let sdk_config = loader.load().await;
            let mut credentials = sdk_config.credentials_provider().ok_or_else(|| {
                DiscoverError::Invalid("ec2: no aws credentials found".to_owned())
            })?;
            if let Some(role_arn) = &config.role_arn {
                let provider = AssumeRoleProvider::builder(role_arn)
                    .session_name("weir-ec2-discovery")
                    .region(region)
                    .configure(&sdk_config)
                    .build()
                    .await;
                credentials = SharedCredentialsProvider::new(provider);
            }
            let endpoint = config
                .endpoint
                .clone()
                .or_else(|| std::env::var("AWS_ENDPOINT_URL_EC2").ok())
                .or_else(|| sdk_config.endpoint_url().map(str::to_owned))
                .unwrap_or_else(|| format!("https://ec2.{}.amazonaws.com", config.region));
            let client = client(
                TlsFiles::default(),
                reqwest::Client::builder().timeout(Duration::from_secs(30)),
            )
            .map_err(DiscoverError::Invalid)?;
            self.session = Some(Session {
                client,
                endpoint,
                credentials,
            });
        }
        // Set just above when it was missing.
        self.session
            .as_ref()
            .ok_or_else(|| DiscoverError::Invalid("ec2: no session".to_owned()))
    }

    /// One signed Query API call.
    async fn call(&mut self, params: &[(String, String)]) -> Result<String, DiscoverError> {
        let region = self.config.region.clone();
        let session = self.session().await?;
        let credentials = session
            .credentials
            .provide_credentials()
            .await
            .map_err(|error| DiscoverError::Peer(format!("ec2 credentials: {error}")))?;
        let body = form_body(params);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let identity = credentials.into();
        let signing_params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| DiscoverError::Invalid(format!("ec2 signing: {error}")))?
            .into();
        let url = format!("{}/", session.endpoint.trim_end_matches('/'));
        let headers = [("content-type", content_type)];
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|error| DiscoverError::Invalid(format!("ec2 signing: {error}")))?;
        let (instructions, _signature) = sign(signable, &signing_params)
            .map_err(|error| DiscoverError::Invalid(format!("ec2 signing: {error}")))?
            .into_parts();
        let mut request = session
            .client
            .post(&url)
            .header("content-type", content_type);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|error| DiscoverError::Peer(format!("ec2 {url}: {error}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| DiscoverError::Peer(format!("ec2 {url}: {error}")))?;
        if !status.is_success() {
            return Err(DiscoverError::Peer(format!(
                "ec2 {url} returned {status}: {}",
                text.trim()
            )));
        }
        Ok(text)
    }

    async fn zone_ids(&mut self) -> Result<BTreeMap<String, String>, DiscoverError> {
        let params = vec![
            ("Action".to_owned(), "DescribeAvailabilityZones".to_owned()),
            ("Version".to_owned(), API_VERSION.to_owned()),
        ];
        let text = self.call(&params).await?;
        let response: DescribeAvailabilityZonesResponse =
            quick_xml::de::from_str(&text).map_err(|error| {
                DiscoverError::Invalid(format!("ec2 DescribeAvailabilityZones: {error}"))
            })?;
        Ok(response
            .availability_zone_info
            .item
            .into_iter()
            .map(|zone| (zone.zone_name, zone.zone_id))
            .collect())
    }

    fn describe_params(&self, next_token: Option<&str>) -> Vec<(String, String)> {
        let mut params = vec![
            ("Action".to_owned(), "DescribeInstances".to_owned()),
            ("Version".to_owned(), API_VERSION.to_owned()),
        ];
        for (filter_idx, filter) in self.config.filters.iter().enumerate() {
            params.push((
                format!("Filter.{}.Name", filter_idx + 1),
                filter.name.clone(),
            ));
            for (value_idx, value) in filter.values.iter().enumerate() {
                params.push((
                    format!("Filter.{}.Value.{}", filter_idx + 1, value_idx + 1),
                    value.clone(),
                ));
            }
        }
        if let Some(token) = next_token {
            params.push(("NextToken".to_owned(), token.to_owned()));
        }
        params
    }
}

fn form_body(params: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The labels of one instance, exactly as Prometheus' ec2_sd builds them.
fn instance_labels(
    instance: Instance,
    owner_id: Option<&str>,
    region: &str,
    port: u16,
    zone_ids: &BTreeMap<String, String>,
) -> Option<Labels> {
    let private_ip = instance.private_ip_address.filter(|ip| !ip.is_empty())?;
    let mut labels = Labels::new();
    let mut set = |name: &str, value: String| {
        if !value.is_empty() {
            labels.insert(name.to_owned(), value);
        }
    };
    set(INSTANCE_ID, instance.instance_id);
    set(REGION, region.to_owned());
    if let Some(owner_id) = owner_id {
        set(OWNER_ID, owner_id.to_owned());
    }
    set(ADDRESS_LABEL, join_host_port(&private_ip, port));
    set(PRIVATE_IP, private_ip);
    set(
        PRIVATE_DNS_NAME,
        instance.private_dns_name.unwrap_or_default(),
    );
    set(PLATFORM, instance.platform.unwrap_or_default());
    if let Some(public_ip) = instance.ip_address.filter(|ip| !ip.is_empty()) {
        set(PUBLIC_IP, public_ip);
        set(PUBLIC_DNS_NAME, instance.dns_name.unwrap_or_default());
    }
    set(AMI, instance.image_id.unwrap_or_default());
    let zone = instance
        .placement
        .map(|placement| placement.availability_zone)
        .unwrap_or_default();
    if let Some(zone_id) = zone_ids.get(&zone) {
        set(AVAILABILITY_ZONE_ID, zone_id.clone());
    }
    set(AVAILABILITY_ZONE, zone);
    set(
        INSTANCE_STATE,
        instance
            .instance_state
            .map(|state| state.name)
            .unwrap_or_default(),
    );
    set(INSTANCE_TYPE, instance.instance_type.unwrap_or_default());
    set(
        INSTANCE_LIFECYCLE,
        instance.instance_lifecycle.unwrap_or_default(),
    );
    set(ARCHITECTURE, instance.architecture.unwrap_or_default());
    if let Some(vpc_id) = instance.vpc_id.filter(|id| !id.is_empty()) {
        set(VPC_ID, vpc_id);
        set(PRIMARY_SUBNET_ID, instance.subnet_id.unwrap_or_default());
        let mut interfaces = instance.network_interface_set.item;
        interfaces.sort_by_key(|interface| {
            interface
                .attachment
                .as_ref()
                .map_or(u32::MAX, |attachment| attachment.device_index)
        });
        let mut seen_subnets = HashSet::new();
        let mut subnets = Vec::new();
        let mut ipv6_addresses = Vec::new();
        let mut primary_ipv6_addresses = Vec::new();
        for interface in interfaces {
            let Some(subnet_id) = interface.subnet_id else {
                continue;
            };
            if seen_subnets.insert(subnet_id.clone()) {
                subnets.push(subnet_id);
            }
            for address in interface.ipv6_addresses_set.item {
                if address.is_primary_ipv6 == Some(true) {
                    primary_ipv6_addresses.push(address.ipv6_address.clone());
                }
                ipv6_addresses.push(address.ipv6_address);
            }
        }
        set(SUBNET_ID, wrap(&subnets));
        if !ipv6_addresses.is_empty() {
            set(IPV6_ADDRESSES, wrap(&ipv6_addresses));
        }
        if !primary_ipv6_addresses.is_empty() {
            set(PRIMARY_IPV6_ADDRESSES, wrap(&primary_ipv6_addresses));
        }
    }
    for tag in instance.tag_set.item {
        let name: String = tag
            .key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        labels.insert(format!("{TAG_PREFIX}{name}"), tag.value);
    }
    Some(labels)
}

/// `,a,b,` as Prometheus writes lists.
fn wrap(items: &[String]) -> String {
    format!("{SEPARATOR}{}{SEPARATOR}", items.join(SEPARATOR))
}

impl Discoverer for Ec2Discoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let zone_ids = self.zone_ids().await?;
        let mut targets = Vec::new();
        let mut next_token: Option<String> = None;
        let mut seen_tokens = HashSet::new();
        loop {
            let params = self.describe_params(next_token.as_deref());
            let text = self.call(&params).await?;
            let response: DescribeInstancesResponse =
                quick_xml::de::from_str(&text).map_err(|error| {
                    DiscoverError::Invalid(format!("ec2 DescribeInstances: {error}"))
                })?;
            for reservation in response.reservation_set.item {
                let owner_id = reservation.owner_id.as_deref();
                for instance in reservation.instances_set.item {
                    let labels = instance_labels(
                        instance,
                        owner_id,
                        &self.config.region,
                        self.config.port,
                        &zone_ids,
                    );
                    targets.extend(labels);
                }
            }
            match response.next_token.filter(|token| !token.is_empty()) {
                // A repeated token would loop for ever: stop at it.
                Some(token) if seen_tokens.insert(token.clone()) => next_token = Some(token),
                _ => break,
            }
        }
        targets.sort();
        Ok(vec![TargetGroup {
            source: self.config.region.clone(),
            targets,
            labels: Labels::new(),
        }])
    }
}

impl Source for Ec2Discoverer {}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-1</instanceId>
          <imageId>ami-03cf127a</imageId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateDnsName>ip-10-10-1-4.ec2.internal</privateDnsName>
          <dnsName></dnsName>
          <instanceType>t3.micro</instanceType>
          <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>
          <subnetId>subnet-1</subnetId>
          <vpcId>vpc-1</vpcId>
          <privateIpAddress>10.10.1.4</privateIpAddress>
          <architecture>x86_64</architecture>
          <networkInterfaceSet>
            <item><subnetId>subnet-1</subnetId><attachment><deviceIndex>0</deviceIndex></attachment>
              <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item></ipv6AddressesSet>
            </item>
          </networkInterfaceSet>
          <tagSet>
            <item><key>Name</key><value>web</value></item>
            <item><key>aws:autoscaling-group</key><value>asg</value></item>
          </tagSet>
        </item>
        <item>
          <instanceId>i-2</instanceId>
          <instanceState><code>48</code><name>terminated</name></instanceState>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>abc</nextToken>
</DescribeInstancesResponse>"#;

    #[test]
    fn builds_prometheus_labels_and_skips_instances_without_private_ip() {
        let response: DescribeInstancesResponse = quick_xml::de::from_str(RESPONSE).unwrap();
        assert_eq!(response.next_token.as_deref(), Some("abc"));
        let zones = BTreeMap::from([("us-east-1a".to_owned(), "use1-az6".to_owned())]);
        let reservation = response.reservation_set.item.into_iter().next().unwrap();
        let owner = reservation.owner_id.clone();
        let labels: Vec<Labels> = reservation
            .instances_set
            .item
            .into_iter()
            .filter_map(|i| instance_labels(i, owner.as_deref(), "us-east-1", 9100, &zones))
            .collect();
        assert_eq!(labels.len(), 1);
        let labels = &labels[0];
        assert_eq!(labels[ADDRESS_LABEL], "10.10.1.4:9100");
        assert_eq!(labels[AVAILABILITY_ZONE_ID], "use1-az6");
        assert_eq!(labels[OWNER_ID], "123456789012");
        assert_eq!(labels[SUBNET_ID], ",subnet-1,");
        assert_eq!(labels[PRIMARY_IPV6_ADDRESSES], ",2001:db8::1,");
        assert_eq!(labels["__meta_ec2_tag_Name"], "web");
        assert_eq!(labels["__meta_ec2_tag_aws_autoscaling_group"], "asg");
        assert_eq!(labels[INSTANCE_STATE], "running");
        assert!(!labels.contains_key(PUBLIC_IP));
        assert!(!labels.contains_key(PLATFORM));
    }

    #[test]
    fn encodes_filters_as_query_parameters() {
        let config: Ec2Config = toml::from_str(
            "id = \"e\"\nregion = \"us-east-1\"\nfilters = [{name = \"tag:env\", values = [\"test\", \"prod\"]}]",
        )
        .unwrap();
        config.validate().unwrap();
        let discoverer = Ec2Discoverer::new(&config);
        let body = form_body(&discoverer.describe_params(Some("t")));
        assert_eq!(
            body,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=test&Filter.1.Value.2=prod&NextToken=t"
        );
    }

    #[test]
    fn validation() {
        let config: Ec2Config = toml::from_str("id = \"e\"\naccess-key = \"a\"").unwrap();
        assert_eq!(config.port, 80);
        assert_eq!(config.refresh_interval, Duration::from_secs(60));
        assert_eq!(config.validate().unwrap_err().len(), 2);
    }
}
