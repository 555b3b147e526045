//! `flatten()`: merges the points of a group that share a (rounded) time into one point whose
//! fields are named after the `.on` tag values: `<v1><delimiter><v2><delimiter><field>`.
//!
//! Kapacitor's `FlattenNode`, exactly:
//! - times are rounded to `.tolerance` (Go's `Time.Round`); a group buffers the points of its
//!   current time and flattens them when a point with another time arrives (on a stream
//!   edge the newest time therefore waits for the next point of the group);
//! - a point lacking one of the `.on` tags is an error and is left out;
//! - `.dropOriginalFieldName()` names each field by the tag values alone;
//! - the output carries only the group's tags and the group's name (its first point's
//!   measurement); a stream time whose points were all left out emits nothing;
//! - on batch edges each batch becomes a batch of flattened points, one per time, the last
//!   one emitted at the end of the batch.

use weir_dsl::nodes::FlattenSpec;

use crate::message::{Batch, Group, Message, TaskPoint};
use crate::nodes::combine::go_round;
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::{Fields, Point};

/// One group's buffer.
struct GroupBuffer {
    name: crate::point::Name,
    /// The (rounded) time of the buffered points; `None` before the first point of a batch.
    time: Option<i64>,
    points: Vec<Point>,
    /// When the group was last seen (the task's clock).
    last_seen: i64,
}

impl LastSeen for GroupBuffer {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of `flatten()`.
pub struct Flatten {
    spec: FlattenSpec,
    groups: GroupStates<GroupBuffer>,
}

impl Flatten {
    /// Build from the spec.
    pub fn new(spec: &FlattenSpec) -> Flatten {
        Flatten {
            spec: spec.clone(),
            groups: GroupStates::new(spec.group_ttl),
        }
    }

    /// Kapacitor's `flatten(points)`.
    fn flatten(&self, points: &[Point], ctx: &mut Context<'_>) -> Fields {
        let mut fields = crate::vec_map::VecMap::new();
        let mut prefix = String::new();
        'points: for point in points {
            prefix.clear();
            for (idx, tag) in self.spec.on.iter().enumerate() {
                let Some(value) = point.tags.get(tag) else {
                    ctx.error(format!(
                        "flatten: point missing tag for flatten operation: tag {tag} is missing \
                         from point"
                    ));
                    continue 'points;
                };
                if idx > 0 {
                    prefix.push_str(&self.spec.delimiter);
                }
                prefix.push_str(value);
            }
            for (field, value) in &point.fields {
                let mut name = prefix.clone();
                if !self.spec.drop_original_field_name {
                    if !name.is_empty() {
                        name.push_str(&self.spec.delimiter);
                    }
                    name.push_str(field);
                }
                fields.insert(name.into(), value.clone());
            }
        }
        Fields::from(fields)
    }

    /// Kapacitor's `addPoint`: buffer `point`; when the time moves on, the flattened fields
    /// of the previous time and that time.
    fn add_point(
        &self,
        buffer: &mut GroupBuffer,
        mut point: Point,
        ctx: &mut Context<'_>,
    ) -> Option<(i64, Fields)> {
        let time = go_round(point.time, self.spec.tolerance.nanos());
        point.time = time;
        let mut done = None;
        if buffer.time != Some(time) {
            if let (false, Some(previous)) = (buffer.points.is_empty(), buffer.time) {
                done = Some((previous, self.flatten(&buffer.points, ctx)));
                buffer.points.clear();
            }
            buffer.time = Some(time);
        }
        buffer.points.push(point);
        done
    }

    fn flat_point(name: &str, group: &Group, time: i64, fields: Fields) -> Point {
        Point {
            name: name.into(),
            tags: group.tags.clone(),
            fields,
            time,
        }
    }
}

impl Node for Flatten {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let mut groups = std::mem::take(&mut *self.groups);
        match message {
            Message::Point(TaskPoint { point, group }) => {
                let tolerance = self.spec.tolerance.nanos();
                let buffer = groups
                    .entry(group.id.clone())
                    .or_insert_with(|| GroupBuffer {
                        name: point.name.clone(),
                        time: Some(go_round(point.time, tolerance)),
                        points: Vec::new(),
                        last_seen: 0,
                    });
                buffer.last_seen = ctx.now();
                if let Some((time, fields)) = self.add_point(buffer, point, ctx) {
                    if !fields.is_empty() {
                        let point = Self::flat_point(&buffer.name, &group, time, fields);
                        ctx.emit(Message::Point(TaskPoint { point, group }));
                    }
                }
            }
            Message::Batch(batch) => {
                let buffer = groups
                    .entry(batch.group.id.clone())
                    .or_insert_with(|| GroupBuffer {
                        name: batch.name.clone(),
                        time: None,
                        points: Vec::new(),
                        last_seen: 0,
                    });
                buffer.last_seen = ctx.now();
                buffer.name = batch.name.clone();
                buffer.time = None;
                buffer.points.clear();
                let mut flat = Vec::new();
                for point in batch.points {
                    if let Some((time, fields)) = self.add_point(buffer, point, ctx) {
                        if !fields.is_empty() {
                            flat.push(Self::flat_point(&batch.name, &batch.group, time, fields));
                        }
                    }
                }
                if let (false, Some(time)) = (buffer.points.is_empty(), buffer.time) {
                    let fields = self.flatten(&buffer.points, ctx);
                    flat.push(Self::flat_point(&batch.name, &batch.group, time, fields));
                    buffer.points.clear();
                }
                ctx.emit(Message::Batch(Batch {
                    name: batch.name,
                    group: batch.group,
                    tmax: batch.tmax,
                    points: flat,
                }));
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
    use weir_dsl::Duration;

    const MS: i64 = 1_000_000;

    fn spec(on: &[&str], drop: bool) -> FlattenSpec {
        FlattenSpec {
            on: on.iter().map(|t| t.to_string()).collect(),
            delimiter: ".".into(),
            tolerance: Duration(1_000 * MS),
            drop_original_field_name: drop,
            group_ttl: None,
        }
    }

    fn disk_point(millis: i64, path: &str, used: i64, group: &Group) -> Message {
        let mut tags = group.tags.clone();
        tags.insert("path".into(), path.into());
        tags.insert("extra".into(), "x".into());
        Message::Point(TaskPoint {
            point: Point {
                name: "disk".into(),
                tags,
                fields: [
                    ("used".into(), FieldValue::Int(used)),
                    ("free".into(), FieldValue::Int(100 - used)),
                ]
                .into(),
                time: millis * MS,
            },
            group: group.clone(),
        })
    }

    fn fields_of(message: &Message) -> Vec<String> {
        let Message::Point(point) = message else {
            panic!("expected a point")
        };
        point
            .point
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    #[test]
    fn flattens_same_time_points_into_one_with_group_tags_only() {
        let mut node = Flatten::new(&spec(&["path"], false));
        let host = group(&[("host", "a")]);
        let inputs = vec![
            (0, disk_point(10_200, "/", 40, &host)),
            (0, disk_point(9_900, "/var", 70, &host)),
            (0, disk_point(20_000, "/", 41, &host)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(errors, 0);
        assert_eq!(out.len(), 1, "the newest time waits for the next point");
        assert_eq!(
            fields_of(&out[0]),
            vec!["/.free=60", "/.used=40", "/var.free=30", "/var.used=70"]
        );
        let Message::Point(point) = &out[0] else {
            panic!()
        };
        assert_eq!(point.point.time, 10_000 * MS);
        assert_eq!(point.point.name, "disk");
        assert_eq!(point.point.tags, host.tags);
    }

    #[test]
    fn missing_tags_are_errors_and_drop_original_field_name_uses_values_only() {
        let mut node = Flatten::new(&spec(&["path", "host"], true));
        let host = group(&[("host", "a")]);
        let mut missing = disk_point(1_000, "/tmp", 1, &host);
        if let Message::Point(point) = &mut missing {
            point.point.tags.remove("host");
        }
        let inputs = vec![
            (0, disk_point(1_000, "/", 40, &host)),
            (0, missing),
            (0, disk_point(2_000, "/", 41, &host)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(errors, 1);
        // Both fields of the point land on the same name; the last one (sorted: used) wins.
        assert_eq!(fields_of(&out[0]), vec!["/.a=40"]);
    }

    #[test]
    fn batches_become_batches_of_flattened_points() {
        let mut node = Flatten::new(&spec(&["path"], false));
        let host = group(&[("host", "a")]);
        let message = |secs: i64, rows: &[(i64, &str, i64)]| {
            let points = rows
                .iter()
                .map(
                    |(ms, path, used)| match disk_point(*ms, path, *used, &host) {
                        Message::Point(point) => point.point,
                        Message::Batch(_) => unreachable!(),
                    },
                )
                .collect();
            Message::Batch(Batch {
                name: "disk".into(),
                group: host.clone(),
                tmax: secs * 1_000 * MS,
                points,
            })
        };
        let inputs = vec![(
            0,
            message(10, &[(1_000, "/", 1), (1_000, "/var", 2), (2_000, "/", 3)]),
        )];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let Message::Batch(batch) = &out[0] else {
            panic!("expected a batch")
        };
        assert_eq!(batch.tmax, 10_000 * MS);
        let rows: Vec<(i64, usize)> = batch
            .points
            .iter()
            .map(|p| (p.time / MS, p.fields.len()))
            .collect();
        assert_eq!(rows, vec![(1_000, 4), (2_000, 2)]);
        assert_eq!(batch.points[0].tags, host.tags);
    }
}
