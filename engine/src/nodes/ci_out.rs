//! `ciOut()`: turns points into configuration-item observations and hands them to the
//! outputs once per input chunk.
//!
//! The item is `kind` with the value of the `key` tag as its key. The `config` names (tags
//! or fields) are its tracked configuration; every other field is a metric, kept as the
//! latest value and never audited. With no `config` names, every tag and field is tracked.
//! Every point is one observation, in order; the store compares each with the one before.

use weir_dsl::nodes::CiOutSpec;

use crate::message::Message;
use crate::nodes::{Context, Node, NodeError};
use crate::point::{FieldValue, Point};
use crate::runtime::{CiObservation, CiWrite};

/// Runtime state of `ciOut()`.
pub struct CiOut {
    spec: CiOutSpec,
    /// Observations of this chunk, in arrival order (one per point).
    pending: Vec<CiObservation>,
}

/// A field value as configuration text: `1.5`, `3`, `true`, or the string itself.
fn config_text(value: &FieldValue) -> String {
    match value {
        FieldValue::Float(value) => value.to_string(),
        FieldValue::Int(value) => value.to_string(),
        FieldValue::String(value) => value.clone(),
        FieldValue::Bool(value) => value.to_string(),
        FieldValue::Null => String::new(),
    }
}

/// A field value as a metric: numbers as they are, booleans as 0 or 1, strings not at all.
fn metric_value(value: &FieldValue) -> Option<f64> {
    match value {
        FieldValue::Bool(value) => Some(if *value { 1.0 } else { 0.0 }),
        other => other.as_f64(),
    }
}

impl CiOut {
    /// Build from the spec.
    pub fn new(spec: &CiOutSpec) -> CiOut {
        CiOut {
            spec: spec.clone(),
            pending: Vec::new(),
        }
    }

    /// The observation one point makes, or why it makes none.
    pub fn observe(&self, point: &Point) -> Result<CiObservation, NodeError> {
        let key = point
            .tags
            .get(&self.spec.key)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                NodeError(format!(
                    "point {} has no `{}` tag (the key of ciOut)",
                    point.name, self.spec.key
                ))
            })?;
        let mut observation = CiObservation {
            kind: self.spec.kind.clone(),
            key: key.clone(),
            time: point.time,
            ..CiObservation::default()
        };
        if self.spec.config.is_empty() {
            for (name, value) in &point.tags {
                if *name != self.spec.key {
                    observation.config.insert(name.clone(), value.clone());
                }
            }
            for (name, value) in &point.fields {
                observation
                    .config
                    .insert(name.to_string(), config_text(value));
            }
            return Ok(observation);
        }
        for name in &self.spec.config {
            if let Some(value) = point.tags.get(name) {
                observation.config.insert(name.clone(), value.clone());
            } else if let Some(value) = point.fields.get(name.as_str()) {
                observation.config.insert(name.clone(), config_text(value));
            }
        }
        for (name, value) in &point.fields {
            if self.spec.config.iter().any(|config| config == name) {
                continue;
            }
            if let Some(metric) = metric_value(value) {
                observation.metrics.insert(name.to_string(), metric);
            }
        }
        Ok(observation)
    }

    fn push(&mut self, point: &Point, ctx: &mut Context<'_>) {
        match self.observe(point) {
            Ok(observation) => self.pending.push(observation),
            Err(error) => ctx.error(error),
        }
    }
}

impl Node for CiOut {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(task_point) => self.push(&task_point.point, ctx),
            Message::Batch(batch) => {
                for point in &batch.points {
                    self.push(point, ctx);
                }
            }
        }
    }

    fn end_of_input(&mut self, ctx: &mut Context<'_>) {
        if self.pending.is_empty() {
            return;
        }
        ctx.outputs().ci_out(CiWrite {
            task: ctx.task().to_owned(),
            observations: std::mem::take(&mut self.pending),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::TaskPoint;
    use crate::nodes::test_support::*;

    fn uname(instance: Option<&str>, release: &str, time: i64) -> Message {
        let mut tags: crate::point::Tags = [
            ("sysname".to_string(), "Linux".to_string()),
            ("release".to_string(), release.to_string()),
            ("job".to_string(), "node".to_string()),
        ]
        .into();
        if let Some(instance) = instance {
            tags.insert("instance".into(), instance.into());
        }
        Message::Point(TaskPoint {
            point: Point {
                name: "node_uname_info".into(),
                tags,
                fields: [
                    ("value".into(), FieldValue::Float(1.0)),
                    ("cpus".into(), FieldValue::Int(4)),
                    ("arch".into(), FieldValue::String("x86_64".into())),
                ]
                .into(),
                time,
            },
            group: group(&[]),
        })
    }

    fn spec(config: &[&str]) -> CiOutSpec {
        CiOutSpec {
            kind: "host".into(),
            key: "instance".into(),
            config: config.iter().map(|name| name.to_string()).collect(),
        }
    }

    #[test]
    fn named_tags_and_fields_are_config_other_fields_metrics() {
        let mut node = CiOut::new(&spec(&["sysname", "release", "cpus", "missing"]));
        let recorder = Recorder::default();
        let inputs = vec![
            (0, uname(Some("a:9100"), "6.1", 2)),
            (0, uname(Some("a:9100"), "6.0", 1)),
            (0, uname(Some("b:9100"), "5.10", 1)),
            (0, uname(None, "6.1", 3)),
        ];
        let (out, errors) = run(&mut node, inputs, &recorder, false);
        assert!(out.is_empty());
        assert_eq!(errors, 1, "the point without an instance tag is counted");
        let writes = recorder.cis.lock().unwrap();
        assert_eq!(writes.len(), 1, "one hand-over per chunk");
        assert_eq!(writes[0].task, "test");
        let observations = &writes[0].observations;
        assert_eq!(
            observations.len(),
            3,
            "one observation per point with a key"
        );
        let a = &observations[0];
        assert_eq!((a.kind.as_str(), a.key.as_str()), ("host", "a:9100"));
        assert_eq!(a.config["release"], "6.1");
        assert_eq!(observations[1].config["release"], "6.0", "in arrival order");
        assert_eq!(a.config["sysname"], "Linux");
        assert_eq!(a.config["cpus"], "4");
        assert_eq!(a.config.len(), 3, "job is not tracked: {:?}", a.config);
        assert_eq!(a.metrics, [("value".to_string(), 1.0)].into());
        assert_eq!(observations[2].config["release"], "5.10");
    }

    #[test]
    fn without_config_names_everything_is_tracked() {
        let mut node = CiOut::new(&spec(&[]));
        let recorder = Recorder::default();
        run(
            &mut node,
            vec![(0, uname(Some("a"), "6.1", 1))],
            &recorder,
            false,
        );
        let writes = recorder.cis.lock().unwrap();
        let observation = &writes[0].observations[0];
        assert!(observation.metrics.is_empty());
        assert_eq!(
            observation.config.keys().collect::<Vec<_>>(),
            ["arch", "cpus", "job", "release", "sysname", "value"]
        );
        assert_eq!(observation.config["value"], "1");
    }

    #[test]
    fn batches_observe_every_point_and_nothing_is_sent_for_nothing() {
        let mut node = CiOut::new(&spec(&["release"]));
        let recorder = Recorder::default();
        run(&mut node, vec![], &recorder, false);
        assert!(recorder.cis.lock().unwrap().is_empty());
        let g = group(&[("instance", "h")]);
        run(
            &mut node,
            vec![(0, batch(5, &[(1, 1.0), (2, 2.0)], &g))],
            &recorder,
            false,
        );
        let writes = recorder.cis.lock().unwrap();
        assert_eq!(writes[0].observations.len(), 2);
        assert_eq!(writes[0].observations[1].metrics["value"], 2.0);
    }
}
