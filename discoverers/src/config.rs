//! The `[[static-discovery]]`, `[[file-discovery]]`, `[[http-discovery]]`, `[[dns]]`, `[[consul]]`, `[[kubernetes]]`
//! and `[[ec2]]` sections, gathered in [`DiscoveryConfig`], and their validation.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::azure::AzureConfig;
use crate::consul::ConsulConfig;
use crate::dns::DnsConfig;
#[cfg(feature = "ec2")]
use crate::ec2::Ec2Config;
use crate::file::FileConfig;
use crate::gce::GceConfig;
use crate::http_discovery::HttpDiscoveryConfig;
#[cfg(feature = "kubernetes")]
use crate::kubernetes::KubernetesConfig;
use crate::marathon::MarathonConfig;
use crate::nerve::NerveConfig;
use crate::serverset::ServersetConfig;
use crate::static_discovery::StaticConfig;
use crate::triton::TritonConfig;

/// Every discoverer section of a config file. The binary embeds these fields under the same
/// TOML section names.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiscoveryConfig {
    /// `[[static-discovery]]` sections.
    #[serde(default)]
    pub static_discovery: Vec<StaticConfig>,
    /// `[[file-discovery]]` sections.
    #[serde(default)]
    pub file_discovery: Vec<FileConfig>,
    /// `[[http-discovery]]` sections.
    #[serde(default)]
    pub http_discovery: Vec<HttpDiscoveryConfig>,
    /// `[[dns]]` sections.
    #[serde(default)]
    pub dns: Vec<DnsConfig>,
    /// `[[consul]]` sections.
    #[serde(default)]
    pub consul: Vec<ConsulConfig>,
    /// `[[marathon]]` sections.
    #[serde(default)]
    pub marathon: Vec<MarathonConfig>,
    /// `[[triton]]` sections.
    #[serde(default)]
    pub triton: Vec<TritonConfig>,
    /// `[[nerve]]` sections.
    #[serde(default)]
    pub nerve: Vec<NerveConfig>,
    /// `[[serverset]]` sections.
    #[serde(default)]
    pub serverset: Vec<ServersetConfig>,
    /// `[[azure]]` sections.
    #[serde(default)]
    pub azure: Vec<AzureConfig>,
    /// `[[gce]]` sections.
    #[serde(default)]
    pub gce: Vec<GceConfig>,
    /// `[[kubernetes]]` sections.
    #[cfg(feature = "kubernetes")]
    #[serde(default)]
    pub kubernetes: Vec<KubernetesConfig>,
    /// `[[ec2]]` sections.
    #[cfg(feature = "ec2")]
    #[serde(default)]
    pub ec2: Vec<Ec2Config>,
}

impl DiscoveryConfig {
    /// Check every enabled section, reporting every problem at once (duplicate ids included).
    ///
    /// A disabled section is only checked for a duplicate id: Kapacitor's generated config
    /// lists every discoverer disabled with its required keys empty, and such a file must load.
    /// A source turned on at run time with missing keys fails its rounds, saying why.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut seen: HashSet<(SourceKind, String)> = HashSet::new();
        let mut check =
            |kind: SourceKind, id: &str, enabled: bool, result: Result<(), Vec<ConfigError>>| {
                if let Err(mut found) = result
                    && enabled
                {
                    errors.append(&mut found);
                }
                if !seen.insert((kind, id.to_owned())) {
                    errors.push(ConfigError::new(kind, id, "duplicate id in this section"));
                }
            };
        for config in &self.static_discovery {
            check(
                SourceKind::Static,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.file_discovery {
            check(
                SourceKind::File,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.http_discovery {
            check(
                SourceKind::Http,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.dns {
            check(
                SourceKind::Dns,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.consul {
            check(
                SourceKind::Consul,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.marathon {
            check(
                SourceKind::Marathon,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.triton {
            check(
                SourceKind::Triton,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.nerve {
            check(
                SourceKind::Nerve,
                &config.id,
                config.enabled,
                crate::nerve::validate(config),
            );
        }
        for config in &self.serverset {
            check(
                SourceKind::Serverset,
                &config.id,
                config.enabled,
                crate::serverset::validate(config),
            );
        }
        for config in &self.azure {
            check(
                SourceKind::Azure,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        for config in &self.gce {
            check(
                SourceKind::Gce,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        #[cfg(feature = "kubernetes")]
        for config in &self.kubernetes {
            check(
                SourceKind::Kubernetes,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        #[cfg(feature = "ec2")]
        for config in &self.ec2 {
            check(
                SourceKind::Ec2,
                &config.id,
                config.enabled,
                config.validate(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Which backend a source uses; its name is the scrapers' `discoverer-service` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum SourceKind {
    /// `[[static-discovery]]`.
    #[serde(rename = "static-discovery")]
    Static,
    /// `[[file-discovery]]`.
    #[serde(rename = "file-discovery")]
    File,
    /// `[[http-discovery]]`.
    #[serde(rename = "http-discovery")]
    Http,
    /// `[[dns]]`.
    #[serde(rename = "dns")]
    Dns,
    /// `[[consul]]`.
    #[serde(rename = "consul")]
    Consul,
    /// `[[marathon]]`.
    #[serde(rename = "marathon")]
    Marathon,
    /// `[[triton]]`.
    #[serde(rename = "triton")]
    Triton,
    /// `[[nerve]]`.
    #[serde(rename = "nerve")]
    Nerve,
    /// `[[serverset]]`.
    #[serde(rename = "serverset")]
    Serverset,
    /// `[[azure]]`.
    #[serde(rename = "azure")]
    Azure,
    /// `[[gce]]`.
    #[serde(rename = "gce")]
    Gce,
    /// `[[kubernetes]]`.
    #[serde(rename = "kubernetes")]
    Kubernetes,
    /// `[[ec2]]`.
    #[serde(rename = "ec2")]
    Ec2,
}

impl SourceKind {
    /// The section name, which is also the `discoverer-service` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Static => "static-discovery",
            SourceKind::File => "file-discovery",
            SourceKind::Http => "http-discovery",
            SourceKind::Dns => "dns",
            SourceKind::Consul => "consul",
            SourceKind::Marathon => "marathon",
            SourceKind::Triton => "triton",
            SourceKind::Nerve => "nerve",
            SourceKind::Serverset => "serverset",
            SourceKind::Azure => "azure",
            SourceKind::Gce => "gce",
            SourceKind::Kubernetes => "kubernetes",
            SourceKind::Ec2 => "ec2",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem in one discoverer section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[[{kind}]] id {id:?}: {message}")]
pub struct ConfigError {
    /// The section.
    pub kind: SourceKind,
    /// The section's `id`.
    pub id: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem in section `kind` with id `id`.
    pub fn new(kind: SourceKind, id: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            kind,
            id: id.to_owned(),
            message: message.into(),
        }
    }
}

/// Collects the problems of one section.
pub(crate) struct Problems {
    kind: SourceKind,
    id: String,
    errors: Vec<ConfigError>,
}

impl Problems {
    pub(crate) fn new(kind: SourceKind, id: &str) -> Problems {
        let mut problems = Problems {
            kind,
            id: id.to_owned(),
            errors: Vec::new(),
        };
        if id.trim().is_empty() {
            problems.push("`id` must not be empty");
        }
        problems
    }

    pub(crate) fn push(&mut self, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(self.kind, &self.id, message));
    }

    pub(crate) fn finish(self) -> Result<(), Vec<ConfigError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// Serde default for `enabled` (a section that is written is meant to run).
pub(crate) fn default_true() -> bool {
    true
}

/// Whether `address` looks like `host:port` (an IPv6 host in brackets).
pub(crate) fn is_host_port(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty() && !host.contains(':') && !host.contains('/')
    };
    host_ok && port.parse::<u16>().is_ok()
}

/// Prometheus' `strutil.SanitizeLabelName`: every character that cannot be in a label name
/// becomes `_`.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `host:port`, with IPv6 hosts in brackets.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section_and_reports_all_problems() {
        let config: DiscoveryConfig = toml::from_str(
            r#"
            [[static-discovery]]
            id = "a"
            targets = ["127.0.0.1:9100"]
            [[static-discovery]]
            id = "a"
            targets = ["http://nope"]
            [[file-discovery]]
            id = "f"
            files = ["/tmp/x.txt"]
            [[dns]]
            id = "d"
            record-names = ["_http._tcp.test.local"]
            [[consul]]
            id = "c"
            "#,
        )
        .unwrap();
        let errors = config.validate().unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|e| e.contains("duplicate id")), "{text:?}");
        assert!(text.iter().any(|e| e.contains("http://nope")), "{text:?}");
        assert!(
            text.iter()
                .any(|e| e.starts_with("[[file-discovery]] id \"f\"")),
            "{text:?}"
        );
        assert_eq!(errors.len(), 3, "{text:?}");
    }

    #[test]
    fn disabled_sections_as_kapacitor_generates_them_load() {
        let config: DiscoveryConfig = toml::from_str(
            r#"
            [[file-discovery]]
            enabled = false
            id = "myfile"
            files = []
            [[azure]]
            enabled = false
            id = "myazure"
            subscription-id = ""
            [[gce]]
            enabled = false
            id = "mygce"
            [[marathon]]
            enabled = false
            id = "mymarathon"
            [[nerve]]
            enabled = false
            id = "mynerve"
            [[serverset]]
            enabled = false
            id = "myserverset"
            [[triton]]
            enabled = false
            id = "mytriton"
            [[triton]]
            enabled = false
            id = "mytriton"
            "#,
        )
        .unwrap();
        let errors = config.validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("duplicate id"));
        let mut enabled = config.clone();
        enabled.triton.pop();
        enabled.gce[0].enabled = true;
        let errors = enabled.validate().unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().all(|e| e.kind == SourceKind::Gce),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let error =
            toml::from_str::<DiscoveryConfig>("[[static-discovery]]\nid = \"a\"\ntargetz = []\n")
                .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `targetz`"),
            "{error}"
        );
    }

    #[test]
    fn host_port() {
        assert!(is_host_port("127.0.0.1:80"));
        assert!(is_host_port("[::1]:80"));
        assert!(is_host_port("web:9100"));
        assert!(!is_host_port("::1:80"));
        assert!(!is_host_port("web"));
        assert!(!is_host_port("web:http"));
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
    }
}
