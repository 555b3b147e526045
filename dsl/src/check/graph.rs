//! Building the node graph: roots, `|chain` and `.property` calls checked against the
//! schema, recovery after unknown methods, and the final build of every node's spec.

use super::{CValue, Checker, NodeRef, POISON, PendingNode, did_you_mean, labelled};
use crate::ast::{Expr, Ident};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::nodes::{self, EdgeType};
use crate::program::{Program, ProgramNode, TaskType};
use crate::schema::{ArgValue, Call, Chains, HandlerCall, NodeBuild, NodeKind, Provides, Wants};
use crate::span::Span;

impl Checker<'_> {
    pub(super) fn root(&mut self, task_type: TaskType, span: Span) -> Option<CValue> {
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

    pub(super) fn pipe(
        &mut self,
        parent: NodeRef,
        name: &Ident,
        args: &[Expr],
        span: Span,
    ) -> Option<CValue> {
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
        let link_span = Span::new(name.span.start.saturating_sub(1), span.end);
        let checked = self.check_args(&kind.args, args, link_span, kind.method);
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

    pub(super) fn dot(
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
            let source_node = match kind.method {
                "stream" => Some("from"),
                "batch" => Some("query"),
                _ => None,
            };
            let on_source = source_node
                .and_then(nodes::find_kind)
                .is_some_and(|source| source.prop(method).is_some());
            match did_you_mean(method, candidates.iter().copied()) {
                Some(hint) => diagnostic.labels[0].text = hint,
                None if on_source => {
                    let source = source_node.unwrap_or_default();
                    diagnostic.notes.push(format!(
                        "`{method}` is a property of `{source}`: write `{}|{source}(...).{method}(...)`",
                        kind.method
                    ));
                }
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

    pub(super) fn finish(&mut self) -> Option<Program> {
        let Some((task_type, _)) = self.root else {
            if !self.syntax_errors && !self.diagnostics.iter().any(Diagnostic::is_error) {
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
                services: self.options.services.as_deref(),
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
        let mut has_child = vec![false; pending.len()];
        for parent in pending.iter().flat_map(|child| &child.parents) {
            if let Some(flag) = has_child.get_mut(*parent) {
                *flag = true;
            }
        }
        for (id, node) in pending.iter().enumerate().filter(|_| !has_errors) {
            let has_children = has_child[id];
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
