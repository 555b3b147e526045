//! weir's sinks (encoder only, while the rest is written).
pub mod influxdb {
    pub mod encode;
}
