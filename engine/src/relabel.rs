//! Prometheus relabelling (`relabel_configs`, `metric_relabel_configs`).
//!
//! FIXME: placeholder; the discoverers work lands the implementation here so that both
//! discoverers and scrapers can use it without depending on each other.
