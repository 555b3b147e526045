//! Alert topics (Kapacitor's `alert.Topics`): every event an alert node raises is collected
//! into its topics, which keep the latest state of each event id, count what they collected,
//! and run the handlers defined on them (`post`, `tcp`, `log`, `exec`, `aggregate`,
//! `publish`), each behind its match expression.
//!
//! An alert node with `.topic('name')` collects into that topic; one with handlers of its own
//! also collects into its anonymous topic `main:<task>:<node>` (Kapacitor's rule), whose
//! events live as long as the task. Event states and handler specs are persisted through a
//! [`TopicStore`] (the binary's SQLite), like [`crate::AlertStateStore`]. Collecting never
//! blocks: deliveries go through [`Outputs::alert`], which only enqueues.

pub mod handler;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use weir_dsl::{LambdaState, Scope, Value};

use crate::json::format_time;
use crate::point::Tags;
use crate::runtime::Outputs;
pub use handler::{Action, Handler, HandlerSpec};

/// Level names by number (0 = OK ... 3 = CRITICAL).
pub const LEVEL_NAMES: [&str; 4] = ["OK", "INFO", "WARNING", "CRITICAL"];

/// Kapacitor's task master id, the first part of anonymous topic names.
pub const TASK_MASTER: &str = "main";

/// The anonymous topic of alert node `node` of task `task`.
pub fn anonymous_topic(task: &str, node: &str) -> String {
    format!("{TASK_MASTER}:{task}:{node}")
}

/// Publishing through more topics than this in one chain is cut (a loop of publish handlers).
const MAX_HOPS: usize = 16;
const BASE: &str = "/kapacitor/v1/alerts/topics";

/// The latest state of one event id in a topic (Kapacitor's `EventState`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventState {
    /// Event id.
    pub id: String,
    /// Rendered message.
    pub message: String,
    /// Rendered details.
    pub details: String,
    /// Event time, ns.
    pub time: i64,
    /// Duration of the episode, ns.
    pub duration: i64,
    /// Level, 0 = OK ... 3 = CRITICAL.
    pub level: u8,
}

/// An event an alert node raised, as it reaches [`Outputs::alert_event`].
#[derive(Debug)]
pub struct AlertEvent<'a> {
    /// Task id.
    pub task: &'a str,
    /// Alert node name (`alert2`).
    pub node: &'a str,
    /// `.topic('name')`.
    pub topic: Option<&'a str>,
    /// The node's own handlers.
    pub handlers: &'a [weir_dsl::nodes::AlertHandler],
    /// The event's state.
    pub state: EventState,
    /// Measurement name.
    pub name: &'a str,
    /// Tags of the point or group.
    pub tags: &'a Tags,
    /// Kapacitor's alert JSON, as handlers receive it.
    pub json: Vec<u8>,
}

/// Where topic state lives between runs. Saves must only enqueue (they run on task threads).
pub trait TopicStore: Send + Sync + 'static {
    /// Every saved event, with its topic.
    fn load_events(&self) -> Vec<(String, EventState)>;
    /// Every saved handler spec.
    fn load_handlers(&self) -> Vec<HandlerSpec>;
    /// Record the latest state of one event of a topic.
    fn save_event(&self, topic: &str, state: &EventState);
    /// Forget a topic's events.
    fn delete_topic(&self, topic: &str);
    /// Insert or replace a handler spec (before the API answers).
    fn put_handler(&self, spec: &HandlerSpec) -> Result<(), String>;
    /// Delete a handler spec.
    fn delete_handler(&self, topic: &str, id: &str) -> Result<(), String>;
}

/// Why a topic request failed, with the HTTP status Kapacitor answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 500: the store failed.
    #[error("{0}")]
    Store(String),
}

impl TopicError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            TopicError::NotFound(_) => 404,
            TopicError::Invalid(_) => 400,
            TopicError::Store(_) => 500,
        }
    }
}

/// An event on its way through topics.
#[derive(Debug, Clone)]
struct Collected {
    state: EventState,
    name: String,
    task: String,
    tags: Tags,
    json: Arc<[u8]>,
}

/// Events an aggregate handler holds until its next interval.
#[derive(Debug, Default)]
struct Pending {
    events: Vec<Collected>,
    next_flush: Option<Instant>,
}

#[derive(Debug, Default)]
struct Topic {
    events: HashMap<String, EventState>,
    collected: u64,
    handlers: BTreeMap<String, Handler>,
    pending: HashMap<String, Pending>,
}

impl Topic {
    fn level(&self) -> u8 {
        self.events.values().map(|e| e.level).max().unwrap_or(0)
    }

    /// Events from the highest level down, then by id (Kapacitor's order).
    fn sorted_events(&self, min_level: u8) -> Vec<&EventState> {
        let mut events: Vec<&EventState> = self
            .events
            .values()
            .filter(|event| event.level >= min_level)
            .collect();
        events.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.id.cmp(&b.id)));
        events
    }
}

/// Counters for `/metrics` and `debug/vars`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TopicCounters {
    /// Events collected into any topic.
    pub collected: u64,
    /// Events handed to handlers.
    pub delivered: u64,
    /// Events for service kinds weir does not send to.
    pub undelivered: u64,
}

/// Every topic; see the module docs.
pub struct Topics {
    topics: Mutex<BTreeMap<String, Topic>>,
    store: Option<Arc<dyn TopicStore>>,
    exec_allowed: Mutex<Vec<String>>,
    counters: Mutex<TopicCounters>,
}

/// One delivery to run after the lock is released.
type Delivery = (weir_dsl::nodes::AlertHandler, Arc<[u8]>, String);

/// What a match expression reads: the event's level functions and its tags.
struct MatchScope<'a> {
    event: &'a Collected,
    previous_level: u8,
}

impl Scope for MatchScope<'_> {
    fn field(&self, name: &str) -> Option<Value> {
        let state = &self.event.state;
        Some(match name {
            "level()" => Value::Int(i64::from(state.level)),
            "changed()" => Value::Bool(state.level != self.previous_level),
            "name()" => Value::String(self.event.name.clone()),
            "taskName()" => Value::String(self.event.task.clone()),
            "duration()" => Value::Duration(weir_dsl::Duration(state.duration)),
            _ => return None,
        })
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.event.tags.get(name).map(String::as_str)
    }

    fn time(&self) -> i64 {
        self.event.state.time
    }
}

impl Topics {
    /// Topics without persistence (tests, `weir test`).
    pub fn in_memory() -> Topics {
        Topics {
            topics: Mutex::new(BTreeMap::new()),
            store: None,
            exec_allowed: Mutex::new(Vec::new()),
            counters: Mutex::new(TopicCounters::default()),
        }
    }

    /// Topics restored from `store`: every saved event and handler. A handler that no longer
    /// checks (an `exec` program taken off the allow list) is logged and left out.
    pub fn open(store: Arc<dyn TopicStore>, exec_allowed: Vec<String>) -> Topics {
        let mut topics: BTreeMap<String, Topic> = BTreeMap::new();
        for (topic, state) in store.load_events() {
            topics
                .entry(topic)
                .or_default()
                .events
                .insert(state.id.clone(), state);
        }
        for spec in store.load_handlers() {
            let (topic, id) = (spec.topic.clone(), spec.id.clone());
            match Handler::new(spec, &exec_allowed) {
                Ok(handler) => {
                    topics
                        .entry(topic)
                        .or_default()
                        .handlers
                        .insert(id, handler);
                }
                Err(error) => {
                    tracing::error!(%topic, handler = %id, "topic handler not loaded: {error}")
                }
            }
        }
        Topics {
            topics: Mutex::new(topics),
            store: Some(store),
            exec_allowed: Mutex::new(exec_allowed),
            counters: Mutex::new(TopicCounters::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Topic>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `[exec] allowed-commands`, checked when an `exec` handler is defined.
    pub fn set_exec_allowed(&self, commands: Vec<String>) {
        *self
            .exec_allowed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = commands;
    }

    /// The counters so far.
    pub fn counters(&self) -> TopicCounters {
        *self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Collect an alert node's event into its topics and run their handlers.
    pub fn collect_alert(&self, event: &AlertEvent<'_>, outputs: &dyn Outputs) {
        let collected = Collected {
            state: event.state.clone(),
            name: event.name.to_owned(),
            task: event.task.to_owned(),
            tags: event.tags.clone(),
            json: Arc::from(event.json.as_slice()),
        };
        let mut targets = Vec::with_capacity(2);
        if !event.handlers.is_empty() {
            targets.push(anonymous_topic(event.task, event.node));
        }
        if let Some(topic) = event.topic {
            targets.push(topic.to_owned());
        }
        for topic in targets {
            self.collect(topic, collected.clone(), outputs);
        }
    }

    /// Collect one event into `topic`, then into every topic its publish handlers name.
    fn collect(&self, topic: String, event: Collected, outputs: &dyn Outputs) {
        let mut queue = vec![(topic, event, 0usize)];
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut undelivered = 0;
        let mut collected = 0;
        {
            let mut topics = self.lock();
            while let Some((name, event, hops)) = queue.pop() {
                let topic = topics.entry(name.clone()).or_default();
                let previous_level = topic
                    .events
                    .insert(event.state.id.clone(), event.state.clone())
                    .map_or(0, |previous| previous.level);
                topic.collected += 1;
                collected += 1;
                if let Some(store) = &self.store {
                    store.save_event(&name, &event.state);
                }
                for handler in topic.handlers.values() {
                    if let Some(matcher) = &handler.matcher {
                        let scope = MatchScope {
                            event: &event,
                            previous_level,
                        };
                        match matcher.eval_bool(&scope, &mut LambdaState::default()) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(error) => {
                                tracing::debug!(topic = %name, handler = %handler.spec.id, "match failed: {error}");
                                continue;
                            }
                        }
                    }
                    match &handler.action {
                        Action::Deliver(alert_handler) => deliveries.push((
                            alert_handler.clone(),
                            event.json.clone(),
                            event.task.clone(),
                        )),
                        Action::Publish(targets) if hops < MAX_HOPS => {
                            for target in targets {
                                queue.push((target.clone(), event.clone(), hops + 1));
                            }
                        }
                        Action::Publish(_) => {
                            tracing::warn!(topic = %name, handler = %handler.spec.id, "publish chain longer than {MAX_HOPS} topics: cut");
                        }
                        Action::Aggregate(_) => {
                            topic
                                .pending
                                .entry(handler.spec.id.clone())
                                .or_default()
                                .events
                                .push(event.clone());
                        }
                        Action::Service(kind) => {
                            undelivered += 1;
                            tracing::warn!(topic = %name, handler = %handler.spec.id, "weir does not send to {kind}: event {} not delivered", event.state.id);
                        }
                    }
                }
            }
        }
        self.deliver(deliveries, outputs);
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        counters.collected += collected;
        counters.undelivered += undelivered;
    }

    fn deliver(&self, deliveries: Vec<Delivery>, outputs: &dyn Outputs) {
        let n = deliveries.len() as u64;
        for (handler, json, task) in deliveries {
            outputs.alert_from(&task, &handler, json.to_vec());
        }
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .delivered += n;
    }

    /// Publish what every aggregate handler whose interval has passed holds (called by
    /// [`run_aggregates`] on a timer; `now` is injectable for tests).
    pub fn flush_aggregates(&self, now: Instant, outputs: &dyn Outputs) {
        let mut combined: Vec<(String, Collected)> = Vec::new();
        {
            let mut topics = self.lock();
            for topic in topics.values_mut() {
                for (id, handler) in &topic.handlers {
                    let Action::Aggregate(spec) = &handler.action else {
                        continue;
                    };
                    let pending = topic.pending.entry(id.clone()).or_default();
                    let interval = Duration::from_nanos(spec.interval.unsigned_abs());
                    let due = *pending.next_flush.get_or_insert(now + interval);
                    if due > now {
                        continue;
                    }
                    // Ticks that passed while nothing was due are skipped, like a Go ticker.
                    let mut next = due + interval;
                    while next <= now {
                        next += interval;
                    }
                    pending.next_flush = Some(next);
                    if pending.events.is_empty() {
                        continue;
                    }
                    let events = std::mem::take(&mut pending.events);
                    combined.push((spec.topic.clone(), aggregate(spec, &events)));
                }
            }
        }
        for (topic, mut event) in combined {
            let previous = self
                .lock()
                .get(&topic)
                .and_then(|t| t.events.get(&event.state.id))
                .map_or(0, |e| e.level);
            event.json = aggregate_json(&event, previous);
            self.collect(topic, event, outputs);
        }
    }

    /// Forget the anonymous topics of a deleted task.
    pub fn delete_task_topics(&self, task: &str) {
        let prefix = format!("{TASK_MASTER}:{task}:");
        let names: Vec<String> = self
            .lock()
            .keys()
            .filter(|name| name.starts_with(&prefix))
            .cloned()
            .collect();
        for name in names {
            self.delete_topic(&name);
        }
    }

    /// `DELETE /alerts/topics/{topic}`: its events and counts go; a topic with handlers stays
    /// listed (empty) for as long as they are defined.
    pub fn delete_topic(&self, name: &str) {
        let mut topics = self.lock();
        if let Some(topic) = topics.get_mut(name) {
            topic.events.clear();
            topic.collected = 0;
            topic.pending.clear();
            if topic.handlers.is_empty() {
                topics.remove(name);
            }
        }
        if let Some(store) = &self.store {
            store.delete_topic(name);
        }
    }

    /// Define a handler; `replace` answers an existing id with an error unless set (PUT).
    pub fn put_handler(&self, spec: HandlerSpec, replace: bool) -> Result<Json, TopicError> {
        let exec_allowed = self
            .exec_allowed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let handler = Handler::new(spec, &exec_allowed).map_err(TopicError::Invalid)?;
        if let Action::Service(kind) = &handler.action {
            tracing::warn!(topic = %handler.spec.topic, handler = %handler.spec.id, "handler kind {kind} is kept but weir does not send to {kind}");
        }
        let mut topics = self.lock();
        let topic = topics.entry(handler.spec.topic.clone()).or_default();
        if !replace && topic.handlers.contains_key(&handler.spec.id) {
            return Err(TopicError::Invalid(format!(
                "cannot register handler, handler with ID {:?} already exists",
                handler.spec.id
            )));
        }
        if let Some(store) = &self.store {
            store
                .put_handler(&handler.spec)
                .map_err(|e| TopicError::Store(format!("failed to save handler: {e}")))?;
        }
        let body = handler_json(&handler.spec);
        topic.pending.remove(&handler.spec.id);
        topic.handlers.insert(handler.spec.id.clone(), handler);
        Ok(body)
    }

    /// `DELETE /alerts/topics/{topic}/handlers/{id}` (no error when it did not exist).
    pub fn delete_handler(&self, topic: &str, id: &str) -> Result<(), TopicError> {
        if let Some(store) = &self.store {
            store
                .delete_handler(topic, id)
                .map_err(|e| TopicError::Store(format!("failed to delete handler: {e}")))?;
        }
        let mut topics = self.lock();
        if let Some(state) = topics.get_mut(topic) {
            state.handlers.remove(id);
            state.pending.remove(id);
        }
        Ok(())
    }

    /// `GET /alerts/topics?pattern=&min-level=`; `self_href` is the request's path and query.
    pub fn topics_json(&self, pattern: Option<&str>, min_level: u8, self_href: &str) -> Json {
        let topics = self.lock();
        let list: Vec<Json> = topics
            .iter()
            .filter(|(name, _)| pattern.is_none_or(|p| crate::glob::glob_match(p, name)))
            .filter(|(_, topic)| topic.level() >= min_level)
            .map(|(name, topic)| topic_json(name, topic))
            .collect();
        json!({"link": {"rel": "self", "href": self_href}, "topics": list})
    }

    /// `GET /alerts/topics/{topic}`.
    pub fn topic_json(&self, name: &str) -> Result<Json, TopicError> {
        let topics = self.lock();
        let topic = topics.get(name).ok_or_else(|| unknown_topic(name))?;
        Ok(topic_json(name, topic))
    }

    /// `GET /alerts/topics/{topic}/events?min-level=`.
    pub fn events_json(&self, name: &str, min_level: u8) -> Result<Json, TopicError> {
        let topics = self.lock();
        let topic = topics.get(name).ok_or_else(|| unknown_topic(name))?;
        let events: Vec<Json> = topic
            .sorted_events(min_level)
            .into_iter()
            .map(|event| event_json(name, event))
            .collect();
        Ok(json!({
            "link": {"rel": "self", "href": format!("{BASE}/{name}/events")},
            "topic": name,
            "events": events,
        }))
    }

    /// `GET /alerts/topics/{topic}/events/{event}`.
    pub fn event_json(&self, name: &str, id: &str) -> Result<Json, TopicError> {
        let topics = self.lock();
        topics
            .get(name)
            .and_then(|topic| topic.events.get(id))
            .map(|event| event_json(name, event))
            .ok_or_else(|| TopicError::NotFound(format!("unknown event {id:?} in topic {name:?}")))
    }

    /// `GET /alerts/topics/{topic}/handlers?pattern=`: an unknown topic has none.
    pub fn handlers_json(&self, name: &str, pattern: Option<&str>, self_href: &str) -> Json {
        let topics = self.lock();
        let handlers: Vec<Json> = topics
            .get(name)
            .map(|topic| {
                topic
                    .handlers
                    .values()
                    .filter(|h| pattern.is_none_or(|p| crate::glob::glob_match(p, &h.spec.id)))
                    .map(|h| handler_json(&h.spec))
                    .collect()
            })
            .unwrap_or_default();
        json!({"link": {"rel": "self", "href": self_href}, "topic": name, "handlers": handlers})
    }

    /// `GET /alerts/topics/{topic}/handlers/{id}`.
    pub fn handler_json(&self, name: &str, id: &str) -> Result<Json, TopicError> {
        let topics = self.lock();
        topics
            .get(name)
            .and_then(|topic| topic.handlers.get(id))
            .map(|handler| handler_json(&handler.spec))
            .ok_or_else(|| TopicError::NotFound(format!("unknown handler: {id:?}")))
    }

    /// The spec of a handler, for updates.
    pub fn handler_spec(&self, name: &str, id: &str) -> Option<HandlerSpec> {
        self.lock()
            .get(name)
            .and_then(|topic| topic.handlers.get(id))
            .map(|handler| handler.spec.clone())
    }
}

/// Flush aggregate handlers every 100 ms for as long as `topics` exists.
pub async fn run_aggregates(topics: std::sync::Weak<Topics>, outputs: Arc<dyn Outputs>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticker.tick().await;
        let Some(topics) = topics.upgrade() else {
            return;
        };
        topics.flush_aggregates(Instant::now(), outputs.as_ref());
    }
}

/// Parse Kapacitor's `min-level` (empty: OK).
pub fn parse_level(text: &str) -> Result<u8, TopicError> {
    if text.is_empty() {
        return Ok(0);
    }
    LEVEL_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .map(|level| level as u8)
        .ok_or_else(|| {
            TopicError::Invalid(format!(
                "unknown min-level {text:?}: use OK, INFO, WARNING or CRITICAL"
            ))
        })
}

fn unknown_topic(name: &str) -> TopicError {
    TopicError::NotFound(format!("unknown topic: {name:?}"))
}

fn topic_json(name: &str, topic: &Topic) -> Json {
    json!({
        "link": {"rel": "self", "href": format!("{BASE}/{name}")},
        "id": name,
        "level": LEVEL_NAMES[usize::from(topic.level().min(3))],
        "collected": topic.collected,
        "events-link": {"rel": "events", "href": format!("{BASE}/{name}/events")},
        "handlers-link": {"rel": "handlers", "href": format!("{BASE}/{name}/handlers")},
    })
}

fn event_json(topic: &str, event: &EventState) -> Json {
    json!({
        "link": {"rel": "self", "href": format!("{BASE}/{topic}/events/{}", event.id)},
        "id": event.id,
        "state": {
            "message": event.message,
            "details": event.details,
            "time": format_time(event.time),
            "duration": weir_dsl::Duration(event.duration).to_string(),
            "level": LEVEL_NAMES[usize::from(event.level.min(3))],
        },
    })
}

fn handler_json(spec: &HandlerSpec) -> Json {
    json!({
        "link": {"rel": "self", "href": format!("{BASE}/{}/handlers/{}", spec.topic, spec.id)},
        "id": spec.id,
        "kind": spec.kind,
        "options": spec.options,
        "match": spec.match_expression,
    })
}

/// The combined event of an aggregate handler: the highest level, the latest time, the
/// longest duration, the messages as details, and every event's series as data.
fn aggregate(spec: &handler::AggregateSpec, events: &[Collected]) -> Collected {
    let state = EventState {
        id: spec.id.clone(),
        message: handler::render_message(&spec.message, events.len(), spec.interval),
        details: events
            .iter()
            .map(|e| e.state.message.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        time: events.iter().map(|e| e.state.time).max().unwrap_or(0),
        duration: events.iter().map(|e| e.state.duration).max().unwrap_or(0),
        level: events.iter().map(|e| e.state.level).max().unwrap_or(0),
    };
    let series: Vec<Json> = events
        .iter()
        .filter_map(|e| serde_json::from_slice::<Json>(&e.json).ok())
        .flat_map(|body| match body["data"]["series"].clone() {
            Json::Array(rows) => rows,
            _ => Vec::new(),
        })
        .collect();
    let mut combined = Collected {
        state,
        name: events.first().map(|e| e.name.clone()).unwrap_or_default(),
        task: events.first().map(|e| e.task.clone()).unwrap_or_default(),
        tags: Tags::default(),
        json: Arc::from(Vec::new()),
    };
    // Keep the series for the JSON built once the previous level is known.
    combined.json = Arc::from(Json::Array(series).to_string().into_bytes());
    combined
}

/// The alert JSON of a combined event (`json` holds its series until now).
fn aggregate_json(event: &Collected, previous_level: u8) -> Arc<[u8]> {
    let series: Json = serde_json::from_slice(&event.json).unwrap_or(Json::Array(Vec::new()));
    let state = &event.state;
    let body = json!({
        "id": state.id,
        "message": state.message,
        "details": state.details,
        "time": format_time(state.time),
        "duration": state.duration,
        "level": LEVEL_NAMES[usize::from(state.level.min(3))],
        "data": {"series": series},
        "previousLevel": LEVEL_NAMES[usize::from(previous_level.min(3))],
        "recoverable": false,
    });
    Arc::from(body.to_string().into_bytes())
}

#[cfg(test)]
mod tests;
