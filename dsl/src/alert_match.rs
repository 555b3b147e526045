//! Match expressions of topic handlers (`match: changed() == TRUE AND "host" == 'a'`):
//! a lambda body with Kapacitor's match functions and level constants.
//!
//! The functions `level()`, `changed()`, `name()`, `taskName()` and `duration()` become
//! references named after themselves (`"level()"`), so the scope that evaluates the lambda
//! answers them; `OK`, `INFO`, `WARNING` and `CRITICAL` are the level numbers 0 to 3, which is
//! what `level()` returns. Tags are read with double quotes, as in any lambda.

use crate::lambda::Lambda;
use crate::lexer::TokenKind;
use crate::nodes::NodeSpec;
use crate::program::{CompileOptions, TaskType};

/// The functions a match expression may call, each answered by the reference of its name.
pub const MATCH_FUNCTIONS: [&str; 5] = ["level", "changed", "name", "taskName", "duration"];

/// The reference a match function becomes (`level` → `"level()"`).
pub fn match_reference(function: &str) -> String {
    format!("{function}()")
}

const PRELUDE: &str = "var OK = 0\nvar INFO = 1\nvar WARNING = 2\nvar CRITICAL = 3\nstream\n    |from()\n    |where(lambda: ";

/// Compile a match expression; an empty one matches every event (`Ok(None)`).
///
/// Errors name the column within the expression.
pub fn compile_match(source: &str) -> Result<Option<Lambda>, String> {
    if source.trim().is_empty() {
        return Ok(None);
    }
    let (tokens, lex_errors) = crate::lexer::lex(source);
    if let Some(error) = lex_errors.iter().find(|d| d.is_error()) {
        return Err(describe(source, error.span().start, error));
    }
    // Rewrite `name()` calls of the match functions into references, keeping everything
    // else byte for byte.
    let mut body = String::with_capacity(source.len() + 16);
    // Where each copied piece starts in the rewritten body and in the source, to report
    // columns of the source.
    let mut pieces: Vec<(usize, usize)> = vec![(0, 0)];
    let mut copied = 0;
    let mut idx = 0;
    while idx < tokens.len() {
        let token = &tokens[idx];
        if let TokenKind::Ident(name) = &token.kind {
            let is_call = MATCH_FUNCTIONS.contains(&name.as_str())
                && matches!(
                    tokens.get(idx + 1).map(|t| &t.kind),
                    Some(TokenKind::LParen)
                )
                && matches!(
                    tokens.get(idx + 2).map(|t| &t.kind),
                    Some(TokenKind::RParen)
                );
            if is_call {
                body.push_str(&source[copied..token.span.start]);
                body.push('"');
                body.push_str(&match_reference(name));
                body.push('"');
                copied = tokens[idx + 2].span.end;
                pieces.push((body.len(), copied));
                idx += 3;
                continue;
            }
        }
        idx += 1;
    }
    body.push_str(&source[copied..]);
    if body.contains('\n') {
        return Err(format!(
            "invalid match expression {source:?}: it must be one line"
        ));
    }
    let script = format!("{PRELUDE}{body})\n");
    let options = CompileOptions {
        task_type: Some(TaskType::Stream),
        ..CompileOptions::default()
    };
    let (program, diagnostics) = crate::compile(&script, &options);
    if let Some(error) = diagnostics.iter().find(|d| d.is_error()) {
        // Back from the script to the rewritten body to the source.
        let in_body = error.span().start.saturating_sub(PRELUDE.len());
        let (body_start, source_start) = pieces
            .iter()
            .rev()
            .find(|(body_start, _)| *body_start <= in_body)
            .copied()
            .unwrap_or((0, 0));
        let at = (source_start + (in_body - body_start)).min(source.len());
        return Err(describe(source, at, error));
    }
    let program = program.ok_or_else(|| format!("invalid match expression {source:?}"))?;
    program
        .nodes
        .iter()
        .find_map(|node| match &node.spec {
            NodeSpec::Where(spec) => Some(Some(spec.predicate.clone())),
            _ => None,
        })
        .ok_or_else(|| format!("invalid match expression {source:?}"))
}

/// One diagnostic as `invalid match expression: column N: message`, `at` being the byte
/// offset in the expression.
fn describe(source: &str, at: usize, diagnostic: &crate::Diagnostic) -> String {
    let column = source
        .get(..at.min(source.len()))
        .map_or(1, |before| before.chars().count() + 1);
    let mut out = format!(
        "invalid match expression: column {column}: {}",
        diagnostic.message
    );
    for note in &diagnostic.notes {
        out.push_str("; ");
        out.push_str(note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LambdaState, Scope, Value};

    struct Event {
        level: i64,
        changed: bool,
        host: &'static str,
    }

    impl Scope for Event {
        fn field(&self, name: &str) -> Option<Value> {
            match name {
                "level()" => Some(Value::Int(self.level)),
                "changed()" => Some(Value::Bool(self.changed)),
                "name()" => Some(Value::String("cpu".into())),
                _ => None,
            }
        }
        fn tag(&self, name: &str) -> Option<&str> {
            (name == "host").then_some(self.host)
        }
        fn time(&self) -> i64 {
            0
        }
    }

    fn matches(source: &str, event: &Event) -> bool {
        let lambda = compile_match(source).unwrap().unwrap();
        lambda
            .eval_bool(event, &mut LambdaState::default())
            .unwrap()
    }

    #[test]
    fn kapacitor_match_expressions() {
        let a_changed = Event {
            level: 2,
            changed: true,
            host: "a",
        };
        let b_repeat = Event {
            level: 3,
            changed: false,
            host: "b",
        };
        let source = "changed() == TRUE AND \"host\" == 'a'";
        assert!(matches(source, &a_changed));
        assert!(!matches(source, &b_repeat));
        assert!(matches("level() >= WARNING", &a_changed));
        assert!(!matches("level() == CRITICAL", &a_changed));
        assert!(matches(
            "level() == CRITICAL AND name() == 'cpu'",
            &b_repeat
        ));
        // A string that looks like a call stays a string.
        assert!(!matches("\"host\" == 'changed()'", &a_changed));
        assert_eq!(compile_match("  ").unwrap(), None);
    }

    #[test]
    fn bad_expressions_name_the_column() {
        let error = compile_match("level() >= WARNIN").unwrap_err();
        assert!(error.contains("column 12"), "{error}");
        assert!(error.contains("WARNING"), "{error}");
        let error = compile_match("\"host\" == ").unwrap_err();
        assert!(error.starts_with("invalid match expression"), "{error}");
    }
}
