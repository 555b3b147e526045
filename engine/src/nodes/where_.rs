//! `where(lambda)`: drops points whose predicate is false or fails; on batches, filters the
//! points inside (empty batches still flow).

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::WhereSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::message::{Message, PointScope};
use crate::nodes::{Context, Node};

/// Runtime state of `where()`.
pub struct Where {
    predicate: Lambda,
    states: HashMap<String, LambdaState>,
}

impl Where {
    /// Build from the spec.
    pub fn new(spec: &WhereSpec) -> Where {
        Where {
            predicate: spec.predicate.clone(),
            states: HashMap::default(),
        }
    }
}

impl Node for Where {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let group_id = &message.group().id;
        let state = match self.states.get_mut(group_id.as_str()) {
            Some(state) => state,
            None => self.states.entry(group_id.clone()).or_default(),
        };
        match message {
            Message::Point(task_point) => {
                match self
                    .predicate
                    .eval_bool(&PointScope::new(&task_point.point), state)
                {
                    Ok(true) => ctx.emit(Message::Point(task_point)),
                    Ok(false) => {}
                    Err(error) => ctx.error(format!("where: {error}")),
                }
            }
            Message::Batch(mut batch) => {
                let mut errors = Vec::new();
                batch.points.retain(|point| {
                    match self.predicate.eval_bool(&PointScope::new(point), state) {
                        Ok(keep) => keep,
                        Err(error) => {
                            errors.push(error);
                            false
                        }
                    }
                });
                for error in errors {
                    ctx.error(format!("where: {error}"));
                }
                ctx.emit(Message::Batch(batch));
            }
        }
    }

    fn cardinality(&self) -> usize {
        self.states.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::nodes::test_support::*;
    use weir_dsl::NodeSpec;

    fn node(script: &str) -> Where {
        let spec = spec_of(script, |spec| match spec {
            NodeSpec::Where(spec) => Some(spec),
            _ => None,
        });
        Where::new(&spec)
    }

    #[test]
    fn keeps_points_whose_predicate_holds() {
        let mut node = node("stream|from()|where(lambda: \"value\" > 1.0 AND \"host\" =~ /^web/)");
        let web = group(&[("host", "web1")]);
        let db = group(&[("host", "db1")]);
        let inputs = vec![
            (0, value_point(1, 5.0, &web)),
            (0, value_point(2, 0.5, &web)),
            (0, value_point(3, 5.0, &db)),
            (0, value_point(4, 2.0, &web)),
        ];
        let (out, errors) = run(&mut node, inputs, &Recorder::default(), false);
        let values: Vec<f64> = out.iter().map(|m| float(m, "value")).collect();
        assert_eq!(values, vec![5.0, 2.0]);
        assert_eq!(errors, 0);
    }

    #[test]
    fn filters_inside_batches_and_empty_batches_still_flow() {
        let mut node =
            node("stream|from()|window().period(10s).every(10s)|where(lambda: \"value\" >= 2.0)");
        let g = group(&[]);
        let inputs = vec![
            (0, batch(10, &[(1, 1.0), (2, 2.0), (3, 3.0)], &g)),
            (0, batch(20, &[(11, 0.0)], &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(out.len(), 2, "both batches flow");
        let Message::Batch(first) = &out[0] else {
            panic!("expected a batch")
        };
        assert_eq!(first.points.len(), 2);
        let Message::Batch(second) = &out[1] else {
            panic!("expected a batch")
        };
        assert!(second.points.is_empty());
    }

    #[test]
    fn a_failing_predicate_drops_the_point_and_counts_an_error() {
        let mut node = node("stream|from()|where(lambda: \"missing\" > 1.0)");
        let g = group(&[]);
        let (out, errors) = run(
            &mut node,
            vec![(0, value_point(1, 5.0, &g))],
            &Recorder::default(),
            false,
        );
        assert!(out.is_empty());
        assert_eq!(errors, 1);
    }
}
