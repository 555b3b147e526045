//! Relabelling throughput: a typical Kubernetes pod target through a typical rule set, the
//! same pod again and again (as every discovery refresh and every scrape sees the same label
//! sets: regex results come from the match cache) and 10,000 different pods in turn (every
//! regex runs).
//!
//! The bar is one million label sets per second per core (`cargo bench -p weir-discoverers`).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::Labels;
use weir_engine::relabel::{RelabelConfig, process};

fn pod_target() -> Labels {
    [
        ("__address__", "10.1.2.3:8080"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_pod_name", "web-7d9f8c6b5-x2x9z"),
        ("__meta_kubernetes_pod_ip", "10.1.2.3"),
        ("__meta_kubernetes_pod_node_name", "node-1"),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_label_tier", "frontend"),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_port",
            "9102",
        ),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__metrics_path__", "/metrics"),
        ("__scheme__", "http"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

fn rules() -> Vec<RelabelConfig> {
    serde_json::from_str(
        r#"[
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
         "regex": "true", "action": "keep"},
        {"source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
         "regex": "([^:]+)(?::\\d+)?;(\\d+)", "replacement": "$1:$2",
         "target_label": "__address__"},
        {"regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 4,
         "action": "hashmod"}
    ]"#,
    )
    .expect("the benchmark's rules are valid")
}

fn relabel(c: &mut Criterion) {
    let rules = rules();
    let target = pod_target();
    assert!(process(target.clone(), &rules).is_some());
    let mut group = c.benchmark_group("relabel");
    group.throughput(Throughput::Elements(1));
    group.bench_function("kubernetes_pod_6_rules", |b| {
        b.iter_batched(
            || target.clone(),
            |labels| black_box(process(labels, black_box(&rules))),
            BatchSize::SmallInput,
        )
    });
    // 10,000 different pods in turn: more than a regex's match cache holds, so every
    // regex-based rule runs the regex engine (the cold path).
    let distinct: Vec<Labels> = (0..10_000)
        .map(|idx| {
            let mut labels = target.clone();
            labels.insert(
                "__address__".to_owned(),
                format!("10.1.{}.{}:8080", idx / 250, idx % 250),
            );
            labels
        })
        .collect();
    let mut next = 0;
    group.bench_function("kubernetes_pod_6_rules_distinct_pods", |b| {
        b.iter_batched(
            || {
                next = (next + 1) % distinct.len();
                distinct[next].clone()
            },
            |labels| black_box(process(labels, black_box(&rules))),
            BatchSize::SmallInput,
        )
    });
    let keep_only = &rules[..1];
    group.bench_function("keep_rule_only", |b| {
        b.iter_batched(
            || target.clone(),
            |labels| black_box(process(labels, black_box(keep_only))),
            BatchSize::SmallInput,
        )
    });
    for (idx, rule) in rules.iter().enumerate() {
        let one = std::slice::from_ref(rule);
        group.bench_function(format!("rule_{idx}_{}", rule.action), |b| {
            b.iter_batched(
                || target.clone(),
                |labels| black_box(process(labels, black_box(one))),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, relabel);
criterion_main!(benches);
