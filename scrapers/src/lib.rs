//! Prometheus scraping for weir: our own exposition parser, the scrape manager, target
//! health with a circuit breaker, and the data behind the operator views.
//!
//! The binary builds one [`ScrapeManager`] with the channel points leave on, then calls
//! [`ScrapeManager::apply`] with every `[[scraper]]` section and the target groups its
//! discoverer publishes. Everything else (status views, "collect now", enabling and
//! disabling, self-metrics) is a method of the manager.

pub mod config;
pub mod exposition;
pub mod health;
mod manager;
pub mod scrape;
mod status;
pub mod target;

pub use config::{ByteSize, Compat, HealthConfig, ScraperConfig, ScraperType};
pub use health::TargetHealth;
pub use manager::{ScrapeManager, ScraperInput};
pub use status::{CollectFailure, CollectSummary, ScraperStatus, TargetStatus};
