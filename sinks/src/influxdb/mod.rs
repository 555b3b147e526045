//! The InfluxDB sink: `[[influxdb]]` config, pure line-protocol encoding, and the HTTP client
//! with retries, fail-over, partial-write handling and database creation.

pub mod client;
pub mod config;
pub mod encode;
