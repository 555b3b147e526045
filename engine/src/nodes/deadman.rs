//! `deadman(threshold, interval[, expression...])`: Kapacitor's sugar for
//! `stats(interval).align()|derivative('emitted').unit(interval).nonNegative()|alert()`
//! with `.crit(lambda: "emitted" <= threshold AND expression...)`, run as one node.
//!
//! The defaults are Kapacitor's `[deadman]` ones: the id `node 'PARENT' in task '{{ .TaskName }}'`
//! (PARENT is the node the deadman watches) and the message
//! `{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: {{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL.`
//! with INTERVAL in Go's duration format. An explicit `.id()`, `.message()` or `.crit()`
//! replaces them, as a property set after `deadman()` does in Kapacitor.

use std::sync::Arc;

use weir_dsl::nodes::{DeadmanSpec, DerivativeSpec, NodeSpec, StatsSpec};
use weir_dsl::{Lambda, Program};

use crate::message::Message;
use crate::nodes::alert::Alert;
use crate::nodes::derivative::Derivative;
use crate::nodes::stats::{EMITTED, Stats};
use crate::nodes::{Context, Node};

const DEFAULT_ID: &str = "node 'NODE_NAME' in task '{{ .TaskName }}'";
const DEFAULT_MESSAGE: &str = "{{ .ID }} is {{ if eq .Level \"OK\" }}alive{{ else }}dead{{ end }}: {{ index .Fields \"emitted\" | printf \"%0.3f\" }} points/INTERVAL.";

/// Runtime state of `deadman()`: the three stages of Kapacitor's expansion.
pub struct Deadman {
    stats: Stats,
    derivative: Derivative,
    alert: Alert,
    scratch: Vec<Message>,
}

/// `"emitted" <= threshold` as a compiled lambda.
fn threshold_lambda(threshold: f64) -> Result<Lambda, String> {
    let literal = format!("{threshold:?}");
    if !threshold.is_finite() || literal.contains('e') {
        return Err(format!(
            "deadman threshold {threshold} cannot be written as a literal"
        ));
    }
    let script = format!("stream|from()|alert().crit(lambda: \"{EMITTED}\" <= {literal})");
    let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
    let crit = program.as_ref().and_then(|program: &Program| {
        program.nodes.iter().find_map(|node| match &node.spec {
            NodeSpec::Alert(alert) => alert.crit.clone(),
            _ => None,
        })
    });
    crit.ok_or_else(|| format!("deadman threshold does not compile: {diagnostics:?}"))
}

impl Deadman {
    /// Build from the spec; `source` is the name of the node the deadman watches.
    pub fn new(spec: &DeadmanSpec, source: &str) -> Result<Deadman, String> {
        let interval = spec.interval;
        let mut alert_spec = spec.alert.clone();
        let extra = if alert_spec.crit.is_none() {
            alert_spec.crit = Some(threshold_lambda(spec.threshold)?);
            spec.expressions.clone()
        } else {
            Vec::new()
        };
        if alert_spec.id.is_none() {
            alert_spec.id = Some(DEFAULT_ID.replacen("NODE_NAME", source, 1));
        }
        if alert_spec.message.is_none() {
            alert_spec.message =
                Some(DEFAULT_MESSAGE.replacen("INTERVAL", &interval.to_string(), 1));
        }
        let mut alert = Alert::new(&alert_spec)?;
        alert.require_for_critical(extra);
        Ok(Deadman {
            stats: Stats::new(&StatsSpec {
                interval,
                align: true,
            }),
            derivative: Derivative::new(&DerivativeSpec {
                field: EMITTED.to_owned(),
                unit: interval,
                non_negative: true,
                as_: EMITTED.to_owned(),
            }),
            alert,
            scratch: Vec::new(),
        })
    }
}

impl Node for Deadman {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        self.stats.process(0, message, ctx);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        let counts = self.stats.due(ctx.now());
        if counts.is_empty() {
            return;
        }
        // Run the stats points through the derivative into a scratch buffer, then alert.
        let mut rates = std::mem::take(&mut self.scratch);
        {
            let mut inner = Context {
                out: &mut rates,
                outputs: ctx.outputs,
                task: ctx.task,
                node: ctx.node,
                stats: ctx.stats,
                error_log: &mut *ctx.error_log,
                now: ctx.now,
            };
            for count in counts {
                self.derivative.process(0, count, &mut inner);
            }
        }
        for rate in rates.drain(..) {
            self.alert.process(0, rate, ctx);
        }
        self.scratch = rates;
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, ctx: &mut Context<'_>) -> bool {
        // Each stage forgets a deleted group, as the three nodes of Kapacitor's expansion do.
        self.stats.barrier(barrier, ctx);
        self.derivative.barrier(barrier, ctx);
        self.alert.barrier(barrier, ctx);
        true
    }

    fn attach_alert_state(
        &mut self,
        store: &Arc<dyn crate::alert_state::AlertStateStore>,
        task: &str,
        node: &str,
    ) {
        self.alert.attach_alert_state(store, task, node);
    }

    fn cardinality(&self) -> usize {
        self.stats.cardinality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::Recorder;
    use crate::point::Point;
    use crate::task::Task;
    use serde_json::Value as Json;

    const S: i64 = 1_000_000_000;

    fn events(recorder: &Recorder) -> Vec<Json> {
        recorder
            .alerts
            .lock()
            .unwrap()
            .iter()
            .map(|event| serde_json::from_str(event).unwrap())
            .collect()
    }

    fn task(script: &str) -> (Task, Arc<Recorder>) {
        let script = format!("dbrp \"db\".\"rp\"\n{script}");
        let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recorder = Arc::new(Recorder::default());
        let task = Task::new("cpu_task", &program, recorder.clone()).unwrap();
        (task, recorder)
    }

    fn cpu(n: usize, time: i64) -> Vec<Point> {
        (0..n)
            .map(|i| Point::gauge("cpu", Default::default(), 1.0, time + i as i64))
            .collect()
    }

    #[test]
    fn alerts_when_the_rate_drops_to_the_threshold_and_recovers() {
        let (mut task, recorder) =
            task("stream|from().measurement('cpu')|deadman(2.0, 10s).log('/dev/null')");
        // Started at 100 s: aligned emissions at 110, 120, ... (the first one stamped 100).
        task.tick(100 * S);
        task.write("db", "rp", cpu(5, 101 * S));
        task.tick(110 * S);
        task.write("db", "rp", cpu(5, 111 * S));
        // 5 points in the interval: alive, no event (OK stays OK).
        task.tick(120 * S);
        assert!(events(&recorder).is_empty());
        task.write("db", "rp", cpu(2, 121 * S));
        // 2 points: at the threshold, dead.
        task.tick(130 * S);
        task.write("db", "rp", cpu(3, 131 * S));
        task.tick(140 * S);
        let events = events(&recorder);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0]["level"], "CRITICAL");
        assert_eq!(events[0]["id"], "node 'from1' in task 'cpu_task'");
        assert_eq!(
            events[0]["message"],
            "node 'from1' in task 'cpu_task' is dead: 2.000 points/10s."
        );
        assert_eq!(events[0]["time"], "1970-01-01T00:02:10Z");
        assert_eq!(events[1]["level"], "OK");
        assert_eq!(
            events[1]["message"],
            "node 'from1' in task 'cpu_task' is alive: 3.000 points/10s."
        );
        let stats = task.shared().stats();
        assert_eq!(stats.node_stats["deadman2"]["crits_triggered"], 1);
    }

    #[test]
    fn a_silent_stream_is_dead_and_extra_expressions_must_hold_too() {
        // No point ever: the nil group with 0 points per interval.
        let (mut task, recorder) = task(
            "var data = stream|from().measurement('cpu')\n\
             data|deadman(0.0, 1m).id('dead').message('{{ .ID }} {{ .Level }}').log('/dev/null')\n\
             data|deadman(0.0, 1m, lambda: hour(\"time\") >= 8).log('/dev/null')",
        );
        task.tick(0);
        for minute in 1..=3 {
            task.tick(minute * 60 * S);
        }
        let events = events(&recorder);
        // Minute 1 has no previous count; minute 2 has a rate of 0: dead (only the first
        // deadman: at 00:02 the hour is 0, so the second one's expression is false).
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0]["message"], "dead CRITICAL");
        assert_eq!(events[1]["message"], "dead CRITICAL");
    }

    #[test]
    fn thresholds_become_lambdas() {
        assert!(threshold_lambda(0.0).is_ok());
        assert!(threshold_lambda(12.5).is_ok());
        assert!(threshold_lambda(f64::INFINITY).is_err());
    }
}
