//! `log()`: logs every message through `tracing` and passes it on.

use weir_dsl::nodes::LogSpec;

use crate::json;
use crate::message::Message;
use crate::nodes::{Context, Node};

/// Runtime state of `log()`.
pub struct Log {
    level: tracing::Level,
    prefix: String,
}

impl Log {
    /// Build from the spec (unknown levels log at INFO).
    pub fn new(spec: &LogSpec) -> Log {
        let level = match spec.level.to_ascii_uppercase().as_str() {
            "DEBUG" => tracing::Level::DEBUG,
            "WARN" | "WARNING" => tracing::Level::WARN,
            "ERROR" => tracing::Level::ERROR,
            _ => tracing::Level::INFO,
        };
        Log {
            level,
            prefix: spec.prefix.clone(),
        }
    }

    /// The line logged for a message.
    pub fn line(&self, message: &Message) -> String {
        let row = json::message_row(message);
        if self.prefix.is_empty() {
            row.to_string()
        } else {
            format!("{} {row}", self.prefix)
        }
    }
}

impl Node for Log {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let line = self.line(&message);
        let (task, node) = (ctx.task(), ctx.node());
        match self.level {
            tracing::Level::DEBUG => tracing::debug!(task, node, "{line}"),
            tracing::Level::WARN => tracing::warn!(task, node, "{line}"),
            tracing::Level::ERROR => tracing::error!(task, node, "{line}"),
            _ => tracing::info!(task, node, "{line}"),
        }
        ctx.emit(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn logs_rows_with_the_prefix() {
        let mut node = Log::new(&LogSpec {
            level: "debug".into(),
            prefix: "cpu".into(),
        });
        let g = group(&[]);
        let message = value_point(1, 2.0, &g);
        assert!(
            node.line(&message)
                .starts_with("cpu {\"columns\":[\"time\",\"value\"]")
        );
        let (out, _) = run(&mut node, vec![(0, message)], &Recorder::default(), false);
        assert_eq!(out.len(), 1);
    }
}
