//! Criterion benches: compiling a generated 2,000-line script, and evaluating the lambda
//! `"usage" > 90.0 AND "host" =~ /^web/` against one point.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_dsl::nodes::NodeSpec;
use weir_dsl::{CompileOptions, LambdaState, Scope, Value, compile};

/// About 2,000 lines: many independent pipelines, each with a lambda, a window and an alert.
/// Every pipeline has its own regex, so no cache makes compiling them free.
fn generated_script() -> String {
    let mut script = String::from("dbrp \"telegraf\".\"autogen\"\n\nvar limit = 90.0\n\n");
    let mut pipeline = 0;
    while script.lines().count() < 2_000 {
        script.push_str(&format!(
            "// pipeline {pipeline}\nvar p{pipeline} = stream\n    |from()\n        .measurement('cpu{pipeline}')\n        .where(lambda: \"host\" =~ /^web{pipeline}-/ AND \"usage\" > 10.0)\n        .groupBy('host')\n    |window()\n        .period(10s)\n        .every(10s)\n    |mean('usage')\n        .as('usage')\n\np{pipeline}\n    |alert()\n        .crit(lambda: \"usage\" > limit)\n        .log('/tmp/alerts.log')\n\n"
        ));
        pipeline += 1;
    }
    script
}

struct Point;

impl Scope for Point {
    fn field(&self, name: &str) -> Option<Value> {
        (name == "usage").then_some(Value::Float(95.5))
    }
    fn tag(&self, name: &str) -> Option<&str> {
        (name == "host").then_some("web-01")
    }
    fn time(&self) -> i64 {
        0
    }
}

fn bench_compile(c: &mut Criterion) {
    let script = generated_script();
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Bytes(script.len() as u64));
    group.bench_function("parse_and_check_2000_lines", |b| {
        b.iter(|| {
            let (program, diagnostics) = compile(black_box(&script), &CompileOptions::default());
            assert!(diagnostics.is_empty());
            program
        })
    });
    group.finish();
}

fn predicate(lambda: &str) -> weir_dsl::Lambda {
    let source = format!("stream|from()|where(lambda: {lambda})|log()");
    let (program, _) = compile(&source, &CompileOptions::default());
    let Some(NodeSpec::Where(spec)) = program.map(|program| program.nodes[2].spec.clone()) else {
        panic!("the bench script does not compile");
    };
    spec.predicate
}

fn bench_lambda(c: &mut Criterion) {
    let mut state = LambdaState::default();
    let mut group = c.benchmark_group("lambda");
    // One element is one point evaluated: criterion reports points per second.
    group.throughput(Throughput::Elements(1));
    let both = predicate("\"usage\" > 90.0 AND \"host\" =~ /^web/");
    group.bench_function("eval_usage_and_host_regex", |b| {
        b.iter(|| both.eval_bool(black_box(&Point), &mut state))
    });
    let numeric = predicate("\"usage\" > 90.0");
    group.bench_function("eval_usage_only", |b| {
        b.iter(|| numeric.eval_bool(black_box(&Point), &mut state))
    });
    // A regex the fast path hands to the regex engine, and a comparison of arithmetic on a
    // field.
    let regex = predicate("\"usage\" > 90.0 AND \"host\" =~ /^web-\\d+$/");
    group.bench_function("eval_usage_and_host_full_regex", |b| {
        b.iter(|| regex.eval_bool(black_box(&Point), &mut state))
    });
    let arithmetic = predicate("\"usage\" * 2.0 - 1.0 > 90.0");
    group.bench_function("eval_arithmetic", |b| {
        b.iter(|| arithmetic.eval_bool(black_box(&Point), &mut state))
    });
    // No fast path: the general evaluator.
    let general = predicate("if(\"usage\" > 90.0, 'hot', 'ok') == 'hot'");
    group.bench_function("eval_general", |b| {
        b.iter(|| general.eval_bool(black_box(&Point), &mut state))
    });
    group.finish();
}

criterion_group!(benches, bench_compile, bench_lambda);
criterion_main!(benches);
