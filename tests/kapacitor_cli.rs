//! The real `kapacitor` CLI (1.5 and later) against weir: every request below is the one
//! `cmd/kapacitor` sends through `client/v1` for `define`, `enable`, `disable`, `reload`,
//! `list tasks`, `show` and `delete tasks`, in the same order, with the same query strings and
//! bodies, and every answer is decoded the way the Go client decodes it (`type` and `status`
//! as their enum names, times as RFC 3339, links followed as given).

mod common;

use common::{Weir, http};
use serde_json::{Value, json};

const CONFIG: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
"#;

const SCRIPT: &str = "stream\n    |from()\n        .measurement('cpu')\n    |httpOut('out')\n";

/// `client.TaskOptions.Default()`: what `cli.Task(link, nil)` puts on the URL.
const TASK_QUERY: &str = "dot-view=attributes&script-format=formatted";

/// `client.ListTasksOptions.Values().Encode()`: keys sorted, `fields` repeated, `pattern`
/// present even when empty.
fn list_query(pattern: &str, fields: &[&str], offset: usize) -> String {
    let mut query = String::from("dot-view=attributes");
    for field in fields {
        query.push_str(&format!("&fields={field}"));
    }
    query.push_str(&format!(
        "&limit=100&offset={offset}&pattern={pattern}&script-format=formatted"
    ));
    query
}

fn call(weir: &Weir, method: &str, path_and_query: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, text) = http(
        method,
        &format!("{}{}", weir.url, path_and_query),
        body.as_deref(),
    )
    .unwrap_or_else(|e| panic!("{method} {path_and_query}: {e}"));
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path_and_query}: not JSON ({e}): {text}"))
    };
    (status, value)
}

/// Decode a task as `client.Task` does: an unknown `type` or `status`, or a time that is not
/// RFC 3339, is an error in the Go client.
fn check_client_task(task: &Value) {
    let what = task.to_string();
    assert!(task["id"].is_string(), "id: {what}");
    assert!(
        task["link"]["href"]
            .as_str()
            .is_some_and(|h| h.starts_with("/kapacitor/v1/tasks/")),
        "link: {what}"
    );
    if let Some(kind) = task.get("type") {
        assert!(kind == "stream" || kind == "batch", "type: {what}");
    }
    if let Some(status) = task.get("status") {
        assert!(
            status == "enabled" || status == "disabled",
            "status: {what}"
        );
    }
    for key in ["created", "modified", "last-enabled"] {
        if let Some(time) = task.get(key) {
            let text = time.as_str().unwrap_or_default();
            assert!(is_rfc3339(text), "{key} is not RFC 3339: {what}");
        }
    }
    if let Some(dbrps) = task.get("dbrps") {
        for dbrp in dbrps.as_array().expect("dbrps is a list") {
            assert!(
                dbrp["db"].is_string() && dbrp["rp"].is_string(),
                "dbrps: {what}"
            );
        }
    }
    if let Some(stats) = task.get("stats") {
        assert!(stats.is_object(), "stats: {what}");
    }
}

/// What Go's `time.Time.UnmarshalJSON` accepts: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((date, time)) = text.split_once('T') else {
        return false;
    };
    let date: Vec<&str> = date.split('-').collect();
    let (clock, zone_ok) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, true)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let zone = &time[at + 1..];
        (&time[..at], zone.len() == 5 && zone.as_bytes()[2] == b':')
    } else {
        return false;
    };
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let clock: Vec<&str> = clock.split(':').collect();
    zone_ok
        && date.len() == 3
        && date[0].len() == 4
        && date.iter().all(|p| digits(p))
        && clock.len() == 3
        && clock.iter().all(|p| p.len() == 2 && digits(p))
        && digits(fraction)
}

/// `kapacitor list tasks [pattern]`: pages of 100 until a short page.
fn list_tasks(weir: &Weir, pattern: &str, fields: &[&str]) -> Vec<Value> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let (status, body) = call(
            weir,
            "GET",
            &format!(
                "/kapacitor/v1/tasks?{}",
                list_query(pattern, fields, offset)
            ),
            None,
        );
        assert_eq!(status, 200, "list: {body}");
        let tasks = body["tasks"].as_array().cloned().expect("tasks list");
        for task in &tasks {
            check_client_task(task);
        }
        let n = tasks.len();
        all.extend(tasks);
        if n != 100 {
            return all;
        }
        offset += 100;
    }
}

/// `kapacitor define ID -type stream -tick FILE -dbrp db.rp`.
fn define(weir: &Weir, id: &str, script: &str) {
    let link = format!("/kapacitor/v1/tasks/{id}");
    let (status, existing) = call(weir, "GET", &format!("{link}?{TASK_QUERY}"), None);
    if status == 200 {
        check_client_task(&existing);
        let (status, body) = call(
            weir,
            "PATCH",
            &link,
            Some(
                json!({"type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}),
            ),
        );
        assert_eq!(status, 200, "update: {body}");
        check_client_task(&body);
        if existing["status"] == "enabled" {
            for status in ["disabled", "enabled"] {
                let (code, body) = call(weir, "PATCH", &link, Some(json!({ "status": status })));
                assert_eq!(code, 200, "reload ({status}): {body}");
            }
        }
    } else {
        assert_eq!(status, 404, "a missing task is 404: {existing}");
        assert!(existing["error"].is_string(), "{existing}");
        let (status, body) = call(
            weir,
            "POST",
            "/kapacitor/v1/tasks",
            Some(json!({
                "id": id,
                "type": "stream",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": script,
                "status": "disabled",
            })),
        );
        assert_eq!(status, 200, "create: {body}");
        check_client_task(&body);
        assert_eq!(body["link"]["href"], link);
    }
}

/// `kapacitor enable|disable PATTERN`: list with `fields=link`, then PATCH each link.
fn set_status(weir: &Weir, pattern: &str, status: &str) {
    for task in list_tasks(weir, pattern, &["link"]) {
        let (code, body) = call(
            weir,
            "PATCH",
            task["link"]["href"].as_str().expect("href"),
            Some(json!({ "status": status })),
        );
        assert_eq!(code, 200, "{status} {}: {body}", task["id"]);
        check_client_task(&body);
    }
}

#[test]
fn the_kapacitor_cli_request_sequences_work() {
    let weir = Weir::start(CONFIG);

    // define (twice, the second an update), define another, enable by glob.
    define(&weir, "cpu_alert", SCRIPT);
    define(&weir, "mem_alert", &SCRIPT.replace("cpu", "mem"));
    define(&weir, "cpu_alert", &SCRIPT.replace("'out'", "'out2'"));
    set_status(&weir, "*_alert", "enabled");

    // list tasks: all (empty pattern), with the CLI's fields.
    let tasks = list_tasks(&weir, "", &["type", "status", "executing", "dbrps"]);
    let ids: Vec<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids.len(), 2, "{tasks:?}");
    assert!(
        ids.contains(&"cpu_alert") && ids.contains(&"mem_alert"),
        "{ids:?}"
    );
    for task in &tasks {
        assert_eq!(task["status"], "enabled", "{task}");
        assert_eq!(task["executing"], true, "{task}");
        assert_eq!(task["type"], "stream", "{task}");
        assert!(
            task.get("script").is_none(),
            "fields limit the answer: {task}"
        );
    }
    assert_eq!(list_tasks(&weir, "mem*", &["status"]).len(), 1);

    // define on an enabled task reloads it (disable, enable) and keeps it enabled.
    define(&weir, "cpu_alert", SCRIPT);

    // show: the script, the DOT with node stats.
    let (status, shown) = call(
        &weir,
        "GET",
        &format!("/kapacitor/v1/tasks/cpu_alert?{TASK_QUERY}"),
        None,
    );
    assert_eq!(status, 200, "{shown}");
    check_client_task(&shown);
    assert_eq!(shown["status"], "enabled");
    assert!(
        shown["script"]
            .as_str()
            .is_some_and(|s| s.contains("httpOut('out')")),
        "{shown}"
    );
    assert!(
        shown["dot"]
            .as_str()
            .is_some_and(|d| d.starts_with("digraph cpu_alert")),
        "{shown}"
    );
    assert_eq!(shown["dbrps"], json!([{"db": "telegraf", "rp": "autogen"}]));

    // disable by id, then delete by glob (list fields=link, DELETE each link: 204).
    set_status(&weir, "cpu_alert", "disabled");
    let tasks = list_tasks(&weir, "cpu_alert", &["status"]);
    assert_eq!(tasks[0]["status"], "disabled");
    for task in list_tasks(&weir, "*", &["link"]) {
        let (status, body) = call(
            &weir,
            "DELETE",
            task["link"]["href"].as_str().expect("href"),
            None,
        );
        assert_eq!(status, 204, "{body}");
    }
    assert!(list_tasks(&weir, "", &[]).is_empty());
    weir.stop();
}
