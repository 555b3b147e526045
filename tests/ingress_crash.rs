//! An acknowledged point survives `kill -9`: a million points written through a task to the
//! real InfluxDB while weir is killed at random moments three times and restarted; every
//! point that was answered 204 ends up in InfluxDB (the ingress log replays what the tasks had
//! not finished; at least once, and InfluxDB keeps one copy of a duplicate).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Weir, eventually, free_port, http, peer};

const BATCHES: usize = 200;
const POINTS_PER_BATCH: usize = 5_000;

fn config(influx: &str) -> String {
    format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[influxdb]]
name = "tsdb"
default = true
urls = ["{influx}"]
flush-interval = "100ms"
buffer = "disk"
"#
    )
}

fn body(batch: usize) -> String {
    let base = 1_700_000_000_000_000_000_i64 + (batch * POINTS_PER_BATCH) as i64;
    let mut text = String::with_capacity(POINTS_PER_BATCH * 40);
    for i in 0..POINTS_PER_BATCH {
        text.push_str(&format!("crash,b=b{batch} v={i}i {}\n", base + i as i64));
    }
    text
}

/// A pseudo-random number in `range` (the test needs no seeded generator, only moments that
/// differ from run to run).
fn random_in(range: std::ops::Range<usize>) -> usize {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0);
    range.start + nanos % (range.end - range.start)
}

fn influx_count(influx: &str) -> u64 {
    common::influx_query(influx, "weir_crash", "SELECT count(v) FROM crash")["results"][0]["series"]
        [0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn acknowledged_points_survive_kill_9() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    for q in [
        "DROP%20DATABASE%20weir_crash",
        "CREATE%20DATABASE%20weir_crash",
    ] {
        http("POST", &format!("{influx}/query?q={q}"), None).expect("influxdb reachable");
    }
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let config = config(&influx);
    let mut weir = Weir::start_in(&dir, &config, port);
    let script = "dbrp \"app\".\"autogen\"\nstream\n    |from()\n        .measurement('crash')\n    |influxDBOut()\n        .database('weir_crash')\n        .retentionPolicy('autogen')\n";
    let define =
        serde_json::json!({"id": "copy", "type": "stream", "script": script, "status": "enabled"});
    let (status, body_text) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body_text}");

    // The writer: each batch until it is answered 204, then the next.
    let acked = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let url = format!("{}/write?db=app&rp=autogen", weir.url);
    let writer = {
        let (acked, retries, done) = (acked.clone(), retries.clone(), done.clone());
        std::thread::spawn(move || {
            for batch in 0..BATCHES {
                let text = body(batch);
                loop {
                    match http("POST", &url, Some(&text)) {
                        Ok((204, _)) => break,
                        _ => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            // Back off while weir restarts (not synchronisation: any wait works).
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
                acked.fetch_add(1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    for (kill, window) in [(1, 10..60), (2, 70..120), (3, 130..180)] {
        let at = random_in(window);
        eventually(Duration::from_secs(300), || {
            (acked.load(Ordering::SeqCst) >= at).then_some(())
        })
        .expect("the writer makes progress");
        weir.child.kill().expect("kill -9");
        let _ = weir.child.wait();
        eprintln!(
            "kill {kill}: killed after {} acknowledged batches",
            acked.load(Ordering::SeqCst)
        );
        weir = Weir::start_in(&dir, &config, port);
    }
    writer.join().expect("writer");
    assert!(done.load(Ordering::SeqCst));
    let expected = (BATCHES * POINTS_PER_BATCH) as u64;
    let arrived = eventually(Duration::from_secs(180), || {
        let count = influx_count(&influx);
        (count >= expected).then_some(count)
    });
    let (_, metrics) = http("GET", &format!("{}/metrics", weir.url), None).unwrap_or_default();
    let log = weir.stop();
    let replayed: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("replayed acknowledged writes"))
        .collect();
    eprintln!(
        "writer retries: {}; replays: {replayed:#?}",
        retries.load(Ordering::Relaxed)
    );
    eprintln!(
        "{}",
        metrics
            .lines()
            .filter(|l| l.starts_with("weir_ingress") || l.starts_with("weir_write"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        arrived,
        Some(expected),
        "InfluxDB has {} of {expected} acknowledged points",
        influx_count(&influx)
    );
}
