//! A task's graph in Graphviz DOT, annotated with node statistics the way Kapacitor's
//! `dot` field and `kapacitor show` present them.

use std::fmt::Write;

use weir_dsl::Program;

/// Render `program` as DOT; `stats` is the engine's task-stats JSON (`node-stats` by node
/// name). With `labels`, statistics go into node labels (`dot-view=labels`) instead of
/// attributes.
pub fn render(task_id: &str, program: &Program, stats: &serde_json::Value, labels: bool) -> String {
    let node_stats = stats.get("node-stats");
    // Every counter of a node, sorted by name: Kapacitor's (avg_exec_time_ns, errors,
    // working_cardinality, the alert counters) beside weir's collected and emitted.
    let counters = |node: &str| -> Vec<(String, i64)> {
        node_stats
            .and_then(|all| all.get(node))
            .and_then(serde_json::Value::as_object)
            .map(|one| {
                one.iter()
                    .map(|(key, value)| (key.clone(), value.as_i64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let stat = |node: &str, key: &str| -> i64 {
        counters(node)
            .into_iter()
            .find(|(name, _)| name == key)
            .map_or(0, |(_, value)| value)
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
        let throughput = stats
            .pointer("/task-stats/throughput")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0);
        let _ = writeln!(out, "graph [throughput=\"{throughput:.2} points/s\"];");
    }
    for (id, node) in program.nodes.iter().enumerate() {
        let emitted = stat(&node.name, "emitted");
        out.push('\n');
        let counters = counters(&node.name);
        if labels {
            let mut label = node.name.clone();
            for (key, value) in &counters {
                let _ = write!(label, "\\n{key}={value}");
            }
            let _ = writeln!(out, "{} [label=\"{label}\"];", node.name);
        } else {
            let mut attributes = String::new();
            for (key, value) in &counters {
                if key == "avg_exec_time_ns" {
                    // Kapacitor prints the average as a Go duration here (`1.2µs`).
                    let text = weir_dsl::Duration(*value).to_string();
                    let _ = write!(attributes, "{key}=\"{text}\" ");
                } else {
                    let _ = write!(attributes, "{key}=\"{value}\" ");
                }
            }
            let _ = writeln!(out, "{} [{attributes}];", node.name);
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
