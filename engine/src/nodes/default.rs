//! `default()`: sets fields and tags that a point lacks.

use weir_dsl::nodes::DefaultSpec;

use crate::message::{Message, value_to_field};
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Point};

/// Runtime state of `default()`.
pub struct Default {
    fields: Vec<(String, FieldValue)>,
    tags: Vec<(String, String)>,
}

impl Default {
    /// Build from the spec (defaults without a field type are ignored).
    pub fn new(spec: &DefaultSpec) -> Default {
        Default {
            fields: spec
                .fields
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value_to_field(value.clone())?)))
                .collect(),
            tags: spec.tags.clone(),
        }
    }

    fn apply(&self, point: &mut Point) {
        for (name, value) in &self.fields {
            if !point.fields.contains_key(name.as_str()) {
                point.fields.insert(name.as_str().into(), value.clone());
            }
        }
        for (name, value) in &self.tags {
            if !point.tags.contains_key(name) {
                point.tags.insert(name.clone(), value.clone());
            }
        }
    }
}

impl Node for Default {
    fn process(&mut self, _port: usize, mut message: Message, ctx: &mut Context<'_>) {
        match &mut message {
            Message::Point(task_point) => self.apply(&mut task_point.point),
            Message::Batch(batch) => batch.points.iter_mut().for_each(|point| self.apply(point)),
        }
        ctx.emit(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Value;

    #[test]
    fn fills_only_what_is_absent() {
        let spec = DefaultSpec {
            fields: vec![
                ("value".into(), Value::Float(0.0)),
                ("other".into(), Value::Int(7)),
            ],
            tags: vec![("extra".into(), "y".into()), ("dc".into(), "z".into())],
        };
        let mut node = Default::new(&spec);
        let g = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, value_point(1, 2.0, &g))],
            &Recorder::default(),
            false,
        );
        let Message::Point(point) = &out[0] else {
            panic!()
        };
        assert_eq!(point.point.fields["value"], FieldValue::Float(2.0));
        assert_eq!(point.point.fields["other"], FieldValue::Int(7));
        assert_eq!(point.point.tags["extra"], "x");
        assert_eq!(point.point.tags["dc"], "z");
    }
}
