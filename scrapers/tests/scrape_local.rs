//! End-to-end tests of the scrape manager against tiny in-test HTTP servers on 127.0.0.1:
//! headers, gzip, OpenMetrics, slow, oversized and refused targets, the circuit breaker,
//! hot reload, enable/disable, "collect now" and the self-metrics.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use weir_engine::{FieldValue, Labels, Point, PointBatch, TargetGroup};
use weir_scrapers::{CollectError, ScrapeManager, ScraperConfig, TargetHealth};

/// Poll `check` until it returns `Some` (its value) or 10 s pass (a panic naming `what`).
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // The poll interval: the condition is checked again, not assumed.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How a test server answers.
#[derive(Clone)]
struct Reply {
    body: Vec<u8>,
    content_type: &'static str,
    delay: Duration,
    /// Compress the body when the request accepts gzip.
    gzip: bool,
}

impl Reply {
    fn text(body: &str) -> Reply {
        Reply {
            body: body.as_bytes().to_vec(),
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            delay: Duration::ZERO,
            gzip: false,
        }
    }
}

/// A keep-alive HTTP/1.1 server answering every request with `reply`; records requests.
struct Server {
    address: String,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            let recorded = Arc::clone(&recorded);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    // Read one request head.
                    let mut chunk = [0u8; 4096];
                    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    buffer.drain(..end);
                    recorded.lock().unwrap().push(head.clone());
                    // The fake target's deliberate slowness (`Reply::delay`), which the
                    // scrape timeout is tested against; nothing waits on it.
                    tokio::time::sleep(reply.delay).await;
                    let accepts_gzip = head.to_ascii_lowercase().contains("accept-encoding: gzip");
                    let (body, encoding) = if reply.gzip && accepts_gzip {
                        let mut encoder =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        encoder.write_all(&reply.body).unwrap();
                        (encoder.finish().unwrap(), "Content-Encoding: gzip\r\n")
                    } else {
                        (reply.body.clone(), "")
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\n{encoding}Content-Length: {}\r\n\r\n",
                        reply.content_type,
                        body.len()
                    );
                    if socket.write_all(head.as_bytes()).await.is_err()
                        || socket.write_all(&body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Server { address, requests }
}

/// A port with nothing listening.
async fn refused_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

fn groups(addresses: &[&str]) -> Vec<TargetGroup> {
    vec![TargetGroup {
        source: "test".to_owned(),
        targets: addresses
            .iter()
            .map(|address| Labels::from([("__address__".to_owned(), (*address).to_owned())]))
            .collect(),
        labels: Labels::from([("env".to_owned(), "test".to_owned())]),
    }]
}

fn config(name: &str, interval_ms: u64, timeout_ms: u64) -> ScraperConfig {
    let mut config = ScraperConfig::new(name, "prom", "autogen");
    config.scrape_interval = Duration::from_millis(interval_ms);
    config.scrape_timeout = Duration::from_millis(timeout_ms);
    config
}

fn value(point: &Point) -> f64 {
    match point.fields.get("value") {
        Some(FieldValue::Float(value)) => *value,
        other => panic!("unexpected field {other:?}"),
    }
}

fn find<'a>(batch: &'a PointBatch, name: &str) -> &'a Point {
    batch
        .points
        .iter()
        .find(|point| point.name == name)
        .unwrap_or_else(|| panic!("no {name} in {batch:?}"))
}

async fn next_batch(receiver: &mut mpsc::Receiver<PointBatch>) -> PointBatch {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a batch within 10 s")
        .expect("channel open")
}

/// The scraper (job) a batch comes from.
fn job(batch: &PointBatch) -> String {
    find(batch, "up").tags["job"].clone()
}

/// The next batch of scraper `name`, skipping the others' (within 10 s).
async fn next_batch_of(receiver: &mut mpsc::Receiver<PointBatch>, name: &str) -> PointBatch {
    let wanted = async {
        loop {
            let batch = next_batch(receiver).await;
            if job(&batch) == name {
                return batch;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wanted)
        .await
        .unwrap_or_else(|_| panic!("no batch of {name} within 10 s"))
}

/// `scrapes_total` of the target of `scraper` at `address`, if it runs.
fn scrapes_of(manager: &ScrapeManager, scraper: &str, address: &str) -> Option<u64> {
    manager
        .targets_of(scraper)?
        .iter()
        .find(|target| target.labels["instance"] == address)
        .map(|target| target.scrapes_total)
}

#[tokio::test]
async fn scrapes_periodically_with_prometheus_headers_and_gzip() {
    let mut reply = Reply::text("# TYPE requests_total counter\nrequests_total{code=\"200\"} 7\n");
    reply.gzip = true;
    let server = serve(reply).await;
    let (output, mut points) = mpsc::channel(16);
    let manager = ScrapeManager::new(output);
    let (_groups_tx, groups_rx) = watch::channel(groups(&[&server.address]));
    manager.apply(vec![(config("node", 200, 150), groups_rx)]);

    let batch = next_batch(&mut points).await;
    assert_eq!(batch.database, "prom");
    assert_eq!(batch.retention_policy, "autogen");
    let sample = find(&batch, "requests_total");
    assert_eq!(value(sample), 7.0);
    let expected_tags = [
        ("code", "200"),
        ("env", "test"),
        ("instance", server.address.as_str()),
        ("job", "node"),
    ];
    let expected_tags: Labels = expected_tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(sample.tags, expected_tags);
    assert_eq!(value(find(&batch, "up")), 1.0);
    assert_eq!(value(find(&batch, "scrape_samples_scraped")), 1.0);
    assert_eq!(value(find(&batch, "scrape_series_added")), 1.0);
    assert_eq!(batch.points.len(), 6);

    // A second scrape comes one interval later and adds no series.
    let second = next_batch(&mut points).await;
    assert_eq!(value(find(&second, "scrape_series_added")), 0.0);

    let request = server.requests.lock().unwrap()[0].to_ascii_lowercase();
    assert!(request.starts_with("get /metrics http/1.1"), "{request}");
    assert!(request.contains("accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), "{request}");
    assert!(
        request.contains("x-prometheus-scrape-timeout-seconds: 0.15"),
        "{request}"
    );
    assert!(request.contains("accept-encoding: gzip"), "{request}");
    assert!(request.contains("user-agent: weir/"), "{request}");

    let targets = manager.targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].state, TargetHealth::Healthy);
    assert_eq!(targets[0].discovered_labels["__address__"], server.address);
    assert!(targets[0].last_scrape.is_some());
    let scrapers = manager.scrapers();
    assert_eq!(scrapers[0].targets_up, 1);
    assert!(scrapers[0].next_collection.is_some());
    manager.shutdown().await;
    assert!(manager.scrapers().is_empty());
}

#[tokio::test]
async fn openmetrics_is_chosen_by_content_type() {
    let mut reply = Reply::text(
        "# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {id=\"x\"} 5\nfoo_created 1520430000.5\n# EOF\n",
    );
    reply.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    let server = serve(reply).await;
    let (output, mut points) = mpsc::channel(16);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&server.address]));
    // A scheduled scrape, if its phase comes first, yields the same batch.
    manager.apply(vec![(config("om", 60_000, 1_000), rx)]);
    // `apply` starts a new scraper's first targets before it returns.
    assert_eq!(manager.targets().len(), 1);
    let summary = manager.collect_now("om").await.unwrap();
    assert_eq!(summary.samples, 2, "{summary:?}");
    assert!(summary.failures.is_empty());
    let batch = next_batch(&mut points).await;
    let foo = find(&batch, "foo_total");
    assert_eq!(foo.time, 1_520_879_607_789_000_000);
    assert_eq!(value(foo), 17.0);
    assert_eq!(manager.targets()[0].last_parse_error, None);
    manager.shutdown().await;
}

#[tokio::test]
async fn slow_oversized_and_refused_targets_fail_with_reasons() {
    let mut slow = Reply::text("a 1\n");
    slow.delay = Duration::from_secs(5);
    let slow = serve(slow).await;
    let big = serve(Reply::text(
        &"big_metric_name_for_padding 1\n".repeat(10_000),
    ))
    .await;
    let refused = refused_address().await;
    let (output, mut points) = mpsc::channel(16);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&slow.address, &big.address, &refused]));
    let mut scraper = config("bad", 60_000, 300);
    scraper.body_size_limit = weir_scrapers::ByteSize(10_000);
    manager.apply(vec![(scraper, rx)]);
    // `apply` starts a new scraper's first targets before it returns.
    assert_eq!(manager.targets().len(), 3);

    let started = std::time::Instant::now();
    let summary = manager.collect_now("bad").await.unwrap();
    // A scrape never outlives its timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(summary.targets, 3);
    assert_eq!(summary.samples, 0);
    let reason_of = |address: &str| {
        summary
            .failures
            .iter()
            .find(|failure| failure.instance == address)
            .map(|failure| failure.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        reason_of(&slow.address),
        format!(
            "http://{}/metrics: scrape timed out after 300ms",
            slow.address
        )
    );
    assert_eq!(
        reason_of(&big.address),
        format!(
            "http://{}/metrics: body size limit of 10000 bytes exceeded",
            big.address
        )
    );
    let refused_reason = reason_of(&refused).to_ascii_lowercase();
    assert!(
        refused_reason.contains("connection refused"),
        "{refused_reason}"
    );

    for _ in 0..3 {
        let batch = next_batch(&mut points).await;
        assert_eq!(batch.points.len(), 5, "only synthetic series: {batch:?}");
        assert_eq!(value(find(&batch, "up")), 0.0);
    }
    let targets = manager.targets();
    assert!(
        targets.iter().all(|t| t.state == TargetHealth::Unhealthy),
        "{targets:?}"
    );
    assert!(targets.iter().all(|t| t.last_error.is_some()));
    assert_eq!(manager.scrapers()[0].errors_total, 3);
    manager.shutdown().await;
}

#[tokio::test]
async fn circuit_opens_after_three_failures_and_still_reports_up_zero() {
    let refused = refused_address().await;
    let (output, mut points) = mpsc::channel(64);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&refused]));
    let mut scraper = config("breaker", 100, 50);
    scraper.health.open_duration = Duration::from_secs(60);
    manager.apply(vec![(scraper, rx)]);

    for _ in 0..6 {
        let batch = next_batch(&mut points).await;
        assert_eq!(value(find(&batch, "up")), 0.0);
    }
    let target = &manager.targets()[0];
    assert_eq!(target.state, TargetHealth::CircuitOpen);
    assert_eq!(target.failures_total, 3, "{target:?}");
    assert!(target.skipped_total >= 3, "{target:?}");
    assert_eq!(target.circuit_transitions, 1, "{target:?}");
    assert_eq!(manager.scrapers()[0].circuits_open, 1);
    // The history has each failure with its reason and time, and the path to circuit-open.
    assert_eq!(target.history.failures.len(), 3, "{target:?}");
    assert!(
        target.history.failures.iter().all(|failure| failure
            .message
            .to_ascii_lowercase()
            .contains("connection refused")
            && failure.time.ends_with('Z')),
        "{target:?}"
    );
    let path: Vec<(&str, &str)> = target
        .history
        .transitions
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str()))
        .collect();
    assert_eq!(
        path,
        [("unknown", "unhealthy"), ("unhealthy", "circuit-open")]
    );

    // "Collect now" bypasses the open circuit and tries the target.
    let summary = manager.collect_now("breaker").await.unwrap();
    assert!(
        summary.failures[0]
            .reason
            .to_ascii_lowercase()
            .contains("connection refused")
    );
    assert_eq!(manager.targets()[0].failures_total, 4);
    manager.shutdown().await;
}

#[tokio::test]
async fn a_successful_trial_closes_the_circuit() {
    // Bind the port now but only start answering later, so early scrapes fail.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (output, mut points) = mpsc::channel(64);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&address]));
    let mut scraper = config("trial", 100, 50);
    scraper.health.open_duration = Duration::from_millis(400);
    scraper.health.failures_before_open = 2;
    manager.apply(vec![(scraper, rx)]);
    while manager.targets().first().map(|t| t.state) != Some(TargetHealth::CircuitOpen) {
        next_batch(&mut points).await;
    }
    // Serve on the same port: the trial after the open duration succeeds.
    let listener = TcpListener::bind(&address).await.unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let body = "ok 1\n";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    let mut closed = false;
    for _ in 0..40 {
        let batch = next_batch(&mut points).await;
        if value(find(&batch, "up")) == 1.0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the trial never succeeded");
    let target = &manager.targets()[0];
    assert_eq!(target.state, TargetHealth::Healthy);
    let path: Vec<&str> = target
        .history
        .transitions
        .iter()
        .map(|t| t.to.as_str())
        .collect();
    assert_eq!(
        path.last(),
        Some(&"healthy"),
        "the closing trial is in the history: {path:?}"
    );
    assert!(path.contains(&"circuit-open"), "{path:?}");
    manager.shutdown().await;
}

#[tokio::test]
async fn hot_reload_keeps_unchanged_scrapers_and_targets() {
    let first = serve(Reply::text("a 1\n")).await;
    let second = serve(Reply::text("b 2\n")).await;
    let (output, mut points) = mpsc::channel(256);
    let manager = ScrapeManager::new(output);
    let (groups_tx, rx) = watch::channel(groups(&[&first.address]));
    let scraper = config("reload", 100, 50);
    manager.apply(vec![(scraper.clone(), rx)]);
    next_batch(&mut points).await;
    next_batch(&mut points).await;
    let before = manager.targets()[0].scrapes_total;
    assert!(before >= 1);

    // Same config, new receiver with one more target: the first target keeps its state (its
    // scrape counter never goes back, which a restarted target's would) while it scrapes on
    // and the second target starts.
    let (groups_tx2, rx2) = watch::channel(groups(&[&first.address, &second.address]));
    manager.apply(vec![(scraper.clone(), rx2)]);
    eventually("both targets scraping", || {
        let kept = scrapes_of(&manager, "reload", &first.address).expect("the first target");
        assert!(
            kept >= before,
            "the first target restarted: {before} -> {kept}"
        );
        let added = scrapes_of(&manager, "reload", &second.address)?;
        (kept >= before + 2 && added >= 1).then_some(())
    })
    .await;
    assert_eq!(manager.targets().len(), 2);
    // The old sender no longer matters; the new one drives the targets.
    drop(groups_tx);
    groups_tx2.send(groups(&[&second.address])).unwrap();
    let targets = eventually("the first target to stop", || {
        let targets = manager.targets();
        (targets.len() == 1).then_some(targets)
    })
    .await;
    assert_eq!(targets[0].labels["instance"], second.address);

    // A changed config restarts the scraper: counters start again.
    let running = eventually("the second target to scrape a few times", || {
        scrapes_of(&manager, "reload", &second.address).filter(|&scrapes| scrapes >= 3)
    })
    .await;
    let mut changed = scraper.clone();
    changed.db = "other".to_owned();
    let (_tx3, rx3) = watch::channel(groups(&[&second.address]));
    manager.apply(vec![(changed, rx3)]);
    // `apply` stops the old scraper and starts the new one with its targets before it returns.
    let restarted = scrapes_of(&manager, "reload", &second.address).expect("restarted target");
    assert!(restarted <= 1, "{running} -> {restarted}");
    let mut saw_other = false;
    for _ in 0..20 {
        if next_batch(&mut points).await.database == "other" {
            saw_other = true;
            break;
        }
    }
    assert!(saw_other);

    // Removing it stops it.
    manager.apply(Vec::new());
    assert!(manager.scrapers().is_empty());
    manager.shutdown().await;
}

#[tokio::test]
async fn disabled_scrapers_keep_config_and_send_nothing() {
    let server = serve(Reply::text("a 1\n")).await;
    let (output, mut points) = mpsc::channel(64);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&server.address]));
    // "control" scrapes the same target at the same interval and stays on: its batches count
    // the intervals that pass while "toggle" is off.
    manager.apply(vec![
        (config("toggle", 50, 40), rx.clone()),
        (config("control", 50, 40), rx),
    ]);
    next_batch_of(&mut points, "toggle").await;
    assert!(manager.set_enabled("toggle", false));
    assert!(!manager.set_enabled("missing", false));
    // A scrape already under way (at most its 40 ms timeout) may still send its batch: let
    // three control scrapes pass, skipping whatever toggle sent meanwhile.
    for _ in 0..3 {
        next_batch_of(&mut points, "control").await;
    }
    let quiet = scrapes_of(&manager, "toggle", &server.address).expect("toggle's target");
    // Ten more intervals: only control sends, and toggle does not scrape at all.
    for _ in 0..10 {
        let batch = next_batch(&mut points).await;
        assert_eq!(job(&batch), "control", "a disabled scraper sent points");
    }
    assert_eq!(
        scrapes_of(&manager, "toggle", &server.address),
        Some(quiet),
        "a disabled scraper scraped"
    );
    let status = manager
        .scrapers()
        .into_iter()
        .find(|status| status.name == "toggle")
        .expect("toggle");
    assert!(!status.enabled);
    assert_eq!(status.next_collection, None);
    assert_eq!(status.targets, 1);
    assert_eq!(
        status.targets_up, 0,
        "a disabled scraper's targets are not up"
    );
    let toggle_targets = manager.targets_of("toggle").expect("toggle");
    assert_eq!(toggle_targets[0].state, TargetHealth::Disabled);
    assert_eq!(toggle_targets[0].next_scrape, None);
    assert_eq!(
        manager.collect_now("toggle").await,
        Err(CollectError::Disabled("toggle".to_owned())),
        "collect does not scrape a disabled scraper"
    );
    assert_eq!(scrapes_of(&manager, "toggle", &server.address), Some(quiet));
    let mut metrics = String::new();
    manager.write_metrics(&mut metrics);
    let up_line = metrics
        .lines()
        .find(|line| line.starts_with("weir_scrape_target_up{scraper=\"toggle\""))
        .expect("toggle's target in the metrics");
    assert!(up_line.ends_with(" 0"), "{up_line}");
    assert!(
        metrics.contains("weir_scraper_enabled{scraper=\"toggle\"} 0"),
        "{metrics}"
    );
    assert!(manager.set_enabled("toggle", true));
    next_batch_of(&mut points, "toggle").await;
    let target = &manager.targets_of("toggle").expect("toggle")[0];
    assert_eq!(target.state, TargetHealth::Healthy);
    let path: Vec<(&str, &str)> = target
        .history
        .transitions
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str()))
        .collect();
    assert_eq!(
        path,
        [
            ("unknown", "healthy"),
            ("healthy", "disabled"),
            ("disabled", "healthy")
        ]
    );
    assert_eq!(
        manager.collect_now("missing").await,
        Err(CollectError::NotFound("missing".to_owned()))
    );
    manager.shutdown().await;
}

#[tokio::test]
async fn sample_limit_fails_the_scrape_and_self_metrics_parse() {
    let server = serve(Reply::text("a 1\nb 2\nc 3\n")).await;
    let (output, mut points) = mpsc::channel(64);
    let manager = ScrapeManager::new(output);
    let (_tx, rx) = watch::channel(groups(&[&server.address]));
    let mut scraper = config("limited", 60_000, 1_000);
    scraper.sample_limit = 2;
    manager.apply(vec![(scraper, rx)]);
    // `apply` starts a new scraper's first targets before it returns.
    assert_eq!(manager.targets().len(), 1);
    let summary = manager.collect_now("limited").await.unwrap();
    assert_eq!(
        summary.failures[0].reason,
        format!(
            "http://{}/metrics: sample limit of 2 exceeded (3 samples)",
            server.address
        )
    );
    let batch = next_batch(&mut points).await;
    assert_eq!(value(find(&batch, "up")), 0.0);

    let mut text = String::new();
    manager.write_metrics(&mut text);
    let mut errors = Vec::new();
    let mut failures = None;
    weir_scrapers::exposition::parse(
        text.as_bytes(),
        weir_scrapers::exposition::Format::PrometheusText,
        |sample| {
            if sample.name == "weir_scrape_target_failures_total" {
                failures = Some((sample.value, sample.label("scraper").map(str::to_owned)));
            }
        },
        |line, reason| errors.push(format!("{line}: {reason}")),
    );
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    assert_eq!(failures, Some((1.0, Some("limited".to_owned()))));
    manager.shutdown().await;
}
