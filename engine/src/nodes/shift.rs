//! `shift(duration)`: moves point and batch times.

use weir_dsl::nodes::ShiftSpec;

use crate::message::Message;
use crate::nodes::{Context, Node};

/// Runtime state of `shift()`.
pub struct Shift {
    shift: i64,
}

impl Shift {
    /// Build from the spec.
    pub fn new(spec: &ShiftSpec) -> Shift {
        Shift {
            shift: spec.shift.nanos(),
        }
    }
}

impl Node for Shift {
    fn process(&mut self, _port: usize, mut message: Message, ctx: &mut Context<'_>) {
        match &mut message {
            Message::Point(task_point) => {
                task_point.point.time = task_point.point.time.saturating_add(self.shift);
            }
            Message::Batch(batch) => {
                batch.tmax = batch.tmax.saturating_add(self.shift);
                for point in &mut batch.points {
                    point.time = point.time.saturating_add(self.shift);
                }
            }
        }
        ctx.emit(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Duration;

    #[test]
    fn shifts_points_and_batches() {
        let mut node = Shift::new(&ShiftSpec {
            shift: Duration(-1_000_000_000),
        });
        let g = group(&[]);
        let inputs = vec![
            (0, value_point(5, 1.0, &g)),
            (0, batch(10, &[(9, 1.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(out[0].time(), 4_000_000_000);
        let Message::Batch(batch) = &out[1] else {
            panic!()
        };
        assert_eq!(
            (batch.tmax, batch.points[0].time),
            (9_000_000_000, 8_000_000_000)
        );
    }
}
