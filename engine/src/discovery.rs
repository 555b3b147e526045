//! The discovery model shared by discoverers and scrapers: Prometheus' target groups.

use std::collections::BTreeMap;
use std::future::Future;

/// A label set, sorted by name. Targets carry `__address__` and optionally `__scheme__`,
/// `__metrics_path__`, `__param_<name>` and `__meta_*` labels.
pub type Labels = BTreeMap<String, String>;

/// The label holding a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";
/// The label holding a target's scheme (`http` or `https`).
pub const SCHEME_LABEL: &str = "__scheme__";
/// The label holding a target's metrics path.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";

/// What one discoverer source reports at one moment: targets sharing group labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// A stable name for the group within its source (for example a file path and index).
    pub source: String,
    /// One label set per target.
    pub targets: Vec<Labels>,
    /// Labels applied to every target of the group (a target's own labels win).
    pub labels: Labels,
}

/// Why a discovery round failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The peer could not be reached or answered with an error.
    #[error("{0}")]
    Peer(String),
    /// The peer's answer could not be understood.
    #[error("{0}")]
    Invalid(String),
}

/// A discovery backend: it only knows how to fetch the current target groups once.
///
/// The refresh loop, jitter, diffing, back-off and health are written once, around this.
pub trait Discoverer: Send {
    /// Fetch every target group the source currently has.
    fn discover(&mut self) -> impl Future<Output = Result<Vec<TargetGroup>, DiscoverError>> + Send;
}
