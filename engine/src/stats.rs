//! Per-node and per-task counters, readable while the task runs, in Kapacitor's JSON shape.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters of one node; written by the task thread, read by the API.
#[derive(Debug, Default)]
pub struct NodeStats {
    collected: AtomicU64,
    emitted: AtomicU64,
    errors: AtomicU64,
    cardinality: AtomicU64,
    /// Nanoseconds spent processing what the node collected.
    exec_nanos: AtomicU64,
    /// Alert nodes only: events per level (OK, INFO, WARNING, CRITICAL).
    alert_levels: Option<[AtomicU64; 4]>,
}

impl NodeStats {
    /// Counters for an alert node (with per-level counts).
    pub fn for_alert() -> NodeStats {
        NodeStats {
            alert_levels: Some(Default::default()),
            ..NodeStats::default()
        }
    }

    /// Messages received.
    pub fn add_collected(&self, n: u64) {
        self.collected.fetch_add(n, Ordering::Relaxed);
    }

    /// Messages sent.
    pub fn add_emitted(&self, n: u64) {
        self.emitted.fetch_add(n, Ordering::Relaxed);
    }

    /// One error.
    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Time spent processing one inbox of messages.
    pub fn add_exec_time(&self, elapsed: std::time::Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.exec_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Set the number of groups with state.
    pub fn set_cardinality(&self, n: usize) {
        self.cardinality.store(n as u64, Ordering::Relaxed);
    }

    /// One alert event at `level` (0 = OK ... 3 = CRITICAL).
    pub fn add_alert(&self, level: usize) {
        if let Some(levels) = &self.alert_levels {
            if let Some(counter) = levels.get(level) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counters under Kapacitor's names.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        out.insert(
            "collected".to_owned(),
            self.collected.load(Ordering::Relaxed),
        );
        out.insert("emitted".to_owned(), self.emitted.load(Ordering::Relaxed));
        out.insert("errors".to_owned(), self.errors.load(Ordering::Relaxed));
        out.insert(
            "working_cardinality".to_owned(),
            self.cardinality.load(Ordering::Relaxed),
        );
        // Kapacitor's average execution time per message (weir averages over the node's life).
        let collected = self.collected.load(Ordering::Relaxed);
        out.insert(
            "avg_exec_time_ns".to_owned(),
            self.exec_nanos.load(Ordering::Relaxed) / collected.max(1),
        );
        if let Some(levels) = &self.alert_levels {
            let names = [
                "oks_triggered",
                "infos_triggered",
                "warns_triggered",
                "crits_triggered",
            ];
            let mut total = 0;
            for (name, counter) in names.iter().zip(levels) {
                let count = counter.load(Ordering::Relaxed);
                total += count;
                out.insert((*name).to_owned(), count);
            }
            out.insert("alerts_triggered".to_owned(), total);
        }
        out
    }
}

/// Points received per database, retention policy and measurement (Kapacitor's `ingress`
/// statistics, which `kapacitor stats ingress` lists).
#[derive(Debug, Default)]
pub struct IngressCounts {
    /// Database → retention policy → measurement → points.
    counts: std::sync::Mutex<IngressTree>,
}

type IngressTree =
    BTreeMap<String, BTreeMap<String, rustc_hash::FxHashMap<crate::point::Name, u64>>>;

impl IngressCounts {
    /// Count a batch: the points of each measurement are added up first, then the shared
    /// map is updated once per measurement (nothing is allocated for ones seen before).
    pub fn count(&self, batch: &crate::PointBatch) {
        let mut local: rustc_hash::FxHashMap<&str, u64> = rustc_hash::FxHashMap::default();
        let mut points = batch.points.iter().peekable();
        while let Some(first) = points.next() {
            let mut n = 1;
            while points.next_if(|point| point.name == first.name).is_some() {
                n += 1;
            }
            *local.entry(first.name.as_str()).or_insert(0) += n;
        }
        if local.is_empty() {
            return;
        }
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !counts.contains_key(&batch.database) {
            counts.insert(batch.database.clone(), BTreeMap::new());
        }
        let policies = counts.get_mut(&batch.database).expect("inserted above");
        if !policies.contains_key(&batch.retention_policy) {
            policies.insert(batch.retention_policy.clone(), Default::default());
        }
        let measurements = policies
            .get_mut(&batch.retention_policy)
            .expect("inserted above");
        for (measurement, n) in local {
            match measurements.get_mut(measurement) {
                Some(count) => *count += n,
                None => {
                    measurements.insert(measurement.into(), n);
                }
            }
        }
    }

    /// `((database, retention policy, measurement), points)`, sorted.
    pub fn snapshot(&self) -> Vec<((String, String, String), u64)> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rows = Vec::new();
        for (database, policies) in counts.iter() {
            for (policy, measurements) in policies {
                let mut sorted: Vec<_> = measurements.iter().collect();
                sorted.sort();
                for (measurement, n) in sorted {
                    rows.push((
                        (database.clone(), policy.clone(), measurement.to_string()),
                        *n,
                    ));
                }
            }
        }
        rows
    }
}

/// Task-wide counters in `task-stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskSummary {
    /// Points per second over the task's life (Kapacitor reports a moving rate).
    pub throughput: f64,
    /// weir: points queued for the task and not yet taken (its backlog).
    pub queued_points: u64,
    /// weir: how long the last batch the task took had waited in its queue: how far the
    /// task is behind its writers.
    pub lag_seconds: f64,
}

/// A task's statistics as Kapacitor's task JSON shows them under `stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskStats {
    /// Task-wide counters.
    #[serde(rename = "task-stats")]
    pub task_stats: TaskSummary,
    /// Counters per node name (`window2`): collected, emitted, errors, ...
    #[serde(rename = "node-stats")]
    pub node_stats: BTreeMap<String, BTreeMap<String, u64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_stats_count_levels() {
        let stats = NodeStats::for_alert();
        stats.add_collected(3);
        stats.add_alert(3);
        stats.add_alert(0);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot["collected"], 3);
        assert_eq!(snapshot["crits_triggered"], 1);
        assert_eq!(snapshot["alerts_triggered"], 2);
        let plain = NodeStats::default().snapshot();
        assert!(!plain.contains_key("alerts_triggered"));
        let task = TaskStats {
            node_stats: [("alert2".into(), snapshot)].into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(json["node-stats"]["alert2"]["errors"], 0);
        assert_eq!(json["task-stats"]["throughput"], 0.0);
    }
}
