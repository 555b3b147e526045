//! `groupBy(tags... | *)`: on streams, gives each point a new group; on batches, splits
//! each batch into one batch per new group, emitted when a batch with another time arrives
//! (Kapacitor's one-batch delay) or when the task stops.

use weir_dsl::nodes::{GroupBySpec, GroupDimensions};

use crate::message::{Batch, Group, GroupInterner, Message, TaskPoint};
use crate::nodes::{Context, Node};

/// Runtime state of `groupBy()`.
pub struct GroupBy {
    dimensions: GroupDimensions,
    groups: GroupInterner,
    pending_tmax: Option<i64>,
    pending: Vec<Batch>,
}

impl GroupBy {
    /// Build from the spec.
    pub fn new(spec: &GroupBySpec) -> GroupBy {
        GroupBy {
            dimensions: spec.dimensions.clone(),
            groups: GroupInterner::default(),
            pending_tmax: None,
            pending: Vec::new(),
        }
    }

    fn flush(&mut self, ctx: &mut Context<'_>) {
        for batch in self.pending.drain(..) {
            ctx.emit(Message::Batch(batch));
        }
        self.pending_tmax = None;
    }
}

impl Node for GroupBy {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(TaskPoint { point, .. }) => {
                let group = self.groups.intern(&point, &self.dimensions);
                ctx.emit(Message::Point(TaskPoint { point, group }));
            }
            Message::Batch(batch) => {
                if self.pending_tmax.is_some_and(|tmax| tmax != batch.tmax) {
                    self.flush(ctx);
                }
                self.pending_tmax = Some(batch.tmax);
                for point in batch.points {
                    let group: Group = self.groups.intern(&point, &self.dimensions);
                    match self
                        .pending
                        .iter_mut()
                        .find(|pending| pending.group.id == group.id)
                    {
                        Some(pending) => pending.points.push(point),
                        None => self.pending.push(Batch {
                            name: batch.name.clone(),
                            group,
                            tmax: batch.tmax,
                            points: vec![point],
                        }),
                    }
                }
            }
        }
    }

    fn stop(&mut self, ctx: &mut Context<'_>) {
        self.flush(ctx);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn regroups_points_and_batches() {
        let spec = GroupBySpec {
            dimensions: GroupDimensions {
                tags: vec!["extra".into()],
                ..Default::default()
            },
        };
        let mut node = GroupBy::new(&spec);
        let recorder = Recorder::default();
        let nil = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, value_point(1, 1.0, &nil))],
            &recorder,
            false,
        );
        assert_eq!(out[0].group().id, "extra=x");
        let inputs = vec![
            (0, batch(10, &[(1, 1.0), (2, 2.0)], &nil)),
            (0, batch(10, &[(3, 1.0)], &nil)),
        ];
        let (out, _) = run(&mut node, inputs, &recorder, false);
        assert!(
            out.is_empty(),
            "held until a batch with another time arrives"
        );
        let (out, _) = run(
            &mut node,
            vec![(0, batch(20, &[(11, 1.0)], &nil))],
            &recorder,
            true,
        );
        assert_eq!(out.len(), 2);
        let Message::Batch(first) = &out[0] else {
            panic!()
        };
        assert_eq!((first.tmax, first.points.len()), (10_000_000_000, 3));
        assert_eq!(first.group.id, "extra=x");
    }
}
