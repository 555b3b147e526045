//! weir's sinks (work in progress build).
pub mod buffer;
pub mod influxdb {
    pub mod config;
    pub mod encode;
}
