//! The real `kapacitor` CLI (1.5 and later) against weir: every request below is the one
//! `cmd/kapacitor` sends through `client/v1` for `define`, `enable`, `disable`, `reload`,
//! `list tasks`, `show` and `delete tasks`, in the same order, with the same query strings and
//! bodies, and every answer is decoded the way the Go client decodes it (`type` and `status`
//! as their enum names, times as RFC 3339, links followed as given).

mod common;

use std::time::Duration;

use common::{Weir, eventually, http};
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

    // A batch task whose source is not configured is enabled as in Kapacitor: 200, the error
    // on the task, not executing; `kapacitor reload 'cpu_*'` goes through it.
    let (status, batch) = call(
        &weir,
        "POST",
        "/kapacitor/v1/tasks",
        Some(json!({
            "id": "cpu_batch", "type": "batch", "status": "enabled",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": "batch\n    |query('up')\n        .period(10s)\n        .every(10s)\n        .step(10s)\n    |httpOut('x')\n",
        })),
    );
    assert_eq!(status, 200, "{batch}");
    assert_eq!(
        (batch["status"].as_str(), batch["executing"].as_bool()),
        (Some("enabled"), Some(false))
    );
    assert!(
        batch["error"].as_str().unwrap().contains("[[prometheus]]"),
        "{batch}"
    );
    for status in ["disabled", "enabled"] {
        set_status(&weir, "cpu_*", status);
    }
    assert_eq!(
        list_tasks(&weir, "cpu_*", &["status"])
            .iter()
            .filter(|t| t["status"] == "enabled")
            .count(),
        2
    );

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

/// What the capture endpoint received: HTTP requests (`path`, `X-Topic` header, JSON body) and
/// TCP bodies, in arrival order.
#[derive(Default)]
struct Captured(std::sync::Mutex<Vec<(String, Option<String>, Value)>>);

/// A capture endpoint on one port for both the `post` and the `tcp` handlers: a connection
/// that starts with `POST ` is answered as HTTP, anything else is a TCP handler's body.
fn capture() -> (u16, std::sync::Arc<Captured>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let captured = std::sync::Arc::new(Captured::default());
    let sink = captured.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            if !first.starts_with("POST ") {
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
                let body =
                    serde_json::from_str(format!("{first}{rest}").trim()).unwrap_or(Value::Null);
                sink.0.lock().unwrap().push(("tcp".into(), None, body));
                continue;
            }
            let path = first.split(' ').nth(1).unwrap_or_default().to_owned();
            let (mut length, mut topic) = (0, None);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-topic" => topic = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            sink.0.lock().unwrap().push((path, topic, body));
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, captured)
}

const COMPAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat");

/// A recorded `{"request","status","body"}` with the capture port filled in.
fn recorded(name: &str, port: u16) -> Value {
    let text = std::fs::read_to_string(format!("{COMPAT}/api-shapes/{name}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text.replace("CAPTURE_PORT", &port.to_string())).expect("recorded JSON")
}

/// Send a recorded request and compare status and body with Kapacitor's.
fn replay(weir: &Weir, shape: &Value) {
    let request = shape["request"].as_str().expect("request");
    let (method, path) = request.split_once(' ').expect("method and path");
    let (status, body) = call(weir, method, path, None);
    assert_eq!(
        status,
        shape["status"].as_u64().unwrap() as u16,
        "{request}: {body}"
    );
    assert_eq!(body, shape["body"], "{request}");
}

/// `kapacitor define-topic-handler FILE.yaml`: the YAML decoded into `TopicHandlerOptions`,
/// GET of the handler's link (404 when new), then POST to the topic's handlers (or PUT).
fn define_topic_handler(weir: &Weir, file: &str, port: u16) -> Value {
    let text = std::fs::read_to_string(format!("{COMPAT}/handlers/{file}"))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .replace("CAPTURE_PORT", &port.to_string());
    let spec: Value = serde_yaml_ng::from_str(&text).expect("handler YAML");
    let body = json!({
        "topic": spec["topic"], "id": spec["id"], "kind": spec["kind"],
        "options": spec.get("options").cloned().unwrap_or(json!({})),
        "match": spec.get("match").cloned().unwrap_or(json!("")),
    });
    let topic = spec["topic"].as_str().expect("topic");
    let link = format!(
        "/kapacitor/v1/alerts/topics/{topic}/handlers/{}",
        spec["id"].as_str().unwrap()
    );
    let (status, existing) = call(weir, "GET", &link, None);
    let (status, answer) = if status == 200 {
        call(weir, "PUT", &link, Some(body))
    } else {
        assert_eq!(status, 404, "{existing}");
        call(
            weir,
            "POST",
            &format!("/kapacitor/v1/alerts/topics/{topic}/handlers"),
            Some(body),
        )
    };
    assert_eq!(status, 200, "{file}: {answer}");
    assert_eq!(answer["link"]["href"], link);
    answer
}

/// Numbers compared by value: Go writes the float 75 as `75`, weir as `75.0`.
fn numbers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `client.TopicEvent` decoding: the state's time is RFC 3339 and its duration a Go duration.
fn check_client_event(event: &Value) {
    let state = &event["state"];
    assert!(
        is_rfc3339(state["time"].as_str().unwrap_or_default()),
        "{event}"
    );
    let duration = state["duration"].as_str().unwrap_or_default();
    assert!(
        duration.ends_with('s')
            && duration[..duration.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit() || "hmµun.".contains(c)),
        "duration {duration:?} is not a Go duration"
    );
    assert!(
        ["OK", "INFO", "WARNING", "CRITICAL"]
            .contains(&state["level"].as_str().unwrap_or_default()),
        "{event}"
    );
}

#[test]
fn the_kapacitor_cli_topic_commands_match_kapacitor() {
    let (port, captured) = capture();
    let weir = Weir::start(CONFIG);
    let script = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/task.tick"))
        .expect("task.tick");
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/tasks",
        Some(
            json!({"id": "handlers-topic", "type": "stream", "script": script, "status": "enabled"}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    for file in [
        "topic-slack/handler-slack-changes.yaml",
        "topic-aggregate/handler-aggregate.yaml",
        "topic-aggregate/handler-aggregate-post.yaml",
        "topic-publish/handler-publish.yaml",
        "topic-publish/handler-publish-post.yaml",
        "topic-publish/handler-publish2-tcp.yaml",
    ] {
        define_topic_handler(&weir, file, port);
    }
    // Defining one again replaces it (PUT).
    define_topic_handler(&weir, "topic-slack/handler-slack-changes.yaml", port);
    let input = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/input.lp"))
        .expect("input.lp");
    let (status, text) = http(
        "POST",
        &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
        Some(&input),
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    // The aggregate handler publishes after its interval (2 s of wall clock).
    let aggregated = eventually(Duration::from_secs(20), || {
        let (_, topic) = call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu-agg", None);
        (topic["collected"] == 1).then_some(topic)
    });
    assert!(
        aggregated.is_some(),
        "no aggregate event; log:\n{}",
        weir.log()
    );

    // Every recorded answer of Kapacitor 1.5.7 for the same state.
    for name in [
        "alerts-topics.json",
        "alerts-topics-min-level-warning.json",
        "alerts-topics-pattern.json",
        "alerts-topic-cpu.json",
        "alerts-topic-cpu-events.json",
        "alerts-topic-cpu-events-min-level-critical.json",
        "alerts-topic-cpu-event-cpu.a.json",
        "alerts-topic-cpu-event-cpu.b.json",
        "alerts-topic-cpu-handlers.json",
        "alerts-topic-cpu-handler-cpu-aggregate.json",
        "alerts-topic-cpu-handler-slack-changes.json",
        "alerts-topic-cpu-agg-events.json",
        "alerts-topic-cpu-pub-events.json",
        "alerts-topic-cpu-pub-handlers.json",
    ] {
        replay(&weir, &recorded(name, port));
    }
    for shape in recorded("alerts-errors-404.json", port).as_array().unwrap() {
        replay(&weir, shape);
    }

    // What the handlers received, compared with what Kapacitor sent.
    let requests = |case: &str| -> Vec<Value> {
        std::fs::read_to_string(format!("{COMPAT}/handlers/{case}/requests.jsonl"))
            .expect("requests.jsonl")
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("request JSON")["body"].clone())
            .collect()
    };
    let got = eventually(Duration::from_secs(10), || {
        let got = captured.0.lock().unwrap().clone();
        (got.len() >= 11).then_some(got)
    })
    .unwrap_or_else(|| captured.0.lock().unwrap().clone());
    let bodies = |target: &str| -> Vec<Value> {
        got.iter()
            .filter(|(path, _, _)| path == target)
            .map(|(_, _, body)| numbers_as_floats(body))
            .collect()
    };
    let requests =
        |case: &str| -> Vec<Value> { requests(case).iter().map(numbers_as_floats).collect() };
    assert_eq!(bodies("/topic/aggregate"), requests("topic-aggregate"));
    let mut expected_posts: Vec<Value> = Vec::new();
    for line in std::fs::read_to_string(format!("{COMPAT}/handlers/topic-publish/requests.jsonl"))
        .unwrap()
        .lines()
    {
        let record: Value = serde_json::from_str(line).unwrap();
        if record["transport"] != "tcp" {
            assert_eq!(record["headers"]["X-Topic"], "cpu-pub");
            expected_posts.push(numbers_as_floats(&record["body"]));
        }
    }
    // Each delivery is its own request, so arrival order is not event order (FIXME: Kapacitor
    // keeps the event order per handler).
    let by_time = |mut bodies: Vec<Value>| {
        bodies.sort_by_key(|b| b["time"].as_str().unwrap_or_default().to_owned());
        bodies
    };
    assert_eq!(by_time(bodies("/topic/publish")), by_time(expected_posts));
    assert!(
        got.iter()
            .filter(|(path, _, _)| path == "/topic/publish")
            .all(|(_, topic, _)| topic.as_deref() == Some("cpu-pub"))
    );
    let expected_tcp: Vec<Value> =
        std::fs::read_to_string(format!("{COMPAT}/handlers/topic-publish/requests.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|record| record["transport"] == "tcp")
            .map(|record| numbers_as_floats(&record["body"]))
            .collect();
    assert_eq!(by_time(bodies("tcp")), by_time(expected_tcp));

    // `kapacitor list topics`, `show-topic cpu`, `list topic-handlers`, `show-topic-handler`:
    // the client's queries, decoded as `client.Topics`, `client.TopicEvents` and
    // `client.TopicHandlers`.
    let (status, topics) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics?min-level=OK&pattern=",
        None,
    );
    assert_eq!(status, 200, "{topics}");
    let listed: Vec<(String, String, i64)> = topics["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["level"].as_str().unwrap().into(),
                t["collected"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("cpu".into(), "WARNING".into(), 5),
            ("cpu-agg".into(), "CRITICAL".into(), 1),
            ("cpu-pub".into(), "WARNING".into(), 5),
            ("cpu-pub2".into(), "WARNING".into(), 5),
        ]
    );
    let (_, topic) = call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu", None);
    let events_link = format!(
        "{}?min-level=OK",
        topic["events-link"]["href"].as_str().unwrap()
    );
    let (status, events) = call(&weir, "GET", &events_link, None);
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(check_client_event);
    let handlers_link = format!(
        "{}?pattern=",
        topic["handlers-link"]["href"].as_str().unwrap()
    );
    let (_, handlers) = call(&weir, "GET", &handlers_link, None);
    let ids: Vec<&str> = handlers["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cpu-aggregate", "cpu-publish", "slack-changes"]);
    let (_, filtered) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics/cpu/handlers?pattern=cpu-*",
        None,
    );
    assert_eq!(filtered["handlers"].as_array().unwrap().len(), 2);

    // A JSON Patch of a handler (Kapacitor's PATCH), then the spec as recorded again (PUT).
    let (status, patched) = call(
        &weir,
        "PATCH",
        "/kapacitor/v1/alerts/topics/cpu/handlers/slack-changes",
        Some(json!([{"op": "replace", "path": "/options/channel", "value": "#patched"}])),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["options"]["channel"], "#patched");
    let (status, error) = call(
        &weir,
        "PATCH",
        "/kapacitor/v1/alerts/topics/cpu/handlers/slack-changes",
        Some(json!([{"op": "remove", "path": "/nosuch"}])),
    );
    assert_eq!(status, 400, "{error}");
    define_topic_handler(&weir, "topic-slack/handler-slack-changes.yaml", port);

    // Errors in Kapacitor's shape, with what to change.
    let (status, error) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics?min-level=LOUD",
        None,
    );
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().contains("WARNING"),
        "{error}"
    );
    let (status, error) = call(
        &weir,
        "POST",
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        Some(
            json!({"id": "agg2", "kind": "aggregate", "options": {"interval": "2s", "topic": "x"}}),
        ),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("2000000000"),
        "{error}"
    );
    let (status, error) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics/cpu/handlers/nosuch",
        None,
    );
    assert_eq!(
        (status, error),
        (404, json!({"error": "unknown handler: \"nosuch\""}))
    );

    // Deleting the task leaves the named topics and their events.
    let (status, _) = call(&weir, "DELETE", "/kapacitor/v1/tasks/handlers-topic", None);
    assert_eq!(status, 204);
    replay(
        &weir,
        &recorded("alerts-topics-after-task-delete.json", port),
    );

    // Topic events and handlers survive a restart (the collected counts start again).
    let dir = weir.dir.clone();
    let port_weir: u16 = weir.url.rsplit(':').next().unwrap().parse().unwrap();
    weir.stop();
    let weir = Weir::start_in(&dir, CONFIG, port_weir);
    replay(&weir, &recorded("alerts-topic-cpu-events.json", port));
    replay(&weir, &recorded("alerts-topic-cpu-handlers.json", port));

    // `kapacitor delete topics cpu-agg` and `delete topic-handlers cpu-pub pub-post`.
    let (status, _) = call(&weir, "DELETE", "/kapacitor/v1/alerts/topics/cpu-agg", None);
    assert_eq!(status, 204);
    let (_, events) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics/cpu-agg/events",
        None,
    );
    assert_eq!(events["events"], json!([]), "its handler keeps it, empty");
    let (status, _) = call(
        &weir,
        "DELETE",
        "/kapacitor/v1/alerts/topics/cpu-pub/handlers/pub-post",
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = call(&weir, "DELETE", "/kapacitor/v1/alerts/topics/cpu-pub", None);
    assert_eq!(status, 204);
    let (status, _) = call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu-pub", None);
    assert_eq!(status, 404);
    weir.stop();
}

/// The JSON type of a value, for comparing shapes.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn the_kapacitor_cli_stats_commands_match_kapacitor() {
    let weir = Weir::start(CONFIG);
    let script = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/task.tick"))
        .expect("task.tick");
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/tasks",
        Some(
            json!({"id": "handlers-topic", "type": "stream", "script": script, "status": "enabled"}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let input = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/input.lp"))
        .expect("input.lp");
    let (status, _) = http(
        "POST",
        &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
        Some(&input),
    )
    .expect("write");
    assert_eq!(status, 204);
    let alert_stats = eventually(Duration::from_secs(10), || {
        let (_, task) = call(
            &weir,
            "GET",
            &format!("/kapacitor/v1/tasks/handlers-topic?{TASK_QUERY}"),
            None,
        );
        let alert = task["stats"]["node-stats"]["alert2"].clone();
        (alert["alerts_triggered"] == 5).then_some((task, alert))
    });
    let (task, alert) = alert_stats.expect("the alert node counted 5 events");

    // `kapacitor show`: Kapacitor's node keys beside weir's, in the stats and the DOT.
    for (key, value) in [
        ("alerts_triggered", 5),
        ("oks_triggered", 1),
        ("infos_triggered", 0),
        ("warns_triggered", 3),
        ("crits_triggered", 1),
        ("working_cardinality", 2),
        ("errors", 0),
        ("collected", 7),
    ] {
        assert_eq!(alert[key], value, "{key}: {alert}");
    }
    assert!(
        alert["avg_exec_time_ns"].as_u64().is_some_and(|ns| ns > 0),
        "{alert}"
    );
    let dot = task["dot"].as_str().unwrap();
    assert!(
        dot.contains("avg_exec_time_ns=\"") && dot.contains("crits_triggered=\"1\""),
        "{dot}"
    );
    assert!(dot.contains("graph [throughput=\""), "{dot}");

    // `kapacitor stats general` / `stats ingress` / `vars`: GET debug/vars, decoded as
    // `client.DebugVars`; the shape matches Kapacitor's, key by key.
    let (status, vars) = call(&weir, "GET", "/kapacitor/v1/debug/vars", None);
    assert_eq!(status, 200, "{vars}");
    let recorded = recorded("debug-vars-trimmed.json", 0)["body"].clone();
    for (key, value) in recorded.as_object().unwrap() {
        assert_eq!(json_type(&vars[key]), json_type(value), "{key}: {vars}");
    }
    assert_eq!(
        (
            vars["num_tasks"].as_i64(),
            vars["num_enabled_tasks"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let recorded_ingress = recorded["kapacitor"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let mut ingress = Vec::new();
    for stat in vars["kapacitor"].as_object().unwrap().values() {
        for key in ["cluster_id", "server_id", "host"] {
            assert!(stat["tags"][key].is_string(), "{stat}");
        }
        if stat["name"] == "ingress" && stat["tags"]["task_master"] == "main" {
            for tag in recorded_ingress["tags"].as_object().unwrap().keys() {
                assert!(stat["tags"][tag].is_string(), "{tag}: {stat}");
            }
            ingress.push((
                stat["tags"]["database"].as_str().unwrap().to_owned(),
                stat["tags"]["retention_policy"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                stat["tags"]["measurement"].as_str().unwrap().to_owned(),
                stat["values"]["points_received"].as_i64().unwrap(),
            ));
        }
    }
    assert_eq!(
        ingress,
        [("handlers".into(), "autogen".into(), "cpu".into(), 7)]
    );
    let nodes: Vec<&Value> = vars["kapacitor"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["name"] == "nodes" && s["tags"]["node"] == "alert2")
        .collect();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["tags"]["kind"], "alert");
    assert_eq!(nodes[0]["values"]["crits_triggered"], 1);
    let weir_stat = &vars["kapacitor"]["weir"];
    assert_eq!(weir_stat["values"]["write_points"], 7, "{weir_stat}");
    // The ids stay across restarts.
    let ids = (vars["cluster_id"].clone(), vars["server_id"].clone());
    let dir = weir.dir.clone();
    let port: u16 = weir.url.rsplit(':').next().unwrap().parse().unwrap();
    weir.stop();
    let weir = Weir::start_in(&dir, CONFIG, port);
    let (_, vars) = call(&weir, "GET", "/kapacitor/v1/debug/vars", None);
    assert_eq!((vars["cluster_id"].clone(), vars["server_id"].clone()), ids);
    weir.stop();
}

/// `kapacitor watch TASK` / `kapacitor logs`: a GET of `/kapacitor/v1preview/logs` read line
/// by line as it streams.
struct LogSession {
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl LogSession {
    fn open(weir: &Weir, query: &str) -> LogSession {
        use std::io::{BufRead, Write};
        let address = weir.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        write!(
            stream,
            "GET /kapacitor/v1preview/logs?{query} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\r\n"
        )
        .expect("request");
        let mut reader = std::io::BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line.trim().is_empty() {
                break;
            }
        }
        LogSession { reader }
    }

    /// The next JSON entry within `timeout` (chunk sizes and blank lines skipped).
    fn next(&mut self, timeout: Duration) -> Option<Value> {
        use std::io::BufRead;
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {
                    if let Ok(entry @ Value::Object(_)) = serde_json::from_str(line.trim()) {
                        return Some(entry);
                    }
                }
                Err(_) => {}
            }
        }
        None
    }
}

#[test]
fn the_kapacitor_cli_level_watch_and_logs_work() {
    let weir = Weir::start(CONFIG);
    let script = "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n    |log()\n";
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/tasks",
        Some(json!({"id": "watched", "type": "stream", "script": script, "status": "enabled"})),
    );
    assert_eq!(status, 200, "{body}");
    let write = |value: i64| {
        let line = format!("cpu,host=a usage={value} 1609459200");
        let (status, text) = http(
            "POST",
            &format!("{}/write?db=telegraf&rp=autogen&precision=s", weir.url),
            Some(&line),
        )
        .expect("write");
        assert_eq!(status, 204, "{text}");
    };
    // `kapacitor watch watched`: the task's log node lines, as they happen.
    let mut watch = LogSession::open(&weir, "task=watched");
    let mut errors_only = LogSession::open(&weir, "lvl=error%2B");
    write(11);
    let entry = watch.next(Duration::from_secs(10)).expect("a log line");
    assert_eq!(entry["task"], "watched", "{entry}");
    assert_eq!(entry["node"], "log2", "{entry}");
    assert_eq!(entry["lvl"], "info", "{entry}");
    assert!(entry["msg"].as_str().unwrap().contains("11"), "{entry}");
    assert!(
        is_rfc3339(entry["ts"].as_str().unwrap_or_default()),
        "{entry}"
    );

    // `kapacitor level error`: info lines stop until `kapacitor level info`.
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/loglevel",
        Some(json!({"level": "error"})),
    );
    assert_eq!(status, 204, "{body}");
    write(22);
    // A write is acknowledged when it is queued; wait until the log node has
    // seen it before the level goes back up.
    let seen = eventually(Duration::from_secs(10), || {
        let (_, task) = call(&weir, "GET", "/kapacitor/v1/tasks/watched", None);
        (task["stats"]["node-stats"]["log2"]["collected"] == 2).then_some(())
    });
    assert!(seen.is_some(), "the log node never saw the second point");
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/loglevel",
        Some(json!({"level": "info"})),
    );
    assert_eq!(status, 204, "{body}");
    write(33);
    let mut next = watch.next(Duration::from_secs(10)).expect("a log line");
    while next["msg"]
        .as_str()
        .is_some_and(|m| m.contains("log level changed"))
    {
        next = watch.next(Duration::from_secs(10)).expect("a log line");
    }
    assert!(
        next["msg"].as_str().unwrap().contains("33"),
        "the line at level error was not logged: {next}"
    );
    assert!(
        errors_only.next(Duration::from_secs(1)).is_none(),
        "nothing at error level"
    );
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/loglevel",
        Some(json!({"level": "loud"})),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("debug, info, warn, error"),
        "{body}"
    );
    let (status, body) = call(&weir, "GET", "/kapacitor/v1preview/logs?lvl=loud", None);
    assert_eq!(status, 400, "{body}");
    weir.stop();
}

/// `kapacitor backup FILE`: the answer's bytes as they are.
fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(url).await.expect("GET");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    })
}

#[test]
fn kapacitor_backup_then_weir_restore_brings_everything_back() {
    let weir = Weir::start(CONFIG);
    let script = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/task.tick"))
        .expect("task.tick")
        .replace(".topic('cpu')", ".topic('cpu')\n        .persist()");
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/tasks",
        Some(json!({"id": "persisted", "type": "stream", "script": script, "status": "enabled"})),
    );
    assert_eq!(status, 200, "{body}");
    let template = "var measurement string\nstream\n    |from()\n        .measurement(measurement)\n    |httpOut('out')\n";
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/templates",
        Some(json!({"id": "tpl", "type": "stream", "script": template})),
    );
    assert_eq!(status, 200, "{body}");
    define_topic_handler(&weir, "topic-slack/handler-slack-changes.yaml", 1);
    // `kapacitor show-template tpl`: the graph in DOT.
    let (_, shown) = call(&weir, "GET", "/kapacitor/v1/templates/tpl", None);
    assert_eq!(
        shown["dot"], "digraph tpl {\nstream0 -> from1;\nfrom1 -> http_out2;\n}",
        "{shown}"
    );
    let input = std::fs::read_to_string(format!("{COMPAT}/handlers/topic-slack/input.lp"))
        .expect("input.lp");
    let write = |weir: &Weir, text: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
            Some(text),
        )
        .expect("write");
        assert_eq!(status, 204, "{body}");
    };
    write(&weir, &input);
    let collected = eventually(Duration::from_secs(10), || {
        let (_, topic) = call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu", None);
        (topic["collected"] == 5).then_some(())
    });
    assert!(collected.is_some(), "{}", weir.log());
    let (_, events_before) = call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu/events", None);
    let (_, handlers_before) = call(
        &weir,
        "GET",
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        None,
    );

    // `kapacitor backup FILE`, while weir runs.
    let (status, bytes) = get_bytes(&format!("{}/kapacitor/v1/storage/backup", weir.url));
    assert_eq!(status, 200);
    let backup = weir.dir.join("backup.db");
    std::fs::write(&backup, &bytes).expect("save the backup");
    weir.stop();

    // `weir restore FILE` into a fresh data dir, then start weir there.
    let fresh = tempfile::tempdir().expect("tempdir").keep();
    let restore = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("restore")
            .arg(file)
            .arg("--data-dir")
            .arg(fresh.join("data"))
            .output()
            .expect("run weir restore")
    };
    let output = restore(&backup);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("1 tasks, 1 templates, 1 topic handlers"),
        "{said}"
    );
    let weir = Weir::start_in(&fresh, CONFIG, common::free_port());
    let (status, task) = call(
        &weir,
        "GET",
        &format!("/kapacitor/v1/tasks/persisted?{TASK_QUERY}"),
        None,
    );
    assert_eq!(status, 200, "{task}");
    assert_eq!(
        (task["status"].as_str(), task["executing"].as_bool()),
        (Some("enabled"), Some(true))
    );
    let (status, _) = call(&weir, "GET", "/kapacitor/v1/templates/tpl", None);
    assert_eq!(status, 200);
    assert_eq!(
        call(&weir, "GET", "/kapacitor/v1/alerts/topics/cpu/events", None).1,
        events_before
    );
    assert_eq!(
        call(
            &weir,
            "GET",
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            None
        )
        .1,
        handlers_before
    );
    // The alert state came back: host b was WARNING, so b=10 is its recovery.
    write(&weir, "cpu,host=b,dc=west usage=10 1609459210");
    let recovered = eventually(Duration::from_secs(10), || {
        let (_, event) = call(
            &weir,
            "GET",
            "/kapacitor/v1/alerts/topics/cpu/events/cpu.b",
            None,
        );
        (event["state"]["level"] == "OK").then_some(event)
    });
    assert!(
        recovered.is_some(),
        "no recovery of cpu.b: the alert state was not restored"
    );
    weir.stop();

    // A file that is not weir's store is refused, with what it is.
    let not_a_backup = fresh.join("answer.json");
    std::fs::write(&not_a_backup, "{\"error\":\"not found\"}").expect("write");
    let output = restore(&not_a_backup);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a backup of weir's store"),
        "{stderr}"
    );
}

/// Same keys with the same JSON types as a recorded Kapacitor answer (ids and times differ).
fn same_shape(got: &Value, recorded: &Value, what: &str) {
    for (key, value) in recorded.as_object().expect("recorded object") {
        assert_eq!(
            json_type(&got[key]),
            json_type(value),
            "{what}: {key} in {got}"
        );
    }
}

#[test]
fn kapacitor_record_stream_then_replay_gives_the_live_result() {
    let weir = Weir::start(CONFIG);
    let script = "dbrp \"rec\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |stateCount(lambda: \"usage\" > 50)\n        .as('high')\n    |httpOut('out')\n";
    for (id, status) in [("live", "enabled"), ("replayed", "disabled")] {
        let (code, body) = call(
            &weir,
            "POST",
            "/kapacitor/v1/tasks",
            Some(json!({"id": id, "type": "stream", "script": script, "status": status})),
        );
        assert_eq!(code, 200, "{body}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let stop = now + 5_000_000_000;
    let stop_text = format!("{}+00:00", weir_time(stop).trim_end_matches('Z'));
    // `kapacitor record stream -task live -duration 5s`.
    let (status, recording) = call(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/stream",
        Some(json!({"task": "live", "stop": stop_text})),
    );
    assert_eq!(status, 201, "{recording}");
    let running = &recorded("recordings-while-running.json", 0)["body"]["recordings"][0];
    same_shape(&recording, running, "running recording");
    assert_eq!(recording["status"], "running");
    let link = recording["link"]["href"].as_str().unwrap().to_owned();
    let mut lines = String::new();
    for (idx, (host, usage)) in [("a", 75), ("b", 20), ("a", 95), ("b", 80), ("a", 15)]
        .iter()
        .enumerate()
    {
        lines.push_str(&format!(
            "cpu,host={host} usage={usage} {}\n",
            now + idx as i64 * 200_000_000
        ));
    }
    let post = |text: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/write?db=rec&rp=autogen", weir.url),
            Some(text),
        )
        .expect("write");
        assert_eq!(status, 204, "{body}");
    };
    post(&lines);
    // A point past the stop time ends the recording (Kapacitor stops on data time).
    post(&format!("close value=1 {}", now + 30_000_000_000));
    let finished = eventually(Duration::from_secs(10), || {
        let (_, recording) = call(&weir, "GET", &link, None);
        (recording["status"] != "running").then_some(recording)
    })
    .expect("the recording finished");
    same_shape(
        &finished,
        &recorded("recording.json", 0)["body"],
        "recording",
    );
    assert_eq!(finished["status"], "finished", "{finished}");
    assert!(finished["size"].as_u64().unwrap() > 0);
    let (_, list) = call(&weir, "GET", "/kapacitor/v1/recordings", None);
    same_shape(
        &list["recordings"][0],
        &recorded("recordings.json", 0)["body"]["recordings"][0],
        "list",
    );

    // `kapacitor replay -recording ID -task replayed -rec-time`.
    let (status, replay) = call(
        &weir,
        "POST",
        "/kapacitor/v1/replays",
        Some(
            json!({"task": "replayed", "recording": finished["id"], "recording-time": true, "clock": "fast"}),
        ),
    );
    assert_eq!(status, 201, "{replay}");
    let replay_link = replay["link"]["href"].as_str().unwrap().to_owned();
    let done = eventually(Duration::from_secs(10), || {
        let (_, replay) = call(&weir, "GET", &replay_link, None);
        (replay["status"] != "running").then_some(replay)
    })
    .expect("the replay finished");
    same_shape(&done, &recorded("replay.json", 0)["body"], "replay");
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(
        done["stats"]["node-stats"]["from1"]["collected"], 5,
        "{done}"
    );
    let (_, live_out) = call(&weir, "GET", "/kapacitor/v1/tasks/live/out", None);
    assert_eq!(
        done["http-out"]["out"], live_out,
        "replay and live task agree"
    );
    let (_, replays) = call(&weir, "GET", "/kapacitor/v1/replays", None);
    same_shape(
        &replays["replays"][0],
        &recorded("replays.json", 0)["body"]["replays"][0],
        "replays",
    );
    assert!(replays["replays"][0].get("stats").is_none());

    // Deletes, and the errors a CLI user meets.
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/recordings/batch",
        Some(json!({"task": "live", "start": "2021-01-01T00:00:00Z"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("record stream"),
        "{body}"
    );
    let (status, body) = call(
        &weir,
        "POST",
        "/kapacitor/v1/replays",
        Some(json!({"task": "replayed", "recording": "nosuch"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("list recordings"),
        "{body}"
    );
    for path in [replay_link.as_str(), link.as_str()] {
        let (status, _) = call(&weir, "DELETE", path, None);
        assert_eq!(status, 204);
        let (status, _) = call(&weir, "GET", path, None);
        assert_eq!(status, 404);
    }
    weir.stop();
}

/// RFC 3339 of nanoseconds, as weir writes it.
fn weir_time(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    )
}
