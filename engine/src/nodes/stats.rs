//! `stats(interval)`: on wall-clock time, emits the parent node's counters per group as
//! points of measurement `stats` with the field `emitted` (Kapacitor's `StatsNode`).
//!
//! Kapacitor reads the counters of the parent's first output edge; here the node is a
//! child of that parent and counts what it receives, which is the same number: one per
//! point, and the number of points of each batch. The first emission is one interval after
//! the node starts (`.align()`: at the next multiple of the interval, stamped with the start
//! time rounded to the interval, as Kapacitor does); emissions are stamped with their
//! scheduled time, never with the (late) tick that triggered them.

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::StatsSpec;

use crate::message::{Group, GroupInfo, Message, TaskPoint};
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Point};

/// The measurement of the points `stats` emits.
pub const MEASUREMENT: &str = "stats";
/// The counter field.
pub const EMITTED: &str = "emitted";

/// When a clock fell this many intervals behind (a suspended host, a data clock jumping
/// ahead), the missed emissions are skipped instead of emitted one by one.
const MAX_CATCH_UP: i64 = 1_000;

/// Go's `time.Truncate` for times after the epoch (and floor before it).
fn truncate(time: i64, step: i64) -> i64 {
    time - time.rem_euclid(step)
}

/// Go's `time.Round`: halfway values round up.
fn round(time: i64, step: i64) -> i64 {
    let rest = time.rem_euclid(step);
    if rest.saturating_add(rest) < step {
        time - rest
    } else {
        time.saturating_add(step - rest)
    }
}

struct Counter {
    group: Group,
    emitted: i64,
}

/// Runtime state of `stats()` (also the first stage of `deadman()`).
pub struct Stats {
    interval: i64,
    align: bool,
    /// Scheduled clock time of the next emission, once the node saw the clock.
    next_emit: Option<i64>,
    /// With `.align()`: the stamp of the first emission (Kapacitor uses its start time).
    first_stamp: Option<i64>,
    counters: HashMap<String, Counter>,
}

impl Stats {
    /// Build from the spec.
    pub fn new(spec: &StatsSpec) -> Stats {
        Stats {
            interval: spec.interval.nanos().max(1),
            align: spec.align,
            next_emit: None,
            first_stamp: None,
            counters: HashMap::default(),
        }
    }

    /// Count one message of the parent.
    pub fn count(&mut self, message: &Message) {
        let n = match message {
            Message::Point(_) => 1,
            Message::Batch(batch) => batch.points.len() as i64,
        };
        let group = message.group();
        match self.counters.get_mut(group.id.as_str()) {
            Some(counter) => counter.emitted += n,
            None => {
                self.counters.insert(
                    group.id.clone(),
                    Counter {
                        group: group.clone(),
                        emitted: n,
                    },
                );
            }
        }
    }

    /// Start the schedule at clock time `now` if it has not started yet.
    fn start(&mut self, now: i64) {
        if self.next_emit.is_some() || now == i64::MIN {
            return;
        }
        if self.align {
            self.next_emit = Some(truncate(now, self.interval).saturating_add(self.interval));
            self.first_stamp = Some(round(now, self.interval));
        } else {
            self.next_emit = Some(now.saturating_add(self.interval));
        }
    }

    /// The counters as points stamped `time`, in group order; the nil group with 0 when
    /// no group was seen yet (Kapacitor's `nodeStatsByGroup`).
    fn points(&self, time: i64) -> Vec<Message> {
        let point = |group: &Group, emitted: i64| {
            Message::Point(TaskPoint {
                point: Point {
                    name: MEASUREMENT.into(),
                    tags: group.tags.clone(),
                    fields: [(EMITTED.into(), FieldValue::Int(emitted))].into(),
                    time,
                },
                group: group.clone(),
            })
        };
        if self.counters.is_empty() {
            return vec![point(&GroupInfo::nil(), 0)];
        }
        let mut counters: Vec<&Counter> = self.counters.values().collect();
        counters.sort_by(|a, b| a.group.id.cmp(&b.group.id));
        counters
            .into_iter()
            .map(|counter| point(&counter.group, counter.emitted))
            .collect()
    }

    /// Emit every emission that is due at clock time `now`, in time order.
    pub fn due(&mut self, now: i64) -> Vec<Message> {
        self.start(now);
        let Some(mut next) = self.next_emit else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if now.saturating_sub(next) / self.interval > MAX_CATCH_UP {
            // Like Go's ticker, drop what a slow receiver missed.
            let missed = now.saturating_sub(next) / self.interval;
            next = next.saturating_add(missed.saturating_mul(self.interval));
            self.first_stamp = None;
        }
        while now >= next {
            let stamp = match self.first_stamp.take() {
                Some(stamp) => stamp,
                None if self.align => round(next, self.interval),
                None => next,
            };
            out.extend(self.points(stamp));
            next = next.saturating_add(self.interval);
        }
        self.next_emit = Some(next);
        out
    }
}

impl Node for Stats {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        self.start(ctx.now());
        self.count(&message);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        for message in self.due(ctx.now()) {
            ctx.emit(message);
        }
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        if barrier.delete {
            // A deleted group is no longer counted (nor reported, so a deadman stops
            // alerting about it).
            self.counters.remove(barrier.group.id.as_str());
        }
        true
    }

    fn cardinality(&self) -> usize {
        self.counters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use crate::nodes::{Context, ErrorLog};
    use crate::stats::NodeStats;
    use weir_dsl::Duration;

    const S: i64 = 1_000_000_000;

    fn emitted(messages: &[Message]) -> Vec<(i64, String, i64)> {
        messages
            .iter()
            .map(|message| match message {
                Message::Point(point) => (
                    point.point.time / S,
                    point.group.id.clone(),
                    match point.point.fields[EMITTED] {
                        FieldValue::Int(n) => n,
                        _ => panic!("emitted is an integer"),
                    },
                ),
                Message::Batch(_) => panic!("stats emits points"),
            })
            .collect()
    }

    #[test]
    fn emits_counts_per_group_on_the_clock() {
        let mut node = Stats::new(&StatsSpec {
            interval: Duration(10 * S),
            align: false,
        });
        let recorder = Recorder::default();
        let stats = NodeStats::default();
        let mut error_log = ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: &recorder,
            task: "test",
            node: "stats1",
            stats: &stats,
            error_log: &mut error_log,
            now: 3 * S,
        };
        // Nothing seen yet: the nil group with 0.
        node.tick(&mut ctx);
        assert!(ctx.out.is_empty(), "the first interval has not passed");
        ctx.now = 13 * S;
        node.tick(&mut ctx);
        assert_eq!(emitted(ctx.out), vec![(13, "nil".to_owned(), 0)]);
        ctx.out.clear();
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        node.process(0, value_point(1, 1.0, &b), &mut ctx);
        node.process(0, value_point(2, 1.0, &a), &mut ctx);
        node.process(0, batch(3, &[(1, 1.0), (2, 2.0)], &a), &mut ctx);
        // A late tick emits the scheduled time; a tick far behind catches up per interval.
        ctx.now = 23 * S + S / 2;
        node.tick(&mut ctx);
        assert_eq!(
            emitted(ctx.out),
            vec![(23, "host=a".to_owned(), 3), (23, "host=b".to_owned(), 1)]
        );
        ctx.out.clear();
        ctx.now = 43 * S;
        node.tick(&mut ctx);
        let times: Vec<i64> = emitted(ctx.out).iter().map(|e| e.0).collect();
        assert_eq!(times, vec![33, 33, 43, 43]);
        if let Message::Point(point) = &ctx.out[0] {
            assert_eq!(point.point.name, MEASUREMENT);
            assert_eq!(point.point.tags["host"], "a");
        }
    }

    #[test]
    fn align_waits_for_the_boundary_and_rounds_the_first_stamp() {
        let mut node = Stats::new(&StatsSpec {
            interval: Duration(10 * S),
            align: true,
        });
        // Started at 3s: first emission at 10s, stamped round(3s) = 0s; then 20s, 30s.
        assert!(node.due(3 * S).is_empty());
        assert!(node.due(9 * S).is_empty());
        let times = |messages: Vec<Message>| -> Vec<i64> {
            messages.iter().map(|m| m.time() / S).collect()
        };
        assert_eq!(times(node.due(10 * S)), vec![0]);
        assert_eq!(times(node.due(31 * S)), vec![20, 30]);
        let mut late = Stats::new(&StatsSpec {
            interval: Duration(10 * S),
            align: true,
        });
        // Started at 7s: round(7s) = 10s.
        assert!(late.due(7 * S).is_empty());
        assert_eq!(times(late.due(10 * S)), vec![10]);
        assert_eq!(round(-5, 10), 0);
        assert_eq!(round(15, 10), 20);
        assert_eq!(truncate(-5, 10), -10);
    }

    #[test]
    fn a_task_emits_stats_of_a_node_and_of_the_stream_on_ticks() {
        let script = "dbrp \"db\".\"rp\"\n\
            var data = stream|from().measurement('cpu').groupBy('host')\n\
            data|stats(10s)|httpPost('http://127.0.0.1:1/node')\n\
            stream|stats(10s)|httpPost('http://127.0.0.1:1/stream')";
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recorder = std::sync::Arc::new(Recorder::default());
        let mut task = crate::task::Task::new("t", &program, recorder.clone()).unwrap();
        assert!(task.needs_ticks());
        task.tick(100 * S);
        let point = |host: &str, time: i64| {
            Point::gauge(
                "cpu",
                [("host".to_string(), host.to_string())].into(),
                1.0,
                time,
            )
        };
        task.set_now(101 * S);
        task.write(
            "db",
            "rp",
            vec![point("a", 1), point("b", 2), point("a", 3)],
        );
        task.write(
            "db",
            "rp",
            vec![Point::gauge("mem", Default::default(), 1.0, 4)],
        );
        task.tick(105 * S);
        assert!(recorder.posts.lock().unwrap().is_empty());
        task.tick(110 * S);
        let posts = recorder.posts.lock().unwrap();
        let bodies: Vec<(String, String)> = posts
            .iter()
            .map(|post| {
                (
                    post.url.clone(),
                    String::from_utf8(post.body.clone()).unwrap(),
                )
            })
            .collect();
        assert_eq!(bodies.len(), 3, "{bodies:?}");
        assert!(bodies[0].0.ends_with("/node"));
        assert!(bodies[0].1.contains("\"host\":\"a\""), "{}", bodies[0].1);
        assert!(
            bodies[0].1.contains("[\"1970-01-01T00:01:50Z\",2]"),
            "{}",
            bodies[0].1
        );
        assert!(bodies[1].1.contains("\"host\":\"b\""), "{}", bodies[1].1);
        assert!(bodies[2].0.ends_with("/stream"));
        assert!(bodies[2].1.contains(",4]"), "{}", bodies[2].1);
    }

    #[test]
    fn a_deleting_barrier_forgets_the_group() {
        let mut node = Stats::new(&StatsSpec {
            interval: Duration(10 * S),
            align: false,
        });
        let recorder = Recorder::default();
        let stats = NodeStats::default();
        let mut error_log = ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: &recorder,
            task: "test",
            node: "stats1",
            stats: &stats,
            error_log: &mut error_log,
            now: 0,
        };
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        node.process(0, value_point(1, 1.0, &a), &mut ctx);
        node.process(0, value_point(1, 1.0, &b), &mut ctx);
        let barrier = |group: &Group, delete| crate::message::Barrier {
            group: group.clone(),
            time: 5 * S,
            delete,
        };
        assert!(node.barrier(&barrier(&a, false), &mut ctx));
        assert_eq!(node.cardinality(), 2);
        assert!(node.barrier(&barrier(&a, true), &mut ctx));
        assert_eq!(node.cardinality(), 1);
        let groups: Vec<String> = node
            .due(10 * S)
            .iter()
            .map(|message| message.group().id.clone())
            .collect();
        assert_eq!(groups, ["host=b"]);
    }

    #[test]
    fn far_behind_clocks_skip_missed_emissions() {
        let mut node = Stats::new(&StatsSpec {
            interval: Duration(S),
            align: false,
        });
        assert!(node.due(0).is_empty());
        let out = node.due(1_000_000 * S);
        assert!(out.len() <= 2, "{} emissions", out.len());
        assert_eq!(out.last().unwrap().time(), 1_000_000 * S);
    }
}
