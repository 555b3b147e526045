//! The wall-clock nodes (`stats`, `deadman`, `barrier`) under `weir test`, where the task
//! clock is the data's own time: a recording replays the same way every run.

use weir_engine::line_protocol::{Precision, parse};
use weir_engine::{TestOutput, run_test_with_id};

fn run(script: &str, lines: &str) -> TestOutput {
    let source = format!("dbrp \"db\".\"autogen\"\n{script}");
    let (program, diagnostics) = weir_dsl::compile(&source, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{script}: {diagnostics:?}"));
    let (points, errors) = parse(lines, Precision::Seconds, 0);
    assert!(errors.is_empty(), "{errors:?}");
    let points = points
        .into_iter()
        .map(|p| ("db".into(), "autogen".into(), p))
        .collect();
    let output = run_test_with_id("cpu", &program, points);
    assert_eq!(output.error, None);
    output
}

/// One point per second over `[from, to]`.
fn every_second(from: i64, to: i64) -> String {
    (from..=to)
        .map(|secs| format!("cpu,host=a value=1 {secs}\n"))
        .collect()
}

#[test]
fn deadman_fires_on_a_gap_in_the_data_and_recovers() {
    let lines = every_second(0, 20) + &every_second(50, 70);
    let output = run(
        "stream|from().measurement('cpu')|deadman(0.0, 10s).log('/tmp/deadman.log')",
        &lines,
    );
    let events: Vec<(String, String, String)> = output
        .alerts
        .iter()
        .map(|alert| {
            (
                alert.event["level"].as_str().unwrap().to_owned(),
                alert.event["time"].as_str().unwrap().to_owned(),
                alert.event["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let dead = "node 'from1' in task 'cpu' is dead: 0.000 points/10s.";
    let alive = "node 'from1' in task 'cpu' is alive: 10.000 points/10s.";
    let event = |level: &str, time: &str, message: &str| {
        (level.to_owned(), time.to_owned(), message.to_owned())
    };
    assert_eq!(
        events,
        [
            event("CRITICAL", "1970-01-01T00:00:40Z", dead),
            event("CRITICAL", "1970-01-01T00:00:50Z", dead),
            event("OK", "1970-01-01T00:01:00Z", alive),
        ]
    );
    assert_eq!(output.alerts[0].handler, "log:/tmp/deadman.log");
}

#[test]
fn stats_follow_the_data_clock() {
    let output = run(
        "stream|from().measurement('cpu')|stats(10s)|httpPost('http://127.0.0.1:1/stats')",
        &every_second(0, 25),
    );
    let emitted: Vec<(String, i64)> = output
        .http_posts
        .iter()
        .map(|post| {
            let row = &post.body["series"][0]["values"][0];
            (
                row[0].as_str().unwrap().to_owned(),
                row[1].as_i64().unwrap(),
            )
        })
        .collect();
    // Started at 0 s: counts at 10 s and 20 s, before the point of that second.
    assert_eq!(
        emitted,
        [
            ("1970-01-01T00:00:10Z".to_owned(), 10),
            ("1970-01-01T00:00:20Z".to_owned(), 20)
        ]
    );
}

#[test]
fn idle_barriers_flush_windows_in_a_recording() {
    let lines = "cpu,host=a value=1 1\ncpu,host=a value=2 2\ncpu,host=b value=5 30\n";
    let output = run(
        "stream|from().measurement('cpu').groupBy('host')|barrier().idle(5s)\
         |window().period(10s).every(10s)|mean('value')|httpPost('http://127.0.0.1:1/mean')",
        lines,
    );
    // host=a goes quiet after 2 s: barriers at 7 s and 12 s (data time, once the recording
    // reaches 30 s) close its window ending at 11 s. Without the barrier it would wait forever.
    let rows: Vec<(String, f64)> = output
        .http_posts
        .iter()
        .map(|post| {
            let series = &post.body["series"][0];
            (
                series["tags"]["host"].as_str().unwrap().to_owned(),
                series["values"][0][1].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("a".to_owned(), 1.5)]);
}
