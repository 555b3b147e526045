//! Configuration items (CIs): identity, observations, relationships, changes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Who a CI is: the source that reported it, its kind in that source's own model
/// (`kubernetes.pod`, `ec2.instance`, …) and the source's natural key for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CiKey {
    /// The configured source (`kubernetes/prod`, `ec2/eu`, `pipeline/host_info`).
    pub source: String,
    /// The kind (`kubernetes.pod`, `kubernetes.node`, `ec2.instance`, `host`, …).
    pub kind: String,
    /// The natural key (`namespace/name`, an instance id, a service id, …).
    pub key: String,
}

impl CiKey {
    /// A key.
    pub fn new(
        source: impl Into<String>,
        kind: impl Into<String>,
        key: impl Into<String>,
    ) -> CiKey {
        CiKey {
            source: source.into(),
            kind: kind.into(),
            key: key.into(),
        }
    }

    /// The stable textual id used in the API: `kind:key@source`.
    pub fn id(&self) -> String {
        format!("{}:{}@{}", self.kind, self.key, self.source)
    }
}

impl fmt::Display for CiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// A directed relationship from one CI to another, by kind and natural key (the target
/// may come from another source, so it is resolved when queried).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// What the relationship means: `runs-on`, `in-subnet`, `in-vpc`, `targets`,
    /// `backs`, `registered-on`, `resolves-to`, `discovered-as`.
    pub kind: String,
    /// The other CI's kind.
    pub target_kind: String,
    /// The other CI's natural key.
    pub target_key: String,
}

impl Relation {
    /// A relationship.
    pub fn new(kind: &str, target_kind: &str, target_key: impl Into<String>) -> Relation {
        Relation {
            kind: kind.to_owned(),
            target_kind: target_kind.to_owned(),
            target_key: target_key.into(),
        }
    }

    /// `kind → target_kind:target_key`, as it appears in change diffs.
    pub fn label(&self) -> String {
        format!("{} → {}:{}", self.kind, self.target_kind, self.target_key)
    }
}

/// What a source says about one CI at one moment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Identity; `None` only while being built.
    pub key: Option<CiKey>,
    /// Configuration attributes: tracked, every change enters the history.
    pub config: BTreeMap<String, String>,
    /// Runtime metrics: stored as the latest value, never audited.
    pub metrics: BTreeMap<String, f64>,
    /// Relationships extracted from the data.
    pub relations: Vec<Relation>,
    /// Addresses the CI answers on (for DNS enrichment): IPs without ports.
    pub addresses: Vec<String>,
}

/// The stored state of a CI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CiState {
    /// Record format version.
    pub version: u32,
    /// Identity.
    pub key: CiKey,
    /// Configuration attributes.
    pub config: BTreeMap<String, String>,
    /// Latest metric values.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Relationships.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// Addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// First seen (ns).
    pub created: i64,
    /// Last configuration change (ns).
    pub updated: i64,
    /// Last observation (ns).
    pub seen: i64,
}

/// Created, updated or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// First observation.
    Created,
    /// A configuration attribute or relationship changed.
    Updated,
    /// Gone from a complete collection, or deleted by a watch event.
    Deleted,
}

impl ChangeKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// One attribute (or relationship) that changed: old and new value (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDiff {
    /// Attribute name, or `relation:<kind>` for relationships.
    pub attribute: String,
    /// Before.
    pub old: Option<String>,
    /// After.
    pub new: Option<String>,
}

/// An entry of the change history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Which CI.
    pub key: CiKey,
    /// What happened.
    pub kind: ChangeKind,
    /// Field-level differences (for created: every attribute as new; deleted: as old).
    pub diffs: Vec<AttributeDiff>,
    /// When (ns).
    pub time: i64,
}
