//! Central's watch over its remote collectors: every 10 s, one `weir_remotes` point per
//! enrolled collector into database `_weir` (so a TICKscript can alert on `missed`,
//! `duplicate_suspected` or `clock_skew_seconds`), and a log line when a collector misses
//! three heartbeat intervals or comes back. A missed heartbeat never revokes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use weir_sinks::state::remotes::{DUPLICATE_SUSPECTED, PENDING, REVOKED, RemoteRecord};

use crate::daemon::Daemon;
use crate::tasks::now_nanos;

/// The database the watch writes into.
pub const DATABASE: &str = "_weir";
/// Its measurement.
pub const MEASUREMENT: &str = "weir_remotes";
const EVERY: Duration = Duration::from_secs(10);

/// Whether a collector has missed three heartbeat intervals.
pub fn missed(record: &RemoteRecord, now_ns: i64) -> bool {
    let interval = record.heartbeat_interval_seconds.max(1.0);
    record.last_seen_ns > 0 && (now_ns - record.last_seen_ns) as f64 / 1e9 > 3.0 * interval
}

fn escape(value: &str) -> String {
    value
        .chars()
        .flat_map(|c| {
            let escape = matches!(c, ' ' | ',' | '=');
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// The line of one collector.
pub fn line(record: &RemoteRecord, now_ns: i64) -> String {
    let age = if record.last_seen_ns > 0 {
        (now_ns - record.last_seen_ns) as f64 / 1e9
    } else {
        -1.0
    };
    format!(
        "{MEASUREMENT},remote={},name={} status=\"{}\",missed={},duplicate_suspected={},last_seen_age_seconds={age},clock_skew_seconds={},queue_points={}i,dropped_points={}i {now_ns}",
        escape(&record.id),
        escape(&record.name),
        record.status,
        missed(record, now_ns),
        record.status == DUPLICATE_SUSPECTED,
        record.clock_skew_seconds,
        record.queue_points.min(i64::MAX as u64),
        record.dropped_points.min(i64::MAX as u64),
    )
}

/// Start the watch.
pub fn spawn(daemon: Arc<Daemon>) {
    tokio::spawn(async move {
        let mut missing: BTreeSet<String> = BTreeSet::new();
        let mut ticker = tokio::time::interval(EVERY);
        loop {
            ticker.tick().await;
            let Ok(records) = daemon.remotes.list() else {
                continue;
            };
            let now = now_nanos();
            let mut lines = String::new();
            for record in records
                .iter()
                .filter(|r| r.status != PENDING && r.status != REVOKED)
            {
                let is_missed = missed(record, now);
                if is_missed && missing.insert(record.id.clone()) {
                    tracing::warn!(remote = %record.id, name = %record.name, "remote collector missed three heartbeats");
                } else if !is_missed && missing.remove(&record.id) {
                    tracing::info!(remote = %record.id, name = %record.name, "remote collector heartbeats again");
                }
                lines.push_str(&line(record, now));
                lines.push('\n');
            }
            if lines.is_empty() {
                continue;
            }
            let (points, _) = weir_engine::line_protocol::parse(
                &lines,
                weir_engine::line_protocol::Precision::Nanoseconds,
                now,
            );
            let batch = weir_engine::PointBatch {
                database: DATABASE.to_owned(),
                retention_policy: "autogen".to_owned(),
                points,
            };
            daemon.ingress_counts.count(&batch);
            daemon.engine.write(batch).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_silent_for_three_intervals_is_missed() {
        let record = RemoteRecord {
            id: "r1".into(),
            name: "edge 1".into(),
            status: "active".into(),
            databases: vec![],
            created_ns: 0,
            token_expires_ns: 0,
            hostname: String::new(),
            os: String::new(),
            version: String::new(),
            instance_id: String::new(),
            last_seen_ns: 1_000_000_000,
            heartbeat_interval_seconds: 10.0,
            queue_points: 1,
            queue_bytes: 0,
            dropped_points: 2,
            clock_skew_seconds: 0.5,
            config_revision: 0,
            config_state: String::new(),
            config_error: String::new(),
            rotate_requested: false,
        };
        assert!(!missed(&record, 31_000_000_000));
        assert!(missed(&record, 31_000_000_001));
        let (points, errors) = weir_engine::line_protocol::parse(
            &line(&record, 40_000_000_000),
            weir_engine::line_protocol::Precision::Nanoseconds,
            0,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(points.len(), 1);
    }
}
