//! `stateDuration(lambda)`: adds how long the group has been in the state, in `.unit`s:
//! 0 at the first point where the predicate is true, `(t - start) / unit` while it stays
//! true, and -1 when it is false.
//!
//! As in Kapacitor: the duration is a float field (`.as`, default `state_duration`), a
//! point whose predicate fails to evaluate is dropped and counted as an error (the state
//! keeps its start), and on batch edges the state restarts with every batch.

use weir_dsl::nodes::StateDurationSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::message::{Message, PointScope};
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::{FieldValue, Point};

/// One group's state: the lambda's own state and when the state began.
#[derive(Default)]
struct GroupState {
    lambda: LambdaState,
    start: Option<i64>,
    /// When the group was last seen (the task's clock).
    last_seen: i64,
}

impl LastSeen for GroupState {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of `stateDuration()`.
pub struct StateDuration {
    predicate: Lambda,
    as_: String,
    unit: f64,
    groups: GroupStates<GroupState>,
}

impl StateDuration {
    /// Build from the spec.
    pub fn new(spec: &StateDurationSpec) -> StateDuration {
        StateDuration {
            predicate: spec.predicate.clone(),
            as_: spec.as_.clone(),
            // The dsl refuses a unit that is not positive.
            unit: spec.unit.nanos().max(1) as f64,
            groups: GroupStates::new(spec.group_ttl),
        }
    }

    /// Evaluate the predicate on `point` and add the duration; false when it failed.
    fn track(&self, state: &mut GroupState, point: &mut Point, ctx: &mut Context<'_>) -> bool {
        match self
            .predicate
            .eval_bool(&PointScope::new(point), &mut state.lambda)
        {
            Ok(in_state) => {
                let value = if in_state {
                    let start = *state.start.get_or_insert(point.time);
                    point.time.saturating_sub(start) as f64 / self.unit
                } else {
                    state.start = None;
                    -1.0
                };
                point
                    .fields
                    .insert(self.as_.as_str().into(), FieldValue::Float(value));
                true
            }
            Err(error) => {
                ctx.error(format!("stateDuration: {error}"));
                false
            }
        }
    }
}

impl Node for StateDuration {
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
                state.start = None;
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

    fn spec(script: &str) -> StateDurationSpec {
        spec_of(script, |spec| match spec {
            NodeSpec::StateDuration(spec) => Some(spec),
            _ => None,
        })
    }

    fn floats(out: &[Message], field: &str) -> Vec<f64> {
        out.iter()
            .map(|message| match message {
                Message::Point(point) => match point.point.fields.get(field) {
                    Some(FieldValue::Float(value)) => *value,
                    other => panic!("{field} is {other:?}"),
                },
                Message::Batch(_) => panic!("expected a point"),
            })
            .collect()
    }

    #[test]
    fn durations_in_units_per_group() {
        // Kapacitor's TestStream_StateDuration shape with .unit(1ms): 0, 1000, -1, 0.
        let mut node = StateDuration::new(&spec(
            "stream|from()|stateDuration(lambda: \"value\" > 95.0).unit(1ms)",
        ));
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        let inputs = vec![
            (0, value_point(0, 97.0, &a)),
            (0, value_point(0, 99.0, &b)),
            (0, value_point(1, 96.0, &a)),
            (0, value_point(2, 90.0, &a)),
            (0, value_point(3, 98.0, &a)),
            (0, value_point(3, 99.0, &b)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(
            floats(&out, "state_duration"),
            vec![0.0, 0.0, 1000.0, -1.0, 0.0, 3000.0]
        );
        assert_eq!(errors, 0);
    }

    #[test]
    fn default_unit_is_seconds_and_as_names_the_field() {
        let mut node = StateDuration::new(&spec(
            "stream|from()|stateDuration(lambda: \"value\" > 1.0).as('hot')",
        ));
        let g = group(&[]);
        let mut late = value_point(4, 5.0, &g);
        if let Message::Point(point) = &mut late {
            point.point.time += 500_000_000;
        }
        let mut bad = value_point(3, 5.0, &g);
        if let Message::Point(point) = &mut bad {
            point.point.fields.clear();
        }
        let inputs = vec![(0, value_point(1, 5.0, &g)), (0, bad), (0, late)];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(floats(&out, "hot"), vec![0.0, 3.5]);
        assert_eq!(errors, 1);
    }

    #[test]
    fn batches_restart_the_state() {
        let mut node = StateDuration::new(&spec(
            "stream|from()|stateDuration(lambda: \"value\" > 1.0)",
        ));
        let g = group(&[]);
        let inputs = vec![
            (0, batch(10, &[(1, 5.0), (3, 5.0), (4, 0.0)], &g)),
            (0, batch(20, &[(11, 5.0), (15, 5.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let durations: Vec<Vec<FieldValue>> = out
            .iter()
            .map(|message| match message {
                Message::Batch(batch) => batch
                    .points
                    .iter()
                    .map(|p| p.fields["state_duration"].clone())
                    .collect(),
                Message::Point(_) => panic!("expected a batch"),
            })
            .collect();
        use FieldValue::Float;
        assert_eq!(
            durations,
            vec![
                vec![Float(0.0), Float(2.0), Float(-1.0)],
                vec![Float(0.0), Float(4.0)]
            ]
        );
    }
}
