//! Alert state across a daemon restart (`alert().persist()`): a level announced before the
//! restart is not announced again, and its recovery still comes after it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Weir, eventually, free_port, http};
use serde_json::Value;

const BASE: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
"#;

fn define(weir: &Weir, id: &str, persist: &str, log: &Path) {
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')\
         |alert().crit(lambda: \\\"value\\\" > 90.0).stateChangesOnly(){persist}.log('{}')",
        log.display()
    );
    let body = format!(
        r#"{{"id":"{id}","type":"stream","dbrps":[{{"db":"db","rp":"autogen"}}],
            "script":"{script}","status":"enabled"}}"#
    );
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&body),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
}

fn write(weir: &Weir, lines: &str) {
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=db&rp=autogen", weir.url),
        Some(lines),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
}

/// `(level, previousLevel)` of each event in a log handler's file.
fn events(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|event| {
            (
                event["level"].as_str().unwrap_or_default().to_owned(),
                event["previousLevel"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn wait_for(log: &Path, n: usize, weir: &Weir) -> Vec<(String, String)> {
    eventually(Duration::from_secs(10), || {
        let events = events(log);
        (events.len() >= n).then_some(events)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} has {:?}, expected {n} events; log:\n{}",
            log.display(),
            events(log),
            weir.log()
        )
    })
}

fn pair(level: &str, previous: &str) -> (String, String) {
    (level.to_owned(), previous.to_owned())
}

#[test]
fn a_restart_neither_refires_nor_loses_the_recovery() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let persisted = dir.join("persisted.log");
    let plain = dir.join("plain.log");

    let weir = Weir::start_in(&dir, BASE, port);
    define(&weir, "persisted", ".persist()", &persisted);
    define(&weir, "plain", "", &plain);
    write(
        &weir,
        "cpu,host=a value=95 1700000000000000000\ncpu,host=b value=10 1700000000000000000\n",
    );
    assert_eq!(wait_for(&persisted, 1, &weir), [pair("CRITICAL", "OK")]);
    assert_eq!(wait_for(&plain, 1, &weir), [pair("CRITICAL", "OK")]);
    weir.stop();

    let weir = Weir::start_in(&dir, BASE, port);
    // Still critical, then recovered; host=b was OK and stays quiet.
    write(
        &weir,
        "cpu,host=a value=97 1700000010000000000\ncpu,host=b value=11 1700000010000000000\n",
    );
    write(&weir, "cpu,host=a value=12 1700000020000000000\n");
    // Without persistence the restarted task announces CRITICAL again, as Kapacitor's
    // alert node does without its topic store.
    assert_eq!(
        wait_for(&plain, 3, &weir),
        [
            pair("CRITICAL", "OK"),
            pair("CRITICAL", "OK"),
            pair("OK", "CRITICAL")
        ]
    );
    // The task with .persist() processed the same writes in the same order: no second
    // CRITICAL, and the recovery knows what it recovers from.
    assert_eq!(
        wait_for(&persisted, 2, &weir),
        [pair("CRITICAL", "OK"), pair("OK", "CRITICAL")]
    );
    let last: Value = serde_json::from_str(
        std::fs::read_to_string(&persisted)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    // The episode's duration spans the restart: 20 s of data time.
    assert_eq!(last["duration"], 20_000_000_000i64, "{last}");

    weir.stop();
}
