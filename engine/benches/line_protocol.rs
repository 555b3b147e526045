//! Line-protocol parsing throughput: weir's hand-written parser against the
//! `influxdb-line-protocol` crate, on the `/write` shape
//! `cpu,host=h1,region=r1 value=0.5,idle=3i 1700000000000000000`, 10,000 lines per iteration.
//!
//! Run: `cargo bench -p weir-engine --bench line_protocol`.
//! Measured on the shared 2-core dev machine under load: weir_parse about 580k lines/s,
//! crate + conversion to owned points about 320k lines/s, crate borrowed-only about 1.0M lines/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::line_protocol::{Precision, parse};
use weir_engine::{FieldValue, Fields, Point, Tags};

const LINES: usize = 10_000;

fn body() -> String {
    let mut body = String::new();
    for line_idx in 0..LINES {
        body.push_str(&format!(
            "cpu,host=h{},region=r1 value=0.5,idle=3i {}\n",
            line_idx % 100,
            1_700_000_000_000_000_000_i64 + line_idx as i64
        ));
    }
    body
}

/// The crate's parse plus the conversion to owned points that `/write` needs.
fn parse_with_crate(body: &str) -> Vec<Point> {
    use influxdb_line_protocol::FieldValue as CrateValue;
    let mut points = Vec::new();
    for line in influxdb_line_protocol::parse_lines(body).flatten() {
        let mut tags = Tags::new();
        for (key, value) in line.series.tag_set.iter().flatten() {
            tags.insert(key.to_string(), value.to_string());
        }
        let mut fields = Fields::new();
        for (key, value) in &line.field_set {
            let value = match value {
                CrateValue::F64(value) => FieldValue::Float(*value),
                CrateValue::I64(value) => FieldValue::Int(*value),
                CrateValue::U64(value) => FieldValue::Int(*value as i64),
                CrateValue::String(value) => FieldValue::String(value.to_string()),
                CrateValue::Boolean(value) => FieldValue::Bool(*value),
            };
            fields.insert(key.as_str().into(), value);
        }
        points.push(Point {
            name: line.series.measurement.as_str().into(),
            tags,
            fields,
            time: line.timestamp.unwrap_or(0),
        });
    }
    points
}

fn bench(c: &mut Criterion) {
    let body = body();
    assert_eq!(parse(&body, Precision::Nanoseconds, 0).0.len(), LINES);
    assert_eq!(parse_with_crate(&body).len(), LINES);
    let mut group = c.benchmark_group("line_protocol");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("weir_parse", |b| {
        b.iter(|| parse(black_box(&body), Precision::Nanoseconds, 0))
    });
    group.bench_function("influxdb_line_protocol_crate", |b| {
        b.iter(|| parse_with_crate(black_box(&body)))
    });
    group.bench_function("influxdb_line_protocol_crate_borrowed_only", |b| {
        b.iter(|| {
            influxdb_line_protocol::parse_lines(black_box(&body))
                .flatten()
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
