//! InfluxQL functions over batches (or same-time runs of a stream): aggregates, selectors
//! and transformations, with Kapacitor's output shapes (reference §2.3.2).

use std::cmp::Ordering;
use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::{AggregateFunction, AggregateSpec};

use crate::message::{Batch, Group, Message, TaskPoint};
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Fields, Point, Tags};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn of(value: &FieldValue) -> Option<Num> {
        match value {
            FieldValue::Int(value) => Some(Num::Int(*value)),
            FieldValue::Float(value) => Some(Num::Float(*value)),
            _ => None,
        }
    }

    fn float(self) -> f64 {
        match self {
            Num::Int(value) => value as f64,
            Num::Float(value) => value,
        }
    }

    fn field(self) -> FieldValue {
        match self {
            Num::Int(value) => FieldValue::Int(value),
            Num::Float(value) => FieldValue::Float(value),
        }
    }

    fn sub(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_sub(b)),
            (a, b) => Num::Float(a.float() - b.float()),
        }
    }

    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_add(b)),
            (a, b) => Num::Float(a.float() + b.float()),
        }
    }
}

fn compare_fields(a: &FieldValue, b: &FieldValue) -> Ordering {
    fn rank(value: &FieldValue) -> u8 {
        match value {
            FieldValue::Float(_) | FieldValue::Int(_) => 0,
            FieldValue::String(_) => 1,
            FieldValue::Bool(_) => 2,
            FieldValue::Null => 3,
        }
    }
    match (a, b) {
        (FieldValue::String(a), FieldValue::String(b)) => a.cmp(b),
        (FieldValue::Bool(a), FieldValue::Bool(b)) => a.cmp(b),
        _ => match (Num::of(a), Num::of(b)) {
            (Some(a), Some(b)) => a.float().total_cmp(&b.float()),
            _ => rank(a).cmp(&rank(b)),
        },
    }
}

/// What a reducer produced.
enum Reduced {
    Value(FieldValue),
    Selected(usize),
    Rows(Vec<(usize, FieldValue)>),
    Distinct(Vec<FieldValue>),
}

/// Running state of a transformation for one group (or one batch).
#[derive(Debug, Default)]
struct Transform {
    previous: Option<(i64, Num)>,
    window: VecDeque<f64>,
    sum: Option<Num>,
}

impl Transform {
    fn step(&mut self, function: &AggregateFunction, time: i64, value: Num) -> Option<FieldValue> {
        let previous = self.previous.replace((time, value));
        match function {
            AggregateFunction::Difference => previous.map(|(_, prev)| value.sub(prev).field()),
            AggregateFunction::MovingAverage(n) => {
                let n = usize::try_from(*n).unwrap_or(1).max(1);
                self.window.push_back(value.float());
                if self.window.len() > n {
                    self.window.pop_front();
                }
                (self.window.len() == n)
                    .then(|| FieldValue::Float(self.window.iter().sum::<f64>() / n as f64))
            }
            AggregateFunction::CumulativeSum => {
                let sum = match self.sum {
                    Some(sum) => sum.add(value),
                    None => value,
                };
                self.sum = Some(sum);
                Some(sum.field())
            }
            AggregateFunction::Elapsed(unit) => previous.map(|(prev_time, _)| {
                FieldValue::Int(time.saturating_sub(prev_time) / unit.nanos().max(1))
            }),
            _ => None,
        }
    }
}

struct Pending {
    name: crate::point::Name,
    group: Group,
    time: i64,
    points: Vec<Point>,
}

/// Runtime state of an InfluxQL function node.
pub struct Aggregate {
    function: AggregateFunction,
    field: String,
    as_: String,
    use_point_times: bool,
    pending: HashMap<String, Pending>,
    transforms: HashMap<String, Transform>,
}

impl Aggregate {
    /// Build from the spec.
    pub fn new(spec: &AggregateSpec) -> Aggregate {
        Aggregate {
            function: spec.function.clone(),
            field: spec.field.clone(),
            as_: spec.as_.clone(),
            use_point_times: spec.use_point_times,
            pending: HashMap::default(),
            transforms: HashMap::default(),
        }
    }

    fn is_transformation(&self) -> bool {
        matches!(
            self.function,
            AggregateFunction::Difference
                | AggregateFunction::MovingAverage(_)
                | AggregateFunction::CumulativeSum
                | AggregateFunction::Elapsed(_)
        )
    }

    fn numbers(&self, values: &[(usize, &FieldValue)]) -> Result<Vec<(usize, Num)>, String> {
        values
            .iter()
            .map(|(idx, value)| {
                Num::of(value).map(|num| (*idx, num)).ok_or_else(|| {
                    format!(
                        "{}: field {} is a {}, not a number",
                        self.function.name(),
                        self.field,
                        value.type_name()
                    )
                })
            })
            .collect()
    }

    fn reduce(&self, points: &[Point]) -> Result<Option<Reduced>, String> {
        let values: Vec<(usize, &FieldValue)> = points
            .iter()
            .enumerate()
            .filter_map(|(idx, point)| {
                point
                    .fields
                    .get(self.field.as_str())
                    .map(|value| (idx, value))
            })
            .collect();
        let all_int = values
            .iter()
            .all(|(_, value)| matches!(value, FieldValue::Int(_)));
        let reduced = match &self.function {
            AggregateFunction::Count => Reduced::Value(FieldValue::Int(values.len() as i64)),
            AggregateFunction::Sum => {
                let numbers = self.numbers(&values)?;
                let zero = if all_int {
                    Num::Int(0)
                } else {
                    Num::Float(0.0)
                };
                Reduced::Value(numbers.iter().fold(zero, |sum, (_, n)| sum.add(*n)).field())
            }
            AggregateFunction::Mean => {
                let numbers = self.numbers(&values)?;
                if numbers.is_empty() {
                    return Ok(None);
                }
                let sum: f64 = numbers.iter().map(|(_, n)| n.float()).sum();
                Reduced::Value(FieldValue::Float(sum / numbers.len() as f64))
            }
            AggregateFunction::Median => {
                let mut sorted: Vec<f64> = self
                    .numbers(&values)?
                    .iter()
                    .map(|(_, n)| n.float())
                    .collect();
                if sorted.is_empty() {
                    return Ok(None);
                }
                sorted.sort_by(f64::total_cmp);
                let mid = sorted.len() / 2;
                let median = if sorted.len() % 2 == 0 {
                    (sorted[mid - 1] + sorted[mid]) / 2.0
                } else {
                    sorted[mid]
                };
                Reduced::Value(FieldValue::Float(median))
            }
            AggregateFunction::Mode => {
                let mut sorted: Vec<&FieldValue> = values.iter().map(|(_, v)| *v).collect();
                sorted.sort_by(|a, b| compare_fields(a, b));
                let mut best: Option<(&FieldValue, usize)> = None;
                let mut run_start = 0;
                for idx in 1..=sorted.len() {
                    if idx == sorted.len()
                        || compare_fields(sorted[idx], sorted[run_start]) != Ordering::Equal
                    {
                        let run = idx - run_start;
                        if best.is_none_or(|(_, best_run)| run > best_run) {
                            best = Some((sorted[run_start], run));
                        }
                        run_start = idx;
                    }
                }
                match best {
                    Some((value, _)) => Reduced::Value(value.clone()),
                    None => return Ok(None),
                }
            }
            AggregateFunction::Spread => {
                let numbers = self.numbers(&values)?;
                let (Some(min), Some(max)) = (
                    numbers
                        .iter()
                        .map(|(_, n)| *n)
                        .min_by(|a, b| a.float().total_cmp(&b.float())),
                    numbers
                        .iter()
                        .map(|(_, n)| *n)
                        .max_by(|a, b| a.float().total_cmp(&b.float())),
                ) else {
                    return Ok(None);
                };
                Reduced::Value(max.sub(min).field())
            }
            AggregateFunction::Stddev => {
                let numbers: Vec<f64> = self
                    .numbers(&values)?
                    .iter()
                    .map(|(_, n)| n.float())
                    .collect();
                if numbers.len() < 2 {
                    return Ok(None);
                }
                let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
                let variance = numbers.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / (numbers.len() - 1) as f64;
                Reduced::Value(FieldValue::Float(variance.sqrt()))
            }
            AggregateFunction::First => {
                let first = values
                    .iter()
                    .min_by_key(|(idx, _)| (points[*idx].time, *idx));
                match first {
                    Some((idx, _)) => Reduced::Selected(*idx),
                    None => return Ok(None),
                }
            }
            AggregateFunction::Last => {
                let last = values
                    .iter()
                    .max_by_key(|(idx, _)| (points[*idx].time, *idx));
                match last {
                    Some((idx, _)) => Reduced::Selected(*idx),
                    None => return Ok(None),
                }
            }
            AggregateFunction::Min | AggregateFunction::Max => {
                let numbers = self.numbers(&values)?;
                let want_max = self.function == AggregateFunction::Max;
                let mut best: Option<(usize, Num)> = None;
                for (idx, number) in numbers {
                    let better = match best {
                        None => true,
                        Some((best_idx, best_number)) => {
                            let order = number.float().total_cmp(&best_number.float());
                            let order = if want_max { order } else { order.reverse() };
                            order == Ordering::Greater
                                || (order == Ordering::Equal
                                    && points[idx].time < points[best_idx].time)
                        }
                    };
                    if better {
                        best = Some((idx, number));
                    }
                }
                match best {
                    Some((idx, _)) => Reduced::Selected(idx),
                    None => return Ok(None),
                }
            }
            AggregateFunction::Percentile(percentile) => {
                let mut numbers = self.numbers(&values)?;
                numbers.sort_by(|a, b| a.1.float().total_cmp(&b.1.float()));
                let rank = (numbers.len() as f64 * percentile / 100.0 + 0.5).floor() as i64 - 1;
                match usize::try_from(rank)
                    .ok()
                    .and_then(|rank| numbers.get(rank))
                {
                    Some((idx, _)) => Reduced::Selected(*idx),
                    None => return Ok(None),
                }
            }
            AggregateFunction::Top { n, .. } | AggregateFunction::Bottom { n, .. } => {
                let mut numbers = self.numbers(&values)?;
                let top = matches!(self.function, AggregateFunction::Top { .. });
                numbers.sort_by(|a, b| {
                    let order = a.1.float().total_cmp(&b.1.float());
                    let order = if top { order.reverse() } else { order };
                    order
                        .then(points[a.0].time.cmp(&points[b.0].time))
                        .then(a.0.cmp(&b.0))
                });
                numbers.truncate(usize::try_from(*n).unwrap_or(0));
                numbers.sort_by_key(|(idx, _)| (points[*idx].time, *idx));
                Reduced::Rows(
                    numbers
                        .into_iter()
                        .map(|(idx, n)| (idx, n.field()))
                        .collect(),
                )
            }
            AggregateFunction::Distinct => {
                // Kapacitor (InfluxQL's distinct reducer) keeps the first point of each value
                // and emits them ordered by that point's time, equal times by value.
                let mut distinct: Vec<(i64, FieldValue)> = Vec::new();
                for (idx, value) in &values {
                    let time = points[*idx].time;
                    match distinct.iter_mut().find(|(_, seen)| seen == *value) {
                        Some(first) => first.0 = first.0.min(time),
                        None => distinct.push((time, (*value).clone())),
                    }
                }
                distinct.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| compare_fields(&a.1, &b.1)));
                Reduced::Distinct(distinct.into_iter().map(|(_, value)| value).collect())
            }
            other => return Err(format!("{} is not an aggregate", other.name())),
        };
        if values.is_empty()
            && !matches!(
                self.function,
                AggregateFunction::Count | AggregateFunction::Sum
            )
            && !matches!(reduced, Reduced::Rows(_) | Reduced::Distinct(_))
        {
            return Ok(None);
        }
        Ok(Some(reduced))
    }

    fn value_point(&self, name: &str, group: &Group, time: i64, value: FieldValue) -> Point {
        let mut fields = Fields::new();
        fields.insert(self.as_.as_str().into(), value);
        Point {
            name: name.into(),
            tags: group.tags.clone(),
            fields,
            time,
        }
    }

    /// Mean, sum and count in one pass without intermediate vectors (the hot path); `None`
    /// when the general path must run (other functions, non-numeric values).
    fn fast_reduce(
        &self,
        name: &str,
        group: &Group,
        tmax: i64,
        points: &[Point],
        ctx: &mut Context<'_>,
    ) -> Option<Option<Message>> {
        if !matches!(
            self.function,
            AggregateFunction::Mean | AggregateFunction::Sum | AggregateFunction::Count
        ) {
            return None;
        }
        let (mut n, mut missing, mut float_sum, mut int_sum, mut all_int) =
            (0, 0, 0.0, 0_i64, true);
        for point in points {
            match point.fields.get(self.field.as_str()) {
                Some(FieldValue::Float(value)) => {
                    float_sum += value;
                    all_int = false;
                }
                Some(FieldValue::Int(value)) => {
                    float_sum += *value as f64;
                    int_sum = int_sum.wrapping_add(*value);
                }
                Some(_) if self.function == AggregateFunction::Count => {}
                Some(_) => return None,
                None => {
                    missing += 1;
                    continue;
                }
            }
            n += 1;
        }
        if missing > 0 {
            ctx.error(format!(
                "field {} missing from point, point skipped",
                self.field
            ));
        }
        let value = match self.function {
            AggregateFunction::Count => FieldValue::Int(n),
            AggregateFunction::Sum if all_int => FieldValue::Int(int_sum),
            AggregateFunction::Sum => FieldValue::Float(float_sum),
            _ if n == 0 => return Some(None),
            _ => FieldValue::Float(float_sum / n as f64),
        };
        let point = self.value_point(name, group, tmax, value);
        Some(Some(Message::Point(TaskPoint {
            point,
            group: group.clone(),
        })))
    }

    /// Reduce `points` (a batch or a same-time run) and emit the result.
    fn emit_reduced(
        &self,
        name: &str,
        group: &Group,
        tmax: i64,
        points: Vec<Point>,
        ctx: &mut Context<'_>,
    ) {
        if let Some(result) = self.fast_reduce(name, group, tmax, &points, ctx) {
            if let Some(message) = result {
                ctx.emit(message);
            }
            return;
        }
        if points
            .iter()
            .any(|point| !point.fields.contains_key(self.field.as_str()))
        {
            ctx.error(format!(
                "field {} missing from point, point skipped",
                self.field
            ));
        }
        let reduced = match self.reduce(&points) {
            Ok(Some(reduced)) => reduced,
            Ok(None) => return,
            Err(error) => {
                ctx.error(error);
                return;
            }
        };
        let message = match reduced {
            Reduced::Value(value) => {
                let point = self.value_point(name, group, tmax, value);
                Message::Point(TaskPoint {
                    point,
                    group: group.clone(),
                })
            }
            Reduced::Selected(idx) => {
                let Some(mut point) = points.into_iter().nth(idx) else {
                    return;
                };
                if let Some(value) = point.fields.remove(self.field.as_str()) {
                    point.fields.insert(self.as_.as_str().into(), value);
                }
                point.name = name.into();
                if !self.use_point_times {
                    point.time = tmax;
                }
                Message::Point(TaskPoint {
                    point,
                    group: group.clone(),
                })
            }
            Reduced::Rows(rows) => {
                let extra = match &self.function {
                    AggregateFunction::Top { extra, .. }
                    | AggregateFunction::Bottom { extra, .. } => extra.as_slice(),
                    _ => &[],
                };
                let rows = rows
                    .into_iter()
                    .filter_map(|(idx, value)| {
                        let source = points.get(idx)?;
                        let mut tags: Tags = group.tags.clone();
                        let mut fields = Fields::new();
                        fields.insert(self.as_.as_str().into(), value);
                        for name in extra {
                            if let Some(tag) = source.tags.get(name) {
                                tags.insert(name.clone(), tag.clone());
                            } else if let Some(field) = source.fields.get(name.as_str()) {
                                fields.insert(name.as_str().into(), field.clone());
                            }
                        }
                        let time = if self.use_point_times {
                            source.time
                        } else {
                            tmax
                        };
                        Some(Point {
                            name: name.into(),
                            tags,
                            fields,
                            time,
                        })
                    })
                    .collect();
                Message::Batch(Batch {
                    name: name.into(),
                    group: group.clone(),
                    tmax,
                    points: rows,
                })
            }
            Reduced::Distinct(values) => Message::Batch(Batch {
                name: name.into(),
                group: group.clone(),
                tmax,
                points: values
                    .into_iter()
                    .map(|value| self.value_point(name, group, tmax, value))
                    .collect(),
            }),
        };
        ctx.emit(message);
    }

    fn transform_point(
        &self,
        state: &mut Transform,
        name: &str,
        group: &Group,
        point: &Point,
    ) -> Result<Option<Point>, String> {
        let Some(value) = point.fields.get(self.field.as_str()) else {
            return Err(format!(
                "field {} missing from point, point skipped",
                self.field
            ));
        };
        let Some(number) = Num::of(value) else {
            return Err(format!(
                "{}: field {} is a {}, not a number",
                self.function.name(),
                self.field,
                value.type_name()
            ));
        };
        Ok(state
            .step(&self.function, point.time, number)
            .map(|result| self.value_point(name, group, point.time, result)))
    }
}

impl Node for Aggregate {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Batch(batch) if self.is_transformation() => {
                let mut state = Transform::default();
                let mut points = Vec::with_capacity(batch.points.len());
                for point in &batch.points {
                    match self.transform_point(&mut state, &batch.name, &batch.group, point) {
                        Ok(Some(point)) => points.push(point),
                        Ok(None) => {}
                        Err(error) => ctx.error(error),
                    }
                }
                ctx.emit(Message::Batch(Batch { points, ..batch }));
            }
            Message::Batch(batch) => {
                self.emit_reduced(&batch.name, &batch.group, batch.tmax, batch.points, ctx);
            }
            Message::Point(task_point) if self.is_transformation() => {
                let mut state = self
                    .transforms
                    .remove(task_point.group.id.as_str())
                    .unwrap_or_default();
                let result = self.transform_point(
                    &mut state,
                    &task_point.point.name,
                    &task_point.group,
                    &task_point.point,
                );
                self.transforms.insert(task_point.group.id.clone(), state);
                match result {
                    Ok(Some(point)) => ctx.emit(Message::Point(TaskPoint {
                        point,
                        group: task_point.group,
                    })),
                    Ok(None) => {}
                    Err(error) => ctx.error(error),
                }
            }
            Message::Point(TaskPoint { point, group }) => {
                let flushed = match self.pending.get_mut(group.id.as_str()) {
                    Some(pending) if pending.time == point.time => {
                        pending.points.push(point);
                        return;
                    }
                    Some(pending) => Some(std::mem::replace(
                        pending,
                        Pending {
                            name: point.name.clone(),
                            group: group.clone(),
                            time: point.time,
                            points: vec![point],
                        },
                    )),
                    None => {
                        self.pending.insert(
                            group.id.clone(),
                            Pending {
                                name: point.name.clone(),
                                group: group.clone(),
                                time: point.time,
                                points: vec![point],
                            },
                        );
                        None
                    }
                };
                if let Some(done) = flushed {
                    self.emit_reduced(&done.name, &done.group, done.time, done.points, ctx);
                }
            }
        }
    }

    fn cardinality(&self) -> usize {
        self.pending.len() + self.transforms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    const S: i64 = 1_000_000_000;

    fn spec(function: AggregateFunction) -> AggregateSpec {
        AggregateSpec {
            as_: function.name().to_owned(),
            function,
            field: "value".into(),
            use_point_times: false,
        }
    }

    fn one(function: AggregateFunction, values: &[f64]) -> Vec<Message> {
        let mut node = Aggregate::new(&spec(function));
        let nil = group(&[("host", "a")]);
        let points: Vec<(i64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, *v))
            .collect();
        let (out, _) = run(
            &mut node,
            vec![(0, batch(100, &points, &nil))],
            &Recorder::default(),
            true,
        );
        out
    }

    fn value(function: AggregateFunction, values: &[f64]) -> f64 {
        let out = one(function, values);
        assert_eq!(out.len(), 1);
        let Message::Point(point) = &out[0] else {
            panic!("expected a point")
        };
        assert_eq!(point.point.time, 100 * S);
        point
            .point
            .fields
            .values()
            .next()
            .and_then(FieldValue::as_f64)
            .unwrap()
    }

    #[test]
    fn aggregates() {
        let values = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(value(AggregateFunction::Count, &values), 5.0);
        assert_eq!(value(AggregateFunction::Sum, &values), 14.0);
        assert_eq!(value(AggregateFunction::Mean, &values), 2.8);
        assert_eq!(value(AggregateFunction::Median, &values), 3.0);
        assert_eq!(value(AggregateFunction::Median, &values[..4]), 2.0);
        assert_eq!(value(AggregateFunction::Mode, &values), 1.0);
        assert_eq!(value(AggregateFunction::Spread, &values), 4.0);
        assert!((value(AggregateFunction::Stddev, &values) - 1.788854381999832).abs() < 1e-12);
        assert_eq!(value(AggregateFunction::Max, &values), 5.0);
        assert_eq!(value(AggregateFunction::Min, &values), 1.0);
        assert_eq!(value(AggregateFunction::First, &values), 3.0);
        assert_eq!(value(AggregateFunction::Last, &values), 5.0);
        assert_eq!(value(AggregateFunction::Percentile(50.0), &values), 3.0);
        assert_eq!(value(AggregateFunction::Count, &[]), 0.0);
        assert_eq!(value(AggregateFunction::Sum, &[]), 0.0);
        assert!(one(AggregateFunction::Mean, &[]).is_empty());
    }

    #[test]
    fn selectors_keep_the_point() {
        let out = one(AggregateFunction::Max, &[1.0, 7.0, 7.0]);
        let Message::Point(point) = &out[0] else {
            panic!()
        };
        assert_eq!(point.point.tags.get("extra").map(String::as_str), Some("x"));
        assert!(point.point.fields.contains_key("max"));
        assert!(!point.point.fields.contains_key("value"));
    }

    #[test]
    fn top_rows_come_in_time_order() {
        let spec = AggregateSpec {
            function: AggregateFunction::Top {
                n: 2,
                extra: vec!["extra".into()],
            },
            ..spec(AggregateFunction::Count)
        };
        let spec = AggregateSpec {
            as_: "top".into(),
            ..spec
        };
        let mut node = Aggregate::new(&spec);
        let g = group(&[]);
        let input = batch(10, &[(1, 5.0), (2, 9.0), (3, 1.0), (4, 7.0)], &g);
        let (out, _) = run(&mut node, vec![(0, input)], &Recorder::default(), true);
        let Message::Batch(batch) = &out[0] else {
            panic!()
        };
        let tops: Vec<f64> = batch
            .points
            .iter()
            .map(|p| p.fields["top"].as_f64().unwrap())
            .collect();
        assert_eq!(tops, vec![9.0, 7.0]);
        assert_eq!(batch.points[0].tags["extra"], "x");
    }

    #[test]
    fn stream_runs_and_transformations() {
        let g = group(&[]);
        let mut node = Aggregate::new(&spec(AggregateFunction::Sum));
        let inputs = vec![
            (0, value_point(1, 1.0, &g)),
            (0, value_point(1, 2.0, &g)),
            (0, value_point(2, 5.0, &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
        assert_eq!(out.len(), 1);
        assert_eq!(float(&out[0], "sum"), 3.0);

        let mut node = Aggregate::new(&spec(AggregateFunction::Difference));
        let inputs = (0..3)
            .map(|i| (0, value_point(i, (i * i) as f64, &g)))
            .collect();
        let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
        let diffs: Vec<f64> = out.iter().map(|m| float(m, "difference")).collect();
        assert_eq!(diffs, vec![1.0, 3.0]);

        let mut node = Aggregate::new(&spec(AggregateFunction::MovingAverage(2)));
        let input = batch(10, &[(1, 1.0), (2, 3.0), (3, 5.0)], &g);
        let (out, _) = run(&mut node, vec![(0, input)], &Recorder::default(), true);
        let Message::Batch(batch) = &out[0] else {
            panic!()
        };
        let averages: Vec<f64> = batch
            .points
            .iter()
            .map(|p| p.fields["movingAverage"].as_f64().unwrap())
            .collect();
        assert_eq!(averages, vec![2.0, 4.0]);
    }
}
