//! `httpOut(endpoint)`: keeps the latest message of each group for the API to serve.

use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use weir_dsl::nodes::HttpOutSpec;

use crate::json;
use crate::message::Message;
use crate::nodes::{Context, Node};

/// The latest message per group, in group-creation order; shared with the engine. Messages
/// are kept as they are (a copy shares the point's tags and fields) and turned into JSON only
/// when the endpoint is read, so a busy task pays nothing for rows nobody asks for.
#[derive(Debug, Default)]
pub struct HttpOutState {
    rows: Mutex<Latest>,
}

#[derive(Debug, Default)]
struct Latest {
    /// Group id → index in `messages`.
    index: FxHashMap<String, usize>,
    messages: Vec<Message>,
}

impl HttpOutState {
    /// `{"series":[...]}` with one row per group.
    pub fn render(&self) -> serde_json::Value {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        json::series(rows.messages.iter().map(json::message_row).collect())
    }

    fn store(&self, message: Message) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let Latest { index, messages } = &mut *rows;
        match index.get(message.group().id.as_str()) {
            Some(&slot) => messages[slot] = message,
            None => {
                index.insert(message.group().id.clone(), messages.len());
                messages.push(message);
            }
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
        self.state.store(message.clone());
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
