//! InfluxDB line protocol parsing for `/write` and recorded test data.
//!
//! FIXME: placeholder; the sinks work lands the implementation here.
