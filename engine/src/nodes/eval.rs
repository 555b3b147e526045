//! `eval(lambda...)`: computes fields (or tags) per point, with Kapacitor's `.keep()` and
//! `.tags()` rules (reference §2.3.5). Stateful lambda functions keep state per group.

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::EvalSpec;
use weir_dsl::{LambdaState, Value};

use crate::message::{Message, PointScope, TaskPoint, value_to_field};
use crate::nodes::{Context, Node, NodeError};
use crate::point::{FieldValue, Fields, Point};

/// Runtime state of `eval()`.
pub struct Eval {
    spec: EvalSpec,
    states: HashMap<String, Vec<LambdaState>>,
}

impl Eval {
    /// Build from the spec.
    pub fn new(spec: &EvalSpec) -> Eval {
        Eval {
            spec: spec.clone(),
            states: HashMap::default(),
        }
    }

    fn apply(
        spec: &EvalSpec,
        states: &mut [LambdaState],
        point: &mut Point,
    ) -> Result<(), NodeError> {
        let mut results: Vec<(String, Value)> = Vec::with_capacity(spec.expressions.len());
        for ((expression, name), state) in spec.expressions.iter().zip(&spec.as_).zip(states) {
            let scope = PointScope {
                point,
                extra: &results,
            };
            let value = expression
                .eval(&scope, state)
                .map_err(|error| NodeError(format!("failed to evaluate {name}: {error}")))?;
            if value == Value::Missing {
                return Err(NodeError(format!(
                    "failed to evaluate {name}: result is missing"
                )));
            }
            results.push((name.clone(), value));
        }
        let mut new_fields = match &spec.keep {
            Some(kept) if kept.is_empty() => std::mem::take(&mut point.fields),
            _ => Fields::new(),
        };
        let mut result_fields: Vec<(crate::point::Name, FieldValue)> =
            Vec::with_capacity(results.len());
        for (name, value) in results {
            if spec.tags.contains(&name) {
                match value {
                    Value::String(tag) => {
                        point.tags.insert(name, tag);
                    }
                    other => {
                        return Err(NodeError(format!(
                            "cannot use {} result {name} as a tag: it must be a string",
                            other.type_name()
                        )));
                    }
                }
                continue;
            }
            let Some(field) = value_to_field(value) else {
                return Err(NodeError(format!("result {name} has no field type")));
            };
            result_fields.push((name.into(), field));
        }
        match &spec.keep {
            Some(kept) if !kept.is_empty() => {
                for name in kept {
                    let value = match result_fields.iter().find(|(key, _)| key == name) {
                        Some((_, value)) => value.clone(),
                        None => point.fields.get(name.as_str()).cloned().ok_or_else(|| {
                            NodeError(format!("cannot keep field {name}: it does not exist"))
                        })?,
                    };
                    new_fields.insert(name.as_str().into(), value);
                }
            }
            _ => new_fields.extend(result_fields),
        }
        point.fields = new_fields;
        Ok(())
    }

    fn report(quiet: bool, error: NodeError, ctx: &mut Context<'_>) {
        if quiet {
            ctx.stats().add_error();
        } else {
            ctx.error(error);
        }
    }
}

impl Node for Eval {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        // The group's lambda state, created at its first point (looked up in place: no copy
        // of the group id and no remove/insert per point).
        let group_id = &message.group().id;
        if !self.states.contains_key(group_id) {
            let n_expressions = self.spec.expressions.len();
            let fresh = (0..n_expressions).map(|_| LambdaState::default()).collect();
            self.states.insert(group_id.clone(), fresh);
        }
        let Some(states) = self.states.get_mut(&message.group().id) else {
            return;
        };
        match message {
            Message::Point(TaskPoint { mut point, group }) => {
                match Eval::apply(&self.spec, states, &mut point) {
                    Ok(()) => ctx.emit(Message::Point(TaskPoint { point, group })),
                    Err(error) => Eval::report(self.spec.quiet, error, ctx),
                }
            }
            Message::Batch(mut batch) => {
                let mut errors = Vec::new();
                batch
                    .points
                    .retain_mut(|point| match Eval::apply(&self.spec, states, point) {
                        Ok(()) => true,
                        Err(error) => {
                            errors.push(error);
                            false
                        }
                    });
                for error in errors {
                    Eval::report(self.spec.quiet, error, ctx);
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
    use crate::nodes::test_support::*;
    use weir_dsl::NodeSpec;

    fn node(script: &str) -> Eval {
        let spec = spec_of(script, |spec| match spec {
            NodeSpec::Eval(spec) => Some(spec),
            _ => None,
        });
        Eval::new(&spec)
    }

    fn point(message: &Message) -> &Point {
        match message {
            Message::Point(point) => &point.point,
            Message::Batch(_) => panic!("expected a point"),
        }
    }

    #[test]
    fn without_keep_only_the_new_fields_remain() {
        let mut node = node("stream|from()|eval(lambda: \"value\" * 2.0).as('double')");
        let g = group(&[]);
        let (out, errors) = run(
            &mut node,
            vec![(0, value_point(1, 2.5, &g))],
            &Recorder::default(),
            false,
        );
        assert_eq!(errors, 0);
        let fields: Vec<&str> = point(&out[0])
            .fields
            .keys()
            .map(|key| key.as_str())
            .collect();
        assert_eq!(fields, vec!["double"]);
        assert_eq!(float(&out[0], "double"), 5.0);
    }

    #[test]
    fn keep_retains_the_old_fields_and_later_expressions_see_earlier_results() {
        let mut node = node(
            "stream|from()|eval(lambda: \"value\" * 2.0, lambda: \"double\" + 1.0).as('double', 'plus').keep()",
        );
        let g = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, value_point(1, 2.0, &g))],
            &Recorder::default(),
            false,
        );
        assert_eq!(float(&out[0], "value"), 2.0);
        assert_eq!(float(&out[0], "double"), 4.0);
        assert_eq!(float(&out[0], "plus"), 5.0);
    }

    #[test]
    fn tags_turn_string_results_into_tags() {
        let mut node = node(
            "stream|from()|eval(lambda: if(\"value\" > 1.0, 'high', 'low')).as('level').tags('level').keep()",
        );
        let g = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, value_point(1, 2.0, &g)), (0, value_point(2, 0.5, &g))],
            &Recorder::default(),
            false,
        );
        assert_eq!(point(&out[0]).tags["level"], "high");
        assert_eq!(point(&out[1]).tags["level"], "low");
        assert!(!point(&out[0]).fields.contains_key("level"));
    }

    #[test]
    fn stateful_functions_count_per_group() {
        let mut node = node("stream|from()|eval(lambda: count()).as('n')");
        let a = group(&[("host", "a")]);
        let b = group(&[("host", "b")]);
        let inputs = vec![
            (0, value_point(1, 1.0, &a)),
            (0, value_point(1, 1.0, &b)),
            (0, value_point(2, 1.0, &a)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let counts: Vec<Option<FieldValue>> = out
            .iter()
            .map(|m| point(m).fields.get("n").cloned())
            .collect();
        assert_eq!(
            counts,
            vec![
                Some(FieldValue::Int(1)),
                Some(FieldValue::Int(1)),
                Some(FieldValue::Int(2))
            ]
        );
    }
}
