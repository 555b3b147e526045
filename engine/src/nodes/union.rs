//! `union(other...)`: a time-ordered merge of the parents' messages. Nothing is emitted
//! until every parent has delivered something; leftovers are flushed when the task stops.

use std::collections::VecDeque;

use weir_dsl::nodes::UnionSpec;

use crate::message::Message;
use crate::nodes::{Context, Node};

/// Runtime state of `union()`.
pub struct Union {
    rename: Option<crate::point::Name>,
    sources: Vec<VecDeque<Message>>,
}

impl Union {
    /// Build from the spec.
    pub fn new(spec: &UnionSpec, n_parents: usize) -> Union {
        Union {
            rename: spec
                .rename
                .as_deref()
                .filter(|name| !name.is_empty())
                .map(Into::into),
            sources: (0..n_parents.max(1)).map(|_| VecDeque::new()).collect(),
        }
    }

    fn emit(&self, mut message: Message, ctx: &mut Context<'_>) {
        if let Some(name) = &self.rename {
            match &mut message {
                Message::Point(point) => point.point.name.clone_from(name),
                Message::Batch(batch) => {
                    batch.name.clone_from(name);
                    for point in &mut batch.points {
                        point.name.clone_from(name);
                    }
                }
            }
        }
        ctx.emit(message);
    }

    fn emit_ready(&mut self, drain: bool, ctx: &mut Context<'_>) {
        loop {
            let heads: Vec<i64> = self
                .sources
                .iter()
                .filter_map(|source| source.front().map(Message::time))
                .collect();
            if heads.is_empty() || (!drain && heads.len() != self.sources.len()) {
                return;
            }
            let Some(mark) = heads.into_iter().min() else {
                return;
            };
            let mut emitted = Vec::new();
            for source in &mut self.sources {
                while source.front().is_some_and(|message| message.time() <= mark) {
                    if let Some(message) = source.pop_front() {
                        emitted.push(message);
                    }
                }
            }
            for message in emitted {
                self.emit(message, ctx);
            }
        }
    }
}

impl Node for Union {
    fn process(&mut self, port: usize, message: Message, ctx: &mut Context<'_>) {
        let Some(source) = self.sources.get_mut(port) else {
            ctx.error(format!("union: message from unknown parent {port}"));
            return;
        };
        source.push_back(message);
        self.emit_ready(false, ctx);
    }

    fn stop(&mut self, ctx: &mut Context<'_>) {
        self.emit_ready(true, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn merges_in_time_order_and_drains_on_stop() {
        let mut node = Union::new(
            &UnionSpec {
                rename: Some("ab".into()),
            },
            2,
        );
        let g = group(&[]);
        let inputs = vec![
            (0, value_point(1, 1.0, &g)),
            (0, value_point(3, 3.0, &g)),
            (1, value_point(2, 2.0, &g)),
            (1, value_point(5, 5.0, &g)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        let times: Vec<i64> = out.iter().map(|m| m.time() / 1_000_000_000).collect();
        assert_eq!(times, vec![1, 2, 3]);
        assert_eq!(out[0].name(), "ab");
        let (out, _) = run(&mut node, vec![], &Recorder::default(), true);
        assert_eq!(out.len(), 1);
    }
}
