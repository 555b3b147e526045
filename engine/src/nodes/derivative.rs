//! `derivative(field)`: rate of change between consecutive points of a group
//! (reference §2.3.7).

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::DerivativeSpec;

use crate::message::{Message, TaskPoint};
use crate::nodes::{Context, Node, NodeError};
use crate::point::{FieldValue, Point};

/// Runtime state of `derivative()`.
pub struct Derivative {
    spec: DerivativeSpec,
    previous: HashMap<String, (i64, f64)>,
}

impl Derivative {
    /// Build from the spec.
    pub fn new(spec: &DerivativeSpec) -> Derivative {
        Derivative {
            spec: spec.clone(),
            previous: HashMap::default(),
        }
    }

    /// Update `previous` with `point`; the derivative point when one is due.
    fn step(
        spec: &DerivativeSpec,
        previous: &mut Option<(i64, f64)>,
        point: &Point,
    ) -> Result<Option<Point>, NodeError> {
        let value = point
            .fields
            .get(spec.field.as_str())
            .and_then(FieldValue::as_f64)
            .ok_or_else(|| {
                NodeError(format!(
                    "derivative: field {} is missing or not a number",
                    spec.field
                ))
            })?;
        let Some((prev_time, prev_value)) = previous.replace((point.time, value)) else {
            return Ok(None);
        };
        let elapsed = point.time.saturating_sub(prev_time);
        if elapsed == 0 {
            return Err(NodeError(
                "derivative: two points with the same time".to_owned(),
            ));
        }
        let unit = spec.unit.nanos().max(1) as f64;
        let rate = (value - prev_value) / (elapsed as f64 / unit);
        if spec.non_negative && rate < 0.0 {
            return Ok(None);
        }
        let mut out = point.clone();
        out.fields
            .insert(spec.as_.as_str().into(), FieldValue::Float(rate));
        Ok(Some(out))
    }
}

impl Node for Derivative {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(TaskPoint { point, group }) => {
                let mut previous = self.previous.get(group.id.as_str()).copied();
                let result = Derivative::step(&self.spec, &mut previous, &point);
                if let Some(previous) = previous {
                    self.previous.insert(group.id.clone(), previous);
                }
                match result {
                    Ok(Some(point)) => ctx.emit(Message::Point(TaskPoint { point, group })),
                    Ok(None) => {}
                    Err(error) => ctx.error(error),
                }
            }
            Message::Batch(mut batch) => {
                let mut previous = None;
                let mut points = Vec::with_capacity(batch.points.len());
                for point in &batch.points {
                    match Derivative::step(&self.spec, &mut previous, point) {
                        Ok(Some(point)) => points.push(point),
                        Ok(None) => {}
                        Err(error) => ctx.error(error),
                    }
                }
                batch.points = points;
                ctx.emit(Message::Batch(batch));
            }
        }
    }

    fn cardinality(&self) -> usize {
        self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Duration;

    #[test]
    fn rates_per_unit_and_non_negative() {
        let spec = DerivativeSpec {
            field: "value".into(),
            unit: Duration(10_000_000_000),
            non_negative: true,
            as_: "value".into(),
        };
        let mut node = Derivative::new(&spec);
        let g = group(&[]);
        let inputs = [
            (0, 1000.0),
            (1, 1001.0),
            (2, 1000.0),
            (3, 1003.0),
            (3, 1004.0),
        ]
        .iter()
        .map(|(t, v)| (0, value_point(*t, *v, &g)))
        .collect();
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        let rates: Vec<f64> = out.iter().map(|m| float(m, "value")).collect();
        assert_eq!(rates, vec![10.0, 30.0]);
        assert_eq!(errors, 1);
    }
}
