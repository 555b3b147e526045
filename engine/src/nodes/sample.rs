//! `sample(n | duration)`: keeps every n-th point of each group, or the points whose time is
//! an exact multiple of the duration (Kapacitor's `t.Truncate(d) == t`).
//!
//! On batch edges the points inside each batch are sampled, the count restarting with every
//! batch; the batch itself always flows on, as in Kapacitor's `sampleGroup`.

use weir_dsl::nodes::{SampleRate, SampleSpec};

use crate::message::Message;
use crate::nodes::{Context, GroupStates, LastSeen, Node};

/// Nanoseconds from Go's zero time (0001-01-01T00:00:00Z) to the Unix epoch: Go truncates
/// and rounds times relative to its zero time, not to the epoch.
pub(crate) const GO_ZERO_TO_EPOCH_NS: i128 = 62_135_596_800 * 1_000_000_000;

/// Whether Go's `t.Truncate(step) == t` holds for `time` (Unix nanoseconds).
pub(crate) fn is_go_multiple(time: i64, step: i64) -> bool {
    step <= 0 || (time as i128 + GO_ZERO_TO_EPOCH_NS).rem_euclid(step as i128) == 0
}

/// One group's count and when it was last seen (the task's clock).
#[derive(Default)]
struct GroupCount {
    count: i64,
    last_seen: i64,
}

impl LastSeen for GroupCount {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of `sample()`.
pub struct Sample {
    rate: SampleRate,
    counts: GroupStates<GroupCount>,
}

impl Sample {
    /// Build from the spec.
    pub fn new(spec: &SampleSpec) -> Sample {
        Sample {
            rate: spec.rate.clone(),
            counts: GroupStates::new(spec.group_ttl),
        }
    }

    /// Kapacitor's `shouldKeep(count, t)`.
    fn keep(&self, count: i64, time: i64) -> bool {
        match &self.rate {
            SampleRate::Count(every) => count % (*every).max(1) == 0,
            SampleRate::Duration(interval) => is_go_multiple(time, interval.nanos()),
        }
    }
}

impl Node for Sample {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(task_point) => {
                let count = match self.counts.get_mut(task_point.group.id.as_str()) {
                    Some(count) => count,
                    None => self.counts.entry(task_point.group.id.clone()).or_default(),
                };
                count.last_seen = ctx.now();
                let seen = count.count;
                count.count = seen.wrapping_add(1);
                if self.keep(seen, task_point.point.time) {
                    ctx.emit(Message::Point(task_point));
                }
            }
            Message::Batch(mut batch) => {
                // The count restarts with every batch.
                let mut count = 0;
                batch.points.retain(|point| {
                    let keep = self.keep(count, point.time);
                    count += 1;
                    keep
                });
                self.counts.insert(
                    batch.group.id.clone(),
                    GroupCount {
                        count,
                        last_seen: ctx.now(),
                    },
                );
                ctx.emit(Message::Batch(batch));
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        self.counts.expire(ctx.now());
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        self.counts.on_barrier(barrier);
        true
    }

    fn cardinality(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Duration;

    const S: i64 = 1_000_000_000;

    #[test]
    fn count_keeps_the_first_of_every_n_per_group() {
        let mut node = Sample::new(&SampleSpec {
            rate: SampleRate::Count(2),
            group_ttl: None,
        });
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        let inputs = vec![
            (0, value_point(0, 1.0, &a)),
            (0, value_point(1, 2.0, &a)),
            (0, value_point(1, 10.0, &b)),
            (0, value_point(2, 3.0, &a)),
            (0, value_point(3, 4.0, &a)),
            (0, value_point(3, 11.0, &b)),
            (0, value_point(4, 12.0, &b)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        let values: Vec<f64> = out.iter().map(|m| float(m, "value")).collect();
        assert_eq!(values, vec![1.0, 10.0, 3.0, 12.0]);
        assert_eq!(errors, 0);
        assert_eq!(node.cardinality(), 2);
    }

    #[test]
    fn duration_keeps_exact_multiples_only() {
        let mut node = Sample::new(&SampleSpec {
            rate: SampleRate::Duration(Duration(10 * S)),
            group_ttl: None,
        });
        let g = group(&[]);
        let mut odd = value_point(20, 4.0, &g);
        if let Message::Point(point) = &mut odd {
            point.point.time += 1;
        }
        let inputs = vec![
            (0, value_point(10, 1.0, &g)),
            (0, value_point(15, 2.0, &g)),
            (0, value_point(30, 3.0, &g)),
            (0, odd),
            (0, value_point(-10, 5.0, &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let values: Vec<f64> = out.iter().map(|m| float(m, "value")).collect();
        assert_eq!(values, vec![1.0, 3.0, 5.0]);
    }

    #[test]
    fn go_zero_time_matters_for_steps_that_do_not_divide_a_day() {
        // 7 days: Go's multiples are counted from year 1 (a Monday), not from 1970.
        let week = 7 * 86_400 * S;
        assert!(!is_go_multiple(0, week));
        // 1970-01-05 was a Monday.
        assert!(is_go_multiple(4 * 86_400 * S, week));
        assert!(is_go_multiple(0, 3_600 * S));
    }

    #[test]
    fn batches_are_sampled_inside_with_the_count_restarting() {
        let mut node = Sample::new(&SampleSpec {
            rate: SampleRate::Count(2),
            group_ttl: None,
        });
        let g = group(&[]);
        let inputs = vec![
            (0, batch(10, &[(1, 1.0), (2, 2.0), (3, 3.0)], &g)),
            (0, batch(20, &[(11, 4.0), (12, 5.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let kept: Vec<Vec<i64>> = out
            .iter()
            .map(|message| match message {
                Message::Batch(batch) => batch.points.iter().map(|p| p.time / S).collect(),
                Message::Point(_) => panic!("expected a batch"),
            })
            .collect();
        assert_eq!(kept, vec![vec![1, 3], vec![11]]);
    }
}
