//! Batch sources against the real peers: PromQL `query_range` on Prometheus (which scrapes
//! node_exporter; deterministic series come from its textfile directory), InfluxQL on
//! InfluxDB 1.6 with seeded points, and a batch task defined through weir's API whose
//! output lands in InfluxDB and an `httpOut` endpoint.

mod common;

use std::time::Duration;

use common::{Weir, eventually, http, influx_query, peer};
use serde_json::Value;
use weir_dsl::NodeSpec;
use weir_engine::nodes::query::QueryPlan;
use weir_engine::{FieldValue, QueryLanguage, QueryRequest, QuerySeries};
use weir_scrapers::batch::{
    InfluxQueryConfig, InfluxQuerySource, PrometheusConfig, PrometheusSource,
};

const S: i64 = 1_000_000_000;
/// Seeded InfluxDB points start here (seconds).
const BASE: i64 = 1_700_000_040;

fn plan(script: &str) -> QueryPlan {
    let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
    match &program.nodes[1].spec {
        NodeSpec::Query(spec) => QueryPlan::new(spec).unwrap(),
        other => panic!("not a query: {other:?}"),
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Serve `text` from node_exporter's textfile directory (Prometheus scrapes it every 2s).
fn textfile(name: &str, text: &str) -> Option<()> {
    let dir = peer("NODE_EXPORTER_TEXTFILE_DIR")?;
    let path = std::path::Path::new(&dir).join(format!("{name}.prom"));
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).expect("write textfile");
    std::fs::rename(&temporary, &path).expect("rename textfile");
    Some(())
}

#[test]
fn prometheus_query_range_gives_one_series_per_matrix_entry_on_the_step_grid() {
    let Some(prometheus) = peer("PROM_URL") else {
        return;
    };
    let Some(()) = textfile(
        "weir_batch_matrix",
        "weir_batch_probe{case=\"matrix\"} 42\n",
    ) else {
        return;
    };
    let source = PrometheusSource::new(PrometheusConfig::new("prom", &prometheus)).unwrap();
    let plan = plan(
        "batch|query('weir_batch_probe{case=\"matrix\"}').period(20s).every(10s).step(3s).align()",
    );
    let found = eventually(Duration::from_secs(30), || {
        let request = plan.request(now_nanos());
        let series = block_on(source.query_range(&request)).unwrap();
        (!series.is_empty() && series[0].rows.len() >= 2).then_some((request, series))
    });
    let Some((request, series)) = found else {
        panic!("Prometheus never returned weir_batch_probe from node_exporter's textfile");
    };
    assert_eq!(series.len(), 1, "{series:?}");
    let series = &series[0];
    assert_eq!(series.name, "weir_batch_probe");
    assert_eq!(series.tags["case"], "matrix");
    assert_eq!(
        series.tags["job"], "file",
        "the label Prometheus' file_sd job adds"
    );
    assert!(!series.tags.contains_key("__name__"));
    let step = request.step.unwrap();
    assert_eq!(step, 3 * S);
    assert_eq!(
        request.start % step,
        0,
        "align() rounds the start down to the step"
    );
    for (time, fields) in &series.rows {
        assert!(
            *time >= request.start && *time <= request.end,
            "{time} outside the range"
        );
        assert_eq!(
            (time - request.start) % step,
            0,
            "{time} is not on the step grid"
        );
        assert_eq!(fields["value"], FieldValue::Float(42.0));
    }
    // Batches: one per series, each series its own group, tmax the newest point.
    let batches = plan.batches(vec![series.clone()], &request);
    assert_eq!(batches.len(), 1);
    assert!(
        batches[0].group.id.contains("case=matrix"),
        "{}",
        batches[0].group.id
    );
    assert_eq!(batches[0].tmax, series.rows.last().unwrap().0);
}

#[test]
fn prometheus_failures_carry_the_server_message() {
    let Some(prometheus) = peer("PROM_URL") else {
        return;
    };
    let source = PrometheusSource::new(PrometheusConfig::new("prom", &prometheus)).unwrap();
    let request = QueryRequest {
        language: QueryLanguage::PromQl,
        cluster: None,
        query: "rate(up[".to_owned(),
        start: now_nanos() - 60 * S,
        end: now_nanos(),
        step: Some(10 * S),
    };
    let error = block_on(source.query_range(&request)).unwrap_err().0;
    assert!(
        error.starts_with("prometheus \"prom\" returned 400: bad_data: "),
        "{error}"
    );
    assert!(error.contains("parse error"), "{error}");
    let mut too_many = request.clone();
    too_many.query = "up".to_owned();
    too_many.step = Some(S / 1000);
    let error = block_on(source.query_range(&too_many)).unwrap_err().0;
    assert!(error.contains("exceeded maximum resolution"), "{error}");
    let unreachable =
        PrometheusSource::new(PrometheusConfig::new("gone", "http://127.0.0.1:1")).unwrap();
    let error = block_on(unreachable.query_range(&request)).unwrap_err().0;
    assert!(
        error.starts_with("prometheus \"gone\" at http://127.0.0.1:1/api/v1/query_range"),
        "{error}"
    );
}

#[test]
fn influxql_with_weirs_time_range_and_group_by_runs_on_influxdb() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    http(
        "POST",
        &format!("{influx}/query?q=DROP%20DATABASE%20weir_batch_src"),
        None,
    )
    .unwrap();
    http(
        "POST",
        &format!("{influx}/query?q=CREATE%20DATABASE%20weir_batch_src"),
        None,
    )
    .unwrap();
    // Host a: 1, 2, 3 in the first 30s bucket and 10, 20, 30 in the second; host b has one
    // point in the first. A point at the range end (60s) must be left out.
    // (1700000040 is a multiple of 30s and 60s: InfluxDB's buckets start at epoch multiples.)
    let lines: String = [
        ("a", 0, 1),
        ("a", 10, 2),
        ("a", 20, 3),
        ("a", 30, 10),
        ("a", 40, 20),
        ("a", 50, 30),
        ("b", 0, 5),
        ("a", 60, 1000),
    ]
    .iter()
    .map(|(host, secs, value)| format!("cpu,host={host} value={value} {}\n", BASE + secs))
    .collect();
    let (status, body) = http(
        "POST",
        &format!("{influx}/write?db=weir_batch_src&precision=s"),
        Some(&lines),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let plan = plan(
        r#"batch|query('SELECT mean("value") FROM "weir_batch_src"."autogen"."cpu" WHERE "host" != \'c\'').period(60s).every(60s).groupBy(time(30s), 'host')"#,
    );
    let request = plan.request((BASE + 60) * S);
    assert_eq!(request.start, BASE * S);
    let source = InfluxQuerySource::new(InfluxQueryConfig {
        name: "main".into(),
        default: true,
        urls: vec!["http://127.0.0.1:1".into(), influx.clone()],
        username: String::new(),
        password: String::new(),
        timeout: Duration::from_secs(10),
        insecure_skip_verify: false,
    })
    .unwrap();
    let series: Vec<QuerySeries> = block_on(source.query(&request)).unwrap();
    let batches = plan.batches(series, &request);
    assert_eq!(batches.len(), 2, "{batches:?}");
    let means = |idx: usize| -> Vec<(i64, f64)> {
        batches[idx]
            .points
            .iter()
            .map(|p| (p.time / S - BASE, p.fields["mean"].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(batches[0].group.id, "host=a");
    assert_eq!(means(0), [(0, 2.0), (30, 20.0)]);
    assert_eq!(
        batches[0].tmax,
        (BASE + 30) * S,
        "tmax is the newest bucket"
    );
    assert_eq!(batches[1].group.id, "host=b");
    // The empty (null) bucket of host b is not a point.
    assert_eq!(means(1), [(0, 5.0)]);
    let mut bad = request.clone();
    bad.query = "SELECT mean(value) FROM nowhere.autogen.cpu WHERE time > 0".into();
    let error = block_on(source.query(&bad)).unwrap_err().0;
    assert!(error.contains("database not found: nowhere"), "{error}");
}

fn task_json(weir: &Weir, id: &str) -> Value {
    let (_, body) = http(
        "GET",
        &format!("{}/kapacitor/v1/tasks/{id}", weir.url),
        None,
    )
    .unwrap();
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

#[test]
fn a_batch_task_defined_through_the_api_queries_prometheus_and_writes_to_influxdb() {
    let (Some(prometheus), Some(influx)) = (peer("PROM_URL"), peer("INFLUXDB_URL")) else {
        return;
    };
    let Some(()) = textfile("weir_batch_e2e", "weir_batch_probe{case=\"e2e\"} 7\n") else {
        return;
    };
    http(
        "POST",
        &format!("{influx}/query?q=DROP%20DATABASE%20weir_batch_e2e"),
        None,
    )
    .unwrap();
    http(
        "POST",
        &format!("{influx}/query?q=CREATE%20DATABASE%20weir_batch_e2e"),
        None,
    )
    .unwrap();
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[prometheus]]
name = "prom"
url = "{prometheus}"
timeout = "5s"
[[influxdb]]
name = "main"
default = true
urls = ["{influx}"]
flush-interval = "200ms"
"#
    ));
    let script = r#"batch
    |query('weir_batch_probe{case="e2e"}')
        .period(20s)
        .every(1s)
        .step(2s)
        .align()
        .as('probe')
    |max('value')
        .as('max')
    |httpOut('max')
    |influxDBOut()
        .database('weir_batch_e2e')
        .measurement('probe_max')
        .flushInterval(200ms)"#;
    let define = serde_json::json!({
        "id": "probe", "type": "batch", "dbrps": [{"db": "prom", "rp": "autogen"}],
        "script": script, "status": "enabled",
    });
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let written = eventually(Duration::from_secs(40), || {
        let answer = influx_query(
            &influx,
            "weir_batch_e2e",
            "SELECT max, \"case\" FROM probe_max",
        );
        answer["results"][0]["series"][0]["values"][0]
            .as_array()
            .cloned()
    });
    let Some(row) = written else {
        panic!(
            "no batch results reached InfluxDB; weir log:\n{}",
            weir.log()
        );
    };
    assert_eq!(row[1], 7.0, "{row:?}");
    assert_eq!(row[2], "e2e", "the group's tags travel with the point");
    let (status, body) = http(
        "GET",
        &format!("{}/kapacitor/v1/tasks/probe/max", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let served: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served["series"][0]["name"], "probe", "{served}");
    assert_eq!(served["series"][0]["values"][0][1], 7.0, "{served}");

    // A query Prometheus refuses fails each run with its message; the runs go on.
    let define = serde_json::json!({
        "id": "broken", "type": "batch", "dbrps": [{"db": "prom", "rp": "autogen"}],
        "script": "batch|query('rate(up[').period(10s).every(500ms).step(1s)|httpOut('x')",
        "status": "enabled",
    });
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let failing = eventually(Duration::from_secs(20), || {
        let task = task_json(&weir, "broken");
        let errors = task["stats"]["node-stats"]["query1"]["errors"].as_u64()?;
        (errors >= 2).then_some(task)
    });
    let Some(task) = failing else {
        panic!(
            "the broken task did not report repeated failures: {}",
            task_json(&weir, "broken")
        );
    };
    let error = task["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("bad_data") && error.contains("parse error"),
        "{task}"
    );
    assert_eq!(task["executing"], true);
    assert!(
        weir.log().contains("query failed"),
        "failed runs are logged"
    );

    // An unknown source fails the task when it starts.
    let define = serde_json::json!({
        "id": "nosource", "type": "batch", "dbrps": [{"db": "prom", "rp": "autogen"}],
        "script": "batch|query('up').period(10s).every(1s).step(1s).cluster('nope')|httpOut('x')",
        "status": "enabled",
    });
    let (_, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert!(
        body.contains("no enabled [[prometheus]] source named \\\"nope\\\""),
        "{body}"
    );
    weir.stop();
}

#[test]
fn a_batch_task_runs_influxql_against_influxdb_with_weirs_group_by() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    http(
        "POST",
        &format!("{influx}/query?q=DROP%20DATABASE%20weir_batch_iql"),
        None,
    )
    .unwrap();
    http(
        "POST",
        &format!("{influx}/query?q=CREATE%20DATABASE%20weir_batch_iql"),
        None,
    )
    .unwrap();
    // Seeded a few seconds ago, well inside the task's 10 minute period.
    let now = now_nanos() / S;
    let lines: String = [("a", 3, 5.0), ("a", 2, 7.0), ("b", 2, 3.0), ("b", 1, 1.0)]
        .iter()
        .map(|(host, ago, value)| format!("mem,host={host} used={value} {}\n", now - ago))
        .collect();
    let (status, body) = http(
        "POST",
        &format!("{influx}/write?db=weir_batch_iql&precision=s"),
        Some(&lines),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[influxdb]]
name = "main"
default = true
urls = ["{influx}"]
"#
    ));
    let script = r#"batch
    |query('SELECT max("used") AS peak FROM "weir_batch_iql"."autogen"."mem"')
        .period(10m)
        .every(1s)
        .groupBy('host')
    |httpOut('peaks')"#;
    let define = serde_json::json!({
        "id": "peaks", "type": "batch", "dbrps": [{"db": "weir_batch_iql", "rp": "autogen"}],
        "script": script, "status": "enabled",
    });
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let served = eventually(Duration::from_secs(20), || {
        let (status, body) = http(
            "GET",
            &format!("{}/kapacitor/v1/tasks/peaks/peaks", weir.url),
            None,
        )
        .ok()?;
        let served: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && served["series"].as_array()?.len() == 2).then_some(served)
    });
    let Some(served) = served else {
        panic!("no InfluxQL results were served; weir log:\n{}", weir.log());
    };
    // One batch per GROUP BY series; httpOut keeps each group's latest batch.
    let peak = |idx: usize| {
        let series = &served["series"][idx];
        (
            series["tags"]["host"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            series["values"][0][1].as_f64(),
        )
    };
    assert_eq!(peak(0), ("a".to_owned(), Some(7.0)), "{served}");
    assert_eq!(peak(1), ("b".to_owned(), Some(3.0)), "{served}");
    assert_eq!(served["series"][0]["name"], "mem", "{served}");
    let task = task_json(&weir, "peaks");
    assert_eq!(task["error"], "", "{task}");
    weir.stop();
}

#[test]
fn an_unreachable_prometheus_fails_runs_until_a_reload_points_at_a_real_one() {
    let Some(prometheus) = peer("PROM_URL") else {
        return;
    };
    let config = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[prometheus]]
name = "prom"
url = "@PROM@"
timeout = "2s"
"#;
    let weir = Weir::start(&config.replace("@PROM@", "http://127.0.0.1:1"));
    let define = serde_json::json!({
        "id": "count", "type": "batch", "dbrps": [{"db": "prom", "rp": "autogen"}],
        "script": "batch|query('count(up)').period(10s).every(500ms).step(5s).as('targets')|last('value')|httpOut('n')",
        "status": "enabled",
    });
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let failing = eventually(Duration::from_secs(20), || {
        let task = task_json(&weir, "count");
        let error = task["error"].as_str()?.to_owned();
        (!error.is_empty()).then_some(error)
    });
    let Some(error) = failing else {
        panic!(
            "runs against port 1 did not fail: {}",
            task_json(&weir, "count")
        );
    };
    assert!(
        error.starts_with(
            "query1: query failed: prometheus \"prom\" at http://127.0.0.1:1/api/v1/query_range"
        ),
        "{error}"
    );
    let port = weir.url.rsplit(':').next().unwrap_or("0").to_owned();
    std::fs::write(
        &weir.config,
        config
            .replace("@PROM@", &prometheus)
            .replace("@DIR@", &weir.dir.display().to_string())
            .replace("@PORT@", &port),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let served = eventually(Duration::from_secs(20), || {
        let (_, body) = http(
            "GET",
            &format!("{}/kapacitor/v1/tasks/count/n", weir.url),
            None,
        )
        .ok()?;
        let served: Value = serde_json::from_str(&body).ok()?;
        served["series"][0]["values"][0][1].as_f64()
    });
    let Some(count) = served else {
        panic!("no results after the reload; weir log:\n{}", weir.log());
    };
    assert!(
        count >= 1.0,
        "Prometheus scrapes at least node_exporter: {count}"
    );
    let task = task_json(&weir, "count");
    assert_eq!(
        task["error"], "",
        "a successful run clears the error: {task}"
    );
    weir.stop();
}

/// A JSON call to weir's API: status and parsed body.
fn api(weir: &Weir, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|body| body.to_string());
    let (status, text) = http(method, &format!("{}{path}", weir.url), body.as_deref()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Poll a recording or replay until it is no longer running.
fn finished(weir: &Weir, link: &Value) -> Value {
    let link = link["link"]["href"].as_str().expect("a link").to_owned();
    eventually(Duration::from_secs(20), || {
        let (_, body) = api(weir, "GET", &link, None);
        (body["status"] != "running").then_some(body)
    })
    .unwrap_or_else(|| panic!("{link} still runs; weir log:\n{}", weir.log()))
}

/// The `host` → value pairs a replay's `httpOut` held at its end.
fn served(replay: &Value, endpoint: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = replay["http-out"][endpoint]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("no {endpoint} in {replay}"))
        .iter()
        .map(|series| {
            (
                series["tags"]["host"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                series["values"][0][1].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn kapacitor_record_batch_and_query_then_replay_into_tasks() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    for q in [
        "DROP%20DATABASE%20weir_batch_rec",
        "CREATE%20DATABASE%20weir_batch_rec",
    ] {
        http("POST", &format!("{influx}/query?q={q}"), None).unwrap();
    }
    // 2021-01-01T00:00:00Z + seconds: two one-minute runs, a=7 b=3 then a=2 b=9.
    let t0 = 1_609_459_200;
    let lines: String = [
        ("a", 10, 5.0),
        ("a", 20, 7.0),
        ("b", 30, 3.0),
        ("a", 70, 2.0),
        ("b", 80, 9.0),
    ]
    .iter()
    .map(|(host, at, value)| format!("mem,host={host} used={value} {}\n", t0 + at))
    .collect();
    let (status, body) = http(
        "POST",
        &format!("{influx}/write?db=weir_batch_rec&precision=s"),
        Some(&lines),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[influxdb]]
name = "main"
default = true
urls = ["{influx}"]
"#
    ));
    let batch_script = r#"batch
    |query('SELECT max("used") AS peak FROM "weir_batch_rec"."autogen"."mem"')
        .period(1m)
        .every(1m)
        .groupBy('host')
    |httpOut('peaks')"#;
    let stream_script = "stream\n    |from()\n        .measurement('mem')\n        .groupBy('host')\n    |httpOut('last')";
    for (id, kind, script) in [
        ("peaks", "batch", batch_script),
        ("last", "stream", stream_script),
    ] {
        let define = serde_json::json!({
            "id": id, "type": kind, "dbrps": [{"db": "weir_batch_rec", "rp": "autogen"}],
            "script": script, "status": "disabled",
        });
        let (status, body) = api(&weir, "POST", "/kapacitor/v1/tasks", Some(define));
        assert_eq!(status, 200, "{body}");
    }
    let range = serde_json::json!({
        "task": "peaks", "start": "2021-01-01T00:00:00Z", "stop": "2021-01-01T00:02:00Z",
    });

    // `kapacitor record batch -task peaks -start ... -stop ...`, then `kapacitor replay`.
    let (status, recording) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/batch",
        Some(range.clone()),
    );
    assert_eq!(status, 201, "{recording}");
    assert_eq!(recording["type"], "batch", "{recording}");
    let recording = finished(&weir, &recording);
    assert_eq!(recording["status"], "finished", "{recording}");
    let replay = |recording: &Value, task: &str| {
        let request = serde_json::json!({
            "task": task, "recording": recording["id"], "recording-time": true, "clock": "fast",
        });
        let (status, replay) = api(&weir, "POST", "/kapacitor/v1/replays", Some(request));
        assert_eq!(status, 201, "{replay}");
        let replay = finished(&weir, &replay);
        assert_eq!(replay["status"], "finished", "{replay}");
        replay
    };
    let replayed = replay(&recording, "peaks");
    // Both runs went through the task; httpOut keeps each group's latest batch.
    assert_eq!(
        replayed["stats"]["node-stats"]["query1"]["emitted"], 4,
        "{replayed}"
    );
    assert_eq!(
        served(&replayed, "peaks"),
        [("a".into(), 2.0), ("b".into(), 9.0)]
    );

    // `kapacitor replay-live batch`: the same queries, straight into the task.
    let mut live = range.clone();
    live["recording-time"] = true.into();
    let (status, live_replay) = api(&weir, "POST", "/kapacitor/v1/replays/batch", Some(live));
    assert_eq!(status, 201, "{live_replay}");
    let live_replay = finished(&weir, &live_replay);
    assert_eq!(served(&live_replay, "peaks"), served(&replayed, "peaks"));

    // `kapacitor record query -type stream` replays into a stream task as points.
    let query = r#"SELECT used FROM "weir_batch_rec"."autogen"."mem" GROUP BY host"#;
    let (status, recording) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/query",
        Some(serde_json::json!({"query": query, "type": "stream"})),
    );
    assert_eq!(status, 201, "{recording}");
    let recording = finished(&weir, &recording);
    assert_eq!(
        (&recording["status"], &recording["type"]),
        (&Value::from("finished"), &Value::from("stream")),
        "{recording}"
    );
    let replayed = replay(&recording, "last");
    assert_eq!(
        replayed["stats"]["node-stats"]["from1"]["collected"], 5,
        "{replayed}"
    );
    assert_eq!(
        served(&replayed, "last"),
        [("a".into(), 2.0), ("b".into(), 9.0)]
    );

    // `-type batch`: one run, handed to the batch task's query node.
    let (status, recording) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/query",
        Some(serde_json::json!({"query": query, "type": "batch"})),
    );
    assert_eq!(status, 201, "{recording}");
    let recording = finished(&weir, &recording);
    assert_eq!(recording["type"], "batch", "{recording}");
    let replayed = replay(&recording, "peaks");
    // The query's raw rows, one batch per host: httpOut shows each batch's first row.
    assert_eq!(
        served(&replayed, "peaks"),
        [("a".into(), 5.0), ("b".into(), 3.0)]
    );

    // What a CLI user gets wrong.
    let mut stream_task = range.clone();
    stream_task["task"] = "last".into();
    let (status, body) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/batch",
        Some(stream_task),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("record stream"),
        "{body}"
    );
    let (status, body) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/query",
        Some(serde_json::json!({"query": "SELECT used FROM mem", "type": "stream"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("FROM"), "{body}");
    let mut backwards = range;
    backwards["stop"] = "2020-01-01T00:00:00Z".into();
    let (status, body) = api(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/batch",
        Some(backwards),
    );
    assert_eq!(status, 400, "{body}");
    weir.stop();
}
