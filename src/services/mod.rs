//! Kapacitor's alert services (`[slack]`, `[pagerduty2]`, ...): each kind's config section and
//! the request it sends for an event, one file per kind; this module owns what they share:
//! the event as handlers see it, option lookup, and delivery.
//!
//! Delivery never blocks a task: every service has a bounded queue (events past it are
//! dropped and counted) and one worker that sends in order, retrying with back-off; what was
//! sent, failed or dropped is counted per service in `/metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value as Json};
use weir_engine::template::{Template, TemplateData};
use weir_engine::{Fields, Tags};

pub mod alerta;
pub mod discord;
pub mod hipchat;
pub mod httppost;
pub mod opsgenie;
pub mod opsgenie2;
pub mod pagerduty;
pub mod pagerduty2;
pub mod pushover;
pub mod sensu;
pub mod servicenow;
pub mod slack;
pub mod talk;
pub mod teams;
pub mod telegram;
pub mod victorops;

/// Events a service holds while its worker is behind; more are dropped (and counted).
const QUEUE: usize = 1_000;
/// Attempts per request (the first and the retries).
const ATTEMPTS: u32 = 4;
/// The first retry waits this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The alert services' config sections, as Kapacitor names them (fields of the config's
/// top level, gathered by `Config::services`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicesConfig {
    /// `[alerta]`.
    pub alerta: alerta::Config,
    /// `[[discord]]`.
    pub discord: Vec<discord::Config>,
    /// `[hipchat]`.
    pub hipchat: hipchat::Config,
    /// `[[httppost]]`.
    pub httppost: Vec<httppost::Config>,
    /// `[opsgenie]`.
    pub opsgenie: opsgenie::Config,
    /// `[opsgenie2]`.
    pub opsgenie2: opsgenie2::Config,
    /// `[pagerduty]`.
    pub pagerduty: pagerduty::Config,
    /// `[pagerduty2]`.
    pub pagerduty2: pagerduty2::Config,
    /// `[pushover]`.
    pub pushover: pushover::Config,
    /// `[sensu]`.
    pub sensu: sensu::Config,
    /// `[servicenow]`.
    pub servicenow: servicenow::Config,
    /// `[[slack]]`.
    pub slack: Vec<slack::Config>,
    /// `[talk]`.
    pub talk: talk::Config,
    /// `[teams]`.
    pub teams: teams::Config,
    /// `[telegram]`.
    pub telegram: telegram::Config,
    /// `[victorops]`.
    pub victorops: victorops::Config,
}

/// `[slack]` or `[[slack]]`: Kapacitor accepts one table or a list.
pub fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(many) => many,
        OneOrMany::One(one) => vec![one],
    })
}

impl ServicesConfig {
    /// The kinds with an enabled section (what W605 checks scripts against).
    pub fn enabled(&self) -> Vec<String> {
        let mut kinds = Vec::new();
        let mut add = |kind: &str, enabled: bool| {
            if enabled {
                kinds.push(kind.to_owned());
            }
        };
        add("alerta", self.alerta.enabled);
        add("discord", self.discord.iter().any(|c| c.enabled));
        add("hipchat", self.hipchat.enabled);
        add("opsgenie", self.opsgenie.enabled);
        add("opsgenie2", self.opsgenie2.enabled);
        add("pagerduty", self.pagerduty.enabled);
        add("pagerduty2", self.pagerduty2.enabled);
        add("pushover", self.pushover.enabled);
        add("sensu", self.sensu.enabled);
        add("servicenow", self.servicenow.enabled);
        add("slack", self.slack.iter().any(|c| c.enabled));
        add("talk", self.talk.enabled);
        add("teams", self.teams.enabled);
        add("telegram", self.telegram.enabled);
        add("victorops", self.victorops.enabled);
        kinds
    }

    /// The services with `global = true` (every alert goes to them), each with its
    /// `state-changes-only` (then only events whose level changed).
    pub fn global(&self) -> Vec<(&'static str, bool)> {
        let mut out = Vec::new();
        let mut add = |kind: &'static str, enabled: bool, global: bool, changes: bool| {
            if enabled && global {
                out.push((kind, changes));
            }
        };
        for slack in &self.slack {
            if slack.default || self.slack.len() == 1 {
                add(
                    "slack",
                    slack.enabled,
                    slack.global,
                    slack.state_changes_only,
                );
            }
        }
        for discord in &self.discord {
            if discord.default || self.discord.len() == 1 {
                add(
                    "discord",
                    discord.enabled,
                    discord.global,
                    discord.state_changes_only,
                );
            }
        }
        let h = &self.hipchat;
        add("hipchat", h.enabled, h.global, h.state_changes_only);
        add(
            "opsgenie",
            self.opsgenie.enabled,
            self.opsgenie.global,
            false,
        );
        add(
            "opsgenie2",
            self.opsgenie2.enabled,
            self.opsgenie2.global,
            false,
        );
        add(
            "pagerduty",
            self.pagerduty.enabled,
            self.pagerduty.global,
            false,
        );
        add(
            "pagerduty2",
            self.pagerduty2.enabled,
            self.pagerduty2.global,
            false,
        );
        let sn = &self.servicenow;
        add("servicenow", sn.enabled, sn.global, sn.state_changes_only);
        let t = &self.teams;
        add("teams", t.enabled, t.global, t.state_changes_only);
        let tg = &self.telegram;
        add("telegram", tg.enabled, tg.global, tg.state_changes_only);
        add(
            "victorops",
            self.victorops.enabled,
            self.victorops.global,
            false,
        );
        out
    }

    /// The requests `kind` sends for `event`, or why it cannot.
    pub fn requests(
        &self,
        kind: &str,
        options: &Map<String, Json>,
        event: &Event,
        site: &Site,
        event_json: &[u8],
    ) -> Result<Vec<Outgoing>, String> {
        let not_configured = || format!("{kind} is not configured: add a [{kind}] section");
        let one = |request: Outgoing| Ok(vec![request]);
        let o = Options(options);
        match kind {
            "alerta" if self.alerta.enabled => one(alerta::request(&self.alerta, &o, event)?),
            "discord" => {
                let config = pick(&self.discord, o.str("workspace"), |c| {
                    (c.enabled, c.default, c.workspace.as_str())
                })
                .ok_or_else(not_configured)?;
                one(discord::request(config, &o, event))
            }
            "hipchat" if self.hipchat.enabled => one(hipchat::request(&self.hipchat, &o, event)?),
            "httppost" => one(httppost::request(&self.httppost, &o, event, event_json)?),
            "opsgenie" if self.opsgenie.enabled => {
                one(opsgenie::request(&self.opsgenie, &o, event))
            }
            "opsgenie2" if self.opsgenie2.enabled => {
                one(opsgenie2::request(&self.opsgenie2, &o, event))
            }
            "pagerduty" if self.pagerduty.enabled => {
                one(pagerduty::request(&self.pagerduty, &o, event, site))
            }
            "pagerduty2" if self.pagerduty2.enabled => {
                one(pagerduty2::request(&self.pagerduty2, &o, event, site))
            }
            "pushover" if self.pushover.enabled => {
                one(pushover::request(&self.pushover, &o, event))
            }
            "sensu" if self.sensu.enabled => one(sensu::request(&self.sensu, &o, event)),
            "servicenow" if self.servicenow.enabled => {
                one(servicenow::request(&self.servicenow, &o, event))
            }
            "slack" => {
                let config = pick(&self.slack, o.str("workspace"), |c| {
                    (c.enabled, c.default, c.workspace.as_str())
                })
                .ok_or_else(not_configured)?;
                one(slack::request(config, &o, event))
            }
            "talk" if self.talk.enabled => one(talk::request(&self.talk, event)),
            "teams" if self.teams.enabled => one(teams::request(&self.teams, &o, event)),
            "telegram" if self.telegram.enabled => {
                one(telegram::request(&self.telegram, &o, event))
            }
            "victorops" if self.victorops.enabled => {
                one(victorops::request(&self.victorops, &o, event))
            }
            _ => Err(not_configured()),
        }
    }
}

/// The enabled instance of a multi-instance section (`[[slack]]`) a handler names by its
/// `workspace`, or the default one (marked `default`, or the only one).
fn pick<C>(
    configs: &[C],
    workspace: Option<String>,
    key: impl Fn(&C) -> (bool, bool, &str),
) -> Option<&C> {
    let enabled: Vec<&C> = configs.iter().filter(|c| key(c).0).collect();
    match workspace.filter(|w| !w.is_empty()) {
        Some(workspace) => enabled.into_iter().find(|c| key(c).2 == workspace),
        None => enabled
            .iter()
            .find(|c| key(c).1)
            .copied()
            .or_else(|| (enabled.len() == 1).then(|| enabled[0])),
    }
}

/// Where this weir answers, for the services that link back (PagerDuty's `client_url`).
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// `http://host:port/kapacitor/v1`.
    pub client_url: String,
}

/// One request to a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The URL, query included; `tcp://host:port` sends the body over a TCP connection.
    pub url: String,
    /// Headers besides `Content-Type`.
    pub headers: Vec<(String, String)>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// A request timeout other than the client's 30 s.
    pub timeout: Option<Duration>,
}

impl Outgoing {
    /// A JSON POST; `newline` adds the `\n` Go's JSON encoder ends bodies with.
    pub fn json(url: String, body: &Json, newline: bool) -> Outgoing {
        let mut bytes = serde_json::to_vec(body).unwrap_or_default();
        if newline {
            bytes.push(b'\n');
        }
        Outgoing {
            url,
            headers: Vec::new(),
            content_type: "application/json",
            body: bytes,
            timeout: None,
        }
    }

    /// With one more header.
    pub fn header(mut self, name: &str, value: String) -> Outgoing {
        self.headers.push((name.to_owned(), value));
        self
    }
}

/// An alert event as the services read it: Kapacitor's `alert.Data` and the task.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// Alert id.
    pub id: String,
    /// Rendered message.
    pub message: String,
    /// Rendered details.
    pub details: String,
    /// Event time (RFC 3339 as in the alert JSON).
    pub time: String,
    /// Event time, ns.
    pub time_nanos: i64,
    /// Duration, ns.
    pub duration: i64,
    /// `OK`, `INFO`, `WARNING` or `CRITICAL`.
    pub level: String,
    /// The event's `data`: `{"series": [...]}`.
    pub data: Json,
    /// Task id.
    pub task: String,
    /// The series name (the measurement).
    pub name: String,
    /// The series tags.
    pub tags: BTreeMap<String, String>,
    /// The first row's fields.
    pub fields: BTreeMap<String, Json>,
}

impl Event {
    /// Parse the alert JSON an alert node or topic hands to handlers.
    pub fn parse(task: &str, json: &[u8]) -> Result<Event, String> {
        let value: Json =
            serde_json::from_slice(json).map_err(|e| format!("alert event is not JSON: {e}"))?;
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        let series = &value["data"]["series"][0];
        let tags = series["tags"]
            .as_object()
            .map(|tags| {
                tags.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut fields = BTreeMap::new();
        if let (Some(columns), Some(row)) =
            (series["columns"].as_array(), series["values"][0].as_array())
        {
            for (column, value) in columns.iter().zip(row) {
                if let Some(column) = column.as_str().filter(|c| *c != "time") {
                    fields.insert(column.to_owned(), value.clone());
                }
            }
        }
        let time = text("time");
        Ok(Event {
            id: text("id"),
            message: text("message"),
            details: text("details"),
            time_nanos: crate::ci::parse_time(&time, 0).unwrap_or(0),
            time,
            duration: value["duration"].as_i64().unwrap_or(0),
            level: text("level"),
            data: value["data"].clone(),
            task: task.to_owned(),
            name: series["name"].as_str().unwrap_or_default().to_owned(),
            tags,
            fields,
        })
    }

    /// The data as Go's JSON encoder writes `models.Result` (series keys in struct order).
    pub fn data_json(&self) -> String {
        let series: Vec<String> = self.data["series"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|one| {
                let mut text = format!("{{\"name\":{}", one["name"]);
                if let Some(tags) = one["tags"].as_object().filter(|t| !t.is_empty()) {
                    text.push_str(&format!(",\"tags\":{}", Json::Object(tags.clone())));
                }
                text.push_str(&format!(
                    ",\"columns\":{},\"values\":{}}}",
                    one["columns"], one["values"]
                ));
                text
            })
            .collect();
        format!("{{\"series\":[{}]}}", series.join(","))
    }

    /// Render a handler option that Kapacitor treats as a template (`{{ index .Tags "host" }}`).
    pub fn render(&self, source: &str) -> Result<String, String> {
        if !source.contains("{{") {
            return Ok(source.to_owned());
        }
        let template = Template::parse(source, false)?;
        let tags: Tags = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let fields: Fields = self
            .fields
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().into(),
                    weir_engine::test_run::field_from_json(v)?,
                ))
            })
            .collect();
        Ok(template.render(&TemplateData {
            name: &self.name,
            task_name: &self.task,
            group: "",
            tags: Some(&tags),
            id: Some(&self.id),
            fields: Some(&fields),
            level: Some(&self.level),
            time: Some(self.time_nanos),
            duration: Some(self.duration),
            message: Some(&self.message),
        }))
    }

    /// Whether this is a recovery.
    pub fn is_ok(&self) -> bool {
        self.level == "OK"
    }
}

/// A handler's options (a topic handler's `options`, or an alert node's handler properties).
pub struct Options<'a>(pub &'a Map<String, Json>);

impl Options<'_> {
    /// A string option, when set.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Json::String(text) => Some(text.clone()),
            Json::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A string option, else `default` (a config value), when non-empty either way.
    pub fn or(&self, key: &str, default: &str) -> String {
        self.str(key)
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| default.to_owned())
    }

    /// A list of strings (a single string is a list of one).
    pub fn strings(&self, key: &str) -> Option<Vec<String>> {
        match self.0.get(key)? {
            Json::Array(items) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_owned)
                    })
                    .collect(),
            ),
            Json::String(text) => Some(vec![text.clone()]),
            _ => None,
        }
    }

    /// A boolean option.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// The raw value.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.get(key)
    }
}

/// Delivery counters of one service.
#[derive(Debug, Default)]
pub struct ServiceStats {
    /// Requests the service answered 2xx.
    pub sent: AtomicU64,
    /// Requests that failed after every retry (or could not be built).
    pub failed: AtomicU64,
    /// Events dropped because the service's queue was full.
    pub dropped: AtomicU64,
}

/// The daemon's service senders: one queue and worker per kind, started on first use.
pub struct Services {
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
    config: arc_swap::ArcSwap<(ServicesConfig, Site)>,
    queues: std::sync::Mutex<BTreeMap<String, tokio::sync::mpsc::Sender<Job>>>,
    stats: std::sync::Mutex<BTreeMap<String, Arc<ServiceStats>>>,
}

impl Services {
    /// Senders that spawn their workers on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle, config: ServicesConfig, site: Site) -> Services {
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Services {
            runtime,
            client,
            config: arc_swap::ArcSwap::from_pointee((config, site)),
            queues: std::sync::Mutex::new(BTreeMap::new()),
            stats: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Apply a reloaded config (queued requests are sent as built).
    pub fn set_config(&self, config: ServicesConfig, site: Site) {
        self.config.store(Arc::new((config, site)));
    }

    /// The kinds with an enabled section.
    pub fn enabled(&self) -> Vec<String> {
        self.config.load().0.enabled()
    }

    /// Send an alert node's event to the `global` services (Kapacitor's `global = true`),
    /// except those the node already names.
    pub fn deliver_global(&self, task: &str, named: &[&str], event_json: &[u8]) {
        let globals = self.config.load().0.global();
        if globals.is_empty() {
            return;
        }
        let changed = || {
            let event: Json = serde_json::from_slice(event_json).unwrap_or(Json::Null);
            event["level"] != event["previousLevel"]
        };
        let options = Map::new();
        for (kind, changes_only) in globals {
            if named.contains(&kind) || (changes_only && !changed()) {
                continue;
            }
            self.deliver(task, kind, &options, event_json);
        }
    }

    /// Counters per service kind, for `/metrics`.
    pub fn stats(&self) -> Vec<(String, Arc<ServiceStats>)> {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(kind, stats)| (kind.clone(), stats.clone()))
            .collect()
    }

    fn stats_of(&self, kind: &str) -> Arc<ServiceStats> {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(kind.to_owned())
            .or_default()
            .clone()
    }

    /// Build the requests for one event and queue them; never waits.
    pub fn deliver(&self, task: &str, kind: &str, options: &Map<String, Json>, event_json: &[u8]) {
        let stats = self.stats_of(kind);
        let config = self.config.load();
        let requests = Event::parse(task, event_json).and_then(|event| {
            config
                .0
                .requests(kind, options, &event, &config.1, event_json)
        });
        let requests = match requests {
            Ok(requests) => requests,
            Err(reason) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(service = kind, task, "alert not sent: {reason}");
                return;
            }
        };
        for request in requests {
            self.enqueue(kind, kind, request);
        }
    }

    /// Queue one request behind the others of `queue` (sent in order), counted under
    /// `kind`; never waits (a full queue drops it, counted).
    pub fn enqueue(&self, queue: &str, kind: &str, request: Outgoing) {
        self.enqueue_job(queue, kind, Job::Send(request));
    }

    /// Queue any delivery behind the others of `queue`.
    pub fn enqueue_job(&self, queue: &str, kind: &str, job: Job) {
        let stats = self.stats_of(kind);
        if self
            .queue(queue, kind, stats.clone())
            .try_send(job)
            .is_err()
        {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(service = kind, "alert dropped: the {queue} queue is full");
        }
    }

    fn queue(
        &self,
        key: &str,
        kind: &str,
        stats: Arc<ServiceStats>,
    ) -> tokio::sync::mpsc::Sender<Job> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = queues.get(key).filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Job>(QUEUE);
        let client = self.client.clone();
        let service = kind.to_owned();
        let target = key.to_owned();
        self.runtime.spawn(async move {
            while let Some(job) = receiver.recv().await {
                let result = match job {
                    Job::Send(request) => send(&client, &request).await,
                    Job::Exec { command, stdin } => run(&command, &stdin).await,
                    Job::Log { path, line } => append(path, line).await,
                };
                match result {
                    Ok(()) => stats.sent.fetch_add(1, Ordering::Relaxed),
                    Err(reason) => {
                        tracing::warn!(%service, %target, "alert not delivered: {reason}");
                        stats.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        queues.insert(key.to_owned(), sender.clone());
        sender
    }
}

/// One delivery of a queue.
#[derive(Debug)]
pub enum Job {
    /// An HTTP request or a `tcp://` write, retried.
    Send(Outgoing),
    /// `.exec()`: run the command with the event on stdin (not retried: it may have acted).
    Exec {
        /// Program and arguments, passed as given.
        command: Vec<String>,
        /// The alert JSON and a newline, as Kapacitor writes it.
        stdin: Vec<u8>,
    },
    /// `.log()`: append one line to the file.
    Log {
        /// The file.
        path: std::path::PathBuf,
        /// The alert JSON and a newline.
        line: Vec<u8>,
    },
}

/// Run a command with `stdin`, within 30 s.
async fn run(command: &[String], stdin: &[u8]) -> Result<(), String> {
    use tokio::io::AsyncWriteExt as _;
    let Some((program, args)) = command.split_first() else {
        return Err("exec: no command".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin)
            .await
            .map_err(|e| format!("{program}: stdin: {e}"))?;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .map_err(|_| format!("{program}: timed out after 30s"))?
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}

/// Append a line to a file (created when missing).
async fn append(path: std::path::PathBuf, line: Vec<u8>) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(&line))
            .map_err(|e| format!("{}: {e}", path.display()))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// One connection: write the body, close the writing side, read what the peer answers
/// until it closes (Sensu answers `ok`).
async fn send_tcp(address: &str, body: &[u8]) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let limit = Duration::from_secs(10);
    let timed_out = |_| std::io::Error::other("timed out");
    let mut stream = tokio::time::timeout(limit, tokio::net::TcpStream::connect(address))
        .await
        .map_err(timed_out)??;
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .map_err(timed_out)??;
    Ok(())
}

/// A request over `tcp://` (one connection), or a POST; both with retries: network errors and 5xx/429 answers are retried with back-off, other
/// answers are final.
async fn send(client: &reqwest::Client, request: &Outgoing) -> Result<(), String> {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if let Some(address) = request.url.strip_prefix("tcp://") {
            match send_tcp(address, &request.body).await {
                Ok(()) => return Ok(()),
                Err(e) => last = format!("{address}: {e}"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            continue;
        }
        let mut builder = client.post(&request.url).body(request.body.clone());
        if !request.content_type.is_empty() {
            builder = builder.header("Content-Type", request.content_type);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        match builder.send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                last = format!("{status}: {}", body.chars().take(200).collect::<String>());
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Err(last);
                }
            }
            Err(e) => last = e.to_string(),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}
