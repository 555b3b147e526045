//! `changeDetect(field...)`: passes the first point of each group and every point where any
//! watched field differs from the last point that passed.
//!
//! As in Kapacitor: the comparison is against the last point *emitted* (not the last seen),
//! values of different types differ (`1` vs `1.0`), a point lacking a watched field counts an
//! error for that field and that field does not count as a change, and on batch edges the
//! memory restarts with every batch.

use weir_dsl::nodes::ChangeDetectSpec;

use crate::message::Message;
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::Fields;

/// Runtime state of `changeDetect()`.
pub struct ChangeDetect {
    fields: Vec<String>,
    /// Per group: the watched fields of the last point that passed.
    previous: GroupStates<GroupPrevious>,
}

/// One group's memory and when it was last seen (the task's clock).
struct GroupPrevious {
    fields: Option<Fields>,
    last_seen: i64,
}

impl LastSeen for GroupPrevious {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

impl ChangeDetect {
    /// Build from the spec.
    pub fn new(spec: &ChangeDetectSpec) -> ChangeDetect {
        ChangeDetect {
            fields: spec.fields.clone(),
            previous: GroupStates::new(spec.group_ttl),
        }
    }

    /// Whether `current` differs from `previous`; remembers it when it does.
    fn changed(
        watched: &[String],
        previous: &mut Option<Fields>,
        current: &Fields,
        ctx: &mut Context<'_>,
    ) -> bool {
        let mut changed = false;
        for field in watched {
            let Some(value) = current.get(field.as_str()) else {
                ctx.error(format!("changeDetect: expected field {field} not found"));
                continue;
            };
            if previous
                .as_ref()
                .and_then(|fields| fields.get(field.as_str()))
                != Some(value)
            {
                changed = true;
                break;
            }
        }
        if changed {
            *previous = Some(
                watched
                    .iter()
                    .filter_map(|field| {
                        Some((field.as_str().into(), current.get(field.as_str())?.clone()))
                    })
                    .collect(),
            );
        }
        changed
    }
}

impl Node for ChangeDetect {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(task_point) => {
                let mut previous = self
                    .previous
                    .remove(task_point.group.id.as_str())
                    .and_then(|group| group.fields);
                let changed =
                    Self::changed(&self.fields, &mut previous, &task_point.point.fields, ctx);
                self.previous.insert(
                    task_point.group.id.clone(),
                    GroupPrevious {
                        fields: previous,
                        last_seen: ctx.now(),
                    },
                );
                if changed {
                    ctx.emit(Message::Point(task_point));
                }
            }
            Message::Batch(mut batch) => {
                let mut previous = None;
                batch
                    .points
                    .retain(|point| Self::changed(&self.fields, &mut previous, &point.fields, ctx));
                self.previous.insert(
                    batch.group.id.clone(),
                    GroupPrevious {
                        fields: previous,
                        last_seen: ctx.now(),
                    },
                );
                ctx.emit(Message::Batch(batch));
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        self.previous.expire(ctx.now());
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        self.previous.on_barrier(barrier);
        true
    }

    fn cardinality(&self) -> usize {
        self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::TaskPoint;
    use crate::nodes::test_support::*;
    use crate::point::FieldValue;

    fn spec(fields: &[&str]) -> ChangeDetectSpec {
        ChangeDetectSpec {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            group_ttl: None,
        }
    }

    fn with_fields(secs: i64, fields: &[(&str, FieldValue)], g: &crate::message::Group) -> Message {
        let mut message = value_point(secs, 0.0, g);
        if let Message::Point(TaskPoint { point, .. }) = &mut message {
            point.fields = fields
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect();
        }
        message
    }

    #[test]
    fn passes_first_point_and_changes_per_group() {
        let mut node = ChangeDetect::new(&spec(&["value"]));
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        let inputs = [
            (0, 1.0, &a),
            (1, 1.0, &a),
            (1, 1.0, &b),
            (2, 2.0, &a),
            (3, 2.0, &a),
            (3, 1.0, &b),
            (4, 1.0, &a),
        ]
        .into_iter()
        .map(|(t, v, g)| (0, value_point(t, v, g)))
        .collect();
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        let times: Vec<(i64, f64)> = out
            .iter()
            .map(|m| (m.time() / 1_000_000_000, float(m, "value")))
            .collect();
        assert_eq!(times, vec![(0, 1.0), (1, 1.0), (2, 2.0), (4, 1.0)]);
        assert_eq!(errors, 0);
    }

    #[test]
    fn compares_with_the_last_passed_point_and_types_differ() {
        let mut node = ChangeDetect::new(&spec(&["a", "b"]));
        let g = group(&[]);
        let inputs = vec![
            (
                0,
                with_fields(
                    0,
                    &[("a", FieldValue::Int(1)), ("b", FieldValue::Int(1))],
                    &g,
                ),
            ),
            // Only b is present: a counts an error, b is unchanged.
            (0, with_fields(1, &[("b", FieldValue::Int(1))], &g)),
            // 1.0 is not 1i.
            (
                0,
                with_fields(
                    2,
                    &[("a", FieldValue::Float(1.0)), ("b", FieldValue::Int(1))],
                    &g,
                ),
            ),
            (
                0,
                with_fields(
                    3,
                    &[("a", FieldValue::Float(1.0)), ("b", FieldValue::Int(2))],
                    &g,
                ),
            ),
            (
                0,
                with_fields(
                    4,
                    &[("a", FieldValue::Float(1.0)), ("b", FieldValue::Int(2))],
                    &g,
                ),
            ),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        let times: Vec<i64> = out.iter().map(|m| m.time() / 1_000_000_000).collect();
        assert_eq!(times, vec![0, 2, 3]);
        assert_eq!(errors, 1);
    }

    #[test]
    fn batches_restart_the_comparison() {
        let mut node = ChangeDetect::new(&spec(&["value"]));
        let g = group(&[]);
        let inputs = vec![
            (0, batch(10, &[(1, 1.0), (2, 1.0), (3, 2.0)], &g)),
            (0, batch(20, &[(11, 2.0), (12, 2.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let kept: Vec<Vec<i64>> = out
            .iter()
            .map(|message| match message {
                Message::Batch(batch) => batch
                    .points
                    .iter()
                    .map(|p| p.time / 1_000_000_000)
                    .collect(),
                Message::Point(_) => panic!("expected a batch"),
            })
            .collect();
        assert_eq!(kept, vec![vec![1, 3], vec![11]]);
    }
}
