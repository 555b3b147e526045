//! weir's sinks: where points leave weir.
//!
//! - [`influxdb`]: InfluxDB 1.x/2.x (and VictoriaMetrics) over HTTP line protocol, configured
//!   as Kapacitor's `[[influxdb]]` sections, with a durable per-sink buffer.
//! - [`file`]: the embedded default with no database: line protocol in files, one per database.
//!
//! The binary wires [`SinkManager`]: it owns every configured sink, hands points to them
//! without blocking ([`SinkManager::send`]) and reports their state ([`SinkManager::stats`]).

pub mod buffer;
pub mod ci;
mod error;
pub mod file;
pub mod influxdb;
mod manager;
pub mod state;

pub use error::SinkError;
pub use file::FileSink;
pub use influxdb::config::{ApiVersion, BufferKind, InfluxDbConfig};
pub use manager::{SinkManager, SinkStats};
