//! Line-protocol encoding throughput for points with 4 tags and 2 fields (the bar is
//! 5 million points/s per core).
//!
//! Run: `cargo bench -p weir-sinks --bench encode`. Measured on the shared 2-core machine
//! under load (load average 2.6): 4.4M points/s on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::line_protocol::Precision;
use weir_engine::{FieldValue, Fields, Point, Tags};
use weir_sinks::influxdb::encode::encode_points;

const POINTS: usize = 10_000;

fn points() -> Vec<Point> {
    (0..POINTS)
        .map(|point_idx| {
            let mut tags = Tags::new();
            tags.insert("host".into(), format!("host-{}", point_idx % 100));
            tags.insert("region".into(), "us-east-1".into());
            tags.insert("service".into(), "api".into());
            tags.insert("env".into(), "prod".into());
            let mut fields = Fields::new();
            fields.insert("value".into(), FieldValue::Float(point_idx as f64 * 0.37));
            fields.insert("count".into(), FieldValue::Int(point_idx as i64));
            Point {
                name: "http_requests".into(),
                tags,
                fields,
                time: 1_700_000_000_000_000_000 + point_idx as i64,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let points = points();
    let mut out = Vec::with_capacity(POINTS * 128);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("4_tags_2_fields", |b| {
        b.iter(|| {
            out.clear();
            encode_points(&mut out, black_box(&points), Precision::Nanoseconds)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
