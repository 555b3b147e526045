//! Kapacitor compatibility: every case in `tests/data/compat/` (copied from the shared
//! harness, recorded from Kapacitor 1.5.7; cases 60 and up were derived by hand from
//! Kapacitor's code, see their READMEs) runs through `run_test`, and the outputs,
//! normalized the way `harness.py` normalizes them, must equal `expected.jsonl`.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use weir_engine::line_protocol::{Precision, parse};
use weir_engine::{TestOutput, run_test_with_id};

const CAPTURE_PREFIX: &str = "http://127.0.0.1:19093";
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compat")
}

fn run_case(name: &str) -> TestOutput {
    let dir = cases_dir().join(name);
    let script = std::fs::read_to_string(dir.join("task.tick")).unwrap();
    let input = std::fs::read_to_string(dir.join("input.lp")).unwrap();
    let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{name}: {diagnostics:?}"));
    let (points, errors) = parse(&input, Precision::Seconds, 0);
    assert!(errors.is_empty(), "{name}: {errors:?}");
    let points = points
        .into_iter()
        .map(|p| ("accept".into(), "autogen".into(), p))
        .collect();
    let output = run_test_with_id(&format!("accept-{name}"), &program, points);
    assert_eq!(output.error, None, "{name}");
    output
}

fn path_of(url: &str) -> String {
    url.strip_prefix(CAPTURE_PREFIX).unwrap_or(url).to_owned()
}

fn norm_series(series: Option<&Json>) -> Json {
    let rows = series.and_then(Json::as_array).cloned().unwrap_or_default();
    Json::Array(
        rows.iter()
            .map(|row| {
                let columns = row["columns"].as_array().cloned().unwrap_or_default();
                let values = row["values"].as_array().cloned().unwrap_or_default();
                let rows: Vec<Json> = values
                    .iter()
                    .map(|value| {
                        let cells = value.as_array().cloned().unwrap_or_default();
                        let object: Map<String, Json> = columns
                            .iter()
                            .zip(cells)
                            .map(|(column, cell)| (column.as_str().unwrap().to_owned(), cell))
                            .collect();
                        Json::Object(object)
                    })
                    .collect();
                let tags = match row.get("tags") {
                    Some(Json::Object(tags)) => Json::Object(tags.clone()),
                    _ => Json::Object(Map::new()),
                };
                serde_json::json!({"name": row["name"].clone(), "tags": tags, "rows": rows})
            })
            .collect(),
    )
}

fn html_unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#43;", "+")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn norm_details(details: &Json) -> Json {
    let Some(text) = details.as_str().filter(|text| !text.is_empty()) else {
        return details.clone();
    };
    match serde_json::from_str::<Json>(&html_unescape(text)) {
        Ok(Json::Object(mut object)) => {
            object.remove("ServerInfo");
            serde_json::json!({"json": object})
        }
        Ok(other) => serde_json::json!({"json": other}),
        Err(_) => details.clone(),
    }
}

fn records(output: &TestOutput) -> Vec<Json> {
    let mut records = Vec::new();
    for post in &output.http_posts {
        records.push(serde_json::json!({
            "path": path_of(&post.url),
            "series": norm_series(post.body.get("series")),
        }));
    }
    for alert in &output.alerts {
        let event = &alert.event;
        let url = alert
            .handler
            .strip_prefix("post:")
            .unwrap_or(&alert.handler);
        records.push(serde_json::json!({
            "path": path_of(url),
            "alert": {
                "id": event["id"], "message": event["message"],
                "details": norm_details(&event["details"]), "time": event["time"],
                "duration": event["duration"], "level": event["level"],
                "previousLevel": event["previousLevel"], "recoverable": event["recoverable"],
                "data": norm_series(event["data"].get("series")),
            },
        }));
    }
    records.sort_by(|a, b| {
        sort_key(a)
            .partial_cmp(&sort_key(b))
            .unwrap_or(Ordering::Equal)
    });
    records
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z` as nanoseconds.
fn time_key(time: &Json) -> i128 {
    let Some(text) = time.as_str() else { return 0 };
    let number = |range: std::ops::Range<usize>| -> i128 { text[range].parse().unwrap_or(0) };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    let fraction = text[19..].trim_start_matches('.').trim_end_matches('Z');
    let nanos: i128 = format!("{fraction:0<9}")[..9].parse().unwrap_or(0);
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000_000) + nanos
}

fn sort_key(record: &Json) -> (String, i128, String, String, String) {
    let path = record["path"].as_str().unwrap_or_default().to_owned();
    if let Some(alert) = record.get("alert") {
        let id = alert["id"].as_str().unwrap_or_default().to_owned();
        return (
            path,
            time_key(&alert["time"]),
            id,
            String::new(),
            record.to_string(),
        );
    }
    let first = &record["series"][0];
    let latest = first["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| time_key(&row["time"]))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let name = first["name"].as_str().unwrap_or_default().to_owned();
    (
        path,
        latest,
        name,
        first["tags"].to_string(),
        record.to_string(),
    )
}

fn diff(expected: &Json, actual: &Json, at: &str) -> Option<String> {
    match (expected, actual) {
        (Json::Number(e), Json::Number(a)) => {
            let (e, a) = (e.as_f64()?, a.as_f64()?);
            let close = (e - a).abs() <= ABS_TOL.max(REL_TOL * e.abs().max(a.abs()));
            (!close).then(|| format!("{at}: expected {e}, got {a}"))
        }
        (Json::Object(e), Json::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|key| match (e.get(key), a.get(key)) {
                    (Some(e), Some(a)) => diff(e, a, &format!("{at}.{key}")),
                    (Some(_), None) => Some(format!("{at}: missing key {key}")),
                    _ => Some(format!("{at}: unexpected key {key}")),
                })
        }
        (Json::Array(e), Json::Array(a)) => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(idx, (e, a))| diff(e, a, &format!("{at}[{idx}]")))
            .or_else(|| {
                (e.len() != a.len())
                    .then(|| format!("{at}: expected {} items, got {}", e.len(), a.len()))
            }),
        _ => (expected != actual).then(|| format!("{at}: expected {expected}, got {actual}")),
    }
}

fn check_case(name: &str) {
    let output = run_case(name);
    let actual = records(&output);
    let expected: Vec<Json> =
        std::fs::read_to_string(cases_dir().join(name).join("expected.jsonl"))
            .unwrap()
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    for idx in 0..expected.len().max(actual.len()) {
        match (expected.get(idx), actual.get(idx)) {
            (Some(e), Some(a)) => {
                if let Some(problem) = diff(e, a, "$") {
                    panic!(
                        "{name} line {}: {problem}\n expected: {e}\n actual:   {a}",
                        idx + 1
                    );
                }
            }
            (Some(e), None) => panic!("{name} line {}: missing output, expected {e}", idx + 1),
            (None, Some(a)) => panic!("{name} line {}: unexpected extra output {a}", idx + 1),
            (None, None) => {}
        }
    }
}

#[test]
fn compat_01_where_tags() {
    check_case("01-where-tags");
}

#[test]
fn compat_05_window_tumbling() {
    check_case("05-window-tumbling");
}

#[test]
fn compat_23_join_inner() {
    check_case("23-join-inner");
}

#[test]
fn compat_28_alert_every_event() {
    check_case("28-alert-every-event");
}

#[test]
fn compat_60_sample() {
    check_case("60-sample");
}

#[test]
fn compat_61_change_detect() {
    check_case("61-change-detect");
}

#[test]
fn compat_62_state_tracking() {
    check_case("62-state-tracking");
}

#[test]
fn compat_63_combine() {
    check_case("63-combine");
}

#[test]
fn compat_64_flatten() {
    check_case("64-flatten");
}

#[test]
fn compat_65_join_fill_null() {
    check_case("65-join-fill-null");
}

#[test]
fn compat_66_batch_edges() {
    check_case("66-batch-edges");
}

#[test]
fn every_case_directory_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "01-where-tags",
            "05-window-tumbling",
            "23-join-inner",
            "28-alert-every-event",
            "60-sample",
            "61-change-detect",
            "62-state-tracking",
            "63-combine",
            "64-flatten",
            "65-join-fill-null",
            "66-batch-edges",
        ]
    );
}

#[test]
fn the_normalizer_catches_differences() {
    let a = serde_json::json!({"x": [1.0, "a"]});
    assert_eq!(diff(&a, &serde_json::json!({"x": [1, "a"]}), "$"), None);
    assert!(diff(&a, &serde_json::json!({"x": [1.5, "a"]}), "$").is_some());
    assert!(diff(&a, &serde_json::json!({"x": [1.0]}), "$").is_some());
    assert_eq!(
        time_key(&Json::from("1970-01-01T00:00:01.5Z")),
        1_500_000_000
    );
}
