//! Service discovery for weir: where the scrapers' targets come from.
//!
//! Each backend only knows how to fetch its current target groups once (it implements
//! [`weir_engine::Discoverer`]). The refresh loop, jitter, diffing, back-off, health and
//! shutdown are written once, in `refresh.rs`, and [`DiscoveryManager`] runs one loop per
//! configured source, applies config changes without restarting unchanged sources, and
//! publishes every source's target groups through a `tokio::sync::watch` channel, so a
//! consumer always sees a whole target set at once.
//!
//! | section (`discoverer-service`) | module | feature |
//! |---|---|---|
//! | `[[static-discovery]]` | [`static_discovery`] | always |
//! | `[[file-discovery]]` | [`file`] | always |
//! | `[[http-discovery]]` | [`http_discovery`] | always |
//! | `[[dns]]` | [`dns`] | always |
//! | `[[consul]]` | [`consul`] | always |
//! | `[[marathon]]` | [`marathon`] | always |
//! | `[[triton]]` | [`triton`] | always |
//! | `[[nerve]]` | [`nerve`] | always |
//! | `[[serverset]]` | [`serverset`] | always |
//! | `[[azure]]` | [`azure`] | always |
//! | `[[gce]]` | [`gce`] | always |
//! | `[[ec2]]` | `ec2` | `ec2` |
//! | `[[kubernetes]]` | `kubernetes` | `kubernetes` |
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use weir_discoverers::{DiscoveryConfig, DiscoveryManager};
//!
//! let config: DiscoveryConfig = toml::from_str(r#"
//!     [[static-discovery]]
//!     id = "local"
//!     targets = ["127.0.0.1:9100"]
//!     labels = { env = "test" }
//! "#).unwrap();
//! config.validate().unwrap();
//! let manager = DiscoveryManager::new();
//! let mut targets = manager.subscribe("static-discovery", "local");
//! manager.apply(&config);
//! targets.wait_for(|groups| !groups.is_empty()).await.unwrap();
//! assert_eq!(targets.borrow()[0].targets[0]["__address__"], "127.0.0.1:9100");
//! manager.shutdown().await;
//! # });
//! ```

pub mod azure;
pub mod config;
pub mod consul;
pub mod dns;
#[cfg(feature = "ec2")]
pub mod ec2;
pub mod file;
pub mod gce;
mod http;
pub mod http_discovery;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
mod manager;
pub mod marathon;
pub mod nerve;
mod refresh;
pub mod serverset;
pub mod static_discovery;
pub mod triton;
pub mod zookeeper;

pub use azure::AzureConfig;
pub use config::{ConfigError, DiscoveryConfig, SourceKind};
pub use consul::ConsulConfig;
pub use dns::{DnsConfig, DnsRecordType};
#[cfg(feature = "ec2")]
pub use ec2::{Ec2Config, Ec2Filter};
pub use file::FileConfig;
pub use gce::GceConfig;
pub use http_discovery::HttpDiscoveryConfig;
#[cfg(feature = "kubernetes")]
pub use kubernetes::{KubernetesConfig, KubernetesRole};
pub use manager::{DiscoveryManager, SourceStatus, WatchStatus};
pub use marathon::MarathonConfig;
pub use nerve::NerveConfig;
pub use refresh::{HealthPolicy, HealthState};
pub use serverset::ServersetConfig;
pub use static_discovery::StaticConfig;
pub use triton::TritonConfig;
