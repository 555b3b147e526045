//! The typed expression tree behind [`crate::Lambda`] and its evaluator.
//!
//! FIXME: placeholder until the lambda compiler lands; only literals evaluate.

use crate::lambda::{EvalError, LambdaState, Scope};
use crate::value::Value;

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A literal.
    Literal(Value),
}

/// State of one stateful function call site.
#[derive(Debug, Clone, Default)]
pub(crate) struct StateSlot;

pub(crate) fn eval(expr: &Expr, _scope: &dyn Scope, _state: &mut LambdaState) -> Result<Value, EvalError> {
    match expr {
        Expr::Literal(value) => Ok(value.clone()),
    }
}

pub(crate) fn references(_expr: &Expr) -> Vec<String> {
    Vec::new()
}
