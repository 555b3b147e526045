//! Client verbs: talk to a running daemon through its API, as the `kapacitor` CLI does.

use super::outln;
use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{Command, DiscovererAction, ListKind, Remote};

struct Client {
    base: String,
    json: bool,
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
            json: remote.json,
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

    fn print(&self, value: &Value, human: impl FnOnce(&Value)) {
        if self.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            human(value);
        }
    }
}

pub(super) fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Define {
            id,
            tick,
            task_type,
            dbrp,
            template,
            vars,
            remote,
        } => {
            let client = Client::new(&remote)?;
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
        Command::Enable { ids, remote } => set_status(&ids, &remote, "enabled"),
        Command::Disable { ids, remote } => set_status(&ids, &remote, "disabled"),
        Command::Reload { remote } => {
            let client = Client::new(&remote)?;
            let url = format!("{}/weir/v1/config/reload", client.base);
            let (status, text) =
                client
                    .http
                    .send(reqwest::Method::POST, &url, None, "application/json")?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            client.print(&value, |v| {
                outln!(
                    "revision {}: {} {}",
                    v["revision"],
                    v["state"].as_str().unwrap_or("?"),
                    v["reason"].as_str().unwrap_or("")
                )
            });
            Ok(if status < 300 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::List {
            what,
            pattern,
            remote,
        } => {
            let client = Client::new(&remote)?;
            let pattern = pattern.map(|p| format!("?pattern={p}")).unwrap_or_default();
            match what {
                ListKind::Tasks => {
                    let value = client.get(&format!("/kapacitor/v1/tasks{pattern}"))?;
                    client.print(&value, |v| {
                        outln!(
                            "{:<30} {:<7} {:<9} {:<10} Databases and Retention Policies",
                            "ID",
                            "Type",
                            "Status",
                            "Executing"
                        );
                        for task in v["tasks"].as_array().into_iter().flatten() {
                            let dbrps: Vec<String> = task["dbrps"]
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
                            outln!(
                                "{:<30} {:<7} {:<9} {:<10} [{}]",
                                task["id"].as_str().unwrap_or(""),
                                task["type"].as_str().unwrap_or(""),
                                task["status"].as_str().unwrap_or(""),
                                task["executing"].as_bool().unwrap_or(false),
                                dbrps.join(", ")
                            );
                        }
                    });
                }
                ListKind::Templates => {
                    let value = client.get(&format!("/kapacitor/v1/templates{pattern}"))?;
                    client.print(&value, |v| {
                        outln!("{:<30} {:<7} Vars", "ID", "Type");
                        for template in v["templates"].as_array().into_iter().flatten() {
                            let vars: Vec<&String> = template["vars"]
                                .as_object()
                                .map(|o| o.keys().collect())
                                .unwrap_or_default();
                            outln!(
                                "{:<30} {:<7} {}",
                                template["id"].as_str().unwrap_or(""),
                                template["type"].as_str().unwrap_or(""),
                                vars.iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            );
                        }
                    });
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, remote } => {
            let client = Client::new(&remote)?;
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
        Command::Delete { what, ids, remote } => {
            let client = Client::new(&remote)?;
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
            remote,
        } => {
            let client = Client::new(&remote)?;
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
        Command::Stats { remote } => {
            let client = Client::new(&remote)?;
            let tasks = client.get("/kapacitor/v1/tasks?fields=status,executing,stats")?;
            let sinks = client.get("/weir/v1/sinks")?;
            let status = client.get("/weir/v1/config/status")?;
            let value = json!({"tasks": tasks["tasks"], "sinks": sinks["sinks"], "config": status});
            client.print(&value, |v| {
                outln!(
                    "config revision {} ({})",
                    v["config"]["running_revision"],
                    v["config"]["state"].as_str().unwrap_or("")
                );
                outln!(
                    "{:<30} {:<9} {:>12} {:>12} {:>8}",
                    "TASK",
                    "STATUS",
                    "COLLECTED",
                    "EMITTED",
                    "ERRORS"
                );
                for task in v["tasks"].as_array().into_iter().flatten() {
                    let nodes = task["stats"]["node-stats"].as_object();
                    let sum = |key: &str| {
                        nodes.map_or(0, |n| {
                            n.values().filter_map(|s| s[key].as_u64()).sum::<u64>()
                        })
                    };
                    outln!(
                        "{:<30} {:<9} {:>12} {:>12} {:>8}",
                        task["id"].as_str().unwrap_or(""),
                        task["status"].as_str().unwrap_or(""),
                        sum("collected"),
                        sum("emitted"),
                        sum("errors")
                    );
                }
                for sink in v["sinks"].as_array().into_iter().flatten() {
                    outln!("sink {}", sink);
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Scrapers { remote } => {
            let client = Client::new(&remote)?;
            let value = client.get("/weir/v1/scrapers")?;
            client.print(&value, |v| {
                for scraper in v["scrapers"].as_array().into_iter().flatten() {
                    outln!("{}", human_line(scraper));
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Targets { unhealthy, remote } => {
            let client = Client::new(&remote)?;
            let value = client.get(if unhealthy {
                "/weir/v1/targets?unhealthy=true"
            } else {
                "/weir/v1/targets"
            })?;
            client.print(&value, |v| {
                for target in v["targets"].as_array().into_iter().flatten() {
                    outln!("{}", human_line(target));
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect { name, remote } => {
            let client = Client::new(&remote)?;
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
        Command::Discoverers { action, id, remote } => {
            let client = Client::new(&remote)?;
            match (action, id) {
                (None, _) => {
                    let value = client.get("/weir/v1/discoverers")?;
                    client.print(&value, |v| {
                        for source in v["discoverers"].as_array().into_iter().flatten() {
                            outln!("{}", human_line(source));
                        }
                    });
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
            remote,
        } => {
            let client = Client::new(&remote)?;
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
                let third = if target.is_some() {
                    "RELATION"
                } else {
                    "ATTRIBUTES"
                };
                outln!("{:<60} {:<24} {third}", "ID", "KIND");
                for ci in v["cis"].as_array().into_iter().flatten() {
                    let detail = match &target {
                        // The relationships that tie this item to the one asked about.
                        Some(target) => ci["relations"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|r| {
                                format!(
                                    "{}:{}",
                                    r["target_kind"].as_str().unwrap_or(""),
                                    r["target_key"].as_str().unwrap_or("")
                                ) == *target
                            })
                            .filter_map(|r| r["kind"].as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        None => ci["config"].as_object().map_or(0, |o| o.len()).to_string(),
                    };
                    outln!(
                        "{:<60} {:<24} {detail}",
                        ci["id"].as_str().unwrap_or(""),
                        ci["key"]["kind"].as_str().unwrap_or("")
                    );
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Ci { id, remote } => {
            let client = Client::new(&remote)?;
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
            remote,
        } => {
            let client = Client::new(&remote)?;
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
                for change in v["changes"].as_array().into_iter().flatten() {
                    outln!(
                        "{} {:<8} {}",
                        change["time"].as_str().unwrap_or(""),
                        change["change"].as_str().unwrap_or(""),
                        change["ci"].as_str().unwrap_or("")
                    );
                    for diff in change["diffs"].as_array().into_iter().flatten() {
                        let show = |value: &Value| {
                            value.as_str().map_or_else(|| "∅".to_owned(), str::to_owned)
                        };
                        outln!(
                            "    {}: {} → {}",
                            diff["attribute"].as_str().unwrap_or(""),
                            show(&diff["old"]),
                            show(&diff["new"])
                        );
                    }
                }
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

/// `key=value` pairs of a JSON object's scalar members, on one line.
fn human_line(value: &Value) -> String {
    match value.as_object() {
        Some(object) => object
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => value.to_string(),
    }
}
