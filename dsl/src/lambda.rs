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
    /// The result type when known at compile time.
    pub(crate) ty: Option<&'static str>,
    /// The fast path for common predicate shapes (see `lambda_fast`).
    pub(crate) fast: Option<crate::lambda_fast::Fast>,
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
        use crate::lambda_fast::{Fast, Num};
        match &self.fast {
            Some(Fast::Bool(pred)) => {
                if let Ok(value) = pred.eval(scope) {
                    return Ok(Value::Bool(value));
                }
            }
            Some(Fast::Num(num)) => match num.eval(scope) {
                Ok(Num::Float(value)) => return Ok(Value::Float(value)),
                Ok(Num::Int(value)) => return Ok(Value::Int(value)),
                Err(_) => {}
            },
            None => {}
        }
        crate::lambda_expr::eval(&self.expr, scope, state)
    }

    /// Evaluate and require a boolean (for `where`, alert levels, ...).
    pub fn eval_bool(&self, scope: &dyn Scope, state: &mut LambdaState) -> Result<bool, EvalError> {
        if let Some(crate::lambda_fast::Fast::Bool(pred)) = &self.fast {
            if let Ok(value) = pred.eval(scope) {
                return Ok(value);
            }
        }
        match crate::lambda_expr::eval(&self.expr, scope, state)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::Type(format!(
                "expression must evaluate to bool, got {}",
                other.type_name()
            ))),
        }
    }

    /// The error Kapacitor reports for this lambda when the task starts, if any: an operator
    /// between constants of types that have none (`10 + 0.5`), e.g. "mismatched type to binary
    /// operator. got int + float. see bool(), int(), float(), string(), duration()".
    pub fn start_error(&self) -> Option<String> {
        crate::lambda_expr::constant_type_error(&self.expr)
    }

    /// Names of the references (`"field"`) the expression reads.
    pub fn references(&self) -> Vec<String> {
        crate::lambda_expr::references(&self.expr)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{CompileOptions, NodeSpec, compile};

    struct Point {
        fields: HashMap<&'static str, Value>,
        tags: HashMap<&'static str, &'static str>,
        time: i64,
    }

    impl Scope for Point {
        fn field(&self, name: &str) -> Option<Value> {
            self.fields.get(name).cloned()
        }
        fn tag(&self, name: &str) -> Option<&str> {
            self.tags.get(name).copied()
        }
        fn time(&self) -> i64 {
            self.time
        }
    }

    fn point() -> Point {
        Point {
            fields: HashMap::from([
                ("usage", Value::Float(95.5)),
                ("count", Value::Int(7)),
                ("name", Value::String("web-1".into())),
            ]),
            tags: HashMap::from([("host", "web-01"), ("dc", "east")]),
            // 2024-02-29T13:45:00Z
            time: 1_709_214_300_000_000_000,
        }
    }

    /// Compiles `lambda: <text>` through the whole pipeline and returns the lambda.
    fn lambda(text: &str) -> Lambda {
        let source = format!("stream|from()|eval(lambda: {text}).as('x')|log()");
        let (program, diagnostics) = compile(&source, &CompileOptions::default());
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let Some(NodeSpec::Eval(spec)) = program.map(|p| p.nodes[2].spec.clone()) else {
            panic!("no eval")
        };
        spec.expressions[0].clone()
    }

    fn eval(text: &str) -> Result<Value, EvalError> {
        lambda(text).eval(&point(), &mut LambdaState::default())
    }

    #[test]
    fn references_read_fields_then_tags() {
        assert_eq!(
            eval(r#""usage" > 90.0 AND "host" =~ /^web/"#),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval(r#""dc" == 'east' OR "missing" > 1"#),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval(r#""missing" > 1"#),
            Err(EvalError::Missing("missing".into()))
        );
        assert_eq!(
            eval(r#"isPresent("missing") OR isPresent("dc")"#),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn operator_table_at_run_time() {
        assert_eq!(eval(r#""count" / 2"#), Ok(Value::Int(3)));
        assert_eq!(eval(r#"float("count") * 100.0"#), Ok(Value::Float(700.0)));
        let err = eval(r#""count" * 100.0"#).unwrap_err();
        assert!(err.to_string().contains("convert with float()"), "{err}");
        assert_eq!(
            eval(r#""name" + '-' + "dc""#),
            Ok(Value::String("web-1-east".into()))
        );
        assert_eq!(eval(r#"-"usage""#), Ok(Value::Float(-95.5)));
    }

    #[test]
    fn builtins_and_time() {
        assert_eq!(eval(r#"hour("time")"#), Ok(Value::Int(13)));
        assert_eq!(eval(r#"weekday("time")"#), Ok(Value::Int(4)));
        assert_eq!(
            eval(r#"unixNano(now()) == unixNano("time")"#),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval(r#"strToUpper("dc")"#),
            Ok(Value::String("EAST".into()))
        );
        assert_eq!(
            eval(r#"if("usage" > 90.0, 'hot', 'ok')"#),
            Ok(Value::String("hot".into()))
        );
        assert_eq!(
            eval(r#"regexReplace(/web-(\d+)/, "host", 'n$1')"#),
            Ok(Value::String("n01".into()))
        );
        assert_eq!(
            eval("humanBytes(1200000)"),
            Ok(Value::String("1.2 MB".into()))
        );
    }

    #[test]
    fn stateful_functions_count_per_state() {
        let counter = lambda("count()");
        let mut group_a = LambdaState::default();
        let mut group_b = LambdaState::default();
        assert_eq!(counter.eval(&point(), &mut group_a), Ok(Value::Int(1)));
        assert_eq!(counter.eval(&point(), &mut group_a), Ok(Value::Int(2)));
        assert_eq!(counter.eval(&point(), &mut group_b), Ok(Value::Int(1)));
        let both = lambda(r#"count() + count()"#);
        let mut state = LambdaState::default();
        assert_eq!(both.eval(&point(), &mut state), Ok(Value::Int(2)));
        assert_eq!(both.eval(&point(), &mut state), Ok(Value::Int(4)));
    }

    #[test]
    fn eval_bool_and_references() {
        let predicate = lambda(r#""usage" > 90.0 AND "host" =~ /^web/"#);
        assert_eq!(
            predicate.eval_bool(&point(), &mut LambdaState::default()),
            Ok(true)
        );
        assert_eq!(predicate.references(), ["usage", "host"]);
        assert!(
            lambda(r#""usage""#)
                .eval_bool(&point(), &mut LambdaState::default())
                .is_err()
        );
    }

    #[test]
    fn vars_and_constants_fold_into_lambdas() {
        let source = "var limit = 45.0 * 2.0\nvar w = 5m * 2\nstream|from()|where(lambda: \"usage\" > limit)|window().period(w).every(w)|log()";
        let (program, diagnostics) = compile(source, &CompileOptions::default());
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let program = program.unwrap();
        let NodeSpec::Window(window) = &program.nodes[3].spec else {
            panic!("not window")
        };
        assert_eq!(window.period, Some(crate::Duration(600_000_000_000)));
        let NodeSpec::Where(filter) = &program.nodes[2].spec else {
            panic!("not where")
        };
        assert_eq!(
            filter.predicate.eval(&point(), &mut LambdaState::default()),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn constants_without_an_operator_fail_the_task_at_start_in_kapacitors_words() {
        let start_error = |script: &str| {
            let (program, diagnostics) = compile(script, &CompileOptions::default());
            let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
            program
                .nodes
                .iter()
                .find_map(|node| node.spec.start_error())
        };
        assert_eq!(
            start_error("stream|from()|eval(lambda: \"x\", lambda: 10 + 0.5).as('a', 'b')")
                .as_deref(),
            Some(
                "Failed to compile 1 expression: mismatched type to binary operator. got int + float. see bool(), int(), float(), string(), duration()"
            )
        );
        assert_eq!(
            start_error("stream|from()|where(lambda: \"x\" > 1 AND 'a' * 2 > 1)").as_deref(),
            Some(
                "Failed to compile expression in where clause: invalid math operator * for type string"
            )
        );
        assert_eq!(
            start_error("stream|from()|alert().crit(lambda: TRUE + 1)").as_deref(),
            Some(
                "Failed to compile stateful expression for crit: invalid math operator + for type boolean"
            )
        );
        // Types with an operator that fails on the value, or operands read from the point:
        // these fail per point, not at start.
        assert_eq!(
            start_error("stream|from()|eval(lambda: 1 / 0).as('a')"),
            None
        );
        assert_eq!(
            start_error("stream|from()|eval(lambda: \"x\" + 0.5).as('a')"),
            None
        );
        assert_eq!(
            start_error("stream|from()|eval(lambda: 10 + 1).as('a')"),
            None
        );
    }
}
