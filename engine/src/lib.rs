//! The weir runtime and the vocabulary every other crate shares.
//!
//! `engine` builds on [`weir_dsl`]: it turns a checked [`weir_dsl::Program`] into a graph of
//! runtime nodes and runs points through it. It also owns the types that discoverers,
//! scrapers and sinks exchange ([`Point`], [`Labels`], [`TargetGroup`]) and the traits they
//! implement ([`Discoverer`]), so those crates never depend on each other. The plug-in points
//! of the runtime are [`Outputs`] (where task output leaves) and the query source of batch
//! tasks ([`QuerySource`]).
//!
//! Running tasks: [`Engine`] (tasks on a worker pool, one bounded queue each, [`Outputs`] for all I/O);
//! testing a script: [`run_test`].
//!
//! Invariant: no HTTP, AWS or Kubernetes client lives here.
#![warn(missing_docs)]

pub mod alert_state;
pub mod discovery;
pub mod duration;
pub mod glob;
pub mod health_history;
pub mod ingress;
pub mod json;
pub mod line_protocol;
pub mod message;
pub mod nodes;
pub mod point;
mod pool;
pub mod relabel;
pub mod runtime;
pub mod shared_map;
pub mod stats;
pub mod task;
pub mod template;
pub mod test_run;
pub mod topics;
pub mod vec_map;

pub use alert_state::{AlertGroupState, AlertStateStore};
pub use discovery::{DiscoverError, Discoverer, Labels, TargetGroup};
pub use ingress::{IngressTracker, Lease, Ticket};
pub use nodes::query::{
    QueryError, QueryFuture, QueryLanguage, QueryRequest, QuerySeries, QuerySource,
};
pub use point::{FieldValue, Fields, Point, PointBatch, Tags};
pub use runtime::{
    CiObservation, CiWrite, Engine, EngineError, HttpRequest, InfluxDbWrite, Outputs,
};
pub use stats::{IngressCounts, TaskStats};
pub use test_run::{
    BatchRun, TestOutput, parse_batch_recording, parse_directed, replay, replay_batches, run_test,
    run_test_with_id,
};
pub use topics::{AlertEvent, TopicStore, Topics};
