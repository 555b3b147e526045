//! Scraping the real node_exporter peer ($NODE_EXPORTER_URL), with deterministic series
//! written into its textfile directory ($NODE_EXPORTER_TEXTFILE_DIR). node_exporter sorts
//! label names and keeps escapes, so this checks our unescaping against a real exporter.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use weir_engine::{FieldValue, Labels, Point, PointBatch, TargetGroup};
use weir_scrapers::{Compat, ScrapeManager, ScraperConfig};

/// The peer's URL and textfile directory, or `None` (after saying why) when not set.
fn peer() -> Option<(reqwest::Url, std::path::PathBuf)> {
    let mut found = Vec::new();
    for var in ["NODE_EXPORTER_URL", "NODE_EXPORTER_TEXTFILE_DIR"] {
        match std::env::var(var) {
            Ok(value) if !value.is_empty() => found.push(value),
            _ => {
                if std::env::var("WEIR_REQUIRE_PEERS").as_deref() == Ok("1") {
                    panic!("{var} not set and WEIR_REQUIRE_PEERS=1");
                }
                println!("skipped: {var} not set");
                return None;
            }
        }
    }
    let url = reqwest::Url::parse(&found[0]).expect("NODE_EXPORTER_URL is a URL");
    Some((url, std::path::PathBuf::from(&found[1])))
}

fn value(point: &Point) -> f64 {
    match point.fields.get("value") {
        Some(FieldValue::Float(value)) => *value,
        other => panic!("unexpected field {other:?}"),
    }
}

async fn collect(
    url: &reqwest::Url,
    compat: Compat,
) -> (
    weir_scrapers::CollectSummary,
    PointBatch,
    Vec<weir_scrapers::TargetStatus>,
) {
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(80));
    let (output, mut receiver) = mpsc::channel(4);
    let manager = ScrapeManager::new(output);
    let mut config = ScraperConfig::new("node", "prom", "autogen");
    config.metrics_path = url.path().to_owned();
    config.scrape_timeout = Duration::from_secs(5);
    config.compat = compat;
    let group = TargetGroup {
        source: "static".to_owned(),
        targets: vec![Labels::from([("__address__".to_owned(), address)])],
        labels: Labels::from([("env".to_owned(), "peer".to_owned())]),
    };
    let (_tx, rx) = watch::channel(vec![group]);
    manager.apply(vec![(config, rx)]);
    // `apply` starts a new scraper's first targets before it returns: "collect now" sees them.
    assert_eq!(manager.targets().len(), 1, "the target runs at once");
    let summary = manager.collect_now("node").await.expect("scraper exists");
    let batch = tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a batch")
        .expect("channel open");
    let targets = manager.targets();
    manager.shutdown().await;
    (summary, batch, targets)
}

#[tokio::test]
async fn scrapes_node_exporter_with_escapes_and_histograms() {
    let Some((url, textfile_dir)) = peer() else {
        return;
    };
    let file = textfile_dir.join(format!("weir_scrapers_{}.prom", std::process::id()));
    let run = std::process::id().to_string();
    let text = format!(
        "# HELP weir_test_escapes Deterministic series for weir's scraper tests.\n\
         # TYPE weir_test_escapes gauge\n\
         weir_test_escapes{{run=\"{run}\",path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\"}} 42\n\
         # HELP weir_test_hist Deterministic histogram for weir's scraper tests.\n\
         # TYPE weir_test_hist histogram\n\
         weir_test_hist_bucket{{run=\"{run}\",le=\"1\"}} 1\n\
         weir_test_hist_bucket{{run=\"{run}\",le=\"+Inf\"}} 2\n\
         weir_test_hist_sum{{run=\"{run}\"}} 3\n\
         weir_test_hist_count{{run=\"{run}\"}} 2\n"
    );
    // Write then rename, so node_exporter never reads half a file.
    let partial = file.with_extension("tmp");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, &file).unwrap();

    let (summary, batch, targets) = collect(&url, Compat::Prometheus).await;
    let _ = std::fs::remove_file(&file);
    assert!(summary.failures.is_empty(), "{summary:?}");
    assert!(
        summary.samples > 100,
        "node_exporter gave only {} samples",
        summary.samples
    );
    assert!(targets[0].last_parse_error.is_none(), "{targets:?}");
    let mine = |name: &str| -> Vec<&Point> {
        batch
            .points
            .iter()
            .filter(|p| p.name == name && p.tags.get("run") == Some(&run))
            .collect()
    };
    let escapes = mine("weir_test_escapes");
    assert_eq!(escapes.len(), 1, "{:?}", escapes);
    assert_eq!(escapes[0].tags["path"], "C:\\dir");
    assert_eq!(escapes[0].tags["msg"], "say \"hi\"\nbye");
    assert_eq!(escapes[0].tags["job"], "node");
    assert_eq!(escapes[0].tags["env"], "peer");
    assert_eq!(value(escapes[0]), 42.0);
    let buckets = mine("weir_test_hist_bucket");
    let inf = buckets
        .iter()
        .find(|p| p.tags["le"] == "+Inf")
        .expect("+Inf bucket");
    assert_eq!(value(inf), 2.0);
    assert_eq!(mine("weir_test_hist_count").len(), 1);
    let up = batch.points.iter().find(|p| p.name == "up").unwrap();
    assert_eq!(value(up), 1.0);
}

#[tokio::test]
async fn kapacitor_compat_against_node_exporter() {
    let Some((url, _)) = peer() else { return };
    let (summary, batch, _) = collect(&url, Compat::Kapacitor).await;
    assert!(summary.failures.is_empty(), "{summary:?}");
    for point in &batch.points {
        assert_eq!(
            point.tags.get("__name__"),
            Some(&point.name.to_string()),
            "{point:?}"
        );
        assert!(!point.tags.contains_key("job"), "{point:?}");
        assert!(point.tags.contains_key("instance"), "{point:?}");
    }
}
