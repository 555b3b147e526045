//! Node behaviour through whole scripts: compile TICKscript, run it over line protocol with
//! `run_test`, check what came out. Expected values follow Kapacitor's integration tests as
//! described in the shared reference (§2.3, §2.4).

use serde_json::Value as Json;
use weir_engine::line_protocol::{Precision, parse};
use weir_engine::{TestOutput, run_test};

const DBRP: &str = "dbrp \"db\".\"autogen\"\n";

fn run(script: &str, lines: &str) -> TestOutput {
    let source = format!("{DBRP}{script}");
    let (program, diagnostics) = weir_dsl::compile(&source, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{script}: {diagnostics:?}"));
    let (points, errors) = parse(lines, Precision::Seconds, 0);
    assert!(errors.is_empty(), "{errors:?}");
    let points = points
        .into_iter()
        .map(|p| ("db".into(), "autogen".into(), p))
        .collect();
    let output = run_test(&program, points);
    assert_eq!(output.error, None);
    output
}

/// The single row of every httpPost body, as (time, column → value) objects.
fn posted_rows(output: &TestOutput) -> Vec<serde_json::Map<String, Json>> {
    output
        .http_posts
        .iter()
        .flat_map(|post| {
            let row = &post.body["series"][0];
            let columns: Vec<String> = row["columns"]
                .as_array()
                .map(|c| c.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            row["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |values| {
                    let values = values.as_array().cloned().unwrap_or_default();
                    columns
                        .iter()
                        .cloned()
                        .zip(values)
                        .collect::<serde_json::Map<_, _>>()
                })
        })
        .collect()
}

fn column(output: &TestOutput, name: &str) -> Vec<Json> {
    posted_rows(output)
        .into_iter()
        .map(|row| row.get(name).cloned().unwrap_or(Json::Null))
        .collect()
}

const POST: &str = "httpPost('http://127.0.0.1:1/out')";

#[test]
fn alert_duration_with_state_changes_only() {
    let script = "stream|from().measurement('m')\
        |alert().warn(lambda: \"value\" > 7).crit(lambda: \"value\" > 8)\
        .stateChangesOnly().durationField('duration').post('http://127.0.0.1:1/a')";
    let lines = "m value=9 0\nm value=8 2\nm value=6 4\nm value=8 5\nm value=3 8\n";
    let output = run(script, lines);
    let summary: Vec<(String, String, i64)> = output
        .alerts
        .iter()
        .map(|alert| {
            let event = &alert.event;
            (
                event["level"].as_str().unwrap().to_owned(),
                event["previousLevel"].as_str().unwrap().to_owned(),
                event["duration"].as_i64().unwrap() / 1_000_000_000,
            )
        })
        .collect();
    let expected = [
        ("CRITICAL", "OK", 0),
        ("WARNING", "CRITICAL", 2),
        ("OK", "WARNING", 4),
        ("WARNING", "OK", 0),
        ("OK", "WARNING", 3),
    ];
    let expected: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(l, p, d)| (l.to_string(), p.to_string(), *d))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(output.alerts[0].handler, "post:http://127.0.0.1:1/a");
    assert_eq!(output.stats.node_stats["alert2"]["alerts_triggered"], 5);
    assert_eq!(output.stats.node_stats["alert2"]["oks_triggered"], 2);
}

#[test]
fn alert_state_changes_only_expires() {
    let script = "stream|from().measurement('m')\
        |alert().crit(lambda: \"value\" < 97).stateChangesOnly(2s).post('http://127.0.0.1:1/a')";
    let lines: String = (0..7)
        .map(|t| format!("m value=90 {t}\n"))
        .collect::<String>()
        + "m value=99 7\n";
    let output = run(script, &lines);
    let times: Vec<&str> = output
        .alerts
        .iter()
        .map(|a| a.event["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:02Z",
            "1970-01-01T00:00:04Z",
            "1970-01-01T00:00:06Z",
            "1970-01-01T00:00:07Z"
        ]
    );
}

#[test]
fn alert_templates_decorations_and_no_recoveries() {
    let script = "stream|from().measurement('cpu').groupBy('host')\
        |alert().id('{{ .Name }}/{{ index .Tags \"host\" }}')\
        .message('{{ .ID }} {{ .Level }} {{ index .Fields \"value\" }}')\
        .crit(lambda: \"value\" > 90.0).noRecoveries()\
        .levelTag('level').messageField('msg').idField('id')\
        .log('/tmp/alerts.log')|";
    let script = format!("{script}{POST}");
    let lines = "cpu,host=a value=95 0\ncpu,host=a value=10 1\ncpu,host=a value=99 2\n";
    let output = run(&script, lines);
    let events: Vec<(&str, &str, &str)> = output
        .alerts
        .iter()
        .map(|a| {
            (
                a.event["message"].as_str().unwrap(),
                a.event["previousLevel"].as_str().unwrap(),
                a.handler.as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("cpu/a CRITICAL 95", "OK", "log:/tmp/alerts.log"),
            ("cpu/a CRITICAL 99", "CRITICAL", "log:/tmp/alerts.log"),
        ]
    );
    assert_eq!(output.alerts[0].event["recoverable"], false);
    let details = output.alerts[0].event["details"]
        .as_str()
        .unwrap()
        .replace("&#34;", "\"");
    let details: Json = serde_json::from_str(&details).unwrap();
    assert_eq!(details["Group"], "host=a");
    assert_eq!(details["Message"], "cpu/a CRITICAL 95");
    let posted = &output.http_posts[0].body["series"][0];
    assert_eq!(posted["tags"]["level"], "CRITICAL");
    assert_eq!(column(&output, "msg")[0], "cpu/a CRITICAL 95");
    assert_eq!(column(&output, "id")[1], "cpu/a");
}

#[test]
fn eval_keep_tags_and_per_group_state() {
    let script = format!(
        "stream|from().measurement('m').groupBy('g')\
        |eval(lambda: \"a\" + \"b\", lambda: count(), lambda: \"g\" + '-t')\
        .as('sum', 'n', 'label').tags('label').keep('a', 'sum', 'n')|{POST}"
    );
    let lines = "m,g=x a=1,b=2,c=3 0\nm,g=y a=5,b=5 1\nm,g=x a=2,b=2 2\nm,g=x b=2 3\n";
    let output = run(&script, lines);
    let rows = posted_rows(&output);
    assert_eq!(rows.len(), 3, "the point without a is dropped");
    let keys: Vec<&String> = rows[0].keys().collect();
    assert_eq!(keys, ["a", "n", "sum", "time"]);
    assert_eq!(column(&output, "n"), [1, 1, 2]);
    assert_eq!(column(&output, "sum"), [3.0, 10.0, 4.0]);
    assert_eq!(
        output.http_posts[0].body["series"][0]["tags"]["label"],
        "x-t"
    );
    assert_eq!(output.stats.node_stats["eval2"]["errors"], 1);
}

#[test]
fn where_filters_batches_and_count_emits_zero() {
    let script = format!(
        "stream|from().measurement('m')|window().period(10s).every(10s)\
        |where(lambda: \"value\" > 100.0)|count('value')|{POST}"
    );
    let lines = "m value=1 0\nm value=2 5\nm value=500 12\nm value=1 25\n";
    let output = run(&script, lines);
    assert_eq!(column(&output, "count"), [0, 1]);
    assert_eq!(
        column(&output, "time"),
        ["1970-01-01T00:00:10Z", "1970-01-01T00:00:22Z"]
    );
}

#[test]
fn selectors_keep_fields_and_tags_of_the_selected_point() {
    let script = format!(
        "stream|from().measurement('m')|window().period(10s).every(10s)|last('value')|{POST}"
    );
    let lines =
        "m,host=a,type=x value=1,another=5 0\nm,host=b,type=y value=2,another=6 3\nm value=0 10\n";
    let output = run(&script, lines);
    let body = &output.http_posts[0].body["series"][0];
    assert_eq!(body["tags"]["host"], "b");
    assert_eq!(column(&output, "last"), [2.0]);
    assert_eq!(column(&output, "another"), [6.0]);
    assert_eq!(column(&output, "time"), ["1970-01-01T00:00:10Z"]);
}

#[test]
fn top_emits_rows_in_time_order_with_extra_tags() {
    let script = format!(
        "stream|from().measurement('m')|window().period(10s).every(10s)\
        |top(2, 'value', 'host')|{POST}"
    );
    let lines = "m,host=a value=5 0\nm,host=b value=9 1\nm,host=c value=7 2\nm,host=d value=1 3\nm value=0 10\n";
    let output = run(&script, lines);
    assert_eq!(column(&output, "top"), [9.0, 7.0]);
    assert_eq!(column(&output, "host"), ["b", "c"]);
}

#[test]
fn derivative_default_unshift_and_influxdb_out() {
    let script = "stream|from().measurement('net')|derivative('bytes').nonNegative()\
        |shift(1s)|default().tag('dc', 'none')|delete().field('other')\
        |influxDBOut().database('out').retentionPolicy('rp').measurement('rate').tag('src', 'weir')";
    let lines =
        "net bytes=100,other=1 0\nnet bytes=150,other=1 5\nnet bytes=50 10\nnet bytes=80 12\n";
    let output = run(script, lines);
    let points: Vec<_> = output
        .influxdb_writes
        .iter()
        .flat_map(|w| w.points.iter())
        .collect();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].name, "rate");
    assert_eq!(points[0].fields["bytes"], 10.0);
    assert!(!points[0].fields.contains_key("other"));
    assert_eq!(points[0].time, "1970-01-01T00:00:06Z");
    assert_eq!(points[1].fields["bytes"], 15.0);
    assert_eq!(points[1].tags["dc"], "none");
    assert_eq!(points[1].tags["src"], "weir");
    assert_eq!(output.influxdb_writes[0].database, "out");
    assert_eq!(output.influxdb_writes[0].retention_policy, "rp");
}

#[test]
fn union_merges_in_time_order_and_renames() {
    let script = format!(
        "var a = stream|from().measurement('a')\n\
         var b = stream|from().measurement('b')\n\
         a|union(b).rename('ab')|{POST}"
    );
    let lines = "a v=1 1\nb v=2 2\na v=3 3\nb v=4 4\n";
    let output = run(&script, lines);
    assert_eq!(column(&output, "v"), [1.0, 2.0, 3.0, 4.0]);
    assert!(
        output
            .http_posts
            .iter()
            .all(|p| p.body["series"][0]["name"] == "ab")
    );
}

#[test]
fn join_fills_missing_members_with_a_number() {
    let script = format!(
        "var a = stream|from().measurement('a')\n\
         var b = stream|from().measurement('b')\n\
         a|join(b).as('a', 'b').fill(0.0)|{POST}"
    );
    let lines = "a v=1 1\nb v=2 1\na v=3 2\na v=5 3\nb v=6 3\n";
    let output = run(&script, lines);
    assert_eq!(column(&output, "a.v"), [1.0, 3.0, 5.0]);
    assert_eq!(column(&output, "b.v"), [2.0, 0.0, 6.0]);
}

#[test]
fn http_out_serves_the_latest_row_per_group() {
    let script = "stream|from().measurement('m').groupBy('host')\
        |window().period(10s).every(10s)|mean('value')|httpOut('means')";
    let lines = "m,host=a value=1 0\nm,host=b value=3 1\nm,host=a value=3 5\nm,host=a value=0 10\nm,host=b value=0 12\n";
    let output = run(script, lines);
    let series = output.http_out["means"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["tags"]["host"], "a");
    assert_eq!(series[0]["values"][0][1], 2.0);
    assert_eq!(series[1]["values"][0][0], "1970-01-01T00:00:11Z");
}

#[test]
fn flush_idle_emits_a_quiet_groups_window_on_the_data_clock() {
    let script = format!(
        "stream|from().measurement('m').groupBy('host')\
        |window().period(10s).every(10s).flushIdle(5s)|count('value')|{POST}"
    );
    let mut lines = String::from("m,host=a value=1 0\nm,host=a value=1 1\nm,host=a value=1 2\n");
    for t in 3..10 {
        lines.push_str(&format!("m,host=b value=1 {t}\n"));
    }
    let output = run(&script, &lines);
    assert_eq!(column(&output, "count"), [3]);
    assert_eq!(column(&output, "time"), ["1970-01-01T00:00:10Z"]);
    assert_eq!(output.http_posts[0].body["series"][0]["tags"]["host"], "a");
}

#[test]
fn alert_on_batches_takes_the_highest_level_or_all() {
    let lines =
        "m value=9 0\nm value=3 1\nm value=8 10\nm value=7 11\nm value=1 20\nm value=0 30\n";
    let alert = |all: &str| {
        format!(
            "stream|from().measurement('m')|window().period(10s).every(10s)\
            |alert(){all}.crit(lambda: \"value\" > 5.0).levelField('level')|{POST}"
        )
    };
    let highest = run(&alert(""), lines);
    let levels: Vec<&str> = highest
        .alerts
        .iter()
        .map(|a| a.event["level"].as_str().unwrap())
        .collect();
    assert!(
        highest.alerts.is_empty(),
        "no handlers: events are only counted"
    );
    assert!(levels.is_empty());
    assert_eq!(highest.stats.node_stats["alert3"]["crits_triggered"], 2);
    assert_eq!(
        column(&highest, "level"),
        ["CRITICAL", "CRITICAL", "CRITICAL", "CRITICAL", "OK"]
    );
    let all = run(&alert(".all()"), lines);
    assert_eq!(all.stats.node_stats["alert3"]["crits_triggered"], 1);
    assert_eq!(all.stats.node_stats["alert3"]["oks_triggered"], 1);
    let times = column(&all, "time");
    let expected = [
        "1970-01-01T00:00:10Z",
        "1970-01-01T00:00:11Z",
        "1970-01-01T00:00:20Z",
    ];
    assert_eq!(times, expected);
}

#[test]
fn join_on_pairs_specific_groups_with_the_matching_group() {
    let script = format!(
        "var all = stream|from().measurement('total').groupBy('service')\n\
         var by_dc = stream|from().measurement('dc').groupBy('service', 'dc')\n\
         by_dc|join(all).as('dc', 'all').on('service')|{POST}"
    );
    let lines = "total,service=x v=10 0\ndc,service=x,dc=A v=4 0\ndc,service=x,dc=B v=6 0\n\
        total,service=x v=20 1\ndc,service=x,dc=A v=5 1\ndc,service=x,dc=B v=15 1\n";
    let output = run(&script, lines);
    let pairs: Vec<(String, f64, f64)> = output
        .http_posts
        .iter()
        .map(|post| {
            let row = &post.body["series"][0];
            let dc = row["tags"]["dc"].as_str().unwrap().to_owned();
            let columns: Vec<&str> = row["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let value = |name: &str| {
                let idx = columns.iter().position(|c| *c == name).unwrap();
                row["values"][0][idx].as_f64().unwrap()
            };
            (dc, value("dc.v"), value("all.v"))
        })
        .collect();
    let expected = [
        ("A", 4.0, 10.0),
        ("B", 6.0, 10.0),
        ("A", 5.0, 20.0),
        ("B", 15.0, 20.0),
    ];
    let expected: Vec<(String, f64, f64)> = expected
        .iter()
        .map(|(dc, a, b)| (dc.to_string(), *a, *b))
        .collect();
    assert_eq!(pairs, expected);
}
