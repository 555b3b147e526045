//! A task's graph in Graphviz DOT, annotated with node statistics the way Kapacitor's
//! `dot` field and `kapacitor show` present them.

use std::fmt::Write;

use weir_dsl::Program;

/// Render `program` as DOT; `stats` is the engine's task-stats JSON (`node-stats` by node
/// name). With `labels`, statistics go into node labels (`dot-view=labels`) instead of
/// attributes.
pub fn render(task_id: &str, program: &Program, stats: &serde_json::Value, labels: bool) -> String {
    let node_stats = stats.get("node-stats");
    let stat = |node: &str, key: &str| -> i64 {
        node_stats
            .and_then(|all| all.get(node))
            .and_then(|one| one.get(key))
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    };
    let mut out = String::new();
    let _ = writeln!(out, "digraph {task_id} {{");
    if stats.is_null() {
        for (id, node) in program.nodes.iter().enumerate() {
            for child in program.children(id) {
                let _ = writeln!(out, "{} -> {};", node.name, program.nodes[child].name);
            }
        }
        out.push('}');
        return out;
    }
    if !labels {
        let _ = writeln!(out, "graph [throughput=\"0.00 points/s\"];");
    }
    for (id, node) in program.nodes.iter().enumerate() {
        let errors = stat(&node.name, "errors");
        let collected = stat(&node.name, "collected");
        let emitted = stat(&node.name, "emitted");
        out.push('\n');
        if labels {
            let _ = writeln!(
                out,
                "{} [label=\"{}\\ncollected={collected}\\nemitted={emitted}\\nerrors={errors}\"];",
                node.name, node.name
            );
        } else {
            let _ = writeln!(
                out,
                "{} [collected=\"{collected}\" emitted=\"{emitted}\" errors=\"{errors}\" ];",
                node.name
            );
        }
        for child in program.children(id) {
            let child_name = &program.nodes[child].name;
            if labels {
                let _ = writeln!(
                    out,
                    "{} -> {child_name} [label=\"processed={emitted}\"];",
                    node.name
                );
            } else {
                let _ = writeln!(
                    out,
                    "{} -> {child_name} [processed=\"{emitted}\"];",
                    node.name
                );
            }
        }
    }
    out.push('}');
    out
}
