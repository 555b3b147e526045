//! Kapacitor's alert services against its recordings (`tests/compat/handlers/`, one folder per
//! case): each case's task, handler config and input run through weir, and what weir sends
//! is compared with `requests.jsonl` request by request, normalised the same way on both
//! sides (the capture port and weir's port filled in, transport headers dropped, header names
//! compared without case, alerta's tag list as a set).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Weir, eventually, http};
use serde_json::{Value, json};

const HANDLERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/handlers");

/// The cases weir sends as Kapacitor does.
const SENT: &[&str] = &[
    "alerta",
    "discord",
    "exec",
    "hipchat",
    "httppost-endpoint",
    "httppost-template",
    "log",
    "opsgenie",
    "opsgenie2",
    "opsgenie2-close",
    "pagerduty",
    "pagerduty2",
    "post",
    "pushover",
    "sensu",
    "servicenow",
    "slack",
    "talk",
    "tcp",
    "teams",
    "telegram",
    "topic-slack",
    "victorops",
    "victorops-jsondata",
];

/// The cases weir does not match yet, with why.
const NOT_YET: &[(&str, &str)] = &[
    (
        "snmptrap",
        "the [snmptrap] service (SNMP over UDP) is not built yet",
    ),
    ("smtp", "the [smtp] service is not built yet"),
    ("mqtt", "the [mqtt] service is not built yet"),
    ("kafka", "the [kafka] service is not built yet"),
    ("kafka-template", "the [kafka] service is not built yet"),
    ("topic-aggregate", "checked by tests/kapacitor_cli.rs"),
    ("topic-publish", "checked by tests/kapacitor_cli.rs"),
];

/// One request as the capture server saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// An HTTP server that records every request and answers as the real service does.
fn capture() -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sink = captured.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || serve(stream, &sink));
        }
    });
    (port, captured)
}

fn serve(stream: std::net::TcpStream, sink: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        if !first.starts_with("POST ") && !first.starts_with("GET ") {
            // A raw TCP delivery (the tcp handler, Sensu): everything until the peer closes.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            let mut body = first.into_bytes();
            body.extend(rest);
            sink.lock().unwrap().push(Request {
                method: String::new(),
                path: String::new(),
                query: String::new(),
                headers: BTreeMap::new(),
                body,
            });
            let _ = reader.get_mut().write_all(b"ok");
            return;
        }
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut headers = BTreeMap::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = value.trim().parse().unwrap_or(0);
                }
                headers.insert(name, value.trim().to_owned());
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, answer) = match path.split('/').nth(1).unwrap_or_default() {
            "alerta" | "servicenow" => ("201 Created", ""),
            "opsgenie2" | "pagerduty2" => ("202 Accepted", ""),
            "discord" => ("204 No Content", ""),
            "telegram" => ("200 OK", "{\"ok\":true}"),
            "fail" => ("503 Service Unavailable", ""),
            _ => ("200 OK", ""),
        };
        sink.lock().unwrap().push(Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body,
        });
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{answer}",
            answer.len()
        );
        if reader.get_mut().write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Headers a transport adds (the recordings leave out the same ones), and reqwest's default
/// `Accept: */*`, which says what no `Accept` says.
fn transport_header(name: &str, value: &str) -> bool {
    matches!(
        name,
        "host"
            | "date"
            | "content-length"
            | "user-agent"
            | "accept-encoding"
            | "connection"
            | "transfer-encoding"
    ) || (name == "accept" && value == "*/*")
}

/// A request in the recordings' shape, normalised.
fn normalised(request: &Request) -> Value {
    if request.method.is_empty() {
        let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        return json!({"transport": "tcp", "body": body});
    }
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .filter(|(name, value)| !transport_header(name, value))
        .map(|(name, value)| (name.clone(), Value::from(value.clone())))
        .collect();
    let text = String::from_utf8_lossy(&request.body).into_owned();
    let mut record = json!({
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone())),
    });
    if request.headers.get("content-type").map(String::as_str)
        == Some("application/x-www-form-urlencoded")
    {
        let form: serde_json::Map<String, Value> = form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
        record["form"] = Value::Object(form);
    }
    canonical(record)
}

/// The same normalisation for a recorded line.
fn recorded(line: &Value) -> Value {
    let mut line = line.clone();
    if let Some(headers) = line["headers"].as_object() {
        let lower: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .filter(|(name, value)| !transport_header(name, value.as_str().unwrap_or_default()))
            .collect();
        line["headers"] = Value::Object(lower);
    }
    canonical(line)
}

/// Alerta's `tags` follow Go's map order: compared as a set.
fn canonical(mut record: Value) -> Value {
    if let Some(Value::Array(tags)) = record
        .get_mut("body")
        .and_then(Value::as_object_mut)
        .and_then(|body| body.get_mut("tags"))
    {
        tags.sort_by_key(|tag| tag.to_string());
    }
    record
}

fn api(weir: &Weir, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|body| body.to_string());
    let (status, text) = http(method, &format!("{}{path}", weir.url), body.as_deref()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Run one case; `Err` says how weir differed.
fn run_case(case: &str) -> Result<(), String> {
    let dir = format!("{HANDLERS}/{case}");
    let read = |file: &str| std::fs::read_to_string(format!("{dir}/{file}"));
    let (capture_port, captured) = capture();
    let port = common::free_port();
    let dir_path = tempfile::tempdir().expect("tempdir").keep();
    let log_file = dir_path.join("alerts.log");
    let exec_script = dir_path.join("capture.py");
    let exec_out = dir_path.join("exec.jsonl");
    let fill = |text: &str| {
        text.replace("CAPTURE_PORT", &capture_port.to_string())
            .replace("KAPACITOR_PORT", &port.to_string())
            .replace("LOG_FILE", &log_file.display().to_string())
            .replace("EXEC_CAPTURE_SCRIPT", &exec_script.display().to_string())
    };
    // The exec case's program: records its arguments and stdin, one JSON line per run.
    std::fs::write(
        &exec_script,
        format!(
            "#!/usr/bin/env python3\nimport json, sys\ndata = sys.stdin.read()\n\
             record = {{\"transport\": \"exec\", \"argv\": sys.argv[1:], \"stdin\": json.loads(data), \
             \"stdin_ends_with_newline\": data.endswith(\"\\n\")}}\n\
             with open({:?}, \"a\") as out:\n    out.write(json.dumps(record) + \"\\n\")\n",
            exec_out.display().to_string()
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::set_permissions(
        &exec_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| e.to_string())?;
    let config = format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\
         [exec]\nallowed-commands = [{:?}]\n\n{}",
        exec_script.display().to_string(),
        fill(&read("config.toml").map_err(|e| e.to_string())?)
    );
    let weir = Weir::start_in(&dir_path, &config, port);
    let mut handler_files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("handler-") && name.ends_with(".yaml"))
        .collect();
    handler_files.sort();
    for file in handler_files {
        let spec: Value = serde_yaml_ng::from_str(&fill(&read(&file).map_err(|e| e.to_string())?))
            .map_err(|e| format!("{file}: {e}"))?;
        let topic = spec["topic"].as_str().unwrap_or_default().to_owned();
        let body = json!({
            "id": spec["id"], "kind": spec["kind"],
            "options": spec.get("options").cloned().unwrap_or(json!({})),
            "match": spec.get("match").cloned().unwrap_or(json!("")),
        });
        let path = format!("/kapacitor/v1/alerts/topics/{topic}/handlers");
        let (status, answer) = api(&weir, "POST", &path, Some(body));
        if status != 200 {
            return Err(format!("{file}: {status} {answer}"));
        }
    }
    let script = fill(&read("task.tick").map_err(|e| e.to_string())?);
    let task = json!({"id": format!("handlers-{case}"), "type": "stream", "script": script, "status": "enabled"});
    let (status, answer) = api(&weir, "POST", "/kapacitor/v1/tasks", Some(task));
    if status != 200 {
        return Err(format!("define: {status} {answer}"));
    }
    let input = read("input.lp").map_err(|e| e.to_string())?;
    let (status, answer) = http(
        "POST",
        &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
        Some(&input),
    )
    .map_err(|e| e.to_string())?;
    if status != 204 {
        return Err(format!("write: {status} {answer}"));
    }
    let expected: Vec<Value> = read("requests.jsonl")
        .map_err(|e| e.to_string())?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<Value>(&fill(line)).map(|v| recorded(&v)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // What arrived, in the recordings' shape: the capture server's requests, the log
    // file's lines, or the exec program's records.
    let arrived = || -> Vec<Value> {
        let lines = |path: &std::path::Path| -> Vec<Value> {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        };
        match case {
            "log" => lines(&log_file)
                .into_iter()
                .map(|body| json!({"transport": "file", "body": body}))
                .collect(),
            "exec" => lines(&exec_out),
            _ => captured.lock().unwrap().iter().map(normalised).collect(),
        }
    };
    let complete = eventually(Duration::from_secs(20), || {
        let got = arrived();
        (got.len() >= expected.len()).then_some(got)
    });
    let log = weir.stop();
    let Some(got) = complete else {
        return Err(format!(
            "{} of {} requests arrived; weir log:\n{log}",
            arrived().len(),
            expected.len()
        ));
    };
    if got.len() != expected.len() {
        return Err(format!(
            "{} requests, Kapacitor sent {}",
            got.len(),
            expected.len()
        ));
    }
    for (index, (got, want)) in got.iter().zip(&expected).enumerate() {
        if got != want {
            return Err(format!(
                "request {}:\n  weir:      {got}\n  kapacitor: {want}",
                index + 1
            ));
        }
    }
    Ok(())
}

#[test]
fn every_recorded_case_is_sent_or_says_why_not() {
    let mut cases: Vec<String> = std::fs::read_dir(HANDLERS)
        .expect("handlers folder")
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    for case in &cases {
        let sent = SENT.contains(&case.as_str());
        let not_yet = NOT_YET.iter().any(|(name, _)| name == case);
        assert!(
            sent != not_yet,
            "{case}: list it in exactly one of SENT and NOT_YET"
        );
    }
    assert_eq!(
        cases.len(),
        SENT.len() + NOT_YET.len(),
        "a listed case has no folder"
    );
}

#[test]
fn weir_sends_what_kapacitor_sent() {
    let failures: Vec<String> = SENT
        .iter()
        .filter_map(|case| run_case(case).err().map(|e| format!("{case}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The value of one labelled counter in `/metrics`.
fn metric(weir: &Weir, name: &str, service: &str) -> Option<u64> {
    let (_, text) = http("GET", &format!("{}/metrics", weir.url), None).ok()?;
    let prefix = format!("{name}{{service=\"{service}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

#[test]
fn failed_and_unconfigured_deliveries_are_retried_and_counted_without_holding_the_task() {
    let (capture_port, captured) = capture();
    let config = format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\n\
         [[slack]]\nenabled = true\nurl = \"http://127.0.0.1:{capture_port}/fail/hook\"\n"
    );
    let weir = Weir::start(&config);
    let script = "dbrp \"handlers\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n    |alert()\n        .crit(lambda: \"usage\" > 90)\n        .slack()\n        .teams()\n    |httpOut('out')\n";
    let task = json!({"id": "failing", "type": "stream", "script": script, "status": "enabled"});
    let (status, answer) = api(&weir, "POST", "/kapacitor/v1/tasks", Some(task));
    assert_eq!(status, 200, "{answer}");
    let (status, _) = http(
        "POST",
        &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
        Some("cpu usage=95 1609459200\ncpu usage=10 1609459201\n"),
    )
    .unwrap();
    assert_eq!(status, 204);
    // The task went on while slack failed: httpOut has the recovery point.
    let served = eventually(Duration::from_secs(10), || {
        let (_, out) = api(&weir, "GET", "/kapacitor/v1/tasks/failing/out", None);
        (out["series"][0]["values"][0][1].as_f64() == Some(10.0)).then_some(out)
    });
    assert!(
        served.is_some(),
        "the task did not go on; log:\n{}",
        weir.log()
    );
    // Two events, each tried four times against a 503, then counted as failed.
    let failed = eventually(Duration::from_secs(20), || {
        (metric(&weir, "weir_alert_service_failed_total", "slack")? == 2).then_some(())
    });
    assert!(failed.is_some(), "log:\n{}", weir.log());
    assert_eq!(captured.lock().unwrap().len(), 8);
    assert_eq!(
        metric(&weir, "weir_alert_service_sent_total", "slack"),
        Some(0)
    );
    // `.teams()` without a [teams] section: counted, never sent.
    assert_eq!(
        metric(&weir, "weir_alert_service_failed_total", "teams"),
        Some(2)
    );
    let log = weir.stop();
    assert!(
        log.contains("teams is not configured: add a [teams] section"),
        "{log}"
    );
}

#[test]
fn a_global_service_gets_every_alert_and_state_changes_only_the_changes() {
    let (capture_port, captured) = capture();
    let config = format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\n\
         [[slack]]\nenabled = true\nurl = \"http://127.0.0.1:{capture_port}/slack/hook\"\n\
         channel = \"#all\"\nglobal = true\nstate-changes-only = true\n"
    );
    let weir = Weir::start(&config);
    // The scenario of the recordings, without any handler in the script.
    let script = std::fs::read_to_string(format!("{HANDLERS}/slack/task.tick"))
        .unwrap()
        .replace(".slack()", ".log('/dev/null')")
        .replace(".channel('#ops')", "")
        .replace(".username('kapa-rec')", "")
        .replace(".iconEmoji(':fire:')", "");
    let task = json!({"id": "global", "type": "stream", "script": script, "status": "enabled"});
    let (status, answer) = api(&weir, "POST", "/kapacitor/v1/tasks", Some(task));
    assert_eq!(status, 200, "{answer}");
    let input = std::fs::read_to_string(format!("{HANDLERS}/slack/input.lp")).unwrap();
    let (status, _) = http(
        "POST",
        &format!("{}/write?db=handlers&rp=autogen&precision=s", weir.url),
        Some(&input),
    )
    .unwrap();
    assert_eq!(status, 204);
    // Five events; the repeated WARNING of cpu.a is not a change.
    let sent = eventually(Duration::from_secs(10), || {
        (metric(&weir, "weir_alert_service_sent_total", "slack")? == 4).then_some(())
    });
    assert!(sent.is_some(), "log:\n{}", weir.log());
    let texts: Vec<String> = captured
        .lock()
        .unwrap()
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(body["channel"], "#all");
            body["attachments"][0]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        [
            "cpu.a is WARNING: usage=75 host=a",
            "cpu.b is WARNING: usage=80 host=b",
            "cpu.a is CRITICAL: usage=95 host=a",
            "cpu.a is OK: usage=15 host=a",
        ]
    );
    weir.stop();
}
