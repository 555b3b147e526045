//! Argument checking: evaluates a call's arguments and converts them to the parameter types
//! of a method signature, with the helpful messages (int where a float belongs, a reference
//! where a string belongs).

use super::{CValue, Checker, labelled};
use crate::ast::{Expr, ExprKind};
use crate::codes;
use crate::schema::{Arg, ArgValue, Sig};
use crate::span::Span;
use crate::value::Value;

impl Checker<'_> {
    /// Checks and evaluates a call's arguments against a signature. Lists spread into a
    /// variadic tail.
    pub(crate) fn check_args(
        &mut self,
        sig: &Sig,
        args: &[Expr],
        call_span: Span,
        what: &str,
    ) -> Option<Vec<(ArgValue, Span)>> {
        let mut values: Vec<(CValue, Span)> = Vec::new();
        let mut failed = false;
        for arg in args {
            let position = values.len();
            let expected = sig
                .params
                .get(position)
                .map(|param| param.1)
                .or(sig.rest.map(|rest| rest.1));
            if matches!(expected, Some(Arg::Lambda | Arg::Predicate))
                && !matches!(
                    arg.kind,
                    ExprKind::Lambda(_) | ExprKind::Ident(_) | ExprKind::Error
                )
            {
                let mut diagnostic = labelled(
                    codes::ARG_TYPE,
                    format!("`{what}` expects a lambda expression"),
                    arg.span,
                    "not a lambda",
                );
                let text = self
                    .source
                    .get(arg.span.start..arg.span.end)
                    .unwrap_or_default();
                diagnostic.notes.push(format!("write `lambda: {text}`"));
                self.diagnostics.push(diagnostic);
                failed = true;
                values.push((CValue::Star, arg.span));
                continue;
            }
            match self.eval(arg) {
                Some(CValue::List(items)) if sig.rest.is_some() && position >= sig.params.len() => {
                    values.extend(items)
                }
                Some(value) => values.push((value, arg.span)),
                None => {
                    failed = true;
                    values.push((CValue::Star, arg.span));
                }
            }
        }
        let count = values.len();
        if count < sig.required || (sig.rest.is_none() && count > sig.params.len()) {
            let wanted = if sig.rest.is_some() {
                format!("at least {}", sig.required)
            } else if sig.required == sig.params.len() {
                sig.required.to_string()
            } else {
                format!("{} to {}", sig.required, sig.params.len())
            };
            let plural = if wanted == "1" {
                "argument"
            } else {
                "arguments"
            };
            let mut diagnostic = labelled(
                codes::ARITY,
                format!("`{what}` takes {wanted} {plural}, got {count}"),
                call_span,
                format!("{what}{}", sig.describe()),
            );
            diagnostic
                .notes
                .push(format!("signature: {what}{}", sig.describe()));
            self.diagnostics.push(diagnostic);
            return None;
        }
        if failed {
            return None;
        }
        let mut checked = Vec::with_capacity(count);
        let mut ok = true;
        for (position, (value, span)) in values.into_iter().enumerate() {
            let (param_name, expected) = sig
                .params
                .get(position)
                .copied()
                .or(sig.rest)
                .unwrap_or(("argument", Arg::Any));
            match self.convert(expected, value, span, what, param_name) {
                Some(converted) => checked.push((converted, span)),
                None => ok = false,
            }
        }
        ok.then_some(checked)
    }

    fn convert(
        &mut self,
        expected: Arg,
        value: CValue,
        span: Span,
        what: &str,
        param: &str,
    ) -> Option<ArgValue> {
        match (expected, value) {
            (Arg::Str | Arg::StrOrStar | Arg::StrOrTime, CValue::Scalar(Value::String(text))) => {
                Some(ArgValue::Str(text))
            }
            (Arg::StrOrStar | Arg::StrOrTime, CValue::Star) => Some(ArgValue::Star),
            (Arg::StrOrTime, CValue::Time(every, offset)) => Some(ArgValue::Time(every, offset)),
            (Arg::Int, CValue::Scalar(Value::Int(value))) => Some(ArgValue::Int(value)),
            (Arg::Float, CValue::Scalar(Value::Float(value))) => Some(ArgValue::Float(value)),
            (Arg::Duration, CValue::Scalar(Value::Duration(value))) => {
                Some(ArgValue::Duration(value))
            }
            (Arg::Bool, CValue::Scalar(Value::Bool(value))) => Some(ArgValue::Bool(value)),
            (Arg::Predicate, CValue::Lambda(lambda))
                if lambda.ty.is_some_and(|ty| ty != "bool") =>
            {
                let ty = lambda.ty.unwrap_or_default();
                let mut diagnostic = labelled(
                    codes::NEVER_BOOL,
                    format!(
                        "`{what}` needs a bool predicate, but this lambda is always {} {ty}",
                        if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "an"
                        } else {
                            "a"
                        }
                    ),
                    span,
                    format!("evaluates to {ty}"),
                );
                diagnostic.severity = crate::Severity::Warning;
                diagnostic
                    .notes
                    .push("compare it, for example `lambda: \"usage\" > 90.0`".to_owned());
                diagnostic.notes.push(
                    "Kapacitor accepts this and fails on every point; weir runs it the same way (the points are dropped)"
                        .to_owned(),
                );
                self.diagnostics.push(diagnostic);
                Some(ArgValue::Lambda(lambda))
            }
            (Arg::Lambda | Arg::Predicate, CValue::Lambda(lambda)) => {
                Some(ArgValue::Lambda(lambda))
            }
            (Arg::Node, CValue::Node(node)) => Some(ArgValue::Node(node.node)),
            (
                Arg::Any,
                CValue::Scalar(
                    value @ (Value::String(_)
                    | Value::Int(_)
                    | Value::Float(_)
                    | Value::Bool(_)
                    | Value::Duration(_)),
                ),
            ) => Some(ArgValue::Value(value)),
            (Arg::Str | Arg::StrOrStar | Arg::StrOrTime | Arg::Any, CValue::Reference(name)) => {
                let mut diagnostic = labelled(
                    codes::REFERENCE_AS_STRING,
                    format!(
                        "`{what}` expects a string for `{param}`, got the reference \"{name}\""
                    ),
                    span,
                    "double quotes make a reference",
                );
                diagnostic.notes.push(format!(
                    "did you use double quotes instead of single quotes? write '{}'",
                    name.replace('\'', "\\'")
                ));
                self.diagnostics.push(diagnostic);
                None
            }
            (expected, given) => {
                let (message, note) = match (expected, &given) {
                    (Arg::Float, CValue::Scalar(Value::Int(value))) => (
                        format!("expected float, got int: write {value}.0"),
                        Some(
                            "weir, like Kapacitor, does not convert ints to floats here".to_owned(),
                        ),
                    ),
                    (Arg::Int, CValue::Scalar(Value::Float(value))) => (
                        format!("expected int, got float: write {}", value.trunc() as i64),
                        Some(
                            "weir, like Kapacitor, does not convert floats to ints here".to_owned(),
                        ),
                    ),
                    (Arg::Duration, CValue::Scalar(Value::Int(value))) => (
                        format!("expected duration, got int: write {value}s (or another unit)"),
                        None,
                    ),
                    (Arg::Str, CValue::Star) => (
                        "expected string, got `*`".to_owned(),
                        Some("`*` is only accepted by groupBy".to_owned()),
                    ),
                    _ => (
                        format!("expected {}, got {}", expected.name(), given.type_name()),
                        None,
                    ),
                };
                let mut diagnostic = labelled(
                    codes::ARG_TYPE,
                    message,
                    span,
                    if param == what {
                        format!("`{what}` takes a {}", expected.name())
                    } else {
                        format!("`{param}` of `{what}` is {}", expected.name())
                    },
                );
                diagnostic.notes.extend(note);
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }
}
