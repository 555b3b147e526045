//! `from().groupBy('host')|window().period(10s).every(10s)|mean('value')` over 100 hosts:
//! points per second through one task on one core.
//!
//! Points arrive in writes of 5,000 (Telegraf sends 1,000 to 5,000 per request), freshly
//! parsed as the `/write` path would hand them over (much larger writes fall out of the
//! cache and glibc's `free` gets slow). `drop_points_only` is the floor: freeing the points.

use std::cell::Cell;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::task::Task;
use weir_engine::{HttpRequest, InfluxDbWrite, Outputs, Point, Tags};

const HOSTS: usize = 100;
const POINTS_PER_BATCH: usize = 5_000;
const SCRIPT: &str = "dbrp \"telegraf\".\"autogen\"\n\
    stream|from().measurement('cpu').groupBy('host')\
    |window().period(10s).every(10s)|mean('value')";

struct Discard;

impl Outputs for Discard {
    fn http_post(&self, _request: HttpRequest) {}
    fn influxdb_out(&self, _write: InfluxDbWrite) {}
    fn alert(&self, _handler: &weir_dsl::nodes::AlertHandler, _event_json: Vec<u8>) {}
    fn ci_out(&self, _write: weir_engine::CiWrite) {}
}

fn points(start_second: i64) -> Vec<Point> {
    let hosts: Vec<Tags> = (0..HOSTS)
        .map(|host| [("host".to_string(), format!("host-{host:03}"))].into())
        .collect();
    (0..POINTS_PER_BATCH)
        .map(|idx| {
            let second = start_second + (idx / HOSTS) as i64;
            let tags = hosts[idx % HOSTS].clone();
            Point::gauge("cpu", tags, (idx % 97) as f64, second * 1_000_000_000)
        })
        .collect()
}

fn window_mean(c: &mut Criterion) {
    let (program, diagnostics) = weir_dsl::compile(SCRIPT, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let mut task = Task::new("bench", &program, Arc::new(Discard)).unwrap();
    let next_second = Cell::new(0_i64);
    let mut group = c.benchmark_group("window_mean");
    group.throughput(Throughput::Elements(POINTS_PER_BATCH as u64));
    group.sample_size(20);
    group.bench_function("100_hosts", |b| {
        b.iter_batched(
            || {
                let start = next_second.get();
                next_second.set(start + (POINTS_PER_BATCH / HOSTS) as i64);
                points(start)
            },
            |points| task.write("telegraf", "autogen", points),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("drop_points_only", |b| {
        b.iter_batched(|| points(0), drop, BatchSize::LargeInput)
    });
    group.finish();
    let stats = task.shared().stats();
    assert!(stats.node_stats["mean3"]["emitted"] > 0);
}

criterion_group!(benches, window_mean);
criterion_main!(benches);
