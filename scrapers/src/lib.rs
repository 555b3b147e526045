//! Prometheus scraping for weir: our own exposition parser, the scrape manager, target
//! health with a circuit breaker, and the data behind the operator views.
//!
//! The binary builds one [`ScrapeManager`] with the channel points leave on, then calls
//! [`ScrapeManager::apply`] with every `[[scraper]]` section ([`ScraperConfig`]) and a
//! `watch` receiver of the target groups its discoverer publishes. Everything else
//! (status views, "collect now", enabling and disabling, self-metrics) is a method of the
//! manager:
//!
//! ```
//! use tokio::sync::{mpsc, watch};
//! use weir_engine::{Labels, TargetGroup};
//! use weir_scrapers::{ScrapeManager, ScraperConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let (output, _points) = mpsc::channel(1024);
//! let manager = ScrapeManager::new(output);
//! let config: ScraperConfig = toml::from_str(
//!     r#"
//!     enabled = true
//!     name = "node"
//!     db = "prom"
//!     rp = "autogen"
//!     scrape-interval = "15s"
//!     "#,
//! ).unwrap();
//! config.validate().unwrap();
//! let group = TargetGroup {
//!     source: "static".to_owned(),
//!     targets: vec![Labels::from([("__address__".to_owned(), "127.0.0.1:9100".to_owned())])],
//!     labels: Labels::new(),
//! };
//! let (_groups_tx, groups_rx) = watch::channel(vec![group]);
//! manager.apply(vec![(config, groups_rx)]);
//! assert_eq!(manager.targets()[0].url, "http://127.0.0.1:9100/metrics");
//! manager.shutdown().await;
//! # });
//! ```
//!
//! Modules:
//! - [`exposition`]: the streaming Prometheus text 0.0.4 / OpenMetrics parser.
//! - [`config`]: `[[scraper]]` keys, defaults and validation.
//! - [`target`]: target groups → targets (defaults, relabelling, `instance`, URL, phase).
//! - [`scrape`]: one fetch (timeout, body-size limit, headers) and body → points.
//! - [`health`]: the Healthy / Degraded / Unhealthy / Circuit Open state machine.
//! - [`batch`]: the query sources of batch tasks (`[[prometheus]]` PromQL, InfluxQL).
//!
//! The crate has no cargo features.
//!
//! Invariant: a scrape never outlives its `scrape-timeout`, and a body is never read past
//! `body-size-limit`.

pub mod batch;
pub mod config;
pub mod exposition;
pub mod health;
mod manager;
pub mod scrape;
mod status;
pub mod target;

pub use config::{ByteSize, Compat, HealthConfig, ScraperConfig, ScraperType};
pub use health::TargetHealth;
pub use manager::{CollectError, ScrapeManager, ScraperInput};
pub use status::{CollectFailure, CollectSummary, ScraperStatus, TargetStatus};
