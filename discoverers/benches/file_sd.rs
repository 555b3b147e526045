//! File discovery latency: a file_sd file with 10,000 targets is rewritten atomically (write a
//! temporary file, rename it over the old one) and the time until the new target set is
//! published on the source's watch channel, which is what the scrapers subscribe to, is
//! measured.
//!
//! The bar is 1 s (`cargo bench -p weir-discoverers --no-default-features --bench file_sd`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use weir_discoverers::{DiscoveryConfig, DiscoveryManager};

const N_GROUPS: usize = 100;
const TARGETS_PER_GROUP: usize = 100;
const VERSION_LABEL: &str = "version";

/// A file_sd JSON document with `N_GROUPS × TARGETS_PER_GROUP` targets, every group labelled
/// with `version`.
fn file_sd(version: u64) -> String {
    let mut out = String::from("[\n");
    for group_idx in 0..N_GROUPS {
        if group_idx > 0 {
            out.push_str(",\n");
        }
        out.push_str("{\"targets\": [");
        for target_idx in 0..TARGETS_PER_GROUP {
            if target_idx > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "\"10.{group_idx}.{}.{}:9100\"",
                target_idx / 250,
                target_idx % 250
            );
        }
        let _ = write!(
            out,
            "], \"labels\": {{\"job\": \"node\", \"rack\": \"r{group_idx}\", \"{VERSION_LABEL}\": \"{version}\"}}}}"
        );
    }
    out.push_str("\n]\n");
    out
}

/// Replace `path` atomically with `text`.
fn rewrite(path: &Path, text: &str) {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).expect("write the temporary file");
    std::fs::rename(&temporary, path).expect("rename over the file_sd file");
}

fn file_change_latency(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("targets.json");
    rewrite(&path, &file_sd(0));
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[file-discovery]]\nid = \"bench\"\nfiles = [{:?}]\nrefresh-interval = \"5m\"\n",
        dir.path().join("*.json").display().to_string()
    ))
    .expect("the bench config parses");
    config.validate().expect("the bench config is valid");
    let (manager, mut targets) = runtime.block_on(async {
        let manager = DiscoveryManager::new();
        let mut targets = manager.subscribe("file-discovery", "bench");
        manager.apply(&config);
        targets
            .wait_for(|groups| {
                groups.iter().map(|g| g.targets.len()).sum::<usize>()
                    == N_GROUPS * TARGETS_PER_GROUP
            })
            .await
            .expect("the first target set");
        (manager, targets)
    });
    let mut version = 0u64;
    let mut group = c.benchmark_group("file_sd");
    group.sample_size(10);
    group.bench_function("rewrite_10000_targets_to_published", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                version += 1;
                let text = file_sd(version);
                let wanted = version.to_string();
                let started = Instant::now();
                rewrite(&path, &text);
                runtime.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(30),
                        targets.wait_for(|groups| {
                            groups.len() == N_GROUPS
                                && groups.iter().all(|g| {
                                    g.labels.get(VERSION_LABEL).map(String::as_str)
                                        == Some(wanted.as_str())
                                })
                        }),
                    )
                    .await
                    .expect("the change is published within 30 s")
                    .expect("the channel stays open");
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
    runtime.block_on(manager.shutdown());
}

criterion_group!(benches, file_change_latency);
criterion_main!(benches);
