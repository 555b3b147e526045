//! Lowers a `lambda:` body to the typed expression tree, with static type checks where
//! operand types are known at compile time (literals, vars, function results), constant
//! folding, var substitution and stateful-function slot assignment.

use std::borrow::Cow;

use crate::ast::{Expr, ExprKind, UnaryOp};
use crate::builtins::{Builtin, Param, Returns};
use crate::check::{CValue, Checker, did_you_mean};
use crate::codes;
use crate::diagnostic::{Diagnostic, Label};
use crate::lambda::{EvalError, Lambda};
use crate::lambda_expr::{self, Expr as L, V};
use crate::span::Span;
use crate::value::Value;

/// A lowered expression and its type when known at compile time.
struct Lowered {
    expr: L,
    ty: Option<&'static str>,
}

fn literal(value: Value) -> Lowered {
    let ty = Some(value.type_name());
    Lowered {
        expr: L::Literal(value),
        ty,
    }
}

/// A sample value of a type, for checking operators statically.
fn sample(ty: &str) -> Option<V<'static>> {
    Some(match ty {
        "float" => V::Float(1.0),
        "int" => V::Int(1),
        "bool" => V::Bool(true),
        "string" => V::Str(Cow::Borrowed("")),
        "duration" => V::Duration(1),
        "time" => V::Time(1),
        "regex" => V::Regex(Cow::Owned(regex::Regex::new("").ok()?)),
        _ => return None,
    })
}

impl Checker<'_> {
    /// Compiles a lambda body.
    pub(crate) fn compile_lambda(&mut self, body: &Expr) -> Option<Lambda> {
        let mut slots = 0;
        let lowered = self.lower(body, &mut slots)?;
        let source = self
            .source
            .get(body.span.start..body.span.end)
            .unwrap_or_default()
            .trim()
            .to_owned();
        Some(Lambda {
            fast: crate::lambda_fast::compile(&lowered.expr),
            expr: lowered.expr,
            source,
            ty: lowered.ty,
        })
    }

    /// A lambda that Kapacitor accepts but that fails on every point it is evaluated for: a
    /// warning, and the expression is kept as written so it fails the same way at run time.
    fn every_point_fails(&mut self, code: &'static str, message: String, span: Span, label: &str) {
        let mut diagnostic = Diagnostic::warning(code, message, span).with_note(
            "Kapacitor accepts this and fails on every point; weir runs it the same way (the points are dropped)",
        );
        diagnostic.labels = vec![Label {
            span,
            text: label.to_owned(),
            primary: true,
        }];
        self.diagnostics.push(diagnostic);
    }

    /// An operator between constants of types that have none: Kapacitor compiles the script
    /// and fails the task when it starts ([`crate::NodeSpec::start_error`]); weir does too.
    fn fails_at_start(&mut self, message: String, span: Span) {
        let mut diagnostic = Diagnostic::warning(codes::OPERATOR_FAILS_AT_START, message, span)
            .with_note(
                "Kapacitor accepts this script and fails the task when it is enabled; weir does the same",
            );
        diagnostic.labels = vec![Label {
            span,
            text: "fails when the task starts".to_owned(),
            primary: true,
        }];
        self.diagnostics.push(diagnostic);
    }

    fn lambda_error(&mut self, code: &'static str, message: String, span: Span, label: &str) {
        let mut diagnostic = Diagnostic::error(code, message, span);
        diagnostic.labels = vec![Label {
            span,
            text: label.to_owned(),
            primary: true,
        }];
        self.diagnostics.push(diagnostic);
    }

    fn lower(&mut self, expr: &Expr, slots: &mut usize) -> Option<Lowered> {
        match &expr.kind {
            ExprKind::Int(value) => Some(literal(Value::Int(*value))),
            ExprKind::Float(value) => Some(literal(Value::Float(*value))),
            ExprKind::Duration(value) => Some(literal(Value::Duration(crate::Duration(*value)))),
            ExprKind::Str(value) => Some(literal(Value::String(value.clone()))),
            ExprKind::Bool(value) => Some(literal(Value::Bool(*value))),
            ExprKind::Regex(pattern) => self
                .regex(pattern, expr.span)
                .map(|regex| literal(Value::Regex(regex))),
            ExprKind::Reference(name) if name == "time" => Some(Lowered {
                expr: L::Time,
                ty: Some("time"),
            }),
            ExprKind::Reference(name) => Some(Lowered {
                expr: L::Reference(name.clone()),
                ty: None,
            }),
            ExprKind::Paren(inner) => self.lower(inner, slots),
            // A syntax error, already reported.
            ExprKind::Error => None,
            ExprKind::Ident(name) => self.lower_var(name, expr.span, slots),
            ExprKind::Star | ExprKind::List(_) | ExprKind::Lambda(_) | ExprKind::Chain { .. } => {
                let what = match &expr.kind {
                    ExprKind::Star => "`*`",
                    ExprKind::List(_) => "a list",
                    ExprKind::Lambda(_) => "a nested `lambda:`",
                    _ => "a node",
                };
                self.lambda_error(
                    codes::LAMBDA_VALUE,
                    format!("{what} cannot be used inside a lambda"),
                    expr.span,
                    "not allowed here",
                );
                None
            }
            ExprKind::Unary { op, operand } => {
                let inner = self.lower(operand, slots)?;
                if let L::Literal(value) = &inner.expr {
                    let folded = V::from_value(value)
                        .ok_or_else(|| "not a scalar".to_owned())
                        .and_then(|v| {
                            lambda_expr::unary(*op, v)
                                .map(V::into_value)
                                .map_err(|err| err.to_string())
                        });
                    match folded {
                        Ok(value) => return Some(literal(value)),
                        Err(message) => {
                            self.every_point_fails(
                                codes::OPERATOR_FAILS,
                                message,
                                expr.span,
                                "invalid operand",
                            );
                            return Some(Lowered {
                                ty: None,
                                expr: L::Unary(*op, Box::new(inner.expr)),
                            });
                        }
                    }
                }
                let valid = match (op, inner.ty) {
                    (_, None) => true,
                    (UnaryOp::Neg, Some(ty)) => matches!(ty, "int" | "float" | "duration"),
                    (UnaryOp::Not, Some(ty)) => ty == "bool",
                };
                if !valid {
                    let symbol = if *op == UnaryOp::Neg { "-" } else { "!" };
                    let message = format!(
                        "invalid unary operator `{symbol}` for {}",
                        inner.ty.unwrap_or("?")
                    );
                    self.every_point_fails(
                        codes::OPERATOR_FAILS,
                        message,
                        expr.span,
                        "invalid operand",
                    );
                    return Some(Lowered {
                        ty: None,
                        expr: L::Unary(*op, Box::new(inner.expr)),
                    });
                }
                Some(Lowered {
                    ty: inner.ty,
                    expr: L::Unary(*op, Box::new(inner.expr)),
                })
            }
            ExprKind::Binary { op, left, right } => {
                let left = self.lower(left, slots);
                let right = self.lower(right, slots);
                let (left, right) = (left?, right?);
                if let (L::Literal(l), L::Literal(r)) = (&left.expr, &right.expr) {
                    let folded = match (V::from_value(l), V::from_value(r)) {
                        (Some(l), Some(r)) => lambda_expr::binary(*op, l, r)
                            .map(V::into_value)
                            .map_err(|err| (matches!(err, EvalError::Type(_)), err.to_string())),
                        _ => Err((false, "operands must be scalars".to_owned())),
                    };
                    match folded {
                        Ok(value) => return Some(literal(value)),
                        Err((wrong_types, message)) => {
                            let mut message = message;
                            if let (Value::String(text), true) = (l, looks_like_a_name(l)) {
                                message.push_str(&format!(
                                    ": '{text}' is a string; to read a field or tag, use double quotes: \"{text}\""
                                ));
                            }
                            if wrong_types {
                                self.fails_at_start(message, expr.span);
                            } else {
                                self.every_point_fails(
                                    codes::OPERATOR_FAILS,
                                    message,
                                    expr.span,
                                    "always fails",
                                );
                            }
                            return Some(Lowered {
                                expr: L::Binary(*op, Box::new(left.expr), Box::new(right.expr)),
                                ty: None,
                            });
                        }
                    }
                }
                let mut ty = None;
                if let (Some(lt), Some(rt)) = (left.ty, right.ty) {
                    if let (Some(l), Some(r)) = (sample(lt), sample(rt)) {
                        match lambda_expr::binary(*op, l, r) {
                            Ok(result) => ty = Some(result.type_name()),
                            Err(err) => {
                                self.every_point_fails(
                                    codes::OPERATOR_FAILS,
                                    err.to_string(),
                                    expr.span,
                                    "fails for every point",
                                );
                                return Some(Lowered {
                                    expr: L::Binary(*op, Box::new(left.expr), Box::new(right.expr)),
                                    ty: None,
                                });
                            }
                        }
                    }
                } else if matches!(
                    op,
                    crate::ast::BinaryOp::And
                        | crate::ast::BinaryOp::Or
                        | crate::ast::BinaryOp::Eq
                        | crate::ast::BinaryOp::NotEq
                        | crate::ast::BinaryOp::Less
                        | crate::ast::BinaryOp::LessEq
                        | crate::ast::BinaryOp::Greater
                        | crate::ast::BinaryOp::GreaterEq
                        | crate::ast::BinaryOp::RegexMatch
                        | crate::ast::BinaryOp::RegexNotMatch
                ) {
                    ty = Some("bool");
                }
                Some(Lowered {
                    expr: L::Binary(*op, Box::new(left.expr), Box::new(right.expr)),
                    ty,
                })
            }
            ExprKind::Call { name, args } => {
                self.lower_call(&name.name, name.span, args, expr.span, slots)
            }
        }
    }

    fn lower_var(&mut self, name: &str, span: Span, slots: &mut usize) -> Option<Lowered> {
        let binding = self.var_value(name);
        match binding {
            Some(Some(CValue::Scalar(value))) => Some(literal(value)),
            Some(Some(CValue::Lambda(lambda))) => Some(Lowered {
                expr: renumbered(lambda.expr, slots),
                ty: None,
            }),
            Some(Some(other)) => {
                self.lambda_error(
                    codes::LAMBDA_VALUE,
                    format!(
                        "var `{name}` holds a {}, which cannot be used inside a lambda",
                        other.type_name()
                    ),
                    span,
                    "not a scalar",
                );
                None
            }
            // The var's definition failed and was reported.
            Some(None) => None,
            None => {
                let mut diagnostic =
                    Diagnostic::error(codes::UNKNOWN_VAR, format!("unknown var `{name}`"), span);
                diagnostic.labels = vec![Label {
                    span,
                    text: "not defined".to_owned(),
                    primary: true,
                }];
                diagnostic.notes.push(format!(
                    "to read a field or tag, use double quotes: \"{name}\""
                ));
                if let Some(hint) = did_you_mean(name, self.var_names()) {
                    diagnostic.notes.push(hint);
                }
                if matches!(name, "true" | "false") {
                    diagnostic
                        .notes
                        .push(format!("booleans are upper case: {}", name.to_uppercase()));
                }
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }

    fn lower_call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        span: Span,
        slots: &mut usize,
    ) -> Option<Lowered> {
        let Some(function) = Builtin::find(name) else {
            let mut diagnostic = Diagnostic::error(
                codes::UNKNOWN_FUNCTION,
                format!("unknown function `{name}`"),
                name_span,
            );
            diagnostic.labels = vec![Label {
                span: name_span,
                text: "unknown function".to_owned(),
                primary: true,
            }];
            if let Some(hint) =
                did_you_mean(name, Builtin::ALL.iter().map(|builtin| builtin.name()))
            {
                diagnostic.labels[0].text = hint;
            }
            self.diagnostics.push(diagnostic);
            return None;
        };
        let params = function.params();
        let min = params.len() - function.optional();
        if args.len() < min || args.len() > params.len() {
            let wanted = if min == params.len() {
                min.to_string()
            } else {
                format!("{min} to {}", params.len())
            };
            let mut diagnostic = Diagnostic::error(
                codes::ARITY,
                format!(
                    "`{name}` takes {wanted} argument{}, got {}",
                    if wanted == "1" { "" } else { "s" },
                    args.len()
                ),
                span,
            );
            diagnostic
                .notes
                .push(format!("signature: {}", function.signature()));
            self.diagnostics.push(diagnostic);
            return None;
        }
        if function == Builtin::IsPresent {
            return match &args[0].kind {
                ExprKind::Reference(reference) => Some(Lowered {
                    expr: L::IsPresent(reference.clone()),
                    ty: Some("bool"),
                }),
                _ => {
                    self.lambda_error(
                        codes::ARG_TYPE,
                        "isPresent expects a reference such as \"host\"".to_owned(),
                        args[0].span,
                        "not a reference",
                    );
                    None
                }
            };
        }
        let mut lowered = Vec::with_capacity(args.len());
        let mut failed = false;
        for arg in args {
            match self.lower(arg, slots) {
                Some(arg) => lowered.push(arg),
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        for (index, (param, arg)) in params.iter().zip(&lowered).enumerate() {
            let Some(given) = arg.ty else { continue };
            let expected = match param {
                Param::Any => continue,
                other => other.name(),
            };
            if given == expected {
                continue;
            }
            let mut message = format!(
                "`{name}` argument {} expects {expected}, got {given}",
                index + 1
            );
            if let (Param::Float, L::Literal(Value::Int(value))) = (param, &arg.expr) {
                message = format!("expected float, got int: write {value}.0");
            } else if *param == Param::Float && given == "int" {
                message.push_str(": convert with float()");
            }
            self.every_point_fails(
                codes::ARGUMENT_FAILS,
                message,
                args[index].span,
                &format!("{expected} expected"),
            );
        }
        let ty = match function.returns() {
            Returns::Type(ty) => Some(ty),
            Returns::SameAs(index) => lowered.get(index).and_then(|arg| arg.ty),
        };
        let exprs = lowered.into_iter().map(|arg| arg.expr).collect();
        if function.is_stateful() {
            let slot = *slots;
            *slots += 1;
            return Some(Lowered {
                expr: L::Stateful(function, slot, exprs),
                ty,
            });
        }
        Some(Lowered {
            expr: L::Call(function, exprs),
            ty,
        })
    }
}

/// A lambda var inlined into another lambda: its stateful calls get fresh slots of the host.
fn renumbered(expr: L, slots: &mut usize) -> L {
    match expr {
        L::Unary(op, inner) => L::Unary(op, Box::new(renumbered(*inner, slots))),
        L::Binary(op, left, right) => {
            let left = renumbered(*left, slots);
            L::Binary(op, Box::new(left), Box::new(renumbered(*right, slots)))
        }
        L::Call(function, args) => L::Call(
            function,
            args.into_iter().map(|arg| renumbered(arg, slots)).collect(),
        ),
        L::Stateful(function, _, args) => {
            let args = args.into_iter().map(|arg| renumbered(arg, slots)).collect();
            let slot = *slots;
            *slots += 1;
            L::Stateful(function, slot, args)
        }
        other => other,
    }
}

/// Whether a string literal reads like a field or tag name (`'usage_idle'`), the usual slip
/// for `"usage_idle"`.
fn looks_like_a_name(value: &Value) -> bool {
    matches!(value, Value::String(text) if !text.is_empty()
        && text.chars().all(|ch| ch.is_alphanumeric() || matches!(ch, '_' | '-' | '.')))
}
