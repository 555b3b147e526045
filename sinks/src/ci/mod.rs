//! The configuration-item (CI) change sink: what the infrastructure *is* and what changed
//! in it, source-aligned and descriptive.
//!
//! - [`extract`] turns discovered target groups into observations (kind, natural key,
//!   `__meta_*` attributes, relationships).
//! - [`diff`] compares an observation with the stored state: created, updated (field-level
//!   diffs) or unchanged; metrics are stored but never audited.
//! - [`store`] keeps current items, history and relationships in SQLite.

pub mod diff;
pub mod extract;
pub mod model;
pub mod store;

pub use model::{AttributeDiff, Change, ChangeKind, CiKey, CiState, Observation, Relation};
pub use store::{ChangeQuery, CiDetail, CiQuery, CiStore, CiStoreError};
