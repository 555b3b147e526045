//! `stateDuration(lambda)`: adds how long the group has been in the state, in `.unit`s:
//! 0 at the first point where the predicate is true, `(t - start) / unit` while it stays
//! true, and -1 when it is false: a float field (`.as`, default `state_duration`). The rest
//! is [`StateTracker`]'s, shared with `stateCount()`.

use weir_dsl::nodes::StateDurationSpec;

use crate::nodes::state_tracking::{Measure, StateTracker};
use crate::point::FieldValue;

/// `stateDuration`'s measure: time since the state began, in units.
pub struct Duration {
    unit: f64,
}

impl Measure for Duration {
    const NODE: &'static str = "stateDuration";
    /// When the state began.
    type State = Option<i64>;

    fn in_state(&self, start: &mut Option<i64>, time: i64) -> FieldValue {
        let start = *start.get_or_insert(time);
        FieldValue::Float(time.saturating_sub(start) as f64 / self.unit)
    }

    fn not_in_state(&self) -> FieldValue {
        FieldValue::Float(-1.0)
    }
}

/// Runtime state of `stateDuration()`.
pub type StateDuration = StateTracker<Duration>;

impl StateDuration {
    /// Build from the spec.
    pub fn new(spec: &StateDurationSpec) -> StateDuration {
        // The dsl refuses a unit that is not positive.
        let unit = spec.unit.nanos().max(1) as f64;
        StateTracker::with(
            &spec.predicate,
            &spec.as_,
            spec.group_ttl,
            Duration { unit },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
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
