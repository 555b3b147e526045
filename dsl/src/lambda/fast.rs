//! A fast path for the common predicate shapes: `"ref" <cmp> number`, `"ref" == 'text'`,
//! `"ref" =~ /regex/` and their `AND`, `OR` and `!` combinations.
//!
//! The fast path never decides an unusual case itself: whenever a point does not fit (a
//! missing reference, a reference that is both a field and a tag, a value of another type, a
//! sub-expression that is not a bool), it gives up with [`Fallback`] and the caller evaluates
//! the whole lambda with the general evaluator, which produces exactly the result or error it
//! always would. Lambdas with stateful functions (`count()`, `sigma()`, `spread()`) never get a
//! fast path, so evaluating twice never changes state; everything else a lambda can call is
//! pure.
//!
//! Numeric expressions over references and literals (`"used" / "total" * 100.0`, with
//! `float(...)`/`int(...)` of numbers) are evaluated on plain numbers with Kapacitor's rules
//! (no int/float promotion, wrapping int arithmetic), both inside comparisons and as whole
//! lambdas (`eval`).
//!
//! Regexes that are an anchored or unanchored literal (`/^web/`, `/\.com$/`, `/^db01$/`,
//! `/prod/`) are matched with string comparisons instead of the regex engine.

use std::cmp::Ordering;

use regex::Regex;

use crate::ast::{BinaryOp, UnaryOp};
use crate::lambda::Scope;
use crate::lambda::builtins::Builtin;
use crate::lambda::expr::{Expr, V, eval_v};
use crate::value::Value;

/// The fast path cannot decide this point: evaluate with the general evaluator.
#[derive(Debug)]
pub(crate) struct Fallback;

/// A compiled predicate.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Const(bool),
    /// `"name" <op> literal` (or `literal <op> "name"` when `literal_left`).
    CmpNum {
        name: Box<str>,
        op: BinaryOp,
        literal: Num,
        literal_left: bool,
    },
    /// `a <op> b` for numeric expressions `a` and `b`.
    Compare {
        left: NumExpr,
        op: BinaryOp,
        right: NumExpr,
    },
    /// `"name" == 'text'` or `!=`, either side.
    EqStr {
        name: Box<str>,
        text: Box<str>,
        equal: bool,
    },
    /// `"name" =~ /regex/` or `!~`.
    Match {
        name: Box<str>,
        matcher: Matcher,
        matches: bool,
    },
    /// Any other bool-typed expression, evaluated by the general evaluator.
    General(Expr),
}

/// A numeric literal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

/// The fast path of a whole lambda.
#[derive(Debug, Clone)]
pub(crate) enum Fast {
    /// A predicate.
    Bool(Pred),
    /// A numeric expression.
    Num(NumExpr),
}

/// A numeric expression over references and literals.
#[derive(Debug, Clone)]
pub(crate) enum NumExpr {
    Ref(Box<str>),
    Lit(Num),
    Neg(Box<NumExpr>),
    /// `+ - * / %`.
    Arith(BinaryOp, Box<NumExpr>, Box<NumExpr>),
    /// `float(x)` of a number.
    ToFloat(Box<NumExpr>),
    /// `int(x)` of a number.
    ToInt(Box<NumExpr>),
}

impl NumExpr {
    /// Kapacitor's arithmetic on numbers: ints with ints (wrapping, `/` truncates, `%` only
    /// here), floats with floats; anything else, and division by an int zero, is an error that
    /// the general evaluator reports.
    pub(crate) fn eval(&self, scope: &dyn Scope) -> Result<Num, Fallback> {
        Ok(match self {
            NumExpr::Ref(name) => number(scope, name)?,
            NumExpr::Lit(value) => *value,
            NumExpr::Neg(operand) => match operand.eval(scope)? {
                Num::Int(value) => Num::Int(value.wrapping_neg()),
                Num::Float(value) => Num::Float(-value),
            },
            NumExpr::Arith(op, left, right) => match (op, left.eval(scope)?, right.eval(scope)?) {
                (BinaryOp::Add, Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_add(b)),
                (BinaryOp::Sub, Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_sub(b)),
                (BinaryOp::Mul, Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_mul(b)),
                (BinaryOp::Div | BinaryOp::Mod, Num::Int(_), Num::Int(0)) => {
                    return Err(Fallback);
                }
                (BinaryOp::Div, Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_div(b)),
                (BinaryOp::Mod, Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_rem(b)),
                (BinaryOp::Add, Num::Float(a), Num::Float(b)) => Num::Float(a + b),
                (BinaryOp::Sub, Num::Float(a), Num::Float(b)) => Num::Float(a - b),
                (BinaryOp::Mul, Num::Float(a), Num::Float(b)) => Num::Float(a * b),
                (BinaryOp::Div, Num::Float(a), Num::Float(b)) => Num::Float(a / b),
                _ => return Err(Fallback),
            },
            NumExpr::ToFloat(operand) => match operand.eval(scope)? {
                Num::Int(value) => Num::Float(value as f64),
                float => float,
            },
            NumExpr::ToInt(operand) => match operand.eval(scope)? {
                Num::Float(value) => Num::Int(value as i64),
                int => int,
            },
        })
    }

    fn has_reference(&self) -> bool {
        match self {
            NumExpr::Ref(_) => true,
            NumExpr::Lit(_) => false,
            NumExpr::Neg(operand) | NumExpr::ToFloat(operand) | NumExpr::ToInt(operand) => {
                operand.has_reference()
            }
            NumExpr::Arith(_, left, right) => left.has_reference() || right.has_reference(),
        }
    }
}

/// A numeric expression, when `expr` is one.
fn num_expr(expr: &Expr) -> Option<NumExpr> {
    Some(match expr {
        Expr::Reference(name) => NumExpr::Ref(name.as_str().into()),
        Expr::Literal(Value::Int(value)) => NumExpr::Lit(Num::Int(*value)),
        Expr::Literal(Value::Float(value)) => NumExpr::Lit(Num::Float(*value)),
        Expr::Unary(UnaryOp::Neg, operand) => NumExpr::Neg(Box::new(num_expr(operand)?)),
        Expr::Binary(
            op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod),
            left,
            right,
        ) => NumExpr::Arith(*op, Box::new(num_expr(left)?), Box::new(num_expr(right)?)),
        Expr::Call(Builtin::Float, args) if args.len() == 1 => {
            NumExpr::ToFloat(Box::new(num_expr(&args[0])?))
        }
        Expr::Call(Builtin::Int, args) if args.len() == 1 => {
            NumExpr::ToInt(Box::new(num_expr(&args[0])?))
        }
        _ => return None,
    })
}

/// A regex, or the plain string test it is equivalent to.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Prefix(Box<str>),
    Suffix(Box<str>),
    Exact(Box<str>),
    Contains(Box<str>),
    Regex(Regex),
}

impl Matcher {
    /// The cheapest equivalent of `regex.is_match(text)`.
    pub(crate) fn new(regex: &Regex) -> Matcher {
        match literal_shape(regex.as_str()) {
            Some((true, true, literal)) => Matcher::Exact(literal.into()),
            Some((true, false, literal)) => Matcher::Prefix(literal.into()),
            Some((false, true, literal)) => Matcher::Suffix(literal.into()),
            Some((false, false, literal)) => Matcher::Contains(literal.into()),
            None => Matcher::Regex(regex.clone()),
        }
    }

    #[inline]
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self {
            Matcher::Prefix(prefix) => text.starts_with(&**prefix),
            Matcher::Suffix(suffix) => text.ends_with(&**suffix),
            Matcher::Exact(exact) => text == &**exact,
            Matcher::Contains(needle) => text.contains(&**needle),
            Matcher::Regex(regex) => regex.is_match(text),
        }
    }
}

/// `(anchored at the start, anchored at the end, literal)` when the pattern is a literal with
/// optional `^`/`$` anchors (and a `.*` on an unanchored side, which matches nothing more);
/// `None` for anything with other regex syntax or flags.
fn literal_shape(pattern: &str) -> Option<(bool, bool, String)> {
    let (start, mut rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    if !start {
        // `.*lit` finds the same matches as `lit` (a search is unanchored anyway).
        rest = rest.strip_prefix(".*").unwrap_or(rest);
    }
    let mut literal = String::with_capacity(rest.len());
    let mut end = false;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                let escaped = chars.next()?;
                // Only escaped punctuation is a literal; `\d`, `\b`, `\n`... are not plain text,
                // and `\<`, `\>` are word boundaries.
                if !escaped.is_ascii_punctuation() || matches!(escaped, '<' | '>') {
                    return None;
                }
                literal.push(escaped);
            }
            '$' if chars.peek().is_none() => end = true,
            '.' if !end && chars.peek() == Some(&'*') => {
                chars.next();
                // A trailing `.*` with no `$` after it matches the empty string: drop it.
                if chars.peek().is_some() {
                    return None;
                }
            }
            '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                return None;
            }
            other => literal.push(other),
        }
    }
    Some((start, end, literal))
}

/// Builds the fast path of a lambda body, when it has a bool or numeric shape worth one and
/// no stateful function anywhere.
pub(crate) fn compile(expr: &Expr) -> Option<Fast> {
    if has_state(expr) {
        return None;
    }
    if let Some(num) = num_expr(expr).filter(NumExpr::has_reference) {
        return Some(Fast::Num(num));
    }
    match predicate(expr) {
        Pred::General(_) => None,
        pred => Some(Fast::Bool(pred)),
    }
}

fn has_state(expr: &Expr) -> bool {
    match expr {
        Expr::Stateful(..) => true,
        Expr::Unary(_, operand) => has_state(operand),
        Expr::Binary(_, left, right) => has_state(left) || has_state(right),
        Expr::Call(_, args) => args.iter().any(has_state),
        Expr::Literal(_) | Expr::Reference(_) | Expr::Time | Expr::IsPresent(_) => false,
    }
}

fn predicate(expr: &Expr) -> Pred {
    let general = || Pred::General(expr.clone());
    match expr {
        Expr::Literal(Value::Bool(value)) => Pred::Const(*value),
        Expr::Unary(UnaryOp::Not, operand) => Pred::Not(Box::new(predicate(operand))),
        Expr::Binary(BinaryOp::And, left, right) => {
            Pred::And(Box::new(predicate(left)), Box::new(predicate(right)))
        }
        Expr::Binary(BinaryOp::Or, left, right) => {
            Pred::Or(Box::new(predicate(left)), Box::new(predicate(right)))
        }
        Expr::Binary(
            op @ (BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Less
            | BinaryOp::LessEq
            | BinaryOp::Greater
            | BinaryOp::GreaterEq),
            left,
            right,
        ) => {
            let (name, literal, literal_left) = match (&**left, &**right) {
                (Expr::Reference(name), Expr::Literal(literal)) => (name, literal, false),
                (Expr::Literal(literal), Expr::Reference(name)) => (name, literal, true),
                _ => {
                    return match (num_expr(left), num_expr(right)) {
                        (Some(left), Some(right)) => Pred::Compare {
                            left,
                            op: *op,
                            right,
                        },
                        _ => general(),
                    };
                }
            };
            let name = name.as_str().into();
            match literal {
                Value::Int(value) => Pred::CmpNum {
                    name,
                    op: *op,
                    literal: Num::Int(*value),
                    literal_left,
                },
                Value::Float(value) => Pred::CmpNum {
                    name,
                    op: *op,
                    literal: Num::Float(*value),
                    literal_left,
                },
                Value::String(text) if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) => {
                    Pred::EqStr {
                        name,
                        text: text.as_str().into(),
                        equal: *op == BinaryOp::Eq,
                    }
                }
                _ => general(),
            }
        }
        Expr::Binary(op @ (BinaryOp::RegexMatch | BinaryOp::RegexNotMatch), left, right) => {
            match (&**left, &**right) {
                (Expr::Reference(name), Expr::Literal(Value::Regex(regex))) => Pred::Match {
                    name: name.as_str().into(),
                    matcher: Matcher::new(regex),
                    matches: *op == BinaryOp::RegexMatch,
                },
                _ => general(),
            }
        }
        _ => general(),
    }
}

/// The value of a reference when it is a number, else [`Fallback`] (missing, a tag, both a
/// field and a tag, or another type: the general evaluator says which).
#[inline]
fn number(scope: &dyn Scope, name: &str) -> Result<Num, Fallback> {
    let value = match scope.field(name) {
        Some(Value::Float(value)) => Num::Float(value),
        Some(Value::Int(value)) => Num::Int(value),
        _ => return Err(Fallback),
    };
    if scope.tag(name).is_some() {
        return Err(Fallback);
    }
    Ok(value)
}

/// Runs `test` on the string value of a reference: a string field, else a tag.
#[inline]
fn with_text(scope: &dyn Scope, name: &str, test: impl Fn(&str) -> bool) -> Result<bool, Fallback> {
    match scope.field(name) {
        Some(Value::String(text)) => {
            if scope.tag(name).is_some() {
                return Err(Fallback);
            }
            Ok(test(&text))
        }
        Some(_) => Err(Fallback),
        None => scope.tag(name).map(test).ok_or(Fallback),
    }
}

/// Kapacitor's comparison of two numbers (ints and floats mix; NaN orders as false).
#[inline]
fn compare(op: BinaryOp, left: Num, right: Num) -> bool {
    if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
        let equal = match (left, right) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a == b,
            (Num::Int(a), Num::Float(b)) => (a as f64) == b,
            (Num::Float(a), Num::Int(b)) => a == (b as f64),
        };
        return equal == (op == BinaryOp::Eq);
    }
    let ordering = match (left, right) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        (Num::Int(a), Num::Float(b)) => (a as f64).partial_cmp(&b),
        (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(b as f64)),
    };
    match (op, ordering) {
        (_, None) => false,
        (BinaryOp::Less, Some(ordering)) => ordering == Ordering::Less,
        (BinaryOp::LessEq, Some(ordering)) => ordering != Ordering::Greater,
        (BinaryOp::Greater, Some(ordering)) => ordering == Ordering::Greater,
        (_, Some(ordering)) => ordering != Ordering::Less,
    }
}

impl Pred {
    /// Evaluates the predicate for one point, or gives up with [`Fallback`].
    pub(crate) fn eval(&self, scope: &dyn Scope) -> Result<bool, Fallback> {
        match self {
            Pred::And(left, right) => Ok(left.eval(scope)? && right.eval(scope)?),
            Pred::Or(left, right) => Ok(left.eval(scope)? || right.eval(scope)?),
            Pred::Not(operand) => operand.eval(scope).map(|value| !value),
            Pred::Const(value) => Ok(*value),
            Pred::CmpNum {
                name,
                op,
                literal,
                literal_left,
            } => {
                let value = number(scope, name)?;
                Ok(if *literal_left {
                    compare(*op, *literal, value)
                } else {
                    compare(*op, value, *literal)
                })
            }
            Pred::Compare { left, op, right } => {
                Ok(compare(*op, left.eval(scope)?, right.eval(scope)?))
            }
            Pred::EqStr { name, text, equal } => {
                with_text(scope, name, |value| (value == &**text) == *equal)
            }
            Pred::Match {
                name,
                matcher,
                matches,
            } => with_text(scope, name, |value| matcher.is_match(value) == *matches),
            Pred::General(expr) => {
                // No stateful function is reachable here (see `compile`), so a throwaway
                // state is never read.
                let mut state = crate::lambda::LambdaState::default();
                match eval_v(expr, scope, &mut state) {
                    Ok(V::Bool(value)) => Ok(value),
                    _ => Err(Fallback),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_regexes_become_string_tests() {
        let cases = [
            ("^web", Some((true, false, "web"))),
            ("^db01$", Some((true, true, "db01"))),
            (r"\.com$", Some((false, true, ".com"))),
            ("prod", Some((false, false, "prod"))),
            (r"^192\.168\..*", Some((true, false, "192.168."))),
            (".*east", Some((false, false, "east"))),
            (r"logger\d+", None),
            ("^web.*$", None),
            ("(?i)web", None),
            ("a|b", None),
            ("^we.b", None),
            ("x$y", None),
        ];
        for (pattern, expected) in cases {
            let shape = literal_shape(pattern);
            assert_eq!(
                shape.as_ref().map(|(s, e, l)| (*s, *e, l.as_str())),
                expected,
                "{pattern}"
            );
        }
    }

    struct Point {
        fields: Vec<(&'static str, Value)>,
        tags: Vec<(&'static str, &'static str)>,
    }

    impl Scope for Point {
        fn field(&self, name: &str) -> Option<Value> {
            self.fields
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.clone())
        }
        fn tag(&self, name: &str) -> Option<&str> {
            self.tags
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        }
        fn time(&self) -> i64 {
            1_709_214_300_000_000_000
        }
    }

    fn lambda(text: &str) -> crate::Lambda {
        let source = format!("stream|from()|where(lambda: {text})|log()");
        let (program, diagnostics) = crate::compile(&source, &crate::CompileOptions::default());
        let Some(crate::NodeSpec::Where(spec)) = program.map(|p| p.nodes[2].spec.clone()) else {
            panic!("{text}: {diagnostics:?}")
        };
        spec.predicate
    }

    /// The fast path gives exactly the general evaluator's answer, errors included, for every
    /// shape it handles and every kind of point.
    #[test]
    fn fast_path_agrees_with_the_general_evaluator() {
        let lambdas = [
            r#""usage" > 90.0 AND "host" =~ /^web/"#,
            r#""usage" > 90"#,
            r#"90.0 < "usage""#,
            r#""usage" >= 95.5 OR "count" == 7"#,
            r#""count" != 7.0"#,
            r#""count" <= 3"#,
            r#""host" == 'web-01'"#,
            r#"'web-01' != "host""#,
            r#""host" !~ /\.example\.com$/"#,
            r#""host" =~ /web-\d+/"#,
            r#"!("usage" > 90.0) AND TRUE"#,
            r#"FALSE OR "name" == 'x'"#,
            r#""usage" > 90.0 AND strLength("host") > 3"#,
            r#"isPresent("missing") OR "dc" == 'east'"#,
            r#""both" > 1"#,
            r#""nan" > 1.0 OR "nan" == "nan""#,
            r#""usage" * 2.0 - 1.0 > 90.0"#,
            r#"float("count") / 2.0 >= "usage" / 100.0"#,
            r#""count" / 2 == 3 AND "count" % 4 == 3 AND -"count" < int("usage")"#,
            r#""count" / ("count" - 7) > 1"#,
            r#""usage" % 2.0 > 1.0"#,
            r#""count" + "usage" > 1.0"#,
        ];
        let points = [
            Point {
                fields: vec![
                    ("usage", Value::Float(95.5)),
                    ("count", Value::Int(7)),
                    ("name", Value::String("x".into())),
                    ("both", Value::Int(2)),
                    ("nan", Value::Float(f64::NAN)),
                ],
                tags: vec![("host", "web-01"), ("dc", "east"), ("both", "b")],
            },
            Point {
                fields: vec![("usage", Value::Int(3)), ("host", Value::Float(1.0))],
                tags: vec![("dc", "west")],
            },
            Point {
                fields: vec![
                    ("usage", Value::String("high".into())),
                    ("count", Value::Bool(true)),
                    ("host", Value::String("db.example.com".into())),
                ],
                tags: vec![],
            },
            Point {
                fields: vec![],
                tags: vec![("usage", "99"), ("host", "web-9")],
            },
        ];
        for text in lambdas {
            let lambda = lambda(text);
            assert!(
                matches!(lambda.fast, Some(Fast::Bool(_))),
                "{text} has no fast path"
            );
            for point in &points {
                let fast = lambda.eval_bool(point, &mut crate::LambdaState::default());
                let general = match crate::lambda::expr::eval(
                    &lambda.expr,
                    point,
                    &mut crate::LambdaState::default(),
                ) {
                    Ok(Value::Bool(value)) => Ok(value),
                    Ok(other) => panic!("{text}: not a bool: {other:?}"),
                    Err(err) => Err(err),
                };
                assert_eq!(fast, general, "{text} on {:?}", point.fields);
            }
        }
        assert!(lambda("count() > 2").fast.is_none());
        let numeric = [
            r#""usage""#,
            r#"100.0 - "usage""#,
            r#""count" * 3 + 1"#,
            r#""count" / 0"#,
            r#"float("count") / "usage""#,
            r#"-"name""#,
        ];
        for text in numeric {
            let source = format!("stream|from()|eval(lambda: {text}).as('x')|log()");
            let (program, _) = crate::compile(&source, &crate::CompileOptions::default());
            let Some(crate::NodeSpec::Eval(spec)) = program.map(|p| p.nodes[2].spec.clone()) else {
                panic!("{text}")
            };
            let lambda = &spec.expressions[0];
            assert!(matches!(lambda.fast, Some(Fast::Num(_))), "{text}");
            for point in &points {
                let fast = lambda.eval(point, &mut crate::LambdaState::default());
                let general = crate::lambda::expr::eval(
                    &lambda.expr,
                    point,
                    &mut crate::LambdaState::default(),
                );
                assert_eq!(fast, general, "{text} on {:?}", point.fields);
            }
        }
        assert!(lambda(r#""a" + 1 > 2 AND sigma("a") > 1.0"#).fast.is_none());
    }

    /// Every matcher agrees with the regex engine on a set of haystacks.
    #[test]
    fn matchers_agree_with_the_regex_engine() {
        let patterns = [
            "^web",
            "^db01$",
            r"\.com$",
            "prod",
            r"^192\.168\..*",
            ".*east",
            "",
            "^",
            "$",
            "^$",
            r"\$",
            r"^\^x",
            "é$",
            r"logger\d+",
            "a.*",
            ".*",
        ];
        let haystacks = [
            "",
            "web",
            "web-01",
            "xweb",
            "db01",
            "db01\n",
            "db011",
            "a.com",
            "acom",
            "prod-1",
            "192.168.1.1",
            "192x168",
            "us-east",
            "east\n",
            "$",
            "^x",
            "café",
            "logger12",
            "a\nb",
        ];
        for pattern in patterns {
            let regex = Regex::new(pattern).unwrap();
            let matcher = Matcher::new(&regex);
            for haystack in haystacks {
                assert_eq!(
                    matcher.is_match(haystack),
                    regex.is_match(haystack),
                    "pattern {pattern:?} on {haystack:?} ({matcher:?})"
                );
            }
        }
    }
}
