//! Exposition parser throughput (the bar: 800 MB/s of exposition text on one core).
//!
//! The input is a realistic 10,000-series body like `/work/shared/bench/gen_expo.py`
//! writes (counters, gauges, a 12-bucket histogram, a summary, 5–8 labels, a few escapes,
//! Go-formatted values). Set `WEIR_EXPO_FIXTURE=path/to/metrics` to bench a file instead,
//! e.g. one written by `gen_expo.py --targets 1 --variants 1`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::{Labels, TargetGroup};
use weir_scrapers::ScraperConfig;
use weir_scrapers::exposition::{self, Format};
use weir_scrapers::scrape::convert;
use weir_scrapers::target::build_targets;

/// SplitMix64, so the body is the same on every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value as Go's `strconv.FormatFloat(v, 'g', -1, 64)` would print it.
    fn value(&mut self) -> String {
        match self.below(4) {
            0 => format!("{}", self.below(100_000)),
            1 => format!("{:.6e}", self.below(1 << 40) as f64 / 7.0).replace("e", "e+0"),
            2 => format!("{}", self.below(1_000_000) as f64 / 1024.0),
            _ => format!("{}", self.below(1 << 50)),
        }
    }
}

fn generate(series: usize) -> String {
    let mut rng = Mix(42);
    let mut body = String::with_capacity(series * 200);
    let target = "namespace=\"prod\",service=\"checkout\",pod=\"checkout-7d9f8b6c5-x2x9z\",zone=\"eu-west-1a\"";
    let mut written = 0;
    let mut family_idx = 0;
    while written < series {
        family_idx += 1;
        let kind = rng.below(100);
        let help_escape = if family_idx % 7 == 0 {
            " with a \\\\ backslash\\nand newline"
        } else {
            ""
        };
        if kind < 35 {
            let name = format!("app_requests_{family_idx}_total");
            body.push_str(&format!(
                "# HELP {name} Total requests handled{help_escape}.\n# TYPE {name} counter\n"
            ));
            for code in ["200", "404", "500"] {
                let path = if rng.below(30) == 0 {
                    "/a\\\"quoted\\\""
                } else {
                    "/api/v1/items"
                };
                body.push_str(&format!(
                    "{name}{{{target},code=\"{code}\",path=\"{path}\"}} {}\n",
                    rng.value()
                ));
                written += 1;
            }
        } else if kind < 55 {
            let name = format!("app_queue_depth_{family_idx}");
            body.push_str(&format!(
                "# HELP {name} Items waiting{help_escape}.\n# TYPE {name} gauge\n"
            ));
            for queue in ["high", "low"] {
                body.push_str(&format!(
                    "{name}{{{target},queue=\"{queue}\"}} {}\n",
                    rng.value()
                ));
                written += 1;
            }
        } else if kind < 90 {
            let name = format!("app_request_duration_seconds_{family_idx}");
            body.push_str(&format!(
                "# HELP {name} Request latency{help_escape}.\n# TYPE {name} histogram\n"
            ));
            let mut count = 0u64;
            for le in [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "+Inf",
            ] {
                count += rng.below(1000);
                body.push_str(&format!(
                    "{name}_bucket{{{target},method=\"GET\",le=\"{le}\"}} {count}\n"
                ));
            }
            body.push_str(&format!(
                "{name}_sum{{{target},method=\"GET\"}} {}\n",
                rng.value()
            ));
            body.push_str(&format!(
                "{name}_count{{{target},method=\"GET\"}} {count}\n"
            ));
            written += 14;
        } else {
            let name = format!("app_gc_pause_seconds_{family_idx}");
            body.push_str(&format!(
                "# HELP {name} GC pauses{help_escape}.\n# TYPE {name} summary\n"
            ));
            for quantile in ["0.5", "0.9", "0.99"] {
                body.push_str(&format!(
                    "{name}{{{target},quantile=\"{quantile}\"}} {}\n",
                    rng.value()
                ));
            }
            body.push_str(&format!("{name}_sum{{{target}}} {}\n", rng.value()));
            body.push_str(&format!(
                "{name}_count{{{target}}} {}\n",
                rng.below(100_000)
            ));
            written += 5;
        }
    }
    body
}

fn input() -> Vec<u8> {
    match std::env::var("WEIR_EXPO_FIXTURE") {
        Ok(path) => std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}")),
        Err(_) => generate(10_000).into_bytes(),
    }
}

/// This process's user + system CPU time in seconds, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Throughput per CPU-second, which a shared machine does not distort the way it distorts
/// wall time; printed before criterion's wall-clock figures.
fn report_cpu_throughput(body: &[u8]) {
    let (Some(before), started) = (cpu_seconds(), std::time::Instant::now()) else {
        return;
    };
    let mut iterations = 0u64;
    while started.elapsed().as_secs_f64() < 3.0 {
        exposition::parse(
            black_box(body),
            Format::PrometheusText,
            |s| {
                black_box(s.value);
            },
            |_, _| {},
        );
        iterations += 1;
    }
    if let Some(after) = cpu_seconds() {
        let cpu = (after - before).max(0.01);
        let megabytes = (body.len() as u64 * iterations) as f64 / 1e6;
        eprintln!(
            "parse: {iterations} iterations, {:.0} MB per CPU-second ({:.0} MB/s wall)",
            megabytes / cpu,
            megabytes / started.elapsed().as_secs_f64()
        );
    }
}

fn bench_parse(c: &mut Criterion) {
    let body = input();
    let mut errors = 0;
    let summary = exposition::parse(&body, Format::PrometheusText, |_| {}, |_, _| errors += 1);
    assert_eq!(errors, 0, "the bench input must parse cleanly");
    eprintln!(
        "bench input: {} bytes, {} samples",
        body.len(),
        summary.samples
    );
    report_cpu_throughput(&body);

    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            exposition::parse(
                black_box(&body),
                Format::PrometheusText,
                |s| sum += s.value,
                |_, _| {},
            );
            sum
        })
    });
    group.bench_function("parse_prometheus_parse_crate", |b| {
        let text = String::from_utf8_lossy(&body).into_owned();
        b.iter(|| {
            let lines = black_box(&text).lines().map(|line| Ok(line.to_owned()));
            prometheus_parse::Scrape::parse(lines).map(|scrape| scrape.samples.len())
        })
    });
    let config = ScraperConfig::new("bench", "prom", "autogen");
    let group_labels = Labels::from([("__address__".to_owned(), "127.0.0.1:9100".to_owned())]);
    let target_group = TargetGroup {
        source: "bench".to_owned(),
        targets: vec![group_labels],
        labels: Labels::new(),
    };
    let target = build_targets(&config, &[target_group]).targets.remove(0);
    group.bench_function("parse_and_convert_to_points", |b| {
        b.iter(|| {
            convert(
                &config,
                &target,
                black_box(&body),
                Format::PrometheusText,
                0,
            )
            .map(|c| c.points.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
