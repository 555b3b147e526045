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
