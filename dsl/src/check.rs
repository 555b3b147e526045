//! The checker: walks the [`Ast`], evaluates vars and constant expressions, builds the node
//! graph against the schema, compiles lambdas, and reports every problem it finds.

use std::collections::HashMap;

use crate::ast::{Ast, ChainKind, Expr, ExprKind, Ident, Statement, StatementKind};
use crate::codes;
use crate::diagnostic::{Diagnostic, Label};
use crate::lambda::Lambda;
use crate::lambda_expr::{self, V};
use crate::nodes::{self, EdgeType};
use crate::program::{CompileOptions, Program, ProgramNode, TaskType};
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
    options: &'a CompileOptions,
    env: HashMap<String, Binding>,
    nodes: Vec<PendingNode>,
    root: Option<(TaskType, usize)>,
    dbrps: Vec<(String, String)>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) vars: Vec<VarInfo>,
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
) -> (Option<Program>, Vec<Diagnostic>, Vec<VarInfo>) {
    let mut checker = Checker {
        source,
        options,
        env: HashMap::new(),
        nodes: Vec::new(),
        root: None,
        dbrps: Vec::new(),
        diagnostics: Vec::new(),
        vars: Vec::new(),
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

fn labelled(
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
            env: HashMap::new(),
            nodes: Vec::new(),
            root: None,
            dbrps: Vec::new(),
            diagnostics: Vec::new(),
            vars: Vec::new(),
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
        match regex::Regex::new(pattern) {
            Ok(regex) => Some(regex),
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

    fn root(&mut self, task_type: TaskType, span: Span) -> Option<CValue> {
        if let Some((existing, id)) = self.root {
            if existing == task_type {
                return Some(CValue::Node(NodeRef {
                    node: id,
                    handler: None,
                }));
            }
            self.error(
                codes::ROOT,
                "a task is either stream or batch: it cannot use both `stream` and `batch`",
                span,
            );
            return None;
        }
        if let Some(wanted) = self.options.task_type {
            if wanted != task_type {
                let (wanted_name, got) = if wanted == TaskType::Stream {
                    ("stream", "batch")
                } else {
                    ("batch", "stream")
                };
                self.error(
                    codes::ROOT,
                    format!(
                        "the task is defined as {wanted_name}, but the script starts from `{got}`"
                    ),
                    span,
                );
                return None;
            }
        }
        let kind = if task_type == TaskType::Stream {
            &nodes::STREAM
        } else {
            &nodes::BATCH
        };
        let id = self.nodes.len();
        let edge = if task_type == TaskType::Stream {
            EdgeType::Stream
        } else {
            EdgeType::Batch
        };
        self.nodes.push(PendingNode {
            kind,
            parents: Vec::new(),
            call: Call {
                name: kind.method,
                args: Vec::new(),
                span,
            },
            props: Vec::new(),
            handlers: Vec::new(),
            edge,
            broken: false,
        });
        self.root = Some((task_type, id));
        Some(CValue::Node(NodeRef {
            node: id,
            handler: None,
        }))
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
        if crate::builtins::Builtin::find(&name.name).is_some() {
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
            if expected == Some(Arg::Lambda)
                && !matches!(arg.kind, ExprKind::Lambda(_) | ExprKind::Ident(_))
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
            (Arg::Lambda, CValue::Lambda(lambda)) => Some(ArgValue::Lambda(lambda)),
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
                    format!("`{param}` of `{what}` is {}", expected.name()),
                );
                diagnostic.notes.extend(note);
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }

    fn pipe(&mut self, parent: NodeRef, name: &Ident, args: &[Expr], span: Span) -> Option<CValue> {
        let parent_kind = self.nodes[parent.node].kind;
        let parent_edge = self.nodes[parent.node].edge;
        let parent_is_poison = std::ptr::eq(parent_kind, &POISON);
        let Some(kind) = nodes::find_kind(&name.name)
            .filter(|kind| parent_is_poison || nodes::offers(parent_kind, kind))
        else {
            let as_property = self.unknown_chain(parent_kind, parent_edge, name);
            self.nodes[parent.node].broken = true;
            if as_property {
                // Carry on as if `.` had been written, to find the errors after it.
                return self.dot(parent, name, Some(args), span);
            }
            return self.poison(parent, parent_edge, name, args, span);
        };
        let wanted_ok = parent_is_poison
            || match kind.wants {
                Wants::Root => false,
                Wants::Any => true,
                Wants::Stream => parent_edge == EdgeType::Stream,
                Wants::Batch => parent_edge == EdgeType::Batch,
            };
        let mut broken = false;
        if !wanted_ok {
            let (wanted, got) = match kind.wants {
                Wants::Batch => ("batches", "points"),
                _ => ("a stream of points", "batches"),
            };
            let mut diagnostic = labelled(
                codes::EDGE_MISMATCH,
                format!(
                    "`{}` needs {wanted}, but its parent provides {got}",
                    kind.method
                ),
                name.span,
                format!("wants {wanted}"),
            );
            if kind.method == "window" {
                diagnostic.notes.push("the parent already emits batches (a window or a batch query): remove this window".to_owned());
            }
            self.diagnostics.push(diagnostic);
            broken = true;
        }
        let checked = self.check_args(&kind.args, args, span, kind.method);
        broken |= checked.is_none();
        let checked = checked.unwrap_or_default();
        let mut parents = vec![parent.node];
        for (value, arg_span) in &checked {
            if let ArgValue::Node(other) = value {
                if self.nodes[*other].edge != parent_edge {
                    self.error(
                        codes::EDGE_MISMATCH,
                        format!("`{}` joins a stream with batches: every parent must provide the same edge type", kind.method),
                        *arg_span,
                    );
                    broken = true;
                }
                if parents.contains(other) {
                    self.error(
                        codes::INVALID_PROPERTY,
                        format!("`{}` lists the same parent twice", kind.method),
                        *arg_span,
                    );
                    broken = true;
                }
                parents.push(*other);
            }
        }
        let edge = match kind.provides {
            Provides::Fixed(edge) => edge,
            Provides::Same => parent_edge,
        };
        let id = self.nodes.len();
        self.nodes.push(PendingNode {
            kind,
            parents,
            call: Call {
                name: kind.method,
                args: checked,
                span: Span::new(name.span.start.saturating_sub(1), span.end),
            },
            props: Vec::new(),
            handlers: Vec::new(),
            edge,
            broken,
        });
        Some(CValue::Node(NodeRef {
            node: id,
            handler: None,
        }))
    }

    /// Reports an unusable `|name`; true when it is a property of the parent.
    fn unknown_chain(
        &mut self,
        parent_kind: &NodeKind,
        parent_edge: EdgeType,
        name: &Ident,
    ) -> bool {
        let method = name.name.as_str();
        let mut diagnostic;
        if parent_edge == EdgeType::None {
            diagnostic = labelled(
                codes::UNKNOWN_NODE,
                format!(
                    "`{}` is terminal: nothing can be chained after it",
                    parent_kind.method
                ),
                name.span,
                "no chaining methods here",
            );
        } else if parent_kind.prop(method).is_some() || parent_kind.handler(method).is_some() {
            diagnostic = labelled(
                codes::PROPERTY_AS_CHAIN,
                format!(
                    "`{method}` is a property of `{}`, not a node",
                    parent_kind.method
                ),
                name.span,
                "property",
            );
            diagnostic.notes.push(format!(
                "this is a property, use `.` instead of `|`: `.{method}(...)`"
            ));
        } else if nodes::find_kind(method).is_some() {
            diagnostic = labelled(
                codes::UNKNOWN_NODE,
                format!("`{}` has no chaining method `{method}`", parent_kind.method),
                name.span,
                "not offered here",
            );
            if let Chains::Only(methods) = parent_kind.chains {
                let offered: Vec<String> = methods
                    .iter()
                    .map(|method| format!("|{method}()"))
                    .collect();
                diagnostic.notes.push(format!(
                    "`{}` only offers {}",
                    parent_kind.method,
                    offered.join(", ")
                ));
            }
        } else if nodes::UNSUPPORTED_CHAINS.contains(&method) {
            diagnostic = labelled(
                codes::UNSUPPORTED_NODE,
                format!("weir does not support the Kapacitor node `{method}` yet"),
                name.span,
                "unsupported",
            );
        } else {
            diagnostic = labelled(
                codes::UNKNOWN_NODE,
                format!("unknown node `{method}`"),
                name.span,
                "unknown chaining method",
            );
            let candidates: Vec<&str> = nodes::chain_kinds()
                .filter(|kind| nodes::offers(parent_kind, kind))
                .map(|kind| kind.method)
                .chain(parent_kind.props.iter().map(|prop| prop.name))
                .collect();
            if let Some(hint) = did_you_mean(method, candidates) {
                diagnostic.notes.push(hint);
            }
        }
        let as_property = diagnostic.code == codes::PROPERTY_AS_CHAIN;
        self.diagnostics.push(diagnostic);
        as_property
    }

    /// A stand-in node after an unknown chaining method: the rest of the chain is still
    /// checked (arguments, lambdas, later nodes), without cascading errors about the stand-in.
    fn poison(
        &mut self,
        parent: NodeRef,
        edge: EdgeType,
        name: &Ident,
        args: &[Expr],
        span: Span,
    ) -> Option<CValue> {
        for arg in args {
            let _ = self.eval(arg);
        }
        let id = self.nodes.len();
        self.nodes.push(PendingNode {
            kind: &POISON,
            parents: vec![parent.node],
            call: Call {
                name: "?",
                args: Vec::new(),
                span: Span::new(name.span.start.saturating_sub(1), span.end),
            },
            props: Vec::new(),
            handlers: Vec::new(),
            edge,
            broken: true,
        });
        Some(CValue::Node(NodeRef {
            node: id,
            handler: None,
        }))
    }

    fn dot(
        &mut self,
        target: NodeRef,
        name: &Ident,
        args: Option<&[Expr]>,
        span: Span,
    ) -> Option<CValue> {
        let kind = self.nodes[target.node].kind;
        let method = name.name.as_str();
        let Some(args) = args else {
            let mut diagnostic = labelled(
                codes::SYNTAX,
                format!("`.{method}` needs parentheses"),
                name.span,
                "property call without `()`",
            );
            diagnostic.notes.push(format!("write `.{method}()`"));
            self.diagnostics.push(diagnostic);
            return None;
        };
        let call_span = Span::new(name.span.start.saturating_sub(1), span.end);
        if std::ptr::eq(kind, &POISON) {
            for arg in args {
                let _ = self.eval(arg);
            }
            return Some(CValue::Node(target));
        }
        if let Some(handler_index) = target.handler {
            let handler_name = self.nodes[target.node].handlers[handler_index].call.name;
            let handler_prop = kind
                .handler(handler_name)
                .and_then(|handler| handler.props.iter().find(|prop| prop.name == method));
            if let Some(prop) = handler_prop {
                let what = format!("{handler_name}().{method}");
                let checked = self.check_args(&prop.sig, args, call_span, &what);
                let node = &mut self.nodes[target.node];
                match checked {
                    Some(checked) => node.handlers[handler_index].props.push(Call {
                        name: prop.name,
                        args: checked,
                        span: call_span,
                    }),
                    None => node.broken = true,
                }
                return Some(CValue::Node(target));
            }
        }
        if let Some(prop) = kind.prop(method) {
            let checked = self.check_args(&prop.sig, args, call_span, method);
            let node = &mut self.nodes[target.node];
            match checked {
                Some(checked) => node.props.push(Call {
                    name: prop.name,
                    args: checked,
                    span: call_span,
                }),
                None => node.broken = true,
            }
            return Some(CValue::Node(NodeRef {
                node: target.node,
                handler: None,
            }));
        }
        if let Some(handler) = kind.handler(method) {
            let checked = self.check_args(&handler.sig, args, call_span, method);
            let node = &mut self.nodes[target.node];
            match checked {
                Some(checked) => {
                    node.handlers.push(HandlerCall {
                        call: Call {
                            name: handler.name,
                            args: checked,
                            span: call_span,
                        },
                        props: Vec::new(),
                    });
                    let index = node.handlers.len() - 1;
                    return Some(CValue::Node(NodeRef {
                        node: target.node,
                        handler: Some(index),
                    }));
                }
                None => {
                    node.broken = true;
                    return Some(CValue::Node(NodeRef {
                        node: target.node,
                        handler: None,
                    }));
                }
            }
        }
        let mut diagnostic;
        if nodes::find_kind(method).is_some_and(|child| nodes::offers(kind, child)) {
            diagnostic = labelled(
                codes::CHAIN_AS_PROPERTY,
                format!(
                    "`{method}` is a chaining method, not a property of `{}`",
                    kind.method
                ),
                name.span,
                "creates a node",
            );
            diagnostic.notes.push(format!(
                "this creates a new node, use `|` instead of `.`: `|{method}(...)`"
            ));
        } else if kind.method == "alert" && nodes::alert::UNSUPPORTED_HANDLERS.contains(&method) {
            diagnostic = labelled(
                codes::UNSUPPORTED_NODE,
                format!("weir does not support the `{method}` alert handler"),
                name.span,
                "unsupported handler",
            );
            diagnostic.notes.push("weir's handlers are .log(path), .post(url), .tcp(address) and .exec(command, args...)".to_owned());
        } else {
            diagnostic = labelled(
                codes::UNKNOWN_PROPERTY,
                format!("unknown property `{method}` on `{}`", kind.method),
                name.span,
                "unknown property",
            );
            let handler_props = target
                .handler
                .and_then(|index| kind.handler(self.nodes[target.node].handlers[index].call.name))
                .map(|handler| handler.props)
                .unwrap_or_default();
            let candidates: Vec<&str> = kind
                .props
                .iter()
                .chain(handler_props)
                .map(|prop| prop.name)
                .chain(kind.handlers.iter().map(|handler| handler.name))
                .chain(["quiet"])
                .collect();
            match did_you_mean(method, candidates.iter().copied()) {
                Some(hint) => diagnostic.labels[0].text = hint,
                None if !candidates.is_empty() => {
                    let listed: Vec<String> =
                        candidates.iter().map(|name| format!(".{name}")).collect();
                    diagnostic
                        .notes
                        .push(format!("`{}` has {}", kind.method, listed.join(", ")));
                }
                None => {}
            }
        }
        let as_chain = diagnostic.code == codes::CHAIN_AS_PROPERTY;
        self.diagnostics.push(diagnostic);
        self.nodes[target.node].broken = true;
        if as_chain {
            // Carry on as if `|` had been written, to find the errors after it.
            return self.pipe(
                NodeRef {
                    node: target.node,
                    handler: None,
                },
                name,
                args,
                span,
            );
        }
        Some(CValue::Node(NodeRef {
            node: target.node,
            handler: None,
        }))
    }

    fn finish(&mut self) -> Option<Program> {
        let Some((task_type, _)) = self.root else {
            if !self.diagnostics.iter().any(Diagnostic::is_error) {
                let mut diagnostic = Diagnostic::error(
                    codes::ROOT,
                    "the script has no `stream` or `batch` pipeline",
                    Span::default(),
                );
                diagnostic.notes.push(
                    "start a pipeline with `stream|from()...` or `batch|query(...)...`".to_owned(),
                );
                self.diagnostics.push(diagnostic);
            }
            return None;
        };
        let pending = std::mem::take(&mut self.nodes);
        let mut program_nodes = Vec::with_capacity(pending.len());
        let mut built_all = true;
        for (id, node) in pending.iter().enumerate() {
            if node.broken {
                built_all = false;
                continue;
            }
            let mut build = NodeBuild {
                kind: node.kind,
                call: node.call.clone(),
                props: node.props.clone(),
                handlers: node.handlers.clone(),
                parent_edges: node
                    .parents
                    .iter()
                    .map(|parent| pending[*parent].edge)
                    .collect(),
                diagnostics: &mut self.diagnostics,
            };
            match (node.kind.build)(&mut build) {
                Some(spec) => program_nodes.push(ProgramNode {
                    name: format!("{}{id}", node.kind.node_name),
                    spec,
                    parents: node.parents.clone(),
                    span: node.call.span,
                }),
                None => built_all = false,
            }
        }
        let has_errors = self.diagnostics.iter().any(Diagnostic::is_error);
        for (id, node) in pending.iter().enumerate().filter(|_| !has_errors) {
            let has_children = pending.iter().any(|child| child.parents.contains(&id));
            let sink = matches!(
                node.kind.method,
                "influxDBOut" | "httpOut" | "httpPost" | "alert" | "log" | "deadman" | "ciOut"
            );
            if !has_children && !sink && node.edge != EdgeType::None {
                self.diagnostics.push(Diagnostic::warning(
                    codes::DANGLING,
                    format!("the output of `{}` goes nowhere", node.kind.method),
                    node.call.span,
                ).with_note("chain an output such as `|influxDBOut()`, `|httpOut('name')` or `|alert()`"));
            }
        }
        if !built_all || self.diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        Some(Program {
            task_type,
            dbrps: std::mem::take(&mut self.dbrps),
            nodes: program_nodes,
        })
    }
}
