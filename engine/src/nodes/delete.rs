//! `delete()`: removes fields and tags.

use weir_dsl::nodes::DeleteSpec;

use crate::message::Message;
use crate::nodes::{Context, Node};
use crate::point::Point;

/// Runtime state of `delete()`.
pub struct Delete {
    spec: DeleteSpec,
}

impl Delete {
    /// Build from the spec.
    pub fn new(spec: &DeleteSpec) -> Delete {
        Delete { spec: spec.clone() }
    }

    fn apply(&self, point: &mut Point) {
        for field in &self.spec.fields {
            point.fields.remove(field.as_str());
        }
        for tag in &self.spec.tags {
            point.tags.remove(tag);
        }
    }
}

impl Node for Delete {
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

    #[test]
    fn removes_fields_and_tags() {
        let spec = DeleteSpec {
            fields: vec!["value".into()],
            tags: vec!["extra".into()],
        };
        let mut node = Delete::new(&spec);
        let g = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, batch(2, &[(1, 1.0)], &g))],
            &Recorder::default(),
            false,
        );
        let Message::Batch(batch) = &out[0] else {
            panic!()
        };
        assert!(batch.points[0].fields.is_empty());
        assert!(batch.points[0].tags.is_empty());
    }
}
