//! Lambda expressions: compiled once, evaluated per point with Kapacitor's typing rules.

use std::fmt;

use crate::value::Value;

/// What a lambda reads while it is evaluated: the current point.
///
/// References look up fields first, then tags (Kapacitor's rule).
pub trait Scope {
    /// The value of the field `name`, if the point has one.
    fn field(&self, name: &str) -> Option<Value>;
    /// The value of the tag `name`, if the point has one.
    fn tag(&self, name: &str) -> Option<&str>;
    /// The point's time, nanoseconds since the epoch.
    fn time(&self) -> i64;
    /// What `now()` returns, nanoseconds since the epoch. The dsl never reads the clock: the
    /// default is the point's time; an engine that wants wall-clock `now()` overrides this.
    fn now(&self) -> i64 {
        self.time()
    }
}

/// Why evaluating a lambda failed for one point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A referenced field or tag is absent.
    #[error("reference \"{0}\" is missing")]
    Missing(String),
    /// An operator or function was applied to values of the wrong types.
    #[error("{0}")]
    Type(String),
    /// Any other failure (division by zero, bad conversion, ...).
    #[error("{0}")]
    Other(String),
}

/// A compiled lambda expression.
#[derive(Clone)]
pub struct Lambda {
    pub(crate) expr: crate::lambda_expr::Expr,
    /// The expression's source text (without `lambda:`), for display and formatting.
    pub source: String,
}

impl fmt::Debug for Lambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lambda: {}", self.source)
    }
}

impl PartialEq for Lambda {
    fn eq(&self, other: &Lambda) -> bool {
        self.source == other.source
    }
}

/// Per-group state of the stateful functions in a lambda (`count()`, `sigma()`, `spread()`).
#[derive(Debug, Clone, Default)]
pub struct LambdaState {
    pub(crate) slots: Vec<crate::lambda_expr::StateSlot>,
}

impl Lambda {
    /// Evaluate against one point.
    pub fn eval(&self, scope: &dyn Scope, state: &mut LambdaState) -> Result<Value, EvalError> {
        crate::lambda_expr::eval(&self.expr, scope, state)
    }

    /// Evaluate and require a boolean (for `where`, alert levels, ...).
    pub fn eval_bool(&self, scope: &dyn Scope, state: &mut LambdaState) -> Result<bool, EvalError> {
        match self.eval(scope, state)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::Type(format!(
                "expression must evaluate to bool, got {}",
                other.type_name()
            ))),
        }
    }

    /// Names of the references (`"field"`) the expression reads.
    pub fn references(&self) -> Vec<String> {
        crate::lambda_expr::references(&self.expr)
    }
}
