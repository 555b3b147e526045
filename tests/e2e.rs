//! End to end against real peers: weir discovers node_exporter statically, scrapes it,
//! runs a `from|where|window|mean|influxDBOut` task and writes to a real InfluxDB.

mod common;

use std::time::Duration;

use common::{Weir, eventually, http, influx_query, peer};

fn first_value(answer: &serde_json::Value, column: usize) -> Option<f64> {
    answer["results"][0]["series"][0]["values"][0][column].as_f64()
}

#[test]
fn scrapes_node_exporter_and_writes_window_means_to_influxdb() {
    let (Some(influx), Some(node)) = (peer("INFLUXDB_URL"), peer("NODE_EXPORTER_URL")) else {
        return;
    };
    let node_address = node
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    http(
        "POST",
        &format!("{influx}/query?q=DROP%20DATABASE%20weir_e2e"),
        None,
    )
    .expect("influxdb reachable");
    http(
        "POST",
        &format!("{influx}/query?q=CREATE%20DATABASE%20weir_e2e"),
        None,
    )
    .expect("influxdb reachable");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/node_memory_mean.tick"
    );
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[static-discovery]]
id = "nodes"
targets = ["{node_address}"]
labels = {{ env = "e2e" }}
[[scraper]]
enabled = true
name = "node"
db = "prom"
rp = "autogen"
scrape-interval = "1s"
scrape-timeout = "900ms"
metrics-path = "/metrics"
discoverer-id = "nodes"
discoverer-service = "static-discovery"
[[influxdb]]
name = "main"
default = true
urls = ["{influx}"]
flush-interval = "200ms"
[[task]]
id = "node_memory_mean"
path = "{script}"
"#
    ));
    let means = eventually(Duration::from_secs(40), || {
        let answer = influx_query(
            &influx,
            "weir_e2e",
            "SELECT mean, instance FROM memtotal_mean",
        );
        first_value(&answer, 1).map(|mean| (mean, answer))
    });
    let Some((mean, answer)) = means else {
        panic!(
            "no window means arrived in InfluxDB; weir log:\n{}",
            weir.log()
        );
    };
    assert!(
        mean > 16.0 * 1024.0 * 1024.0,
        "implausible MemTotal mean {mean}: {answer}"
    );
    assert_eq!(
        answer["results"][0]["series"][0]["values"][0][2].as_str(),
        Some(node_address.as_str())
    );
    let raw = influx_query(
        &influx,
        "weir_e2e",
        "SELECT value, job, env FROM node_memory_MemTotal_bytes LIMIT 1",
    );
    let row = &raw["results"][0]["series"][0]["values"][0];
    assert!(
        row[1]
            .as_f64()
            .is_some_and(|v| (v - mean).abs() / mean < 0.01),
        "raw {raw} vs mean {mean}"
    );
    assert_eq!(row[2].as_str(), Some("node"), "job tag: {raw}");
    assert_eq!(
        row[3].as_str(),
        Some("e2e"),
        "static-discovery label: {raw}"
    );
    let (status, task) = http(
        "GET",
        &format!("{}/kapacitor/v1/tasks/node_memory_mean", weir.url),
        None,
    )
    .expect("task");
    assert_eq!(status, 200);
    let task: serde_json::Value = serde_json::from_str(&task).expect("task json");
    assert_eq!(task["executing"], true, "{task}");
    let (_, metrics) = http("GET", &format!("{}/metrics", weir.url), None).expect("metrics");
    assert!(metrics.contains("weir_scraped_points_total"), "{metrics}");
    weir.stop();
}
