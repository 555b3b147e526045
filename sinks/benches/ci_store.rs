//! The CI store's bars (issue 9): a full re-collection of 100,000 unchanged CIs is diffed in
//! under 1 s, and 50,000 changes per second are recorded.
//!
//! Both run against a file-backed store (SQLite in WAL mode, as under `data_dir`) holding
//! 100,000 Kubernetes pods with a dozen attributes, a node relationship and an address each.
//! `recollect_unchanged` is what the CI writer does for every refresh of such a source:
//! extraction from the discovered target groups, the diff against every stored item, the
//! write of the seen times, and DNS enrichment. `record_changes` moves every pod to another
//! node: 100,000 `updated` changes (attribute and relationship diffs) per iteration.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_engine::{Labels, TargetGroup};
use weir_sinks::ci::extract::from_discovery;
use weir_sinks::ci::{CiStore, Observation};

const PODS: usize = 100_000;
const SOURCE: &str = "kubernetes/prod";

fn pod_labels(idx: usize, node: &str) -> Labels {
    let ip = format!("10.{}.{}.{}", idx >> 16, (idx >> 8) & 0xff, idx & 0xff);
    [
        ("__address__", format!("{ip}:8080")),
        ("__meta_kubernetes_namespace", format!("team-{}", idx % 50)),
        ("__meta_kubernetes_pod_name", format!("web-{idx}")),
        ("__meta_kubernetes_pod_node_name", node.to_owned()),
        ("__meta_kubernetes_pod_ip", ip.clone()),
        (
            "__meta_kubernetes_pod_host_ip",
            format!("10.250.0.{}", idx % 200),
        ),
        ("__meta_kubernetes_pod_phase", "Running".to_owned()),
        ("__meta_kubernetes_pod_ready", "true".to_owned()),
        ("__meta_kubernetes_pod_uid", format!("uid-{idx:08x}")),
        (
            "__meta_kubernetes_pod_controller_kind",
            "ReplicaSet".to_owned(),
        ),
        (
            "__meta_kubernetes_pod_controller_name",
            format!("web-{}", idx / 10),
        ),
        ("__meta_kubernetes_pod_label_app", "web".to_owned()),
        ("__meta_kubernetes_pod_label_version", "v1.2.3".to_owned()),
        ("__meta_kubernetes_pod_container_name", "app".to_owned()),
        (
            "__meta_kubernetes_pod_container_port_number",
            "8080".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

fn groups(node_offset: usize) -> Vec<TargetGroup> {
    vec![TargetGroup {
        source: "pods".into(),
        targets: (0..PODS)
            .map(|idx| pod_labels(idx, &format!("node-{}", (idx + node_offset) % 500)))
            .collect(),
        labels: Labels::new(),
    }]
}

fn observations(node_offset: usize) -> Vec<Observation> {
    from_discovery("kubernetes", "prod", &groups(node_offset))
}

fn filled_store(dir: &std::path::Path) -> CiStore {
    let mut store = CiStore::open(dir).expect("store");
    let created = store
        .apply(SOURCE, observations(0), true, 1)
        .expect("first collection");
    assert_eq!(created.len(), PODS);
    store
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ci_store");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PODS as u64));

    let unchanged = groups(0);
    group.bench_function("extract", |b| {
        b.iter(|| from_discovery("kubernetes", "prod", &unchanged));
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = filled_store(dir.path());
    let mut time = 2;
    group.bench_function("recollect_unchanged", |b| {
        b.iter(|| {
            time += 1;
            let observations = from_discovery("kubernetes", "prod", &unchanged);
            let changes = store
                .apply(SOURCE, observations, true, time)
                .expect("apply");
            assert!(changes.is_empty());
            assert!(store.enrich_dns(time).expect("enrich").is_empty());
        });
    });
    drop(store);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = filled_store(dir.path());
    let moved = [observations(0), observations(1)];
    let mut round = 0;
    group.bench_function("record_changes", |b| {
        b.iter_batched(
            || {
                round += 1;
                (round, moved[round % 2].clone())
            },
            |(round, observations)| {
                let changes = store
                    .apply(SOURCE, observations, true, round as i64 + 2)
                    .expect("apply");
                assert_eq!(changes.len(), PODS);
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
