//! `influxDBOut()`: collects points and hands them to the outputs once per input chunk.

use weir_dsl::nodes::InfluxDbOutSpec;

use crate::message::Message;
use crate::nodes::{Context, Node};
use crate::point::Point;
use crate::runtime::InfluxDbWrite;

/// Runtime state of `influxDBOut()`.
pub struct InfluxDbOut {
    spec: InfluxDbOutSpec,
    buffer: Vec<Point>,
}

impl InfluxDbOut {
    /// Build from the spec.
    pub fn new(spec: &InfluxDbOutSpec) -> InfluxDbOut {
        InfluxDbOut {
            spec: spec.clone(),
            buffer: Vec::new(),
        }
    }

    fn push(&mut self, mut point: Point) {
        if let Some(measurement) = &self.spec.measurement {
            point.name = measurement.as_str().into();
        }
        for (key, value) in &self.spec.tags {
            point.tags.insert(key.clone(), value.clone());
        }
        self.buffer.push(point);
    }

    fn flush(&mut self, ctx: &mut Context<'_>) {
        if self.buffer.is_empty() {
            return;
        }
        ctx.outputs().influxdb_out(InfluxDbWrite {
            cluster: self
                .spec
                .cluster
                .clone()
                .filter(|cluster| !cluster.is_empty()),
            database: self.spec.database.clone(),
            retention_policy: self.spec.retention_policy.clone(),
            precision: self
                .spec
                .precision
                .as_deref()
                .and_then(crate::line_protocol::Precision::from_query),
            create: self.spec.create,
            points: std::mem::take(&mut self.buffer),
        });
    }
}

impl Node for InfluxDbOut {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(task_point) => self.push(task_point.point),
            Message::Batch(batch) => {
                for point in batch.points {
                    self.push(point);
                }
            }
        }
        let limit = usize::try_from(self.spec.buffer).unwrap_or(0).max(1);
        if self.buffer.len() >= limit {
            self.flush(ctx);
        }
    }

    fn end_of_input(&mut self, ctx: &mut Context<'_>) {
        self.flush(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn writes_once_per_chunk_with_overrides() {
        let spec = InfluxDbOutSpec {
            database: "out".into(),
            measurement: Some("renamed".into()),
            tags: vec![("source".into(), "weir".into())],
            buffer: 1000,
            ..Default::default()
        };
        let mut node = InfluxDbOut::new(&spec);
        let recorder = Recorder::default();
        let g = group(&[]);
        let inputs = vec![
            (0, value_point(1, 1.0, &g)),
            (0, batch(5, &[(2, 1.0), (3, 2.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &recorder, false);
        assert!(out.is_empty());
        let writes = recorder.writes.lock().unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].points.len(), 3);
        assert_eq!(writes[0].points[0].name, "renamed");
        assert_eq!(writes[0].points[2].tags["source"], "weir");
        assert_eq!(writes[0].cluster, None);
    }
}
