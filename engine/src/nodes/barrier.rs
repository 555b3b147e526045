//! `barrier()`: on the task clock, sends a barrier per group downstream so windows emit
//! without waiting for the group's next point (Kapacitor's `BarrierNode`).
//!
//! - `.idle(d)`: after `d` of clock time without a message in the group, a barrier at the
//!   group's latest data time plus `d`; then one more every `d` while the group stays quiet,
//!   each `d` later in data time.
//! - `.period(d)`: every `d` of clock time from the group's first message, a barrier at the
//!   clock time.
//! - `.delete(TRUE)`: every node forgets the group after its barrier (the barrier node too,
//!   until the group's next message).
//!
//! Messages (and barriers from upstream) older than the group's latest barrier are dropped.

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::BarrierSpec;

use crate::message::{Barrier, Group, Message};
use crate::nodes::{Context, Node};

/// Most barriers one group emits in one tick when the clock jumped far ahead.
const MAX_CATCH_UP: usize = 1_000;

struct GroupBarrier {
    group: Group,
    /// Data time of the latest message (or barrier), the base of idle barriers.
    last_time: i64,
    /// Clock time of the latest message, or of the latest idle barrier.
    last_activity: i64,
    /// Time of the latest barrier: older messages are dropped.
    last_barrier: i64,
    /// Clock time of the next periodic barrier.
    next_period: i64,
}

/// Runtime state of `barrier()`.
pub struct BarrierNode {
    idle: Option<i64>,
    period: Option<i64>,
    delete: bool,
    groups: HashMap<String, GroupBarrier>,
    pending: Vec<Barrier>,
}

impl BarrierNode {
    /// Build from the spec (the dsl guarantees exactly one positive `idle` or `period`).
    pub fn new(spec: &BarrierSpec) -> Result<BarrierNode, String> {
        let positive = |duration: Option<weir_dsl::Duration>| {
            duration
                .map(|duration| duration.nanos())
                .filter(|nanos| *nanos > 0)
        };
        let (idle, period) = (positive(spec.idle), positive(spec.period));
        if idle.is_none() && period.is_none() {
            return Err(
                "barrier node must have either a non zero idle or a non zero period".into(),
            );
        }
        Ok(BarrierNode {
            idle,
            period,
            delete: spec.delete,
            groups: HashMap::default(),
            pending: Vec::new(),
        })
    }

    fn state(&mut self, group: &Group, now: i64) -> &mut GroupBarrier {
        let period = self.period.unwrap_or(0);
        self.groups
            .entry(group.id.clone())
            .or_insert_with(|| GroupBarrier {
                group: group.clone(),
                // Kapacitor starts the idle base at the clock time the group appeared.
                last_time: now,
                last_activity: now,
                last_barrier: i64::MIN,
                next_period: now.saturating_add(period),
            })
    }
}

impl Node for BarrierNode {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let state = self.state(message.group(), now);
        let message = match message {
            Message::Point(point) => {
                if point.point.time < state.last_barrier {
                    return;
                }
                state.last_time = point.point.time;
                Message::Point(point)
            }
            Message::Batch(mut batch) => {
                let last_barrier = state.last_barrier;
                batch.points.retain(|point| point.time >= last_barrier);
                if let Some(last) = batch.points.last() {
                    state.last_time = last.time;
                }
                Message::Batch(batch)
            }
        };
        state.last_activity = now;
        ctx.emit(message);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let mut ids: Vec<&String> = self.groups.keys().collect();
        ids.sort();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in ids {
            let Some(state) = self.groups.get_mut(&id) else {
                continue;
            };
            let mut deleted = false;
            for _ in 0..MAX_CATCH_UP {
                let time = match (self.idle, self.period) {
                    (Some(idle), _) if now.saturating_sub(state.last_activity) >= idle => {
                        state.last_activity = state.last_activity.saturating_add(idle);
                        state.last_time = state.last_time.saturating_add(idle);
                        state.last_time
                    }
                    (None, Some(period)) if now >= state.next_period => {
                        let time = state.next_period;
                        state.next_period = time.saturating_add(period);
                        time
                    }
                    _ => break,
                };
                state.last_barrier = time;
                self.pending.push(Barrier {
                    group: state.group.clone(),
                    time,
                    delete: self.delete,
                });
                if self.delete {
                    deleted = true;
                    break;
                }
            }
            if deleted {
                self.groups.remove(&id);
            } else if let Some(idle) = self.idle {
                // After a long gap, restart the idle timer from now.
                if now.saturating_sub(state.last_activity) >= idle {
                    state.last_activity = now;
                }
            }
        }
    }

    fn barrier(&mut self, barrier: &Barrier, ctx: &mut Context<'_>) -> bool {
        let now = ctx.now();
        let state = self.state(&barrier.group, now);
        if barrier.time < state.last_barrier {
            return false;
        }
        state.last_activity = now;
        state.last_time = barrier.time;
        state.last_barrier = barrier.time;
        if barrier.delete {
            self.groups.remove(barrier.group.id.as_str());
        }
        true
    }

    fn take_barriers(&mut self, out: &mut Vec<Barrier>) {
        out.append(&mut self.pending);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::Recorder;
    use crate::point::Point;
    use crate::task::Task;
    use std::sync::Arc;

    const S: i64 = 1_000_000_000;

    fn task(script: &str) -> (Task, Arc<Recorder>) {
        let script = format!("dbrp \"db\".\"rp\"\n{script}");
        let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recorder = Arc::new(Recorder::default());
        let task = Task::new("t", &program, recorder.clone()).unwrap();
        (task, recorder)
    }

    fn point(host: &str, secs: i64) -> Point {
        Point::gauge(
            "cpu",
            [("host".to_string(), host.to_string())].into(),
            1.0,
            secs * S,
        )
    }

    /// `(tmax, number of points)` of each posted window.
    fn windows(recorder: &Recorder) -> Vec<(String, usize)> {
        recorder
            .posts
            .lock()
            .unwrap()
            .iter()
            .map(|post| {
                let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
                let values = body["series"][0]["values"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                (
                    values
                        .first()
                        .and_then(|row| row[0].as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    values.len(),
                )
            })
            .collect()
    }

    #[test]
    fn idle_barriers_flush_the_last_window() {
        let (mut task, recorder) = task(
            "stream|from().measurement('cpu').groupBy('host')|barrier().idle(5s)\
             |window().period(10s).every(10s)|httpPost('http://127.0.0.1:1/w')",
        );
        // Data time and clock agree here: points at 1..3 s written at clock 1..3 s.
        for secs in 1..=3 {
            task.set_now(secs * S);
            task.write("db", "rp", vec![point("a", secs)]);
        }
        task.tick(7 * S);
        assert!(
            recorder.posts.lock().unwrap().is_empty(),
            "not idle for 5s yet"
        );
        // Idle since 3 s: a barrier at data time 3 + 5 = 8 s; the window [0, 10) is not due.
        task.tick(8 * S);
        assert!(recorder.posts.lock().unwrap().is_empty());
        // Still idle: the next barrier at 13 s closes the window ending at 10 s.
        task.tick(13 * S);
        assert_eq!(recorder.posts.lock().unwrap().len(), 1);
        let body = String::from_utf8(recorder.posts.lock().unwrap()[0].body.clone()).unwrap();
        assert_eq!(body.matches("1970-01-01T00:00:0").count(), 3, "{body}");
        // A point older than the latest barrier (13 s) is dropped.
        task.set_now(14 * S);
        task.write("db", "rp", vec![point("a", 12)]);
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["barrier2"]["collected"], 4);
        assert_eq!(stats.node_stats["barrier2"]["emitted"], 3);
        assert_eq!(windows(&recorder).len(), 1);
    }

    #[test]
    fn periodic_barriers_with_delete_forget_groups() {
        let (mut task, recorder) = task(
            "stream|from().measurement('cpu').groupBy('host')|barrier().period(20s).delete(TRUE)\
             |window().period(10s).every(10s)|httpPost('http://127.0.0.1:1/w')",
        );
        task.set_now(100 * S);
        task.write("db", "rp", vec![point("a", 101), point("b", 102)]);
        task.tick(110 * S);
        assert!(recorder.posts.lock().unwrap().is_empty());
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["window3"]["working_cardinality"], 2);
        // Barriers at clock 120 s for both groups: the windows ending at 111 s and 112 s are
        // due, then the groups are forgotten everywhere.
        task.tick(120 * S);
        let got = windows(&recorder);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], ("1970-01-01T00:01:41Z".to_owned(), 1));
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["window3"]["working_cardinality"], 0);
        assert_eq!(stats.node_stats["barrier2"]["working_cardinality"], 0);
        // A new point starts the group again, even one older than the forgotten barrier.
        task.set_now(125 * S);
        task.write("db", "rp", vec![point("a", 115)]);
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["barrier2"]["working_cardinality"], 1);
        assert_eq!(stats.node_stats["window3"]["working_cardinality"], 1);
    }

    #[test]
    fn a_barrier_needs_idle_or_period() {
        assert!(BarrierNode::new(&BarrierSpec::default()).is_err());
    }
}
