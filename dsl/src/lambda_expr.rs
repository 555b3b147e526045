//! The typed expression tree behind [`crate::Lambda`] and its evaluator, with Kapacitor's
//! operator table (no implicit int/float promotion in arithmetic, `/` on ints truncates, `%`
//! on ints only, comparisons mix int and float).
//!
//! Evaluation works on [`V`], which borrows strings and regexes from the expression and the
//! point, so numeric and boolean expressions never allocate.

use std::borrow::Cow;

use regex::Regex;

use crate::ast::{BinaryOp, UnaryOp};
use crate::builtins::{self, Builtin};
use crate::lambda::{EvalError, LambdaState, Scope};
use crate::value::{Duration, Value};

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A literal (also a folded constant or a substituted var).
    Literal(Value),
    /// `"name"`: a field, else a tag, of the current point.
    Reference(String),
    /// `"time"`: the point's time.
    Time,
    /// `-x`, `!x`.
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A stateless builtin.
    Call(Builtin, Vec<Expr>),
    /// `isPresent("name")`.
    IsPresent(String),
    /// A stateful builtin with its slot in [`LambdaState`].
    Stateful(Builtin, usize, Vec<Expr>),
}

/// State of one stateful function call site.
#[derive(Debug, Clone, Default)]
pub(crate) enum StateSlot {
    /// Not used yet.
    #[default]
    Empty,
    /// `count()`.
    Count(i64),
    /// `sigma(x)`: Welford's running mean and variance.
    Sigma {
        /// Points seen.
        n: f64,
        /// Running mean.
        mean: f64,
        /// Sum of squared differences.
        m2: f64,
    },
    /// `spread(x)`.
    Spread {
        /// Smallest value seen.
        min: f64,
        /// Largest value seen.
        max: f64,
    },
}

/// A value during evaluation; borrows where it can.
#[derive(Debug, Clone)]
pub(crate) enum V<'a> {
    Float(f64),
    Int(i64),
    Bool(bool),
    Str(Cow<'a, str>),
    Duration(i64),
    Time(i64),
    Regex(Cow<'a, Regex>),
}

impl<'a> V<'a> {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            V::Float(_) => "float",
            V::Int(_) => "int",
            V::Bool(_) => "bool",
            V::Str(_) => "string",
            V::Duration(_) => "duration",
            V::Time(_) => "time",
            V::Regex(_) => "regex",
        }
    }

    /// Borrows a [`Value`]; `None` for values that are not scalars.
    pub(crate) fn from_value(value: &'a Value) -> Option<V<'a>> {
        Some(match value {
            Value::Float(v) => V::Float(*v),
            Value::Int(v) => V::Int(*v),
            Value::Bool(v) => V::Bool(*v),
            Value::String(v) => V::Str(Cow::Borrowed(v)),
            Value::Duration(v) => V::Duration(v.0),
            Value::Time(v) => V::Time(*v),
            Value::Regex(v) => V::Regex(Cow::Borrowed(v)),
            Value::Missing | Value::List(_) | Value::Lambda(_) | Value::Star => return None,
        })
    }

    fn from_owned(value: Value, name: &str) -> Result<V<'a>, EvalError> {
        Ok(match value {
            Value::Float(v) => V::Float(v),
            Value::Int(v) => V::Int(v),
            Value::Bool(v) => V::Bool(v),
            Value::String(v) => V::Str(Cow::Owned(v)),
            Value::Duration(v) => V::Duration(v.0),
            Value::Time(v) => V::Time(v),
            Value::Regex(v) => V::Regex(Cow::Owned(v)),
            Value::Missing => return Err(EvalError::Missing(name.to_owned())),
            other => {
                return Err(EvalError::Type(format!(
                    "reference \"{name}\" holds a {}, which lambdas cannot use",
                    other.type_name()
                )));
            }
        })
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            V::Float(v) => Value::Float(v),
            V::Int(v) => Value::Int(v),
            V::Bool(v) => Value::Bool(v),
            V::Str(v) => Value::String(v.into_owned()),
            V::Duration(v) => Value::Duration(Duration(v)),
            V::Time(v) => Value::Time(v),
            V::Regex(v) => Value::Regex(v.into_owned()),
        }
    }
}

pub(crate) fn eval(
    expr: &Expr,
    scope: &dyn Scope,
    state: &mut LambdaState,
) -> Result<Value, EvalError> {
    eval_v(expr, scope, state).map(V::into_value)
}

pub(crate) fn eval_v<'a>(
    expr: &'a Expr,
    scope: &'a dyn Scope,
    state: &mut LambdaState,
) -> Result<V<'a>, EvalError> {
    match expr {
        Expr::Literal(value) => V::from_value(value).ok_or_else(|| {
            EvalError::Type(format!(
                "a {} cannot be used in a lambda",
                value.type_name()
            ))
        }),
        Expr::Reference(name) => lookup(scope, name),
        Expr::Time => Ok(V::Time(scope.time())),
        Expr::Unary(op, operand) => unary(*op, eval_v(operand, scope, state)?),
        Expr::Binary(op @ (BinaryOp::And | BinaryOp::Or), left, right) => {
            let left = eval_v(left, scope, state)?;
            match (op, &left) {
                (BinaryOp::And, V::Bool(false)) => return Ok(V::Bool(false)),
                (BinaryOp::Or, V::Bool(true)) => return Ok(V::Bool(true)),
                (_, V::Bool(_)) => {}
                _ => return Err(mismatch(*op, &left, None)),
            }
            match eval_v(right, scope, state)? {
                V::Bool(value) => Ok(V::Bool(value)),
                right => Err(mismatch(*op, &left, Some(&right))),
            }
        }
        Expr::Binary(op, left, right) => {
            let left = eval_v(left, scope, state)?;
            let right = eval_v(right, scope, state)?;
            binary(*op, left, right)
        }
        Expr::IsPresent(name) => Ok(V::Bool(
            name == "time" || scope.field(name).is_some() || scope.tag(name).is_some(),
        )),
        Expr::Call(Builtin::Now, _) => Ok(V::Time(scope.now())),
        Expr::Call(function, args) => eval_call(*function, args, scope, state),
        Expr::Stateful(function, slot, args) => eval_stateful(*function, *slot, args, scope, state),
    }
}

/// Kept out of [`eval_v`] so its argument array does not bloat every frame of the recursion.
#[inline(never)]
fn eval_call<'a>(
    function: Builtin,
    args: &'a [Expr],
    scope: &'a dyn Scope,
    state: &mut LambdaState,
) -> Result<V<'a>, EvalError> {
    let mut values: [V<'a>; builtins::MAX_ARGS] = std::array::from_fn(|_| V::Bool(false));
    for (slot, arg) in values.iter_mut().zip(args) {
        *slot = eval_v(arg, scope, state)?;
    }
    builtins::call(function, &mut values[..args.len()])
}

#[inline(never)]
fn eval_stateful<'a>(
    function: Builtin,
    slot: usize,
    args: &'a [Expr],
    scope: &'a dyn Scope,
    state: &mut LambdaState,
) -> Result<V<'a>, EvalError> {
    let mut values: [V<'a>; builtins::MAX_ARGS] = std::array::from_fn(|_| V::Bool(false));
    for (value, arg) in values.iter_mut().zip(args) {
        *value = eval_v(arg, scope, state)?;
    }
    if state.slots.len() <= slot {
        state.slots.resize(slot + 1, StateSlot::Empty);
    }
    builtins::call_stateful(function, &values[..args.len()], &mut state.slots[slot])
}

fn lookup<'a>(scope: &'a dyn Scope, name: &str) -> Result<V<'a>, EvalError> {
    if let Some(value) = scope.field(name) {
        if scope.tag(name).is_some() {
            return Err(EvalError::Other(format!(
                "\"{name}\" is both a field and a tag"
            )));
        }
        return V::from_owned(value, name);
    }
    if let Some(tag) = scope.tag(name) {
        return Ok(V::Str(Cow::Borrowed(tag)));
    }
    if name == "time" {
        return Ok(V::Time(scope.time()));
    }
    Err(EvalError::Missing(name.to_owned()))
}

pub(crate) fn unary(op: UnaryOp, value: V<'_>) -> Result<V<'_>, EvalError> {
    match (op, value) {
        (UnaryOp::Neg, V::Float(v)) => Ok(V::Float(-v)),
        (UnaryOp::Neg, V::Int(v)) => Ok(V::Int(v.wrapping_neg())),
        (UnaryOp::Neg, V::Duration(v)) => Ok(V::Duration(v.wrapping_neg())),
        (UnaryOp::Not, V::Bool(v)) => Ok(V::Bool(!v)),
        (UnaryOp::Neg, other) => Err(EvalError::Type(format!(
            "invalid unary operator `-` for {}",
            other.type_name()
        ))),
        (UnaryOp::Not, other) => Err(EvalError::Type(format!(
            "invalid unary operator `!` for {}, expected bool",
            other.type_name()
        ))),
    }
}

fn mismatch(op: BinaryOp, left: &V<'_>, right: Option<&V<'_>>) -> EvalError {
    let right_type = right.map_or("?", V::type_name);
    let mut message = format!(
        "invalid binary operator `{}` for {} and {right_type}",
        op.symbol(),
        left.type_name()
    );
    let numeric = |v: &V<'_>| matches!(v, V::Int(_) | V::Float(_));
    if let Some(right) = right {
        if numeric(left) && numeric(right) && left.type_name() != right.type_name() {
            message.push_str(
                ": ints and floats do not mix in arithmetic, convert with float() or int()",
            );
        } else if matches!(op, BinaryOp::RegexMatch | BinaryOp::RegexNotMatch) {
            message.push_str(": the left side must be a string and the right side a regex");
        } else if matches!(op, BinaryOp::And | BinaryOp::Or) {
            message.push_str(": both sides must be bool");
        }
    }
    EvalError::Type(message)
}

/// Kapacitor's binary operator table.
pub(crate) fn binary<'a>(op: BinaryOp, left: V<'a>, right: V<'a>) -> Result<V<'a>, EvalError> {
    use BinaryOp as B;
    use V::{Bool, Duration as D, Float as F, Int as I, Str as S};
    let out = match (op, &left, &right) {
        (B::And, Bool(a), Bool(b)) => Bool(*a && *b),
        (B::Or, Bool(a), Bool(b)) => Bool(*a || *b),
        (B::Eq | B::NotEq, _, _) => {
            let equal = match (&left, &right) {
                (Bool(a), Bool(b)) => a == b,
                (S(a), S(b)) => a == b,
                (I(a), I(b)) => a == b,
                (F(a), F(b)) => a == b,
                (I(a), F(b)) => (*a as f64) == *b,
                (F(a), I(b)) => *a == (*b as f64),
                (D(a), D(b)) => a == b,
                _ => return Err(mismatch(op, &left, Some(&right))),
            };
            Bool(equal == (op == B::Eq))
        }
        (B::Less | B::LessEq | B::Greater | B::GreaterEq, _, _) => {
            let ordering = match (&left, &right) {
                (I(a), I(b)) => a.partial_cmp(b),
                (F(a), F(b)) => a.partial_cmp(b),
                (I(a), F(b)) => (*a as f64).partial_cmp(b),
                (F(a), I(b)) => a.partial_cmp(&(*b as f64)),
                (S(a), S(b)) => a.partial_cmp(b),
                (D(a), D(b)) => a.partial_cmp(b),
                _ => return Err(mismatch(op, &left, Some(&right))),
            };
            let Some(ordering) = ordering else {
                return Ok(Bool(false));
            };
            Bool(match op {
                B::Less => ordering.is_lt(),
                B::LessEq => ordering.is_le(),
                B::Greater => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
        (B::RegexMatch | B::RegexNotMatch, S(text), V::Regex(regex)) => {
            Bool(regex.is_match(text) == (op == B::RegexMatch))
        }
        (B::Add, F(a), F(b)) => F(a + b),
        (B::Add, I(a), I(b)) => I(a.wrapping_add(*b)),
        (B::Add, D(a), D(b)) => D(a.wrapping_add(*b)),
        (B::Add, S(a), S(b)) => {
            let mut joined = String::with_capacity(a.len() + b.len());
            joined.push_str(a);
            joined.push_str(b);
            S(Cow::Owned(joined))
        }
        (B::Sub, F(a), F(b)) => F(a - b),
        (B::Sub, I(a), I(b)) => I(a.wrapping_sub(*b)),
        (B::Sub, D(a), D(b)) => D(a.wrapping_sub(*b)),
        (B::Mul, F(a), F(b)) => F(a * b),
        (B::Mul, I(a), I(b)) => I(a.wrapping_mul(*b)),
        (B::Mul, D(a), I(b)) | (B::Mul, I(b), D(a)) => D(a.wrapping_mul(*b)),
        (B::Mul, D(a), F(b)) | (B::Mul, F(b), D(a)) => D((*a as f64 * b) as i64),
        (B::Div, F(a), F(b)) => F(a / b),
        (B::Div, I(_), I(0))
        | (B::Mod, I(_), I(0))
        | (B::Div, D(_), I(0))
        | (B::Div, D(_), D(0)) => {
            return Err(EvalError::Other("integer division by zero".to_owned()));
        }
        (B::Div, I(a), I(b)) => I(a.wrapping_div(*b)),
        (B::Div, D(a), I(b)) => D(a.wrapping_div(*b)),
        (B::Div, D(a), F(b)) => D((*a as f64 / b) as i64),
        (B::Div, D(a), D(b)) => I(a.wrapping_div(*b)),
        (B::Mod, I(a), I(b)) => I(a.wrapping_rem(*b)),
        _ => return Err(mismatch(op, &left, Some(&right))),
    };
    Ok(out)
}

/// The error Kapacitor's expression compiler (`stateful.NewExpression`) reports when a task
/// starts: an operator between two constants whose types have no operator, such as
/// `10 + 0.5` (operands first, left to right, as Kapacitor builds the tree). Operators whose
/// types fit but whose value fails (`1 / 0`) fail per point instead, as there.
pub(crate) fn constant_type_error(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Binary(op, left, right) => constant_type_error(left)
            .or_else(|| constant_type_error(right))
            .or_else(|| {
                let (Expr::Literal(left), Expr::Literal(right)) = (&**left, &**right) else {
                    return None;
                };
                let (left, right) = (V::from_value(left)?, V::from_value(right)?);
                match binary(*op, left.clone(), right.clone()) {
                    Err(EvalError::Type(_)) => Some(kapacitor_operator_error(*op, &left, &right)),
                    _ => None,
                }
            }),
        Expr::Unary(_, operand) => constant_type_error(operand),
        Expr::Call(_, args) | Expr::Stateful(_, _, args) => {
            args.iter().find_map(constant_type_error)
        }
        Expr::Literal(_) | Expr::Reference(_) | Expr::Time | Expr::IsPresent(_) => None,
    }
}

/// Kapacitor's text for an operator without an implementation for its operand types.
fn kapacitor_operator_error(op: BinaryOp, left: &V<'_>, right: &V<'_>) -> String {
    let kapacitor_type = |value: &V<'_>| match value {
        V::Bool(_) => "boolean",
        other => other.type_name(),
    };
    let samples = [
        V::Float(1.0),
        V::Int(1),
        V::Bool(true),
        V::Str(Cow::Borrowed("")),
        V::Duration(1),
        V::Time(1),
    ];
    let left_has_operator = samples
        .iter()
        .any(|sample| binary(op, left.clone(), sample.clone()).is_ok())
        || (matches!(op, BinaryOp::RegexMatch | BinaryOp::RegexNotMatch)
            && matches!(left, V::Str(_)));
    if left_has_operator {
        return format!(
            "mismatched type to binary operator. got {} {} {}. see bool(), int(), float(), string(), duration()",
            kapacitor_type(left),
            op.symbol(),
            kapacitor_type(right)
        );
    }
    let kind = match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => "math",
        BinaryOp::And | BinaryOp::Or => "logical",
        _ => "comparison",
    };
    format!(
        "invalid {kind} operator {} for type {}",
        op.symbol(),
        kapacitor_type(left)
    )
}

pub(crate) fn references(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(expr, &mut out);
    out
}

fn collect_references(expr: &Expr, out: &mut Vec<String>) {
    let mut push = |name: &str| {
        if !out.iter().any(|seen| seen == name) {
            out.push(name.to_owned());
        }
    };
    match expr {
        Expr::Literal(_) => {}
        Expr::Reference(name) | Expr::IsPresent(name) => push(name),
        // The point's time is not a field or tag.
        Expr::Time => {}
        Expr::Unary(_, operand) => collect_references(operand, out),
        Expr::Binary(_, left, right) => {
            collect_references(left, out);
            collect_references(right, out);
        }
        Expr::Call(_, args) | Expr::Stateful(_, _, args) => {
            for arg in args {
                collect_references(arg, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(op: BinaryOp, left: V<'static>, right: V<'static>) -> Result<Value, EvalError> {
        binary(op, left, right).map(V::into_value)
    }

    #[test]
    fn arithmetic_never_promotes() {
        assert_eq!(bin(BinaryOp::Div, V::Int(7), V::Int(2)), Ok(Value::Int(3)));
        assert_eq!(
            bin(BinaryOp::Div, V::Float(7.0), V::Float(2.0)),
            Ok(Value::Float(3.5))
        );
        let err = bin(BinaryOp::Mul, V::Int(7), V::Float(2.0)).unwrap_err();
        assert!(err.to_string().contains("convert with float()"), "{err}");
        assert!(bin(BinaryOp::Mod, V::Float(7.0), V::Float(2.0)).is_err());
        assert_eq!(bin(BinaryOp::Mod, V::Int(7), V::Int(2)), Ok(Value::Int(1)));
        assert!(matches!(
            bin(BinaryOp::Div, V::Int(1), V::Int(0)),
            Err(EvalError::Other(_))
        ));
    }

    #[test]
    fn comparisons_mix_numbers() {
        assert_eq!(
            bin(BinaryOp::Greater, V::Int(3), V::Float(2.5)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            bin(BinaryOp::Eq, V::Float(2.0), V::Int(2)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            bin(BinaryOp::Less, V::Str("a".into()), V::Str("b".into())),
            Ok(Value::Bool(true))
        );
        assert!(bin(BinaryOp::Eq, V::Str("1".into()), V::Int(1)).is_err());
    }

    #[test]
    fn durations_and_strings() {
        let second = 1_000_000_000;
        assert_eq!(
            bin(BinaryOp::Mul, V::Duration(5 * second), V::Int(2)),
            Ok(Value::Duration(Duration(10 * second)))
        );
        assert_eq!(
            bin(BinaryOp::Div, V::Duration(10 * second), V::Duration(second)),
            Ok(Value::Int(10))
        );
        assert_eq!(
            bin(BinaryOp::Mul, V::Float(1.5), V::Duration(second)),
            Ok(Value::Duration(Duration(1_500_000_000)))
        );
        assert_eq!(
            bin(BinaryOp::Add, V::Str("a".into()), V::Str("b".into())),
            Ok(Value::String("ab".into()))
        );
    }

    #[test]
    fn regex_match_needs_string_and_regex() {
        let regex = Regex::new("^web").unwrap();
        assert_eq!(
            bin(
                BinaryOp::RegexMatch,
                V::Str("web-1".into()),
                V::Regex(Cow::Owned(regex.clone()))
            ),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            bin(
                BinaryOp::RegexNotMatch,
                V::Str("db".into()),
                V::Regex(Cow::Owned(regex.clone()))
            ),
            Ok(Value::Bool(true))
        );
        assert!(bin(BinaryOp::RegexMatch, V::Int(1), V::Regex(Cow::Owned(regex))).is_err());
    }
}
