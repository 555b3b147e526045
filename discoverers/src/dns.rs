//! `[[dns]]`: targets from SRV, A or AAAA records, resolved with hickory-resolver.
//!
//! Labels, as Prometheus' dns_sd names them: `__meta_dns_name` (the queried name) and, for
//! SRV records, `__meta_dns_srv_record_target` (with its trailing dot) and
//! `__meta_dns_srv_record_port`. A name that does not exist yields an empty group; a name whose
//! lookup fails keeps its last good targets while the others refresh.
//!
//! With `nameservers` set, an SRV target's host name is resolved through those same servers and
//! `__address__` is `ip:port` (the first IPv4 address, else the first IPv6 one), so the scraper,
//! which only has the system resolver, can dial names that exist only there. Without
//! `nameservers`, `__address__` keeps the host name as Prometheus does. A target name with no
//! address is left out with a warning; a failed address lookup fails its record name.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true, join_host_port};
use crate::refresh::Source;

/// The queried record name.
pub const NAME_LABEL: &str = "__meta_dns_name";
/// An SRV record's target, as in the record (with its trailing dot).
pub const SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
/// An SRV record's port.
pub const SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";

/// Which records to query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DnsRecordType {
    /// SRV records: the target host and port come from each record (the default).
    #[default]
    #[serde(rename = "SRV", alias = "srv")]
    Srv,
    /// A records, with the configured `port`.
    #[serde(rename = "A", alias = "a")]
    A,
    /// AAAA records, with the configured `port`.
    #[serde(rename = "AAAA", alias = "aaaa")]
    Aaaa,
}

/// One `[[dns]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DnsConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// The names to query.
    #[serde(default)]
    pub record_names: Vec<String>,
    /// `SRV` (default), `A` or `AAAA`.
    #[serde(rename = "type", default)]
    pub record_type: DnsRecordType,
    /// The port of A and AAAA targets (required for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How often the names are queried (default 30s).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
    /// `ip:port` of the name servers to ask; empty means the system's (`/etc/resolv.conf`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(30)
}

impl DnsConfig {
    /// Check names, port and name servers.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::Dns, &self.id);
        if self.record_names.is_empty() {
            problems.push("`record-names` must list at least one name");
        }
        if self.record_type != DnsRecordType::Srv && self.port.is_none() {
            problems.push("`port` is required for A and AAAA records");
        }
        for nameserver in &self.nameservers {
            if nameserver.parse::<SocketAddr>().is_err() {
                problems.push(format!("nameserver {nameserver:?} is not ip:port"));
            }
        }
        if self.refresh_interval.is_zero() {
            problems.push("`refresh-interval` must be positive");
        }
        problems.finish()
    }
}

/// Queries the configured names.
pub struct DnsDiscoverer {
    names: Vec<String>,
    record_type: DnsRecordType,
    port: u16,
    /// SRV targets get an `ip:port` address (true when `nameservers` is set).
    resolve_srv_targets: bool,
    resolver: Result<TokioResolver, String>,
    last_good: BTreeMap<String, TargetGroup>,
    warning: Option<String>,
}

impl DnsDiscoverer {
    /// The discoverer of one section; a resolver that cannot be built fails every round.
    pub fn new(config: &DnsConfig) -> DnsDiscoverer {
        DnsDiscoverer {
            names: config.record_names.clone(),
            record_type: config.record_type,
            port: config.port.unwrap_or(0),
            resolve_srv_targets: !config.nameservers.is_empty(),
            resolver: build_resolver(&config.nameservers),
            last_good: BTreeMap::new(),
            warning: None,
        }
    }

    /// The targets of one name, and warnings about SRV targets left out.
    async fn lookup(
        &self,
        resolver: &TokioResolver,
        name: &str,
    ) -> Result<(Vec<Labels>, Vec<String>), String> {
        let record_type = match self.record_type {
            DnsRecordType::Srv => RecordType::SRV,
            DnsRecordType::A => RecordType::A,
            DnsRecordType::Aaaa => RecordType::AAAA,
        };
        let lookup = match resolver.lookup(name, record_type).await {
            Ok(lookup) => lookup,
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(error) => return Err(format!("dns lookup of {name} ({record_type}): {error}")),
        };
        let mut targets = Vec::new();
        let mut warnings = Vec::new();
        for record in lookup.answers() {
            let mut labels = Labels::new();
            labels.insert(NAME_LABEL.to_owned(), name.to_owned());
            match &record.data {
                RData::SRV(srv) if self.record_type == DnsRecordType::Srv => {
                    let target = srv.target.to_string();
                    let address = if self.resolve_srv_targets {
                        match resolve_host(resolver, &target).await? {
                            Some(ip) => join_host_port(&ip.to_string(), srv.port),
                            None => {
                                warnings.push(format!(
                                    "dns: SRV target {target} of {name} has no address record"
                                ));
                                continue;
                            }
                        }
                    } else {
                        join_host_port(target.trim_end_matches('.'), srv.port)
                    };
                    labels.insert(ADDRESS_LABEL.to_owned(), address);
                    labels.insert(SRV_PORT_LABEL.to_owned(), srv.port.to_string());
                    labels.insert(SRV_TARGET_LABEL.to_owned(), target);
                }
                RData::A(a) if self.record_type == DnsRecordType::A => {
                    labels.insert(
                        ADDRESS_LABEL.to_owned(),
                        join_host_port(&a.0.to_string(), self.port),
                    );
                }
                RData::AAAA(aaaa) if self.record_type == DnsRecordType::Aaaa => {
                    let address = join_host_port(&aaaa.0.to_string(), self.port);
                    labels.insert(ADDRESS_LABEL.to_owned(), address);
                }
                // CNAMEs on the way and records of other types.
                _ => continue,
            }
            targets.push(labels);
        }
        // Servers rotate the order of records; sort so an unchanged set is not a change.
        targets.sort();
        targets.dedup();
        Ok((targets, warnings))
    }
}

/// The address of an SRV target through the configured servers: the first IPv4 address, else
/// the first IPv6 one (sorted, so rotation is not a change); `None` when the name has none.
async fn resolve_host(resolver: &TokioResolver, host: &str) -> Result<Option<IpAddr>, String> {
    let lookup = match resolver.lookup_ip(host).await {
        Ok(lookup) => lookup,
        Err(error) if error.is_no_records_found() || error.is_nx_domain() => return Ok(None),
        Err(error) => return Err(format!("dns lookup of SRV target {host}: {error}")),
    };
    let mut addresses: Vec<IpAddr> = lookup.iter().collect();
    addresses.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    Ok(addresses.first().copied())
}

fn build_resolver(nameservers: &[String]) -> Result<TokioResolver, String> {
    let mut builder = if nameservers.is_empty() {
        TokioResolver::builder_tokio().map_err(|error| format!("system dns config: {error}"))?
    } else {
        let mut servers = Vec::with_capacity(nameservers.len());
        for nameserver in nameservers {
            let address: SocketAddr = nameserver
                .parse()
                .map_err(|_| format!("nameserver {nameserver:?} is not ip:port"))?;
            let mut server = NameServerConfig::udp_and_tcp(address.ip());
            for connection in &mut server.connections {
                connection.port = address.port();
            }
            servers.push(server);
        }
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    // The refresh interval is the cache: every round asks the server again.
    builder.options_mut().cache_size = 0;
    builder
        .build()
        .map_err(|error| format!("dns resolver: {error}"))
}

impl Discoverer for DnsDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|error| DiscoverError::Peer(error.clone()))?;
        let lookups = self.names.iter().map(|name| self.lookup(resolver, name));
        let results = futures::future::join_all(lookups).await;
        let mut failures = Vec::new();
        let mut fresh = BTreeMap::new();
        for (name, result) in self.names.iter().zip(results) {
            match result {
                Ok((targets, mut skipped)) => {
                    failures.append(&mut skipped);
                    let group = TargetGroup {
                        source: name.clone(),
                        targets,
                        labels: Labels::new(),
                    };
                    fresh.insert(name.clone(), group);
                }
                Err(error) => failures.push(error),
            }
        }
        if fresh.is_empty() && !failures.is_empty() {
            return Err(DiscoverError::Peer(failures.join("; ")));
        }
        self.last_good.append(&mut fresh);
        self.warning = (!failures.is_empty()).then(|| failures.join("; "));
        Ok(self
            .names
            .iter()
            .filter_map(|name| self.last_good.get(name).cloned())
            .collect())
    }
}

impl Source for DnsDiscoverer {
    fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kapacitor_keys_and_validates() {
        let config: DnsConfig = toml::from_str(
            "id = \"d\"\nrecord-names = [\"web1.test.local\"]\ntype = \"A\"\nrefresh-interval = \"10s\"\nnameservers = [\"127.0.0.1:15353\"]",
        )
        .unwrap();
        assert_eq!(config.record_type, DnsRecordType::A);
        assert_eq!(config.refresh_interval, Duration::from_secs(10));
        let errors = config.validate().unwrap_err();
        assert!(
            errors[0].message.contains("`port` is required"),
            "{errors:?}"
        );
        let config: DnsConfig = toml::from_str("id = \"d\"\nrecord-names = [\"x\"]").unwrap();
        assert_eq!(config.record_type, DnsRecordType::Srv);
        config.validate().unwrap();
        let bad: DnsConfig =
            toml::from_str("id = \"d\"\nrecord-names = [\"x\"]\nnameservers = [\"dns\"]").unwrap();
        assert!(bad.validate().is_err());
    }

    #[tokio::test]
    async fn unreachable_nameserver_fails_the_round() {
        let config = DnsConfig {
            enabled: true,
            id: "d".to_owned(),
            record_names: vec!["web1.test.local".to_owned()],
            record_type: DnsRecordType::A,
            port: Some(80),
            refresh_interval: default_refresh_interval(),
            // A port nothing listens on: the lookup times out or is refused.
            nameservers: vec!["127.0.0.1:9".to_owned()],
        };
        let mut discoverer = DnsDiscoverer::new(&config);
        let result = tokio::time::timeout(Duration::from_secs(30), discoverer.discover()).await;
        assert!(matches!(result, Ok(Err(_))), "{result:?}");
    }
}
