//! `stateCount(lambda)`: adds how many consecutive points of the group satisfied the
//! predicate (1, 2, 3...), or -1 when it is false.
//!
//! As in Kapacitor: the count is an integer field (`.as`, default `state_count`), a point
//! whose predicate fails to evaluate is dropped and counted as an error (the count keeps
//! its value), and on batch edges the count restarts with every batch.

use weir_dsl::nodes::StateCountSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::message::{Message, PointScope};
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::{FieldValue, Point};

/// One group's state: the lambda's own state and the running count.
#[derive(Default)]
struct GroupState {
    lambda: LambdaState,
    count: i64,
    /// When the group was last seen (the task's clock).
    last_seen: i64,
}

impl LastSeen for GroupState {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of `stateCount()`.
pub struct StateCount {
    predicate: Lambda,
    as_: String,
    groups: GroupStates<GroupState>,
}

impl StateCount {
    /// Build from the spec.
    pub fn new(spec: &StateCountSpec) -> StateCount {
        StateCount {
            predicate: spec.predicate.clone(),
            as_: spec.as_.clone(),
            groups: GroupStates::new(spec.group_ttl),
        }
    }

    /// Evaluate the predicate on `point` and add the count; false when it failed.
    fn track(&self, state: &mut GroupState, point: &mut Point, ctx: &mut Context<'_>) -> bool {
        match self
            .predicate
            .eval_bool(&PointScope::new(point), &mut state.lambda)
        {
            Ok(in_state) => {
                let value = if in_state {
                    state.count = state.count.saturating_add(1);
                    state.count
                } else {
                    state.count = 0;
                    -1
                };
                point
                    .fields
                    .insert(self.as_.as_str().into(), FieldValue::Int(value));
                true
            }
            Err(error) => {
                ctx.error(format!("stateCount: {error}"));
                false
            }
        }
    }
}

impl Node for StateCount {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let group_id = message.group().id.clone();
        let mut state = self.groups.remove(&group_id).unwrap_or_default();
        state.last_seen = ctx.now();
        match message {
            Message::Point(mut task_point) => {
                if self.track(&mut state, &mut task_point.point, ctx) {
                    ctx.emit(Message::Point(task_point));
                }
            }
            Message::Batch(mut batch) => {
                state.count = 0;
                batch
                    .points
                    .retain_mut(|point| self.track(&mut state, point, ctx));
                ctx.emit(Message::Batch(batch));
            }
        }
        self.groups.insert(group_id, state);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        self.groups.expire(ctx.now());
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        self.groups.on_barrier(barrier);
        true
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::NodeSpec;

    fn spec(script: &str) -> StateCountSpec {
        spec_of(script, |spec| match spec {
            NodeSpec::StateCount(spec) => Some(spec),
            _ => None,
        })
    }

    fn ints(out: &[Message], field: &str) -> Vec<i64> {
        out.iter()
            .map(|message| match message {
                Message::Point(point) => match point.point.fields.get(field) {
                    Some(FieldValue::Int(value)) => *value,
                    other => panic!("{field} is {other:?}"),
                },
                Message::Batch(_) => panic!("expected a point"),
            })
            .collect()
    }

    #[test]
    fn counts_consecutive_true_points_per_group() {
        // Kapacitor's TestStream_StateCount shape: 1, 2, -1, 1.
        let mut node = StateCount::new(&spec("stream|from()|stateCount(lambda: \"value\" > 95.0)"));
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        let inputs = vec![
            (0, value_point(0, 97.0, &a)),
            (0, value_point(0, 10.0, &b)),
            (0, value_point(1, 96.0, &a)),
            (0, value_point(1, 99.0, &b)),
            (0, value_point(2, 90.0, &a)),
            (0, value_point(3, 98.0, &a)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(ints(&out, "state_count"), vec![1, -1, 2, 1, -1, 1]);
        assert_eq!(errors, 0);
        assert_eq!(node.cardinality(), 2);
    }

    #[test]
    fn failed_predicates_drop_the_point_and_keep_the_count() {
        let g = group(&[]);
        let mut node = StateCount::new(&spec(
            "stream|from()|stateCount(lambda: \"value\" > 1.0).as('n')",
        ));
        let mut bad = value_point(1, 5.0, &g);
        if let Message::Point(point) = &mut bad {
            point.point.fields.clear();
            point.point.fields.insert("x".into(), FieldValue::Int(1));
        }
        let inputs = vec![
            (0, value_point(0, 5.0, &g)),
            (0, bad),
            (0, value_point(2, 5.0, &g)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(errors, 1);
        assert_eq!(ints(&out, "n"), vec![1, 2]);
    }

    #[test]
    fn a_deleting_barrier_forgets_the_group() {
        use crate::message::Barrier;
        use crate::nodes::ErrorLog;
        use crate::stats::NodeStats;
        let mut node = StateCount::new(&spec("stream|from()|stateCount(lambda: \"value\" > 1.0)"));
        let g = group(&[("host", "a")]);
        let recorder = Recorder::default();
        let stats = NodeStats::default();
        let mut error_log = ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: &recorder,
            task: "test",
            node: "node1",
            stats: &stats,
            error_log: &mut error_log,
            now: 0,
        };
        node.process(0, value_point(1, 5.0, &g), &mut ctx);
        let barrier = |delete| Barrier {
            group: g.clone(),
            time: 2_000_000_000,
            delete,
        };
        assert!(node.barrier(&barrier(false), &mut ctx));
        node.process(0, value_point(3, 5.0, &g), &mut ctx);
        assert!(node.barrier(&barrier(true), &mut ctx));
        assert_eq!(node.cardinality(), 0);
        node.process(0, value_point(4, 5.0, &g), &mut ctx);
        assert_eq!(ints(&out, "state_count"), vec![1, 2, 1]);
    }

    #[test]
    fn group_ttl_forgets_idle_groups_on_ticks() {
        use crate::nodes::ErrorLog;
        use crate::stats::NodeStats;
        const S: i64 = 1_000_000_000;
        let mut node = StateCount::new(&spec(
            "stream|from()|stateCount(lambda: \"value\" > 1.0).groupTTL(10s)",
        ));
        let (a, b) = (group(&[("host", "a")]), group(&[("host", "b")]));
        let recorder = Recorder::default();
        let stats = NodeStats::default();
        let mut error_log = ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: &recorder,
            task: "test",
            node: "node1",
            stats: &stats,
            error_log: &mut error_log,
            now: 0,
        };
        node.process(0, value_point(0, 5.0, &a), &mut ctx);
        ctx.now = 5 * S;
        node.process(0, value_point(5, 5.0, &b), &mut ctx);
        ctx.now = 9 * S;
        node.tick(&mut ctx);
        assert_eq!(node.cardinality(), 2);
        ctx.now = 10 * S;
        node.tick(&mut ctx);
        assert_eq!(node.cardinality(), 1, "a was idle for 10s");
        node.process(0, value_point(10, 5.0, &a), &mut ctx);
        node.process(0, value_point(10, 5.0, &b), &mut ctx);
        assert_eq!(ints(&out, "state_count"), vec![1, 1, 1, 2]);
    }

    #[test]
    fn batches_restart_the_count() {
        let mut node = StateCount::new(&spec("stream|from()|stateCount(lambda: \"value\" > 1.0)"));
        let g = group(&[]);
        let inputs = vec![
            (0, batch(10, &[(1, 5.0), (2, 5.0), (3, 0.0), (4, 5.0)], &g)),
            (0, batch(20, &[(11, 5.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let counts: Vec<Vec<FieldValue>> = out
            .iter()
            .map(|message| match message {
                Message::Batch(batch) => batch
                    .points
                    .iter()
                    .map(|p| p.fields["state_count"].clone())
                    .collect(),
                Message::Point(_) => panic!("expected a batch"),
            })
            .collect();
        use FieldValue::Int;
        assert_eq!(
            counts,
            vec![vec![Int(1), Int(2), Int(-1), Int(1)], vec![Int(1)]]
        );
    }
}
