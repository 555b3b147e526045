//! Sink tests against the real peers: InfluxDB 1.6 ($INFLUXDB_URL) and VictoriaMetrics
//! ($VM_URL). Each test prints "skipped: <VAR> not set" and passes when its peer's variable is
//! unset, unless WEIR_REQUIRE_PEERS=1. Outages are simulated with a TCP proxy started and
//! stopped by the test, never by stopping the shared peers.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use weir_engine::InfluxDbWrite;
use weir_engine::{FieldValue, Fields, Point, Tags};
use weir_sinks::{ApiVersion, BufferKind, InfluxDbConfig, SinkManager, SinkStats};

fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value.trim_end_matches('/').to_owned()),
        _ => {
            if std::env::var("WEIR_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("{var} not set and WEIR_REQUIRE_PEERS=1");
            }
            println!("skipped: {var} not set");
            None
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}_{}_{}_{count}",
        std::process::id(),
        nanos % 1_000_000_000
    )
}

fn config(name: &str, url: &str) -> InfluxDbConfig {
    InfluxDbConfig {
        name: name.to_owned(),
        default: true,
        urls: vec![url.to_owned()],
        batch_size: 1000,
        flush_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
        ..InfluxDbConfig::default()
    }
}

fn numbered_points(measurement: &str, first: i64, count: i64) -> Vec<Point> {
    (first..first + count)
        .map(|i| {
            let mut fields = Fields::new();
            fields.insert("n".into(), FieldValue::Int(i));
            Point {
                name: measurement.into(),
                tags: Tags::new(),
                fields,
                time: 1_700_000_000_000_000_000 + i,
            }
        })
        .collect()
}

fn write(database: &str, points: Vec<Point>, create: bool) -> InfluxDbWrite {
    InfluxDbWrite {
        database: database.into(),
        create,
        points,
        ..InfluxDbWrite::default()
    }
}

fn stats(manager: &SinkManager) -> SinkStats {
    manager.stats().into_iter().next().expect("one sink")
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        // The poll interval of this helper: the condition is checked again, not assumed.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn query(influx: &str, database: &str, statement: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{influx}/query"))
        .query(&[("db", database), ("epoch", "ns"), ("q", statement)])
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn create_database(influx: &str, database: &str) {
    let response = reqwest::Client::new()
        .post(format!("{influx}/query"))
        .form(&[("q", format!("CREATE DATABASE \"{database}\""))])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

async fn drop_database(influx: &str, database: &str) {
    let _ = reqwest::Client::new()
        .post(format!("{influx}/query"))
        .form(&[("q", format!("DROP DATABASE \"{database}\""))])
        .send()
        .await;
}

/// Sorted values of integer field `n` in `measurement`.
async fn stored_numbers(influx: &str, database: &str, measurement: &str) -> Vec<i64> {
    let result = query(
        influx,
        database,
        &format!("SELECT n FROM \"{measurement}\""),
    )
    .await;
    let values = &result["results"][0]["series"][0]["values"];
    let mut numbers: Vec<i64> = values
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row[1].as_i64()).collect())
        .unwrap_or_default();
    numbers.sort_unstable();
    numbers
}

/// A TCP proxy in front of a peer that the test can stop and restart on the same port.
struct Proxy {
    port: u16,
    target: String,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    async fn start(target_url: &str) -> Proxy {
        let target = target_url.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy {
            port,
            target,
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        let mut tasks = JoinSet::new();
        let connections = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let held = connections.clone();
        tasks.spawn(async move {
            let _keep = held;
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let target = target.clone();
                connections.lock().await.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Close the listener and every open connection.
    async fn stop(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    async fn restart(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_round_trip_of_every_field_type_and_escape() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_rt");
    let dir = tempfile::tempdir().unwrap();
    let manager = SinkManager::new(dir.path(), vec![config("rt", &influx)]).unwrap();
    let mut tags = Tags::new();
    tags.insert("ho st".into(), "a,b=c".into());
    tags.insert("t".into(), "x".into());
    let mut fields = Fields::new();
    fields.insert("f".into(), FieldValue::Float(0.1 + 0.2));
    fields.insert("i".into(), FieldValue::Int(-42));
    fields.insert("b".into(), FieldValue::Bool(true));
    fields.insert("s".into(), FieldValue::String("q\"uo\\te, x=1".into()));
    fields.insert("big".into(), FieldValue::Int(i64::MAX));
    let time = 1_700_000_000_123_456_789;
    let point = Point {
        name: "weir rt,1".into(),
        tags,
        fields,
        time,
    };
    manager.send(write(&database, vec![point], true)).unwrap();
    wait_for("the write", Duration::from_secs(20), || {
        stats(&manager).written == 1
    })
    .await;
    let result = query(&influx, &database, "SELECT * FROM \"weir rt,1\"").await;
    let series = &result["results"][0]["series"][0];
    assert_eq!(series["name"], "weir rt,1", "{result}");
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let row = &series["values"][0];
    let column = |name: &str| &row[columns.iter().position(|c| *c == name).unwrap()];
    assert_eq!(column("time").as_i64(), Some(time));
    assert_eq!(column("f").as_f64(), Some(0.1 + 0.2));
    assert_eq!(column("i").as_i64(), Some(-42));
    assert_eq!(column("big").as_i64(), Some(i64::MAX));
    assert_eq!(column("b").as_bool(), Some(true));
    assert_eq!(column("s").as_str(), Some("q\"uo\\te, x=1"));
    assert_eq!(column("ho st").as_str(), Some("a,b=c"));
    assert_eq!(column("t").as_str(), Some("x"));
    assert_eq!(stats(&manager).dropped, 0);
    manager.shutdown(Duration::from_secs(1)).await;
    drop_database(&influx, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_partial_write_drops_exactly_the_rejected_points() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_partial");
    create_database(&influx, &database).await;
    let dir = tempfile::tempdir().unwrap();
    let manager = SinkManager::new(dir.path(), vec![config("partial", &influx)]).unwrap();
    let mut good = numbered_points("mem", 0, 3);
    let mut conflicting = numbered_points("mem", 3, 1);
    conflicting[0]
        .fields
        .insert("n".into(), FieldValue::String("text".into()));
    good.append(&mut conflicting);
    // Establish the integer type first, then send both in one batch.
    manager
        .send(write(&database, numbered_points("mem", 100, 1), false))
        .unwrap();
    wait_for("the first write", Duration::from_secs(20), || {
        stats(&manager).written == 1
    })
    .await;
    manager.send(write(&database, good, false)).unwrap();
    wait_for("the partial write", Duration::from_secs(20), || {
        let stats = stats(&manager);
        stats.written + stats.dropped == 5
    })
    .await;
    let stats = stats(&manager);
    assert_eq!((stats.written, stats.dropped), (4, 1), "{stats:?}");
    let error = stats.last_error.unwrap();
    assert!(
        error.contains("partial write") && error.contains("field type conflict"),
        "{error}"
    );
    assert_eq!(
        stored_numbers(&influx, &database, "mem").await,
        vec![0, 1, 2, 100]
    );
    drop_database(&influx, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_unknown_database_is_created_only_when_asked() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manager = SinkManager::new(dir.path(), vec![config("nodb", &influx)]).unwrap();
    let missing = unique("weir_nodb");
    manager
        .send(write(&missing, numbered_points("m", 0, 2), false))
        .unwrap();
    wait_for("the drop", Duration::from_secs(20), || {
        stats(&manager).dropped == 2
    })
    .await;
    let error = stats(&manager).last_error.unwrap();
    assert!(error.contains("database not found"), "{error}");
    let listed = query(&influx, "", "SHOW DATABASES").await.to_string();
    assert!(!listed.contains(&missing), "{listed}");

    let created = unique("weir_create");
    manager
        .send(write(&created, numbered_points("m", 0, 2), true))
        .unwrap();
    wait_for("the write", Duration::from_secs(20), || {
        stats(&manager).written == 2
    })
    .await;
    assert_eq!(stored_numbers(&influx, &created, "m").await, vec![0, 1]);
    drop_database(&influx, &created).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_round_trip_over_the_v2_api() {
    let Some(vm) = peer("VM_URL") else { return };
    let database = unique("weir_vm");
    let measurement = unique("weirsinkvm");
    let dir = tempfile::tempdir().unwrap();
    let mut config = config("vm", &vm);
    config.api = ApiVersion::V2;
    config.gzip = true;
    let manager = SinkManager::new(dir.path(), vec![config]).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut tags = Tags::new();
    tags.insert("host".into(), "h 1".into());
    let mut fields = Fields::new();
    fields.insert("value".into(), FieldValue::Float(0.25));
    fields.insert("count".into(), FieldValue::Int(7));
    let point = Point {
        name: measurement.as_str().into(),
        tags,
        fields,
        time: now_ms * 1_000_000,
    };
    manager.send(write(&database, vec![point], false)).unwrap();
    wait_for("the write", Duration::from_secs(20), || {
        stats(&manager).written == 1
    })
    .await;
    // New series can take a moment to become searchable even after a forced flush.
    let client = reqwest::Client::new();
    let selector = format!("{{__name__=~\"{measurement}_.*\"}}");
    let started = Instant::now();
    let body = loop {
        client
            .get(format!("{vm}/internal/force_flush"))
            .send()
            .await
            .unwrap();
        let body = client
            .get(format!("{vm}/api/v1/export"))
            .query(&[("match[]", selector.as_str())])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.lines().count() >= 2 || started.elapsed() > Duration::from_secs(15) {
            break body;
        }
        // The poll interval between two flush-and-export rounds; the loop ends on the
        // export's content (or its deadline, and the assertion below says what was missing).
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut series: Vec<(String, f64, i64)> = body
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["metric"]["host"], "h 1", "{line}");
            (
                value["metric"]["__name__"].as_str().unwrap().to_owned(),
                value["values"][0].as_f64().unwrap(),
                value["timestamps"][0].as_i64().unwrap(),
            )
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        series,
        vec![
            (format!("{measurement}_count"), 7.0, now_ms),
            (format!("{measurement}_value"), 0.25, now_ms)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_outage_is_retried_until_the_peer_is_back() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_outage");
    create_database(&influx, &database).await;
    let mut proxy = Proxy::start(&influx).await;
    let dir = tempfile::tempdir().unwrap();
    let manager = SinkManager::new(dir.path(), vec![config("outage", &proxy.url())]).unwrap();
    manager
        .send(write(&database, numbered_points("m", 0, 10), false))
        .unwrap();
    wait_for("the first write", Duration::from_secs(20), || {
        stats(&manager).written == 10
    })
    .await;
    proxy.stop().await;
    manager
        .send(write(&database, numbered_points("m", 10, 10), false))
        .unwrap();
    wait_for("retries", Duration::from_secs(20), || {
        stats(&manager).retried >= 2
    })
    .await;
    let during = stats(&manager);
    assert_eq!(during.written, 10);
    assert_eq!(during.queued_points, 10);
    assert!(during.last_error.is_some());
    proxy.restart().await;
    wait_for("delivery after the outage", Duration::from_secs(30), || {
        stats(&manager).written == 20
    })
    .await;
    assert_eq!(
        stored_numbers(&influx, &database, "m").await,
        (0..20).collect::<Vec<_>>()
    );
    assert_eq!(stats(&manager).queued_points, 0);
    drop_database(&influx, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_buffer_survives_a_crash_and_delivers_everything_after_restart() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_crash");
    create_database(&influx, &database).await;
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Proxy::start(&influx).await;
    proxy.stop().await;
    // The first life of the sink runs on a runtime of its own, which is dropped without a
    // shutdown: its delivery and fsync tasks are gone when the drop returns, as after a
    // crash, so nothing of the first life touches the buffer once the second one opens it.
    let (first_dir, first_url, first_database) =
        (dir.path().to_owned(), proxy.url(), database.clone());
    let first_life = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let manager = SinkManager::new(&first_dir, vec![config("crash", &first_url)]).unwrap();
            for chunk in 0..10 {
                manager
                    .send(write(
                        &first_database,
                        numbered_points("m", chunk * 100, 100),
                        false,
                    ))
                    .unwrap();
            }
            wait_for("a failed attempt", Duration::from_secs(20), || {
                stats(&manager).retried >= 1
            })
            .await;
            assert_eq!(stats(&manager).queued_points, 1000);
            // Dropped without shutdown: nothing acknowledged, nothing flushed on purpose.
        });
        drop(runtime);
    });
    if let Err(error) = first_life.await {
        std::panic::resume_unwind(error.into_panic());
    }
    assert_buffer_files_exist(dir.path());
    let manager = SinkManager::new(dir.path(), vec![config("crash", &influx)]).unwrap();
    assert_eq!(stats(&manager).queued_points, 1000);
    wait_for("redelivery", Duration::from_secs(30), || {
        stats(&manager).written == 1000
    })
    .await;
    assert_eq!(
        stored_numbers(&influx, &database, "m").await,
        (0..1000).collect::<Vec<_>>()
    );
    manager.shutdown(Duration::from_secs(1)).await;
    drop_database(&influx, &database).await;
}

fn assert_buffer_files_exist(dir: &Path) {
    let sink_dir = dir.join("sinks").join("influxdb").join("crash");
    assert!(sink_dir.join("ack").exists(), "{}", sink_dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_buffer_drops_the_oldest_points_and_counts_them() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_cap");
    create_database(&influx, &database).await;
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Proxy::start(&influx).await;
    proxy.stop().await;
    let mut config = config("cap", &proxy.url());
    config.buffer_max_size = 64 * 1024;
    config.batch_size = 100;
    let manager = SinkManager::new(dir.path(), vec![config]).unwrap();
    let total = 20_000;
    for chunk in 0..total / 100 {
        manager
            .send(write(
                &database,
                numbered_points("m", chunk * 100, 100),
                false,
            ))
            .unwrap();
    }
    let queued = stats(&manager);
    assert!(queued.dropped > 0, "{queued:?}");
    assert!(queued.queued_bytes <= 64 * 1024, "{queued:?}");
    proxy.restart().await;
    wait_for("the queue to drain", Duration::from_secs(60), || {
        let stats = stats(&manager);
        stats.queued_points == 0 && stats.written + stats.dropped == total as u64
    })
    .await;
    let stats = stats(&manager);
    let stored = stored_numbers(&influx, &database, "m").await;
    assert_eq!(stored.len() as u64, stats.written, "{stats:?}");
    assert_eq!(stats.dropped, total as u64 - stored.len() as u64);
    // The newest points all arrived: everything after the first gap is there.
    let newest: Vec<i64> = ((total - 500)..total).collect();
    assert!(
        stored.ends_with(&newest),
        "newest points missing: {stats:?}"
    );
    assert_eq!(stored.last(), Some(&(total - 1)));
    drop_database(&influx, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_buffer_applies_back_pressure_and_fails_over_in_order() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    let database = unique("weir_mem");
    create_database(&influx, &database).await;
    let dir = tempfile::tempdir().unwrap();
    let mut dead = Proxy::start(&influx).await;
    dead.stop().await;
    let mut config = config("mem", &dead.url());
    config.urls.push(influx.clone());
    config.buffer = BufferKind::Memory;
    config.buffer_max_size = 4096;
    let manager = SinkManager::new(dir.path(), vec![config.clone()]).unwrap();
    manager
        .send(write(&database, numbered_points("m", 0, 5), false))
        .unwrap();
    wait_for("fail-over", Duration::from_secs(20), || {
        stats(&manager).written == 5
    })
    .await;
    assert_eq!(
        stored_numbers(&influx, &database, "m").await,
        (0..5).collect::<Vec<_>>()
    );

    // With only the dead URL, the memory queue fills and hands writes back.
    config.urls = vec![dead.url()];
    manager.apply(vec![config]);
    let mut refused = None;
    for chunk in 0..100 {
        if let Err(write) = manager.send(write(
            &database,
            numbered_points("m", 100 + chunk * 10, 10),
            false,
        )) {
            refused = Some(write);
            break;
        }
    }
    let refused = refused.expect("a full memory queue refuses writes");
    assert_eq!(refused.points.len(), 10);
    assert_eq!(stats(&manager).dropped, 0);
    let mut metrics = String::new();
    manager.write_metrics(&mut metrics);
    assert!(
        metrics.contains("weir_sink_written_points_total{sink=\"mem\"} 5"),
        "{metrics}"
    );
    drop_database(&influx, &database).await;
}
