//! The task path: `from().groupBy('host')|where|eval|window().period(10s)|mean` over 10,000
//! groups, points per second on one core, for points parsed from line protocol as `/write`
//! hands them over (5,000 lines per body, tags shared per series).
//!
//! - `owned`: the batch reaches one task, which takes the points.
//! - `shared`: the batch reaches several tasks; each one copies what its `from()` selects
//!   (what every task after the first pays).

use std::cell::Cell;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::line_protocol::{Precision, parse};
use weir_engine::task::Task;
use weir_engine::{HttpRequest, InfluxDbWrite, Outputs, Point};

const GROUPS: usize = 10_000;
const POINTS_PER_BODY: usize = 5_000;
const SCRIPT: &str = "dbrp \"telegraf\".\"autogen\"\n\
    stream|from().measurement('cpu').groupBy('host')\
    |where(lambda: \"value\" >= 0.0)\
    |eval(lambda: \"value\" * 2.0).as('double').keep()\
    |window().period(10s).every(10s)|mean('double')";

struct Discard;

impl Outputs for Discard {
    fn http_post(&self, _request: HttpRequest) {}
    fn influxdb_out(&self, _write: InfluxDbWrite) {}
    fn alert(&self, _handler: &weir_dsl::nodes::AlertHandler, _event_json: Vec<u8>) {}
    fn ci_out(&self, _write: weir_engine::CiWrite) {}
}

/// One body of 5,000 lines: each group gets a point every second, bodies follow each other.
fn body(index: u64) -> Vec<Point> {
    let mut text = String::with_capacity(POINTS_PER_BODY * 48);
    for line in 0..POINTS_PER_BODY as u64 {
        let n = index * POINTS_PER_BODY as u64 + line;
        let group = n % GROUPS as u64;
        let second = n / GROUPS as u64;
        text.push_str(&format!(
            "cpu,host=host-{group:05},dc=eu value={}.5 {second}\n",
            n % 97
        ));
    }
    let (points, errors) = parse(&text, Precision::Seconds, 0);
    assert!(errors.is_empty());
    points
}

fn task() -> Task {
    let (program, diagnostics) = weir_dsl::compile(SCRIPT, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
    Task::new("bench", &program, Arc::new(Discard)).expect("task")
}

fn task_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_path");
    group.throughput(Throughput::Elements(POINTS_PER_BODY as u64));
    group.sample_size(20);
    let mut owned = task();
    let next = Cell::new(0_u64);
    group.bench_function("owned", |b| {
        b.iter_batched(
            || {
                next.set(next.get() + 1);
                body(next.get())
            },
            |points| owned.write("telegraf", "autogen", points),
            BatchSize::LargeInput,
        )
    });
    let mut shared = task();
    let next = Cell::new(0_u64);
    group.bench_function("shared", |b| {
        b.iter_batched(
            || {
                next.set(next.get() + 1);
                body(next.get())
            },
            |points| {
                shared.write_shared("telegraf", "autogen", &points);
                points
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let stats = owned.shared().stats();
    assert!(
        stats.node_stats["mean5"]["emitted"] > 0,
        "{:?}",
        stats.node_stats
    );
}

criterion_group!(benches, task_path);
criterion_main!(benches);
