//! `combine(lambda...)`: combines the points of one group that share a (rounded) time into
//! every k-combination whose members match the k expressions in order, one point each.
//!
//! Kapacitor's `CombineNode`, exactly:
//! - times are rounded to `.tolerance` (Go's `Time.Round`); a group buffers the points of
//!   its current time and combines them when a point with another time arrives (on a stream
//!   edge the newest time therefore waits for the next point of the group);
//! - combinations are enumerated in index order (n choose k); each one is valid when every
//!   expression, in order, finds a matching member not yet taken, and becomes one point;
//! - the output point takes the group's name (its first point's measurement), fields
//!   `<as><delimiter><field>`, dimension tags unchanged and other tags prefixed like fields;
//! - more than `.max` combinations for one time is an error and nothing is emitted for it;
//! - on batch edges the points of each batch are combined per time and the buffer is
//!   emptied at the end of the batch; the output is always a stream of points.

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::CombineSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::message::{Group, Message, PointScope, TaskPoint};
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::{Fields, Point, Tags};

/// Go's `Time.Round(step)`: to the nearest multiple of `step` counted from Go's zero time
/// (year 1), halves rounded up; a step that is not positive leaves the time unchanged.
pub(crate) fn go_round(time: i64, step: i64) -> i64 {
    if step <= 0 {
        return time;
    }
    let absolute = time as i128 + crate::nodes::sample::GO_ZERO_TO_EPOCH_NS;
    let step = step as i128;
    let remainder = absolute.rem_euclid(step);
    let rounded = if remainder + remainder < step {
        absolute - remainder
    } else {
        absolute - remainder + step
    };
    (rounded - crate::nodes::sample::GO_ZERO_TO_EPOCH_NS).clamp(i64::MIN as i128, i64::MAX as i128)
        as i64
}

/// The number of k-combinations of n, or `None` when k > n; saturates instead of
/// overflowing.
fn n_choose_k(n: usize, k: usize) -> Option<u128> {
    if n < k {
        return None;
    }
    let mut count: u128 = 1;
    for i in 0..k as u128 {
        count = count.saturating_mul(n as u128 - i) / (i + 1);
    }
    Some(count)
}

/// One group's buffer.
struct GroupBuffer {
    group: Group,
    name: crate::point::Name,
    /// The (rounded) time of the buffered points; `None` before the first point of a batch.
    time: Option<i64>,
    points: Vec<Point>,
    /// Per expression: its stateful-function state, private to the group.
    states: Vec<LambdaState>,
    /// When the group was last seen (the task's clock).
    last_seen: i64,
}

impl LastSeen for GroupBuffer {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of `combine()`.
pub struct Combine {
    expressions: Vec<Lambda>,
    names: Vec<String>,
    delimiter: String,
    tolerance: i64,
    max: u128,
    groups: GroupStates<GroupBuffer>,
}

impl Combine {
    /// Build from the spec.
    pub fn new(spec: &CombineSpec) -> Combine {
        Combine {
            expressions: spec.expressions.clone(),
            names: spec.as_.clone(),
            delimiter: spec.delimiter.clone(),
            tolerance: spec.tolerance.nanos(),
            max: u128::try_from(spec.max).unwrap_or(0),
            groups: GroupStates::new(spec.group_ttl),
        }
    }

    fn buffer<'a>(
        groups: &'a mut HashMap<String, GroupBuffer>,
        n_expressions: usize,
        group: &Group,
        name: &str,
        first_time: i64,
    ) -> &'a mut GroupBuffer {
        groups
            .entry(group.id.clone())
            .or_insert_with(|| GroupBuffer {
                group: group.clone(),
                name: name.into(),
                // Kapacitor starts a group at its first point's time, unrounded.
                time: Some(first_time),
                points: Vec::new(),
                states: (0..n_expressions).map(|_| LambdaState::default()).collect(),
                last_seen: 0,
            })
    }

    /// Kapacitor's `addPoint`: buffer `point`, combining the buffer first when the time moves.
    fn add_point(&self, buffer: &mut GroupBuffer, mut point: Point, ctx: &mut Context<'_>) {
        let time = go_round(point.time, self.tolerance);
        point.time = time;
        if buffer.time == Some(time) {
            buffer.points.push(point);
        } else {
            self.combine(buffer, ctx);
            buffer.time = Some(time);
            buffer.points.clear();
            buffer.points.push(point);
        }
    }

    /// Emit every valid combination of the buffered points (the buffer is left as it is).
    fn combine(&self, buffer: &mut GroupBuffer, ctx: &mut Context<'_>) {
        let n = buffer.points.len();
        let k = self.expressions.len();
        if n == 0 {
            return;
        }
        // matches[expression][point]
        let mut matches = vec![vec![false; n]; k];
        for (point_idx, point) in buffer.points.iter().enumerate() {
            let scope = PointScope::new(point);
            for (expr_idx, (expression, state)) in
                self.expressions.iter().zip(&mut buffer.states).enumerate()
            {
                match expression.eval_bool(&scope, state) {
                    Ok(matched) => matches[expr_idx][point_idx] = matched,
                    Err(error) => ctx.error(format!("combine: expression {expr_idx}: {error}")),
                }
            }
        }
        let Some(count) = n_choose_k(n, k) else {
            return;
        };
        if count > self.max {
            ctx.error(format!(
                "combine: refusing to perform combination as total combinations {count} \
                 exceeds max combinations {}",
                self.max
            ));
            return;
        }
        let mut indices: Vec<usize> = (0..k).collect();
        let mut remaining = Vec::with_capacity(k);
        let mut set = Vec::with_capacity(k);
        loop {
            remaining.clear();
            remaining.extend_from_slice(&indices);
            set.clear();
            for expression_matches in &matches {
                match remaining
                    .iter()
                    .position(|&point_idx| expression_matches[point_idx])
                {
                    Some(position) => set.push(remaining.remove(position)),
                    None => break,
                }
            }
            if set.len() == k {
                let point = self.merge(buffer, &set);
                ctx.emit(Message::Point(TaskPoint {
                    point,
                    group: buffer.group.clone(),
                }));
            }
            // Next combination in lexicographic order.
            let Some(i) = (0..k).rev().find(|&i| indices[i] != i + n - k) else {
                return;
            };
            indices[i] += 1;
            for j in i + 1..k {
                indices[j] = indices[j - 1] + 1;
            }
        }
    }

    /// Merge the members of one combination into a point.
    fn merge(&self, buffer: &GroupBuffer, set: &[usize]) -> Point {
        let mut fields = crate::vec_map::VecMap::new();
        let mut tags = crate::vec_map::VecMap::new();
        for (member, &point_idx) in set.iter().enumerate() {
            let point = &buffer.points[point_idx];
            let prefix = format!("{}{}", self.names[member], self.delimiter);
            for (field, value) in &point.fields {
                fields.insert(
                    compact_str::format_compact!("{prefix}{field}"),
                    value.clone(),
                );
            }
            for (tag, value) in &point.tags {
                if buffer.group.tags.contains_key(tag) {
                    tags.insert(tag.clone(), value.clone());
                } else {
                    tags.insert(format!("{prefix}{tag}"), value.clone());
                }
            }
        }
        Point {
            name: buffer.name.clone(),
            tags: Tags::from(tags),
            fields: Fields::from(fields),
            time: go_round(buffer.points[set[0]].time, self.tolerance),
        }
    }
}

impl Node for Combine {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let n_expressions = self.expressions.len();
        let mut groups = std::mem::take(&mut *self.groups);
        match message {
            Message::Point(TaskPoint { point, group }) => {
                let buffer =
                    Self::buffer(&mut groups, n_expressions, &group, &point.name, point.time);
                buffer.last_seen = ctx.now();
                self.add_point(buffer, point, ctx);
            }
            Message::Batch(batch) => {
                let first_time = batch.points.first().map_or(batch.tmax, |p| p.time);
                let buffer = Self::buffer(
                    &mut groups,
                    n_expressions,
                    &batch.group,
                    &batch.name,
                    first_time,
                );
                buffer.last_seen = ctx.now();
                buffer.name = batch.name;
                buffer.time = None;
                for point in batch.points {
                    self.add_point(buffer, point, ctx);
                }
                self.combine(buffer, ctx);
                buffer.points.clear();
            }
        }
        *self.groups = groups;
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
    use crate::point::FieldValue;
    use weir_dsl::NodeSpec;

    const S: i64 = 1_000_000_000;

    fn spec(script: &str) -> CombineSpec {
        spec_of(script, |spec| match spec {
            NodeSpec::Combine(spec) => Some(spec),
            _ => None,
        })
    }

    fn service_point(millis: i64, service: &str, value: f64, group: &Group) -> Message {
        let mut tags = group.tags.clone();
        tags.insert("service".into(), service.into());
        Message::Point(TaskPoint {
            point: Point {
                name: "latency".into(),
                tags,
                fields: [("value".into(), FieldValue::Float(value))].into(),
                time: millis * 1_000_000,
            },
            group: group.clone(),
        })
    }

    fn summary(out: &[Message]) -> Vec<String> {
        out.iter()
            .map(|message| {
                let Message::Point(point) = message else {
                    panic!("expected a point")
                };
                let tags: Vec<String> = point
                    .point
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let fields: Vec<String> = point
                    .point
                    .fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!(
                    "{} {} [{}] [{}]",
                    point.point.name,
                    point.point.time / 1_000_000,
                    tags.join(","),
                    fields.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn pairs_one_service_with_every_other_point_of_the_same_time() {
        let mut node = Combine::new(&spec(
            "stream|from()|combine(lambda: \"service\" == 'auth', lambda: TRUE)\
             .as('auth', 'other').tolerance(1s)",
        ));
        let dc = group(&[("dc", "x")]);
        let inputs = vec![
            (0, service_point(10_100, "auth", 1.0, &dc)),
            (0, service_point(9_800, "db", 2.0, &dc)),
            (0, service_point(10_200, "web", 3.0, &dc)),
            // The next time combines the first three.
            (0, service_point(20_000, "auth", 4.0, &dc)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(errors, 0);
        assert_eq!(
            summary(&out),
            vec![
                "latency 10000 [auth.service=auth,dc=x,other.service=db] \
                 [auth.value=1,other.value=2]",
                "latency 10000 [auth.service=auth,dc=x,other.service=web] \
                 [auth.value=1,other.value=3]",
            ]
        );
    }

    #[test]
    fn expressions_take_members_in_order_and_all_pairs_come_out() {
        let mut node = Combine::new(&spec(
            "stream|from()|combine(lambda: TRUE, lambda: TRUE).as('a', 'b').delimiter('_')",
        ));
        let g = group(&[]);
        let inputs = vec![
            (0, service_point(1_000, "x", 1.0, &g)),
            (0, service_point(1_000, "y", 2.0, &g)),
            (0, service_point(1_000, "z", 3.0, &g)),
            (0, service_point(2_000, "x", 4.0, &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let pairs: Vec<(f64, f64)> = out
            .iter()
            .map(|m| (float(m, "a_value"), float(m, "b_value")))
            .collect();
        assert_eq!(pairs, vec![(1.0, 2.0), (1.0, 3.0), (2.0, 3.0)]);
    }

    #[test]
    fn too_many_combinations_is_an_error_and_emits_nothing() {
        let mut node = Combine::new(&spec(
            "stream|from()|combine(lambda: TRUE, lambda: TRUE).as('a', 'b').max(2)",
        ));
        let g = group(&[]);
        let inputs = vec![
            (0, service_point(1_000, "x", 1.0, &g)),
            (0, service_point(1_000, "y", 2.0, &g)),
            (0, service_point(1_000, "z", 3.0, &g)),
            (0, service_point(2_000, "x", 4.0, &g)),
            (0, service_point(2_000, "y", 5.0, &g)),
            (0, service_point(3_000, "x", 6.0, &g)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(errors, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(float(&out[0], "b.value"), 5.0);
    }

    #[test]
    fn batches_combine_per_time_and_flush_at_the_end() {
        let mut node = Combine::new(&spec(
            "stream|from()|combine(lambda: \"value\" < 2.5, lambda: \"value\" > 2.5).as('lo', 'hi')",
        ));
        let g = group(&[]);
        let inputs = vec![(0, batch(10, &[(1, 1.0), (1, 3.0), (2, 2.0), (2, 4.0)], &g))];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let rows: Vec<(i64, f64, f64)> = out
            .iter()
            .map(|m| (m.time() / S, float(m, "lo.value"), float(m, "hi.value")))
            .collect();
        assert_eq!(rows, vec![(1, 1.0, 3.0), (2, 2.0, 4.0)]);
    }

    #[test]
    fn rounding_follows_go() {
        assert_eq!(go_round(1_499, 1_000), 1_000);
        assert_eq!(go_round(1_500, 1_000), 2_000);
        assert_eq!(go_round(-1_500, 1_000), -1_000);
        assert_eq!(go_round(7, 0), 7);
        assert_eq!(n_choose_k(5, 2), Some(10));
        assert_eq!(n_choose_k(1, 2), None);
        assert_eq!(n_choose_k(300, 150).map(|c| c > 1_000_000), Some(true));
    }
}
