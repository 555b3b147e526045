//! The checker: walks the [`Ast`], evaluates vars and constant expressions, builds the node
//! graph against the schema, compiles lambdas, and reports every problem it finds.

mod args;
mod graph;

use std::collections::HashMap;

use crate::ast::{Ast, ChainKind, Expr, ExprKind, Ident, Statement, StatementKind};
use crate::codes;
use crate::diagnostic::{Diagnostic, Label};
use crate::lambda::Lambda;
use crate::lambda::expr::{self as lambda_expr, V};
use crate::nodes::{self, EdgeType};
use crate::program::{CompileOptions, Program, TaskType};
use crate::schema::{
    Arg, ArgValue, Call, Chains, HandlerCall, NodeBuild, NodeKind, Provides, Sig, Wants,
};
use crate::span::Span;
use crate::value::{Duration, Value};

/// A value while checking: scalars, and the things only scripts have (nodes, lambdas, lists).
#[derive(Debug, Clone)]
pub(crate) enum CValue {
    Scalar(Value),
    /// A double-quoted reference outside a lambda.
    Reference(String),
    Lambda(Lambda),
    Node(NodeRef),
    Star,
    List(Vec<(CValue, Span)>),
    /// `time(every[, offset])`.
    Time(Duration, Duration),
}

impl CValue {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            CValue::Scalar(value) => value.type_name(),
            CValue::Reference(_) => "reference",
            CValue::Lambda(_) => "lambda",
            CValue::Node(_) => "node",
            CValue::Star => "star",
            CValue::List(_) => "list",
            CValue::Time(..) => "time(...)",
        }
    }

    /// The value as the templates API shows it; `None` for nodes.
    pub(crate) fn to_value(&self) -> Option<Value> {
        Some(match self {
            CValue::Scalar(value) => value.clone(),
            CValue::Reference(name) => Value::String(name.clone()),
            CValue::Lambda(lambda) => Value::Lambda(lambda.source.clone()),
            CValue::Node(_) | CValue::Time(..) => return None,
            CValue::Star => Value::Star,
            CValue::List(items) => Value::List(
                items
                    .iter()
                    .filter_map(|(item, _)| item.to_value())
                    .collect(),
            ),
        })
    }
}

/// A node, or one of its handlers (after `.post(url)`, `.header(...)` applies to the handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeRef {
    pub(crate) node: usize,
    pub(crate) handler: Option<usize>,
}

struct PendingNode {
    kind: &'static NodeKind,
    parents: Vec<usize>,
    call: Call,
    props: Vec<Call>,
    handlers: Vec<HandlerCall>,
    edge: EdgeType,
    broken: bool,
}

struct Binding {
    value: Option<CValue>,
    span: Span,
}

/// What the checker learned about one `var` statement (for the templates API).
pub(crate) struct VarInfo {
    pub(crate) name: String,
    pub(crate) declared_type: Option<String>,
    pub(crate) value: Option<CValue>,
    pub(crate) description: String,
}

pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    /// The parser already reported errors (so a missing root is probably a lost statement).
    syntax_errors: bool,
    pub(crate) options: &'a CompileOptions,
    env: HashMap<String, Binding>,
    nodes: Vec<PendingNode>,
    root: Option<(TaskType, usize)>,
    dbrps: Vec<(String, String)>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) vars: Vec<VarInfo>,
    /// Compiled regexes by pattern: scripts repeat patterns, and compiling one is costly.
    regexes: HashMap<String, regex::Regex>,
}

/// The stand-in for a node whose chaining method is unknown.
static POISON: NodeKind = NodeKind {
    method: "?",
    node_name: "unknown",
    args: Sig::NONE,
    props: &[],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build: |_: &mut NodeBuild<'_>| None,
};

/// Names of the template var types.
pub(crate) const VAR_TYPES: [&str; 9] = [
    "int", "float", "bool", "string", "regex", "duration", "lambda", "list", "star",
];

/// Compiles a parsed script.
pub(crate) fn check(
    source: &str,
    ast: &Ast,
    options: &CompileOptions,
    syntax_errors: bool,
) -> (Option<Program>, Vec<Diagnostic>, Vec<VarInfo>) {
    let mut checker = Checker {
        source,
        options,
        syntax_errors,
        env: HashMap::new(),
        nodes: Vec::new(),
        root: None,
        dbrps: Vec::new(),
        diagnostics: Vec::new(),
        vars: Vec::new(),
        regexes: HashMap::new(),
    };
    for statement in &ast.statements {
        checker.statement(statement);
    }
    for name in options.vars.keys() {
        if !checker.env.contains_key(name) {
            checker.diagnostics.push(Diagnostic::warning(
                codes::UNUSED_VAR_VALUE,
                format!("a value was supplied for var `{name}`, which the script does not declare"),
                Span::default(),
            ));
        }
    }
    let program = checker.finish();
    (program, checker.diagnostics, checker.vars)
}

pub(crate) fn did_you_mean<'n>(
    name: &str,
    candidates: impl IntoIterator<Item = &'n str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, candidate)| *score > 0.8 && *candidate != name)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

pub(super) fn labelled(
    code: &'static str,
    message: String,
    span: Span,
    label: impl Into<String>,
) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(code, message, span);
    diagnostic.labels = vec![Label {
        span,
        text: label.into(),
        primary: true,
    }];
    diagnostic
}

impl<'a> Checker<'a> {
    fn error(&mut self, code: &'static str, message: impl Into<String>, span: Span) {
        self.diagnostics
            .push(Diagnostic::error(code, message, span));
    }

    fn statement(&mut self, statement: &Statement) {
        let description = statement
            .comments
            .iter()
            .map(|line| line.trim())
            .collect::<Vec<_>>()
            .join("\n");
        match &statement.kind {
            StatementKind::Dbrp {
                database,
                retention_policy,
            } => {
                self.dbrps
                    .push((database.0.clone(), retention_policy.0.clone()));
            }
            StatementKind::Expr(expr) => {
                let value = self.eval(expr);
                if let Some(value) = value {
                    if !matches!(value, CValue::Node(_)) {
                        self.diagnostics.push(Diagnostic::warning(
                            codes::USELESS_STATEMENT,
                            format!("this {} statement does nothing", value.type_name()),
                            expr.span,
                        ));
                    }
                }
            }
            StatementKind::Var { name, value } => {
                if !self.check_redefinition(name) {
                    return;
                }
                let mut computed = self.eval(value);
                if let (Some(default), Some(supplied)) =
                    (&computed, self.options.vars.get(&name.name))
                {
                    let expected = default.type_name();
                    computed = self.supplied(name, expected, supplied);
                }
                self.vars.push(VarInfo {
                    name: name.name.clone(),
                    declared_type: None,
                    value: computed.clone(),
                    description,
                });
                self.env.insert(
                    name.name.clone(),
                    Binding {
                        value: computed,
                        span: name.span,
                    },
                );
            }
            StatementKind::TypedVar { name, ty } => {
                if !self.check_redefinition(name) {
                    return;
                }
                let mut computed = None;
                if !VAR_TYPES.contains(&ty.name.as_str()) {
                    let mut diagnostic = labelled(
                        codes::UNKNOWN_VAR_TYPE,
                        format!("unknown var type `{}`", ty.name),
                        ty.span,
                        "not a type",
                    );
                    diagnostic
                        .notes
                        .push(format!("the types are {}", VAR_TYPES.join(", ")));
                    if let Some(hint) = did_you_mean(&ty.name, VAR_TYPES) {
                        diagnostic.notes.push(hint);
                    }
                    self.diagnostics.push(diagnostic);
                } else if let Some(supplied) = self.options.vars.get(&name.name) {
                    computed = self.supplied(name, &ty.name, supplied);
                } else {
                    let mut diagnostic = labelled(
                        codes::MISSING_VAR_VALUE,
                        format!(
                            "missing value for template var `{}` ({})",
                            name.name, ty.name
                        ),
                        name.span,
                        "declared here without a value",
                    );
                    diagnostic.notes.push(format!(
                        "supply it in the task's vars: {{\"{}\": {{\"type\": \"{}\", \"value\": ...}}}}",
                        name.name, ty.name
                    ));
                    self.diagnostics.push(diagnostic);
                }
                self.vars.push(VarInfo {
                    name: name.name.clone(),
                    declared_type: Some(ty.name.clone()),
                    value: computed.clone(),
                    description,
                });
                self.env.insert(
                    name.name.clone(),
                    Binding {
                        value: computed,
                        span: name.span,
                    },
                );
            }
        }
    }

    /// `None`: no such var; `Some(None)`: its definition failed.
    pub(crate) fn var_value(&self, name: &str) -> Option<Option<CValue>> {
        self.env.get(name).map(|binding| binding.value.clone())
    }

    pub(crate) fn var_names(&self) -> Vec<&str> {
        self.env.keys().map(String::as_str).collect()
    }

    fn check_redefinition(&mut self, name: &Ident) -> bool {
        let Some(previous) = self.env.get(&name.name) else {
            return true;
        };
        let mut diagnostic = labelled(
            codes::REDEFINED_VAR,
            format!("attempted to redefine var `{}`", name.name),
            name.span,
            "redefined here",
        );
        diagnostic.labels.push(Label {
            span: previous.span,
            text: "first defined here".to_owned(),
            primary: false,
        });
        diagnostic
            .notes
            .push("vars are immutable: choose another name".to_owned());
        self.diagnostics.push(diagnostic);
        false
    }

    /// A template value supplied through the options, checked against the declared type.
    fn supplied(&mut self, name: &Ident, expected: &str, value: &Value) -> Option<CValue> {
        let given = value.type_name();
        if given != expected {
            self.diagnostics.push(labelled(
                codes::VAR_TYPE,
                format!(
                    "template var `{}` is {expected}, but the supplied value is {given}",
                    name.name
                ),
                name.span,
                format!("declared {expected} here"),
            ));
            return None;
        }
        self.value_to_cvalue(name, value)
    }

    fn value_to_cvalue(&mut self, name: &Ident, value: &Value) -> Option<CValue> {
        Some(match value {
            Value::Lambda(text) => CValue::Lambda(self.lambda_from_text(name, text)?),
            Value::Star => CValue::Star,
            Value::List(items) => {
                let mut converted = Vec::new();
                for item in items {
                    converted.push((self.value_to_cvalue(name, item)?, name.span));
                }
                CValue::List(converted)
            }
            other => CValue::Scalar(other.clone()),
        })
    }

    fn lambda_from_text(&mut self, name: &Ident, text: &str) -> Option<Lambda> {
        let (ast, diagnostics) = crate::parser::parse(&format!("var x = lambda: {text}"));
        let body = match ast.statements.first().map(|statement| &statement.kind) {
            Some(StatementKind::Var {
                value:
                    Expr {
                        kind: ExprKind::Lambda(body),
                        ..
                    },
                ..
            }) if diagnostics.is_empty() && ast.statements.len() == 1 => body.clone(),
            _ => {
                let detail = diagnostics
                    .first()
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                self.diagnostics.push(labelled(
                    codes::VAR_TYPE,
                    format!(
                        "the lambda supplied for var `{}` does not parse: {detail}",
                        name.name
                    ),
                    name.span,
                    "template var",
                ));
                return None;
            }
        };
        let mut nested = Checker {
            source: "",
            options: self.options,
            syntax_errors: false,
            env: HashMap::new(),
            nodes: Vec::new(),
            root: None,
            dbrps: Vec::new(),
            diagnostics: Vec::new(),
            vars: Vec::new(),
            regexes: HashMap::new(),
        };
        let shifted = format!("var x = lambda: {text}");
        nested.source = &shifted;
        let lambda = nested.compile_lambda(&body);
        if !nested.diagnostics.is_empty() {
            let detail = nested.diagnostics[0].message.clone();
            self.diagnostics.push(labelled(
                codes::VAR_TYPE,
                format!(
                    "the lambda supplied for var `{}` is invalid: {detail}",
                    name.name
                ),
                name.span,
                "template var",
            ));
            return None;
        }
        lambda.map(|mut lambda| {
            lambda.source = text.trim().to_owned();
            lambda
        })
    }

    /// Evaluates an expression outside a lambda. `None` means an error was already reported.
    pub(crate) fn eval(&mut self, expr: &Expr) -> Option<CValue> {
        match &expr.kind {
            ExprKind::Int(value) => Some(CValue::Scalar(Value::Int(*value))),
            ExprKind::Float(value) => Some(CValue::Scalar(Value::Float(*value))),
            ExprKind::Duration(value) => Some(CValue::Scalar(Value::Duration(Duration(*value)))),
            ExprKind::Str(value) => Some(CValue::Scalar(Value::String(value.clone()))),
            ExprKind::Bool(value) => Some(CValue::Scalar(Value::Bool(*value))),
            ExprKind::Reference(name) => Some(CValue::Reference(name.clone())),
            ExprKind::Regex(pattern) => self
                .regex(pattern, expr.span)
                .map(|regex| CValue::Scalar(Value::Regex(regex))),
            ExprKind::Star => Some(CValue::Star),
            // A syntax error, already reported.
            ExprKind::Error => None,
            ExprKind::Paren(inner) => self.eval(inner),
            ExprKind::Ident(name) => self.lookup(name, expr.span),
            ExprKind::List(items) => {
                let mut values = Vec::new();
                for item in items {
                    let value = self.eval(item)?;
                    if !matches!(
                        value,
                        CValue::Scalar(Value::String(_)) | CValue::Star | CValue::Scalar(_)
                    ) {
                        self.error(
                            codes::ARG_TYPE,
                            format!("a list holds strings and `*`, not a {}", value.type_name()),
                            item.span,
                        );
                        return None;
                    }
                    values.push((value, item.span));
                }
                Some(CValue::List(values))
            }
            ExprKind::Lambda(body) => self.compile_lambda(body).map(CValue::Lambda),
            ExprKind::Unary { op, operand } => {
                let value = self.eval(operand)?;
                let CValue::Scalar(scalar) = &value else {
                    self.error(
                        codes::CONST_EVAL,
                        format!("invalid unary operator on a {}", value.type_name()),
                        expr.span,
                    );
                    return None;
                };
                let folded = V::from_value(scalar)
                    .ok_or_else(|| "not a scalar".to_owned())
                    .and_then(|v| {
                        lambda_expr::unary(*op, v)
                            .map(V::into_value)
                            .map_err(|err| err.to_string())
                    });
                match folded {
                    Ok(value) => Some(CValue::Scalar(value)),
                    Err(message) => {
                        self.error(codes::CONST_EVAL, message, expr.span);
                        None
                    }
                }
            }
            ExprKind::Binary { op, left, right } => {
                let left_value = self.eval(left)?;
                let right_value = self.eval(right)?;
                if let CValue::Reference(name) = [&left_value, &right_value]
                    .into_iter()
                    .find(|value| matches!(value, CValue::Reference(_)))
                    .cloned()
                    .unwrap_or(CValue::Star)
                {
                    let mut diagnostic = labelled(
                        codes::CONST_EVAL,
                        format!("reference \"{name}\" is only meaningful inside a lambda"),
                        expr.span,
                        "evaluated once, when the script is compiled",
                    );
                    diagnostic
                        .notes
                        .push("to compute per point, write `lambda: ...`".to_owned());
                    self.diagnostics.push(diagnostic);
                    return None;
                }
                let (CValue::Scalar(left_scalar), CValue::Scalar(right_scalar)) =
                    (&left_value, &right_value)
                else {
                    self.error(
                        codes::CONST_EVAL,
                        format!(
                            "invalid binary operator `{}` for {} and {}",
                            op.symbol(),
                            left_value.type_name(),
                            right_value.type_name()
                        ),
                        expr.span,
                    );
                    return None;
                };
                let folded = match (V::from_value(left_scalar), V::from_value(right_scalar)) {
                    (Some(l), Some(r)) => lambda_expr::binary(*op, l, r)
                        .map(V::into_value)
                        .map_err(|err| err.to_string()),
                    _ => Err("operands must be scalars".to_owned()),
                };
                match folded {
                    Ok(value) => Some(CValue::Scalar(value)),
                    Err(message) => {
                        self.error(codes::CONST_EVAL, message, expr.span);
                        None
                    }
                }
            }
            ExprKind::Call { name, args } => self.global_call(name, args, expr.span),
            ExprKind::Chain {
                target,
                kind,
                name,
                args,
                ..
            } => {
                let target_value = self.eval(target)?;
                let CValue::Node(node_ref) = target_value else {
                    let mut diagnostic = labelled(
                        codes::NOT_A_NODE,
                        format!(
                            "`{}{}` is called on a {}, not a node",
                            kind.symbol(),
                            name.name,
                            target_value.type_name()
                        ),
                        name.span,
                        "method of a node",
                    );
                    diagnostic.labels.push(Label {
                        span: target.span,
                        text: "this is not a node".to_owned(),
                        primary: false,
                    });
                    self.diagnostics.push(diagnostic);
                    return None;
                };
                match kind {
                    ChainKind::Pipe => self.pipe(
                        node_ref,
                        name,
                        args.as_deref().unwrap_or_default(),
                        expr.span,
                    ),
                    ChainKind::Dot => self.dot(node_ref, name, args.as_deref(), expr.span),
                    ChainKind::At => {
                        let mut diagnostic = labelled(
                            codes::UDF,
                            format!(
                                "weir has no user-defined functions: `@{}` is not available",
                                name.name
                            ),
                            name.span,
                            "UDF call",
                        );
                        diagnostic.notes.push(
                            "express the computation with `eval(lambda: ...)` if you can"
                                .to_owned(),
                        );
                        self.diagnostics.push(diagnostic);
                        None
                    }
                }
            }
        }
    }

    pub(crate) fn regex(&mut self, pattern: &str, span: Span) -> Option<regex::Regex> {
        if let Some(regex) = self.regexes.get(pattern) {
            return Some(regex.clone());
        }
        match regex::Regex::new(pattern) {
            Ok(regex) => {
                self.regexes.insert(pattern.to_owned(), regex.clone());
                Some(regex)
            }
            Err(err) => {
                let detail = err
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
                self.error(
                    codes::BAD_REGEX,
                    format!("invalid regex /{pattern}/: {detail}"),
                    span,
                );
                None
            }
        }
    }

    fn lookup(&mut self, name: &str, span: Span) -> Option<CValue> {
        if let Some(binding) = self.env.get(name) {
            return binding.value.clone();
        }
        match name {
            "stream" => return self.root(TaskType::Stream, span),
            "batch" => return self.root(TaskType::Batch, span),
            _ => {}
        }
        let mut diagnostic = labelled(
            codes::UNKNOWN_VAR,
            format!("unknown var `{name}`"),
            span,
            "not defined",
        );
        let names: Vec<&str> = self
            .env
            .keys()
            .map(String::as_str)
            .chain(["stream", "batch"])
            .collect();
        if let Some(hint) = did_you_mean(name, names) {
            diagnostic.notes.push(hint);
        }
        if nodes::find_kind(name).is_some() {
            diagnostic
                .notes
                .push(format!("`{name}` is a node: chain it with `|{name}(...)`"));
        } else if matches!(name, "true" | "false" | "True" | "False") {
            diagnostic
                .notes
                .push(format!("booleans are upper case: {}", name.to_uppercase()));
        } else if matches!(
            name,
            "int" | "float" | "bool" | "string" | "duration" | "regex" | "lambda" | "list" | "star"
        ) {
            diagnostic.notes.push(format!(
                "to declare a template var of type {name}, write `var <name> {name}` without `=`"
            ));
        } else if diagnostic.notes.is_empty() {
            diagnostic.notes.push(format!(
                "strings use single quotes: '{name}'; to define a var, write `var {name} = ...` before its use"
            ));
        }
        self.diagnostics.push(diagnostic);
        None
    }

    fn global_call(&mut self, name: &Ident, args: &[Expr], span: Span) -> Option<CValue> {
        if name.name == "time" {
            let checked = self.check_args(
                &Sig {
                    params: &[("every", Arg::Duration), ("offset", Arg::Duration)],
                    required: 1,
                    rest: None,
                },
                args,
                span,
                "time",
            )?;
            let duration = |index: usize| match checked.get(index) {
                Some((ArgValue::Duration(duration), _)) => *duration,
                _ => Duration(0),
            };
            return Some(CValue::Time(duration(0), duration(1)));
        }
        let mut diagnostic;
        if crate::lambda::builtins::Builtin::find(&name.name).is_some() {
            diagnostic = labelled(
                codes::UNKNOWN_FUNCTION,
                format!("`{}()` is only available inside a lambda", name.name),
                name.span,
                "lambda function",
            );
            diagnostic
                .notes
                .push(format!("write `lambda: {}(...)`", name.name));
        } else if nodes::find_kind(&name.name).is_some() || name.name == "query" {
            diagnostic = labelled(
                codes::UNKNOWN_FUNCTION,
                format!("`{}()` is a node and needs a parent", name.name),
                name.span,
                "missing parent",
            );
            diagnostic
                .notes
                .push(format!("chain it, for example `stream|{}(...)`", name.name));
        } else {
            diagnostic = labelled(
                codes::UNKNOWN_FUNCTION,
                format!("unknown function `{}`", name.name),
                name.span,
                "unknown",
            );
            if let Some(hint) = did_you_mean(&name.name, ["time"]) {
                diagnostic.notes.push(hint);
            }
        }
        self.diagnostics.push(diagnostic);
        None
    }
}
