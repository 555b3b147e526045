//! The checked program: a typed node graph plus the task's metadata.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::nodes::NodeSpec;
use crate::span::Span;
use crate::value::Value;

/// Index of a node in [`Program::nodes`].
pub type NodeId = usize;

/// Stream or batch task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskType {
    /// Rooted at `stream`.
    Stream,
    /// Rooted at `batch`.
    Batch,
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramNode {
    /// Kapacitor-style name: kind plus a task-wide counter (`stream0`, `from1`, `window2`).
    pub name: String,
    /// What the node does.
    pub spec: NodeSpec,
    /// Parents, in order (the left parent first for `join` and `union`).
    pub parents: Vec<NodeId>,
    /// Where the node was created in the script.
    pub span: Span,
}

/// A checked script, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Stream or batch.
    pub task_type: TaskType,
    /// `(database, retention policy)` pairs from `dbrp` statements.
    pub dbrps: Vec<(String, String)>,
    /// Nodes in topological order: every parent comes before its children. Node 0 is the root.
    pub nodes: Vec<ProgramNode>,
}

impl Program {
    /// Children of `node`, in creation order.
    pub fn children(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, candidate)| candidate.parents.contains(&node))
            .map(|(id, _)| id)
    }

    /// The graph in Graphviz DOT, as Kapacitor's `dot` field shows it.
    pub fn dot(&self, task_id: &str) -> String {
        let mut out = format!("digraph {task_id} {{\n");
        for (id, node) in self.nodes.iter().enumerate() {
            for child in self.children(id) {
                out.push_str(&format!("{} -> {};\n", node.name, self.nodes[child].name));
            }
        }
        out.push('}');
        out
    }
}

/// Inputs to [`compile`] besides the text.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Task type when the caller knows it (the API's `type`); otherwise inferred from the root.
    pub task_type: Option<TaskType>,
    /// Template variable values, already decoded from Kapacitor's `vars` JSON.
    pub vars: BTreeMap<String, Value>,
    /// The alert services the daemon has an enabled section for (`slack`, `pagerduty2`, ...),
    /// when known: W605 then names only the handlers whose service is not configured.
    pub services: Option<Vec<String>>,
}

/// Compile a script: every diagnostic found in one pass, and a program when there are no
/// errors.
pub fn compile(source: &str, options: &CompileOptions) -> (Option<Program>, Vec<Diagnostic>) {
    let (ast, mut diagnostics) = crate::parser::parse(source);
    let (program, check_diagnostics, _) = crate::check::check(
        source,
        &ast,
        options,
        diagnostics.iter().any(Diagnostic::is_error),
    );
    diagnostics.extend(check_diagnostics);
    // Report in source order; the sort is stable, so one place keeps its discovery order.
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    let program = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        program
    };
    (program, diagnostics)
}
