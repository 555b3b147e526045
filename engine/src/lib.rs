//! The weir runtime and the vocabulary every other crate shares.
//!
//! `engine` builds on [`weir_dsl`]: it turns a checked [`weir_dsl::Program`] into a graph of
//! runtime nodes and runs points through it. It also owns the types that discoverers,
//! scrapers and sinks exchange ([`Point`], [`Labels`], [`TargetGroup`]) and the traits they
//! implement ([`Discoverer`], [`Sink`]), so those crates never depend on each other.
//!
//! Invariant: no HTTP, AWS or Kubernetes client lives here.
#![warn(missing_docs)]

pub mod discovery;
pub mod duration;
pub mod line_protocol;
pub mod point;
pub mod relabel;
pub mod sink;

pub use discovery::{DiscoverError, Discoverer, Labels, TargetGroup};
pub use point::{FieldValue, Fields, Point, PointBatch, Tags};
pub use sink::{Sink, SinkError};
