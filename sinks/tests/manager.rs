//! SinkManager behaviour against a tiny in-process HTTP server that records what it is sent
//! and answers with a status the test chooses: routing, precision, flush on shutdown, hot
//! reload keeping buffered data, retries on 503.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use weir_engine::InfluxDbWrite;
use weir_engine::{FieldValue, Fields, Point, Tags};
use weir_sinks::{InfluxDbConfig, SinkManager, SinkStats};

/// Request targets (`/write?db=...`) and bodies received with a 2xx answer.
#[derive(Default)]
struct Received {
    targets: Vec<String>,
    lines: Vec<String>,
}

struct FakeInflux {
    url: String,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Received>>,
}

impl FakeInflux {
    async fn start() -> FakeInflux {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let status = Arc::new(AtomicU16::new(204));
        let received = Arc::new(Mutex::new(Received::default()));
        let (task_status, task_received) = (status.clone(), received.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (status, received) = (task_status.clone(), task_received.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut request_line = String::new();
                        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let mut length = 0usize;
                        loop {
                            let mut header = String::new();
                            if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if header == "\r\n" {
                                break;
                            }
                            let lower = header.to_ascii_lowercase();
                            if let Some(value) = lower.strip_prefix("content-length:") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0u8; length];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let code = status.load(Ordering::Relaxed);
                        if code < 300 {
                            let mut received = received.lock().unwrap();
                            let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                            received.targets.push(target);
                            let text = String::from_utf8_lossy(&body).into_owned();
                            received.lines.extend(text.lines().map(str::to_owned));
                        }
                        let answer = format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{{}}"
                        );
                        if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeInflux {
            url,
            status,
            received,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.received.lock().unwrap().lines.clone()
    }

    fn targets(&self) -> Vec<String> {
        self.received.lock().unwrap().targets.clone()
    }
}

fn config(name: &str, url: &str) -> InfluxDbConfig {
    InfluxDbConfig {
        name: name.to_owned(),
        urls: vec![url.to_owned()],
        flush_interval: Duration::from_millis(50),
        ..InfluxDbConfig::default()
    }
}

fn points(first: i64, count: i64) -> Vec<Point> {
    (first..first + count)
        .map(|i| {
            let mut fields = Fields::new();
            fields.insert("n".into(), FieldValue::Int(i));
            Point {
                name: "m".into(),
                tags: Tags::new(),
                fields,
                time: i * 1_000_000_000,
            }
        })
        .collect()
}

fn write(cluster: Option<&str>, first: i64, count: i64) -> InfluxDbWrite {
    InfluxDbWrite {
        cluster: cluster.map(str::to_owned),
        database: "db".into(),
        points: points(first, count),
        ..InfluxDbWrite::default()
    }
}

fn stats_of(manager: &SinkManager, name: &str) -> SinkStats {
    manager
        .stats()
        .into_iter()
        .find(|stats| stats.name == name)
        .expect("sink exists")
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        // The poll interval of this helper: the condition is checked again, not assumed.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_cluster_and_default_and_hands_back_unknown_clusters() {
    let (first, second) = (FakeInflux::start().await, FakeInflux::start().await);
    let dir = tempfile::tempdir().unwrap();
    let mut default = config("a", &first.url);
    default.default = true;
    let manager = SinkManager::new(dir.path(), vec![default, config("b", &second.url)]).unwrap();
    manager.send(write(None, 0, 2)).unwrap();
    manager.send(write(Some("b"), 2, 1)).unwrap();
    let refused = manager.send(write(Some("nope"), 3, 1)).unwrap_err();
    assert_eq!(refused.points.len(), 1);
    wait_for("delivery", || {
        first.lines().len() == 2 && second.lines().len() == 1
    })
    .await;
    assert_eq!(first.lines(), vec!["m n=0i 0", "m n=1i 1000000000"]);
    assert_eq!(second.lines(), vec!["m n=2i 2000000000"]);
    assert!(stats_of(&manager, "a").default);
    assert!(!stats_of(&manager, "b").default);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodes_in_the_precision_asked_for_with_rp_defaults() {
    let server = FakeInflux::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = config("p", &server.url);
    sink.default_retention_policy = "autogen".into();
    let manager = SinkManager::new(dir.path(), vec![sink]).unwrap();
    let mut write = write(None, 5, 1);
    write.precision = Some(weir_engine::line_protocol::Precision::Seconds);
    manager.send(write).unwrap();
    wait_for("delivery", || server.lines().len() == 1).await;
    assert_eq!(server.lines(), vec!["m n=5i 5"]);
    let target = &server.targets()[0];
    assert!(target.starts_with("/write?"), "{target}");
    assert!(
        target.contains("db=db") && target.contains("precision=s"),
        "{target}"
    );
    assert!(target.contains("rp=autogen"), "{target}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_partial_batches() {
    let (server, control_server) = (FakeInflux::start().await, FakeInflux::start().await);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = config("s", &server.url);
    sink.flush_interval = Duration::from_secs(3600);
    sink.default = true;
    // A control sink with the same batch size and a 50 ms flush interval gets its partial
    // batch after ours: once it has delivered, the delivery loops have run and a flush
    // interval has passed, so had ours flushed early it would have done so too.
    let control = config("control", &control_server.url);
    let manager = SinkManager::new(dir.path(), vec![sink, control]).unwrap();
    manager.send(write(None, 0, 3)).unwrap();
    manager.send(write(Some("control"), 0, 3)).unwrap();
    wait_for("the control sink's flush", || {
        stats_of(&manager, "control").written == 3
    })
    .await;
    assert_eq!(control_server.lines().len(), 3);
    assert!(
        server.lines().is_empty(),
        "a partial batch waits for the flush interval"
    );
    let held = stats_of(&manager, "s");
    assert_eq!((held.written, held.queued_points), (0, 3), "{held:?}");
    manager.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.lines().len(), 3);
    assert!(manager.stats().is_empty(), "no sink runs after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_keeps_buffered_points_and_retries_5xx() {
    let server = FakeInflux::start().await;
    server.status.store(503, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let manager = SinkManager::new(dir.path(), vec![config("r", &server.url)]).unwrap();
    manager.send(write(None, 0, 50)).unwrap();
    wait_for("retries", || stats_of(&manager, "r").retried >= 1).await;
    assert!(stats_of(&manager, "r").last_error.unwrap().contains("503"));

    // Change a setting and add a sink: the queued points stay and are delivered once the
    // server recovers.
    let mut changed = config("r", &server.url);
    changed.batch_size = 7;
    manager.apply(vec![changed.clone(), config("other", &server.url)]);
    assert_eq!(manager.stats().len(), 2);
    assert_eq!(stats_of(&manager, "r").queued_points, 50);
    server.status.store(204, Ordering::Relaxed);
    wait_for("delivery", || stats_of(&manager, "r").written == 50).await;
    let requests_before = server.targets().len();
    // Two sinks and no `default = true`: writes must name their cluster.
    assert!(manager.send(write(None, 50, 50)).is_err());
    manager.send(write(Some("r"), 50, 50)).unwrap();
    wait_for("delivery", || stats_of(&manager, "r").written == 100).await;
    let mut numbers: Vec<String> = server.lines();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 100);
    let requests = server.targets().len() - requests_before;
    assert!(
        requests >= 8,
        "batches of at most 7 points, got {requests} requests"
    );

    // Removing a sink stops it; its name is then unknown.
    manager.apply(vec![changed]);
    assert_eq!(manager.stats().len(), 1);
    assert!(manager.send(write(Some("other"), 0, 1)).is_err());
    let mut metrics = String::new();
    manager.write_metrics(&mut metrics);
    assert!(
        metrics.contains("# TYPE weir_sink_written_points_total counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_sink_written_points_total{sink=\"r\"} 100"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_sink_queue_points{sink=\"r\"} 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configs_are_refused_and_reload_keeps_the_old_sinks() {
    let server = FakeInflux::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = InfluxDbConfig {
        batch_size: 0,
        ..config("x", &server.url)
    };
    let error = SinkManager::new(dir.path(), vec![bad.clone()])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("batch-size"), "{error}");
    let manager = SinkManager::new(dir.path(), vec![config("x", &server.url)]).unwrap();
    manager.apply(vec![bad]);
    assert_eq!(manager.stats().len(), 1);
    manager.send(write(None, 0, 1)).unwrap();
    wait_for("delivery", || server.lines().len() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_a_memory_buffer_to_disk_keeps_its_points() {
    let server = FakeInflux::start().await;
    server.status.store(503, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = config("switch", &server.url);
    sink.buffer = weir_sinks::BufferKind::Memory;
    let manager = SinkManager::new(dir.path(), vec![sink.clone()]).unwrap();
    manager.send(write(None, 0, 20)).unwrap();
    sink.buffer = weir_sinks::BufferKind::Disk;
    manager.apply(vec![sink]);
    let stats = stats_of(&manager, "switch");
    assert_eq!((stats.buffer, stats.queued_points), ("disk", 20));
    assert!(dir.path().join("sinks/influxdb/switch/ack").exists());
    server.status.store(204, Ordering::Relaxed);
    wait_for("delivery", || stats_of(&manager, "switch").written == 20).await;
}
