//! The declarative node schema: per node kind, its chaining-method arguments, property
//! methods with argument types, alert-style handlers, and edge types wanted and provided.
//!
//! Each `nodes/<name>.rs` file declares its [`NodeKind`] and a `build` function that turns the
//! checked calls ([`NodeBuild`]) into its typed spec, with the node's own static checks.

use crate::codes;
use crate::diagnostic::{Diagnostic, Label};
use crate::lambda::Lambda;
use crate::nodes::{EdgeType, NodeSpec};
use crate::span::Span;
use crate::value::{Duration, Value};

/// A parameter type of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// `'string'`.
    Str,
    /// Integer.
    Int,
    /// Float (an int is an error, as in Kapacitor).
    Float,
    /// Duration literal.
    Duration,
    /// `TRUE`/`FALSE`.
    Bool,
    /// `lambda: ...`.
    Lambda,
    /// `lambda: ...` that must evaluate to a bool (checked when its type is known).
    Predicate,
    /// Another node (`join(other)`).
    Node,
    /// A string or `*` (`groupBy`).
    StrOrStar,
    /// A string, `*` or `time(d)` (`query().groupBy`).
    StrOrTime,
    /// Any scalar (`default().field(name, value)`, `join().fill(...)`).
    Any,
}

impl Arg {
    /// The type's name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Arg::Str => "string",
            Arg::Int => "int",
            Arg::Float => "float",
            Arg::Duration => "duration",
            Arg::Bool => "bool",
            Arg::Lambda => "lambda",
            Arg::Predicate => "bool lambda",
            Arg::Node => "node",
            Arg::StrOrStar => "string or *",
            Arg::StrOrTime => "string or time(...)",
            Arg::Any => "value",
        }
    }
}

/// A method signature: named fixed parameters (the first `required` are mandatory) and an
/// optional variadic tail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sig {
    pub(crate) params: &'static [(&'static str, Arg)],
    pub(crate) required: usize,
    pub(crate) rest: Option<(&'static str, Arg)>,
}

impl Sig {
    /// No arguments.
    pub(crate) const NONE: Sig = Sig {
        params: &[],
        required: 0,
        rest: None,
    };

    /// Exactly these parameters.
    pub(crate) const fn exact(params: &'static [(&'static str, Arg)]) -> Sig {
        Sig {
            params,
            required: params.len(),
            rest: None,
        }
    }

    /// Any number of `arg` (zero included).
    pub(crate) const fn variadic(name: &'static str, arg: Arg) -> Sig {
        Sig {
            params: &[],
            required: 0,
            rest: Some((name, arg)),
        }
    }

    /// `(field string, percentile float)` for messages.
    pub(crate) fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(index, (name, arg))| {
                if index >= self.required {
                    format!("[{name} {}]", arg.name())
                } else {
                    format!("{name} {}", arg.name())
                }
            })
            .collect();
        if let Some((name, arg)) = self.rest {
            parts.push(format!("{name} {}...", arg.name()));
        }
        format!("({})", parts.join(", "))
    }
}

/// A property method.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prop {
    pub(crate) name: &'static str,
    pub(crate) sig: Sig,
}

/// Shorthand for a property table entry.
pub(crate) const fn prop(name: &'static str, sig: Sig) -> Prop {
    Prop { name, sig }
}

/// A handler method (`.post(url)`) with its own properties (`.header(k, v)`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Handler {
    pub(crate) name: &'static str,
    pub(crate) sig: Sig,
    pub(crate) props: &'static [Prop],
}

/// What edge a node wants from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wants {
    /// A root (`stream`, `batch`): no parent.
    Root,
    /// Only stream edges.
    Stream,
    /// Only batch edges.
    Batch,
    /// Either.
    Any,
}

/// What edge a node provides to its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provides {
    /// Always this type.
    Fixed(EdgeType),
    /// The parent's type.
    Same,
}

/// Which chaining methods a node offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chains {
    /// The common set of every chain node.
    Common,
    /// Only these (sources).
    Only(&'static [&'static str]),
}

/// A node kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeKind {
    /// The chaining method (`window`, `influxDBOut`, `mean`).
    pub(crate) method: &'static str,
    /// The name prefix in the graph (`window`, `influxdb_out`).
    pub(crate) node_name: &'static str,
    /// Arguments of the chaining method.
    pub(crate) args: Sig,
    /// Property methods (`.quiet()` is added for every node).
    pub(crate) props: &'static [Prop],
    /// Handler methods (alert only).
    pub(crate) handlers: &'static [Handler],
    /// Edge wanted.
    pub(crate) wants: Wants,
    /// Edge provided.
    pub(crate) provides: Provides,
    /// Chaining methods offered.
    pub(crate) chains: Chains,
    /// Turns the checked calls into the spec.
    pub(crate) build: fn(&mut NodeBuild<'_>) -> Option<NodeSpec>,
}

impl NodeKind {
    /// The property `name`, including the universal `quiet`.
    pub(crate) fn prop(&self, name: &str) -> Option<&'static Prop> {
        const QUIET: Prop = Prop {
            name: "quiet",
            sig: Sig::NONE,
        };
        if name == "quiet" {
            return Some(&QUIET);
        }
        self.props.iter().find(|prop| prop.name == name)
    }

    /// The handler `name`.
    pub(crate) fn handler(&self, name: &str) -> Option<&'static Handler> {
        self.handlers.iter().find(|handler| handler.name == name)
    }
}

/// A checked argument value.
#[derive(Debug, Clone)]
pub(crate) enum ArgValue {
    Str(String),
    Int(i64),
    Float(f64),
    Duration(Duration),
    Bool(bool),
    Lambda(Lambda),
    Node(usize),
    Star,
    /// `time(every[, offset])`.
    Time(Duration, Duration),
    /// Any scalar.
    Value(Value),
}

impl ArgValue {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            ArgValue::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// One checked method call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) name: &'static str,
    pub(crate) args: Vec<(ArgValue, Span)>,
    pub(crate) span: Span,
}

/// A handler with its property calls.
#[derive(Debug, Clone)]
pub(crate) struct HandlerCall {
    pub(crate) call: Call,
    pub(crate) props: Vec<Call>,
}

/// Everything the script said about one node, ready for its `build` function.
pub(crate) struct NodeBuild<'a> {
    pub(crate) kind: &'static NodeKind,
    /// The chaining method call.
    pub(crate) call: Call,
    /// Property calls in order.
    pub(crate) props: Vec<Call>,
    /// Handler calls in order.
    pub(crate) handlers: Vec<HandlerCall>,
    /// Edge types of the parents.
    pub(crate) parent_edges: Vec<EdgeType>,
    /// The alert services the daemon has configured, when known.
    pub(crate) services: Option<&'a [String]>,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl NodeBuild<'_> {
    /// The last call of property `name` (later calls override earlier ones).
    pub(crate) fn last(&self, name: &str) -> Option<&Call> {
        self.props.iter().rev().find(|call| call.name == name)
    }

    /// Every call of property `name`, in order.
    pub(crate) fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Call> + 's {
        self.props.iter().filter(move |call| call.name == name)
    }

    /// Whether property `name` was called.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.last(name).is_some()
    }

    /// The chaining call's argument `index`.
    pub(crate) fn arg(&self, index: usize) -> Option<&ArgValue> {
        self.call.args.get(index).map(|(value, _)| value)
    }

    /// The chaining call's string argument `index`.
    pub(crate) fn arg_str(&self, index: usize) -> String {
        self.arg(index)
            .and_then(ArgValue::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// The chaining call's string arguments from `from` on.
    pub(crate) fn arg_strings(&self, from: usize) -> Vec<String> {
        self.call
            .args
            .iter()
            .skip(from)
            .filter_map(|(value, _)| value.as_str().map(str::to_owned))
            .collect()
    }

    /// The first argument of the last call of `name`.
    pub(crate) fn value(&self, name: &str) -> Option<&ArgValue> {
        self.last(name)
            .and_then(|call| call.args.first())
            .map(|(value, _)| value)
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.value(name)
            .and_then(ArgValue::as_str)
            .map(str::to_owned)
    }

    pub(crate) fn duration(&self, name: &str) -> Option<Duration> {
        match self.value(name) {
            Some(ArgValue::Duration(duration)) => Some(*duration),
            _ => None,
        }
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        match self.value(name) {
            Some(ArgValue::Int(value)) => Some(*value),
            _ => None,
        }
    }

    pub(crate) fn lambda(&self, name: &str) -> Option<Lambda> {
        match self.value(name) {
            Some(ArgValue::Lambda(lambda)) => Some(lambda.clone()),
            _ => None,
        }
    }

    /// All string arguments of the last call of `name`.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.last(name)
            .map(|call| {
                call.args
                    .iter()
                    .filter_map(|(value, _)| value.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// String arguments of every call of `name`, concatenated (`.tag('a').tag('b')`).
    pub(crate) fn strings_all(&self, name: &str) -> Vec<String> {
        self.all(name)
            .flat_map(|call| {
                call.args
                    .iter()
                    .filter_map(|(value, _)| value.as_str().map(str::to_owned))
            })
            .collect()
    }

    /// `(k, v)` string pairs of every call of `name`.
    pub(crate) fn pairs(&self, name: &str) -> Vec<(String, String)> {
        self.all(name)
            .filter_map(|call| match (call.args.first(), call.args.get(1)) {
                (Some((ArgValue::Str(key), _)), Some((ArgValue::Str(value), _))) => {
                    Some((key.clone(), value.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Reports a problem with this node.
    pub(crate) fn error(&mut self, code: &'static str, message: impl Into<String>, span: Span) {
        self.diagnostics
            .push(Diagnostic::error(code, message, span));
    }

    /// Reports a missing required property, pointing at the node.
    pub(crate) fn missing(&mut self, property: &str, example: &str) {
        let span = self.call.span;
        let mut diagnostic = Diagnostic::error(
            codes::MISSING_PROPERTY,
            format!("`{}` needs `.{property}(...)`", self.kind.method),
            span,
        )
        .with_note(format!("add it, for example `{example}`"));
        diagnostic.labels = vec![Label {
            span,
            text: format!("missing `.{property}`"),
            primary: true,
        }];
        self.diagnostics.push(diagnostic);
    }

    /// Warns that property `name`, if called, is accepted for compatibility and ignored.
    pub(crate) fn ignored(&mut self, name: &str, why: &str) {
        let spans: Vec<Span> = self.all(name).map(|call| call.span).collect();
        for span in spans {
            self.diagnostics.push(Diagnostic::warning(
                codes::IGNORED_PROPERTY,
                format!("`.{name}()` is accepted and ignored: {why}"),
                span,
            ));
        }
    }

    /// The span of the last call of `name`, else the node's.
    pub(crate) fn span_of(&self, name: &str) -> Span {
        self.last(name).map_or(self.call.span, |call| call.span)
    }
}
