//! Client verbs: talk to a running daemon through its API, as the `kapacitor` CLI does.

use super::{out, outln};
use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{Command, DiscovererAction, ListKind, Output, Remote, RemoteAction, ScraperAction};

struct Client {
    base: String,
    output: Output,
    http: Http,
}

/// reqwest's async client driven by a current-thread runtime, one request at a time.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> anyhow::Result<Http> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Http { runtime, client })
    }

    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> anyhow::Result<(u16, String)> {
        self.runtime.block_on(async {
            let mut request = self
                .client
                .request(method, url)
                .header("Content-Type", content_type);
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request.send().await.with_context(|| {
                format!(
                    "cannot reach weir at {url} (is `weir serve` running? set --url or WEIR_URL)"
                )
            })?;
            let status = response.status().as_u16();
            let text = response.text().await?;
            Ok((status, text))
        })
    }
}

impl Client {
    fn new(remote: &Remote) -> anyhow::Result<Client> {
        Ok(Client {
            base: remote.url.trim_end_matches('/').to_owned(),
            output: if remote.json {
                Output::Json
            } else {
                remote.output
            },
            http: Http::new()?,
        })
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let (status, text) = self.http.send(
            method.clone(),
            &url,
            body.map(|b| b.to_string().into_bytes()),
            "application/json",
        )?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 400 {
            let message = value
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            bail!("{method} {url}: {status}: {message}");
        }
        Ok((status, value))
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self.request(reqwest::Method::GET, path, None)?.1)
    }

    /// Print `value` as `-o` asks: JSON or YAML as the API answered, or `human` (a table).
    fn print(&self, value: &Value, human: impl FnOnce(&Value)) {
        match self.output {
            Output::Json => outln!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            Output::Yaml => out!("{}", serde_yaml_ng::to_string(value).unwrap_or_default()),
            Output::Table => human(value),
        }
    }
}

pub(super) fn run(command: Command, remote: &Remote) -> anyhow::Result<ExitCode> {
    match command {
        Command::Define {
            id,
            tick,
            task_type,
            dbrp,
            template,
            vars,
        } => {
            let client = Client::new(remote)?;
            let mut body = serde_json::Map::new();
            body.insert("id".into(), json!(id));
            if let Some(path) = tick {
                let script = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                body.insert("script".into(), json!(script));
            }
            if let Some(task_type) = task_type {
                body.insert("type".into(), json!(task_type));
            }
            if !dbrp.is_empty() {
                let pairs: Result<Vec<Value>, _> = dbrp
                    .iter()
                    .map(|d| {
                        crate::config::parse_dbrp(d)
                            .map(|(db, rp)| json!({"db": db, "rp": rp}))
                            .with_context(|| format!("--dbrp {d:?} is not db.rp"))
                    })
                    .collect();
                body.insert("dbrps".into(), Value::Array(pairs?));
            }
            if let Some(template) = template {
                body.insert("template-id".into(), json!(template));
            }
            if let Some(path) = vars {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let vars: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: invalid JSON", path.display()))?;
                body.insert("vars".into(), vars);
            }
            let exists = client
                .request(
                    reqwest::Method::GET,
                    &format!("/kapacitor/v1/tasks/{id}"),
                    None,
                )
                .is_ok();
            if exists {
                body.remove("id");
                client.request(
                    reqwest::Method::PATCH,
                    &format!("/kapacitor/v1/tasks/{id}"),
                    Some(Value::Object(body)),
                )?;
            } else {
                body.entry("status").or_insert(json!("disabled"));
                client.request(
                    reqwest::Method::POST,
                    "/kapacitor/v1/tasks",
                    Some(Value::Object(body)),
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Enable { ids } => set_status(&ids, remote, "enabled"),
        Command::Disable { ids } => set_status(&ids, remote, "disabled"),
        Command::Reload => {
            let client = Client::new(remote)?;
            let url = format!("{}/weir/v1/config/reload", client.base);
            let (status, text) =
                client
                    .http
                    .send(reqwest::Method::POST, &url, None, "application/json")?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            client.print(&value, |v| outln!("{}", config_state(v)));
            Ok(if status < 300 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::List { what, pattern } => {
            let client = Client::new(remote)?;
            let pattern = pattern.map(|p| format!("?pattern={p}")).unwrap_or_default();
            match what {
                ListKind::Tasks => {
                    let value = client.get(&format!("/kapacitor/v1/tasks{pattern}"))?;
                    client.print(&value, |v| {
                        let rows = items(v, "tasks").map(|task| {
                            let dbrps = items(task, "dbrps")
                                .map(|d| format!("\"{}\".\"{}\"", text(&d["db"]), text(&d["rp"])));
                            vec![
                                text(&task["id"]),
                                text(&task["type"]),
                                text(&task["status"]),
                                text(&task["executing"]),
                                dbrps.collect::<Vec<_>>().join(","),
                            ]
                        });
                        table(&["ID", "TYPE", "STATUS", "EXECUTING", "DBRPS"], rows);
                    });
                }
                ListKind::Templates => {
                    let value = client.get(&format!("/kapacitor/v1/templates{pattern}"))?;
                    client.print(&value, |v| {
                        let rows = items(v, "templates").map(|template| {
                            let vars = template["vars"].as_object().into_iter().flatten();
                            let vars: Vec<&str> = vars.map(|(name, _)| name.as_str()).collect();
                            vec![
                                text(&template["id"]),
                                text(&template["type"]),
                                vars.join(","),
                            ]
                        });
                        table(&["ID", "TYPE", "VARS"], rows);
                    });
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id } => {
            let client = Client::new(remote)?;
            let task = client.get(&format!("/kapacitor/v1/tasks/{id}"))?;
            client.print(&task, |t| {
                outln!("ID: {}", t["id"].as_str().unwrap_or(""));
                outln!("Error: {}", t["error"].as_str().unwrap_or(""));
                outln!("Template: {}", t["template-id"].as_str().unwrap_or(""));
                outln!("Type: {}", t["type"].as_str().unwrap_or(""));
                outln!("Status: {}", t["status"].as_str().unwrap_or(""));
                outln!("Executing: {}", t["executing"].as_bool().unwrap_or(false));
                outln!("Created: {}", t["created"].as_str().unwrap_or(""));
                outln!("Modified: {}", t["modified"].as_str().unwrap_or(""));
                outln!("LastEnabled: {}", t["last-enabled"].as_str().unwrap_or(""));
                let dbrps: Vec<String> = t["dbrps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        format!(
                            "\"{}\".\"{}\"",
                            d["db"].as_str().unwrap_or(""),
                            d["rp"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                outln!("Databases Retention Policies: [{}]", dbrps.join(", "));
                outln!("TICKscript:\n{}\n", t["script"].as_str().unwrap_or(""));
                outln!("DOT:\n{}", t["dot"].as_str().unwrap_or(""));
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { what, ids } => {
            let client = Client::new(remote)?;
            let base = match what {
                ListKind::Tasks => "tasks",
                ListKind::Templates => "templates",
            };
            for id in ids {
                client.request(
                    reqwest::Method::DELETE,
                    &format!("/kapacitor/v1/{base}/{id}"),
                    None,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Write {
            db,
            rp,
            precision,
            file,
        } => {
            let client = Client::new(remote)?;
            let mut body = Vec::new();
            match file {
                Some(path) => {
                    body = std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                }
                None => {
                    std::io::stdin().read_to_end(&mut body)?;
                }
            }
            let url = format!(
                "{}/kapacitor/v1/write?db={db}&rp={rp}&precision={precision}",
                client.base
            );
            let (status, text) =
                client
                    .http
                    .send(reqwest::Method::POST, &url, Some(body), "text/plain")?;
            if status >= 400 {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                bail!(
                    "write failed ({status}): {}",
                    value.get("error").and_then(Value::as_str).unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let client = Client::new(remote)?;
            let tasks = client.get("/kapacitor/v1/tasks?fields=status,executing,stats")?;
            let sinks = client.get("/weir/v1/sinks")?;
            let status = client.get("/weir/v1/config/status")?;
            let value = json!({"tasks": tasks["tasks"], "sinks": sinks["sinks"], "config": status});
            client.print(&value, |v| {
                outln!("{}\n", config_state(&v["config"]));
                let mut rows = Vec::new();
                for task in items(v, "tasks") {
                    // One row per node, in pipeline order (the number the node's name ends in).
                    let mut nodes: Vec<(&String, &Value)> = task["stats"]["node-stats"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .collect();
                    nodes.sort_by_key(|(name, _)| {
                        let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
                        name[digits.len()..].parse::<u64>().unwrap_or(u64::MAX)
                    });
                    for (node, stats) in nodes {
                        rows.push(vec![
                            text(&task["id"]),
                            text(&task["status"]),
                            node.clone(),
                            text(&stats["collected"]),
                            text(&stats["emitted"]),
                            text(&stats["errors"]),
                        ]);
                    }
                }
                let headers = ["TASK", "STATUS", "NODE", "COLLECTED", "EMITTED", "ERRORS"];
                table(&headers, rows);
                if items(v, "sinks").next().is_some() {
                    outln!();
                    columns(items(v, "sinks"), SINKS);
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Scrapers { action, name } => {
            let client = Client::new(remote)?;
            match (action, name) {
                (None, _) => {
                    let value = client.get("/weir/v1/scrapers")?;
                    client.print(&value, |v| columns(items(v, "scrapers"), SCRAPERS));
                }
                (Some(_), None) => bail!("name the scraper"),
                (Some(action), Some(name)) => {
                    let enabled = action == ScraperAction::Enable;
                    client.request(
                        reqwest::Method::PATCH,
                        &format!("/weir/v1/scrapers/{name}"),
                        Some(json!({"enabled": enabled})),
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Remotes {
            action,
            name,
            databases,
        } => {
            let client = Client::new(remote)?;
            match (action, name) {
                (None, _) => {
                    let value = client.get("/weir/v1/remotes")?;
                    client.print(&value, |v| columns(items(v, "remotes"), REMOTES));
                }
                (Some(_), None) => bail!("name the remote collector (create NAME, or its id)"),
                (Some(RemoteAction::Create), Some(name)) => {
                    let (_, value) = client.request(
                        reqwest::Method::POST,
                        "/weir/v1/remotes",
                        Some(json!({"name": name, "databases": databases})),
                    )?;
                    client.print(&value, print_enrollment);
                }
                (Some(RemoteAction::Token), Some(id)) => {
                    let (_, value) = client.request(
                        reqwest::Method::POST,
                        &format!("/weir/v1/remotes/{id}/token"),
                        None,
                    )?;
                    client.print(&value, print_enrollment);
                }
                (Some(action), Some(id)) => {
                    let verb = if action == RemoteAction::Rotate {
                        "rotate"
                    } else {
                        "revoke"
                    };
                    let (_, value) = client.request(
                        reqwest::Method::POST,
                        &format!("/weir/v1/remotes/{id}/{verb}"),
                        None,
                    )?;
                    client.print(&value, |v| columns(std::iter::once(v), REMOTES));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Targets { unhealthy } => {
            let client = Client::new(remote)?;
            let value = client.get(if unhealthy {
                "/weir/v1/targets?unhealthy=true"
            } else {
                "/weir/v1/targets"
            })?;
            client.print(&value, |v| columns(items(v, "targets"), TARGETS));
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect { name } => {
            let client = Client::new(remote)?;
            let (_, value) = client.request(
                reqwest::Method::POST,
                &format!("/weir/v1/scrapers/{name}/collect"),
                None,
            )?;
            client.print(&value, |v| {
                outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Discoverers { action, id } => {
            let client = Client::new(remote)?;
            match (action, id) {
                (None, _) => {
                    let value = client.get("/weir/v1/discoverers")?;
                    client.print(&value, |v| columns(items(v, "discoverers"), DISCOVERERS));
                }
                (Some(_), None) => bail!("name the discoverer id"),
                (Some(DiscovererAction::Refresh), Some(id)) => {
                    client.request(
                        reqwest::Method::POST,
                        &format!("/weir/v1/discoverers/{id}/refresh"),
                        None,
                    )?;
                }
                (Some(action), Some(id)) => {
                    let enabled = action == DiscovererAction::Enable;
                    client.request(
                        reqwest::Method::PATCH,
                        &format!("/weir/v1/discoverers/{id}"),
                        Some(json!({"enabled": enabled})),
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cis {
            kind,
            source,
            query,
            related,
            relation,
        } => {
            let client = Client::new(remote)?;
            let mut params = Vec::new();
            let target = related.clone();
            for (name, value) in [
                ("kind", kind),
                ("source", source),
                ("q", query),
                ("related", related),
                ("relation", relation),
            ] {
                if let Some(value) = value {
                    params.push(format!("{name}={}", encode(&value)));
                }
            }
            let value = client.get(&format!("/weir/v1/cis?{}", params.join("&")))?;
            client.print(&value, |v| {
                let rows = items(v, "cis").map(|ci| {
                    let detail = match &target {
                        // The relationships that tie this item to the one asked about.
                        Some(target) => items(ci, "relations")
                            .filter(|r| {
                                format!("{}:{}", text(&r["target_kind"]), text(&r["target_key"]))
                                    == *target
                            })
                            .map(|r| text(&r["kind"]))
                            .collect::<Vec<_>>()
                            .join(","),
                        None => ci["config"].as_object().map_or(0, |o| o.len()).to_string(),
                    };
                    vec![text(&ci["id"]), text(&ci["key"]["kind"]), detail]
                });
                let third = if target.is_some() {
                    "RELATION"
                } else {
                    "ATTRIBUTES"
                };
                table(&["ID", "KIND", third], rows);
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Ci { id } => {
            let client = Client::new(remote)?;
            let value = client.get(&format!("/weir/v1/cis/{}", encode(&id)))?;
            client.print(&value, |v| {
                outln!("{}", v["id"].as_str().unwrap_or(""));
                for (name, attribute) in v["config"].as_object().into_iter().flatten() {
                    outln!("  {name} = {}", attribute.as_str().unwrap_or(""));
                }
                for (name, metric) in v["metrics"].as_object().into_iter().flatten() {
                    outln!("  {name} = {metric} (metric)");
                }
                for relation in v["outgoing"].as_array().into_iter().flatten() {
                    outln!(
                        "  → {} {}:{}",
                        relation["kind"].as_str().unwrap_or(""),
                        relation["target_kind"].as_str().unwrap_or(""),
                        relation["target_key"].as_str().unwrap_or("")
                    );
                }
                for relation in v["incoming"].as_array().into_iter().flatten() {
                    outln!(
                        "  ← {} {}",
                        relation["kind"].as_str().unwrap_or(""),
                        relation["from"].as_str().unwrap_or("")
                    );
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Changes {
            since,
            kind,
            source,
            ci,
            limit,
        } => {
            let client = Client::new(remote)?;
            let mut params = vec![
                format!("since={}", encode(&since)),
                format!("limit={limit}"),
            ];
            for (name, value) in [("kind", kind), ("source", source), ("ci", ci)] {
                if let Some(value) = value {
                    params.push(format!("{name}={}", encode(&value)));
                }
            }
            let value = client.get(&format!("/weir/v1/changes?{}", params.join("&")))?;
            client.print(&value, |v| {
                let rows = items(v, "changes").map(|change| {
                    let show = |value: &Value| value.as_str().unwrap_or("∅").to_owned();
                    let diffs = items(change, "diffs").map(|diff| {
                        let (old, new) = (show(&diff["old"]), show(&diff["new"]));
                        format!("{}: {old} → {new}", text(&diff["attribute"]))
                    });
                    vec![
                        text(&change["time"]),
                        text(&change["change"]),
                        text(&change["ci"]),
                        diffs.collect::<Vec<_>>().join("; "),
                    ]
                });
                table(&["TIME", "CHANGE", "CI", "DIFF"], rows);
            });
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("not a client command: {other:?}"),
    }
}

fn set_status(ids: &[String], remote: &Remote, status: &str) -> anyhow::Result<ExitCode> {
    let client = Client::new(remote)?;
    for id in ids {
        client.request(
            reqwest::Method::PATCH,
            &format!("/kapacitor/v1/tasks/{id}"),
            Some(json!({"status": status})),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Percent-encode a query or path component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A table column: its header and a template of an item's members: `{a.b}` is member `b` of
/// member `a`, `{a,b}` the first of them that is not empty, `{a|age}` an RFC 3339 time as
/// an age, `{a|secs}` seconds.
type Column = (&'static str, &'static str);

#[rustfmt::skip]
const SCRAPERS: &[Column] = &[
    ("NAME", "{name}"), ("ENABLED", "{enabled}"), ("UP", "{targets_up}/{targets}"),
    ("OPEN", "{circuits_open}"), ("INTERVAL", "{scrape_interval}"), ("DBRP", "{db}.{rp}"),
    ("DISCOVERER", "{discoverer_service}/{discoverer_id}"), ("LAST", "{last_collection|age}"),
    ("SAMPLES", "{samples_per_interval}"), ("ERRORS", "{errors_total}"), ("ERROR", "{error}"),
];

#[rustfmt::skip]
const REMOTES: &[Column] = &[
    ("ID", "{id}"), ("NAME", "{name}"), ("STATUS", "{status}"), ("VERSION", "{version}"),
    ("LAST SEEN", "{last_seen|age}"), ("QUEUE", "{queue_points}"), ("DROPPED", "{dropped_points}"),
    ("SKEW", "{clock_skew_seconds|secs}"), ("CONFIG", "{config_revision} {config_state}"),
    ("ERROR", "{config_error}"),
];

/// The answer that holds a one-time enrollment token.
fn print_enrollment(value: &Value) {
    outln!(
        "remote collector {} ({}) is pending; its enrollment token, shown only now, valid until {}:\n{}",
        text(&value["id"]),
        text(&value["name"]),
        text(&value["token_expires_at"]),
        text(&value["enrollment_token"])
    );
}

#[rustfmt::skip]
const TARGETS: &[Column] = &[
    ("SCRAPER", "{scraper}"), ("INSTANCE", "{labels.instance}"), ("STATE", "{state}"),
    ("LAST", "{last_scrape|age}"), ("DURATION", "{last_duration_seconds|secs}"),
    ("SAMPLES", "{last_samples}"), ("FAILURES", "{consecutive_failures}"), ("URL", "{url}"),
    ("ERROR", "{last_error,last_parse_error}"),
];

#[rustfmt::skip]
const DISCOVERERS: &[Column] = &[
    ("ID", "{id}"), ("TYPE", "{kind}"), ("ENABLED", "{enabled}"), ("STATE", "{state}"),
    ("TARGETS", "{targets}"), ("LAST", "{last_refresh|age}"),
    ("FAILURES", "{consecutive_failures}"), ("ERROR", "{last_error}"),
];

#[rustfmt::skip]
const SINKS: &[Column] = &[
    ("SINK", "{name}"), ("KIND", "{kind}"), ("BUFFER", "{buffer}"), ("QUEUED", "{queued_points}"),
    ("WRITTEN", "{written}"), ("DROPPED", "{dropped}"), ("RETRIED", "{retried}"),
    ("LAST ERROR", "{last_error}"),
];

/// One cell: `template` filled from `item` (see [`Column`]).
fn cell(item: &Value, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let Some((spec, after)) = after.split_once('}') else {
            break;
        };
        let (keys, filter) = spec.split_once('|').unwrap_or((spec, ""));
        let member = |key: &str| key.split('.').fold(item, |value, name| &value[name]);
        let value = keys.split(',').map(member).find(|v| !text(v).is_empty());
        let value = value.unwrap_or(&Value::Null);
        out.push_str(&match filter {
            "age" => age(value),
            "secs" => value
                .as_f64()
                .map_or_else(String::new, |s| format!("{s:.3}s")),
            _ => text(value),
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A table of `items` with `columns`.
fn columns<'v>(items: impl Iterator<Item = &'v Value>, columns: &[Column]) {
    let headers: Vec<&str> = columns.iter().map(|column| column.0).collect();
    table(
        &headers,
        items.map(|item| columns.iter().map(|column| cell(item, column.1)).collect()),
    );
}

/// The elements of the array `value[key]`.
fn items<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    value[key].as_array().into_iter().flatten()
}

/// A cell: strings as they are, `null` empty, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// How long ago an RFC 3339 time was, as kubectl's AGE (`42s`, `5m`, `3h`, `2d`).
fn age(value: &Value) -> String {
    let Some(then) = value
        .as_str()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    else {
        return String::new();
    };
    let seconds = std::time::SystemTime::now()
        .duration_since(then)
        .map_or(0, |elapsed| elapsed.as_secs());
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7_200 => format!("{}m", seconds / 60),
        7_200..172_800 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// kubectl-style: the headers, then one line per row, each column as wide as its widest cell
/// and three spaces from the next; trailing blanks trimmed.
fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut line = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 3));
        }
        outln!("{}", line.trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// The config line of `stats` and `reload`: which revision runs, and what the last load did.
fn config_state(status: &Value) -> String {
    let running = &status["running_revision"];
    let source = text(&status["source"]);
    match status["state"].as_str() {
        Some("rejected") => format!(
            "config: revision {running} running ({source}); the last reload was rejected: {}",
            text(&status["reason"])
        ),
        _ => format!("config: revision {running} running ({source})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_fill_templates_from_members() {
        let item = json!({"db": "d", "rp": "r", "labels": {"instance": "h:1"}, "n": 3,
            "last_error": null, "last_parse_error": "bad line 2", "secs": 0.0123});
        assert_eq!(cell(&item, "{db}.{rp}"), "d.r");
        assert_eq!(cell(&item, "{labels.instance} {n}"), "h:1 3");
        assert_eq!(cell(&item, "{last_error,last_parse_error}"), "bad line 2");
        assert_eq!(
            cell(&item, "{secs|secs}|{missing}|{missing|age}"),
            "0.012s||"
        );
    }
}
