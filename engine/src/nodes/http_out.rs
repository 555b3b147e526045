//! `httpOut(endpoint)`: keeps the latest message of each group for the API to serve.

use std::sync::{Arc, Mutex, PoisonError};

use weir_dsl::nodes::HttpOutSpec;

use crate::json;
use crate::message::Message;
use crate::nodes::{Context, Node};

/// The latest row per group, in group-creation order; shared with the engine.
#[derive(Debug, Default)]
pub struct HttpOutState {
    rows: Mutex<Vec<(String, serde_json::Value)>>,
}

impl HttpOutState {
    /// `{"series":[...]}` with one row per group.
    pub fn render(&self) -> serde_json::Value {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        json::series(rows.iter().map(|(_, row)| row.clone()).collect())
    }

    fn store(&self, group: &str, row: serde_json::Value) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        match rows.iter_mut().find(|(id, _)| id == group) {
            Some(slot) => slot.1 = row,
            None => rows.push((group.to_owned(), row)),
        }
    }
}

/// Runtime state of `httpOut()`.
pub struct HttpOut {
    state: Arc<HttpOutState>,
}

impl HttpOut {
    /// Build from the spec.
    pub fn new(_spec: &HttpOutSpec) -> HttpOut {
        HttpOut {
            state: Arc::new(HttpOutState::default()),
        }
    }

    /// The state the engine serves.
    pub fn state(&self) -> Arc<HttpOutState> {
        self.state.clone()
    }
}

impl Node for HttpOut {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        self.state
            .store(&message.group().id, json::message_row(&message));
        ctx.emit(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn keeps_the_latest_row_per_group() {
        let mut node = HttpOut::new(&HttpOutSpec {
            endpoint: "x".into(),
        });
        let state = node.state();
        let (a, b) = (group(&[("host", "a")]), group(&[("host", "b")]));
        let inputs = vec![
            (0, value_point(1, 1.0, &a)),
            (0, value_point(2, 2.0, &b)),
            (0, value_point(3, 3.0, &a)),
        ];
        run(&mut node, inputs, &Recorder::default(), false);
        let json = state.render();
        let series = json["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["tags"]["host"], "a");
        assert_eq!(series[0]["values"][0][1], 3.0);
    }
}
