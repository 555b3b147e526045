//! `alert()`: the level state machine per group (levels, resets, history, flapping,
//! stateChangesOnly, noRecoveries, all), templated ids and messages, Kapacitor's event JSON
//! for the handlers, and decorated points downstream (reference §2.3.6).
//!
//! With `.persist()` and an [`AlertStateStore`] attached, each group's state is loaded when
//! the task starts and saved whenever its level changes or an event is sent.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use serde_json::{Map, Value as Json};
use weir_dsl::nodes::AlertSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::alert_state::{AlertGroupState, AlertStateStore};
use crate::json::{self, format_time};
use crate::message::{Batch, Message, PointScope, TaskPoint};
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Fields, Point, Tags};
use crate::template::{Template, TemplateData};
use crate::topics::{AlertEvent, EventState};

const OK: usize = 0;
const CRITICAL: usize = 3;
const LEVEL_NAMES: [&str; 4] = ["OK", "INFO", "WARNING", "CRITICAL"];
const DEFAULT_ID: &str = "{{ .Name }}:{{ .Group }}";
const DEFAULT_MESSAGE: &str = "{{ .ID }} is {{ .Level }}";
const DEFAULT_DETAILS: &str = "{{ json . }}";
/// Flapping weights grow linearly from this to 1.2 over the history.
const MIN_WEIGHT: f64 = 0.8;
const MAX_WEIGHT: f64 = 1.2;

struct GroupState {
    history: Vec<usize>,
    idx: usize,
    flapping: bool,
    changed: bool,
    expired: bool,
    first_triggered: i64,
    last_triggered: i64,
    levels: Vec<LambdaState>,
    resets: Vec<LambdaState>,
    /// The id rendered for the group's latest point and that point's measurement (ids that
    /// do not read the point's tags are the same for every point of a group and name).
    id_cache: Option<(String, String)>,
    /// With persistence: the id and level of the latest event sent, and its JSON.
    last_sent: Option<(String, u8)>,
    last_event: Option<Vec<u8>>,
}

impl GroupState {
    fn new(history: usize) -> GroupState {
        GroupState {
            history: vec![OK; history],
            idx: 0,
            flapping: false,
            changed: false,
            expired: false,
            first_triggered: i64::MIN,
            last_triggered: i64::MIN,
            levels: (0..=CRITICAL).map(|_| LambdaState::default()).collect(),
            resets: (0..=CRITICAL).map(|_| LambdaState::default()).collect(),
            id_cache: None,
            last_sent: None,
            last_event: None,
        }
    }

    /// A group as it was saved; a history of another length is stretched or cut at the
    /// oldest end, so a changed `.history()` keeps the recent levels.
    fn restore(saved: AlertGroupState, history: usize) -> GroupState {
        let mut state = GroupState::new(history);
        let len = saved.history.len();
        if len > 0 {
            let newest = saved.idx.min(len - 1);
            // Oldest to newest, then the newest `history` of them.
            let ordered: Vec<usize> = (1..=len)
                .map(|offset| usize::from(saved.history[(newest + offset) % len]).min(CRITICAL))
                .collect();
            let keep = &ordered[ordered.len().saturating_sub(history)..];
            let pad = history - keep.len();
            let oldest = keep.first().copied().unwrap_or(OK);
            state.history = std::iter::repeat_n(oldest, pad)
                .chain(keep.iter().copied())
                .collect();
            state.idx = history - 1;
        }
        state.flapping = saved.flapping;
        state.first_triggered = saved.first_triggered;
        state.last_triggered = saved.last_triggered;
        state.last_sent = saved.last_sent;
        state.last_event = saved.last_event;
        state
    }

    fn snapshot(&self, group: &str) -> AlertGroupState {
        AlertGroupState {
            group: group.to_owned(),
            history: self.history.iter().map(|level| *level as u8).collect(),
            idx: self.idx,
            flapping: self.flapping,
            first_triggered: self.first_triggered,
            last_triggered: self.last_triggered,
            last_sent: self.last_sent.clone(),
            last_event: self.last_event.clone(),
        }
    }

    fn current(&self) -> usize {
        self.history[self.idx]
    }

    fn previous(&self) -> usize {
        let len = self.history.len();
        self.history[(self.idx + len - 1) % len]
    }

    fn percent_change(&self) -> f64 {
        let len = self.history.len();
        let step = (MAX_WEIGHT - MIN_WEIGHT) / (len - 1) as f64;
        let mut weight = MIN_WEIGHT;
        let mut changes = 0.0;
        for offset in 0..len - 1 {
            // Kapacitor starts at the newest entry and walks the ring from there.
            let current = (offset + self.idx) % len;
            let previous = (current + len - 1) % len;
            if self.history[current] != self.history[previous] {
                changes += weight;
            }
            weight += step;
        }
        changes / (len - 1) as f64
    }

    fn triggered(&mut self, time: i64) {
        self.last_triggered = time;
        if self.previous() == OK {
            self.first_triggered = time;
        }
    }

    fn duration(&self) -> i64 {
        self.last_triggered.saturating_sub(self.first_triggered)
    }
}

/// Runtime state of `alert()`.
pub struct Alert {
    spec: AlertSpec,
    levels: Vec<Option<Lambda>>,
    resets: Vec<Option<Lambda>>,
    id: Template,
    message: Template,
    details: Template,
    history: usize,
    state_changes_interval: i64,
    groups: Groups,
    sent_levels: HashMap<String, usize>,
    /// The id template reads nothing that varies within a group and measurement.
    id_per_group: bool,
    /// Conditions CRITICAL needs besides its predicate (`deadman`'s extra expressions).
    critical_also: Vec<Lambda>,
    store: Option<Persistence>,
    /// The latest event `send` built: id, level and JSON.
    sent: Option<(String, usize, Vec<u8>)>,
}

type Groups = HashMap<String, GroupState>;

/// Where a persisting alert node saves its groups.
struct Persistence {
    store: Arc<dyn AlertStateStore>,
    task: String,
    node: String,
}

/// One event about to be sent.
struct Event<'a> {
    id: String,
    name: &'a str,
    group: &'a str,
    tags: &'a Tags,
    fields: &'a Fields,
    level: usize,
    time: i64,
    duration: i64,
    row: Json,
}

impl Alert {
    /// Build from the spec; templates are parsed here.
    pub fn new(spec: &AlertSpec) -> Result<Alert, String> {
        let parse = |source: &Option<String>, default: &str, html: bool| {
            Template::parse(source.as_deref().unwrap_or(default), html)
                .map_err(|error| format!("alert template: {error}"))
        };
        if let Some((low, high)) = spec.flapping {
            if low > 1.0 || high > 1.0 {
                return Err(
                    "alert flap thresholds are percentages and should be between 0 and 1".into(),
                );
            }
        }
        let id = parse(&spec.id, DEFAULT_ID, false)?;
        Ok(Alert {
            id_per_group: !id.reads("Tags"),
            critical_also: Vec::new(),
            levels: vec![
                None,
                spec.info.clone(),
                spec.warn.clone(),
                spec.crit.clone(),
            ],
            resets: vec![
                None,
                spec.info_reset.clone(),
                spec.warn_reset.clone(),
                spec.crit_reset.clone(),
            ],
            id,
            message: parse(&spec.message, DEFAULT_MESSAGE, false)?,
            details: parse(&spec.details, DEFAULT_DETAILS, true)?,
            history: usize::try_from(spec.history).unwrap_or(0).max(2),
            state_changes_interval: spec
                .state_changes_only
                .flatten()
                .map(|interval| interval.nanos())
                .unwrap_or(0),
            spec: spec.clone(),
            groups: HashMap::default(),
            sent_levels: HashMap::default(),
            store: None,
            sent: None,
        })
    }

    /// With `.persist()`: load the saved groups of this node and save changes from now on.
    pub fn attach_state(&mut self, store: &Arc<dyn AlertStateStore>, task: &str, node: &str) {
        if !self.spec.persist {
            return;
        }
        for saved in store.load(task, node) {
            let group = saved.group.clone();
            let state = GroupState::restore(saved, self.history);
            if let Some((id, level)) = &state.last_sent {
                self.sent_levels
                    .insert(id.clone(), usize::from(*level).min(CRITICAL));
            }
            self.groups.insert(group, state);
        }
        self.store = Some(Persistence {
            store: store.clone(),
            task: task.to_owned(),
            node: node.to_owned(),
        });
    }

    /// Put a group's state back after a message; saves it when it changed in a way that
    /// matters after a restart (a new level, an event sent, flapping toggled).
    fn persist(&mut self, group: &str, state: &mut GroupState, was_flapping: bool) {
        let sent = self.sent.take();
        if let Some(persistence) = &self.store {
            let save = state.changed || sent.is_some() || state.flapping != was_flapping;
            if let Some((id, level, event)) = sent {
                state.last_sent = Some((id, level as u8));
                state.last_event = Some(event);
            }
            if save {
                persistence
                    .store
                    .save(&persistence.task, &persistence.node, state.snapshot(group));
            }
        }
    }

    /// The group's state, created at its first message.
    fn state<'g>(&self, groups: &'g mut Groups, group: &str) -> &'g mut GroupState {
        if !groups.contains_key(group) {
            groups.insert(group.to_owned(), GroupState::new(self.history));
        }
        // The group was inserted just above when it was missing.
        groups.get_mut(group).expect("group state")
    }

    /// The first level from `start` down to (not including) `stop` whose predicate holds.
    fn first_match(
        &self,
        start: usize,
        stop: usize,
        point: &Point,
        states: &mut [LambdaState],
        ctx: &mut Context<'_>,
    ) -> Option<usize> {
        let mut level = start;
        while level > stop {
            if let Some(predicate) = &self.levels[level] {
                match predicate.eval_bool(&PointScope::new(point), &mut states[level]) {
                    Ok(true) if level == CRITICAL && !self.critical_also.is_empty() => {
                        if self.also_critical(point, ctx) {
                            return Some(level);
                        }
                    }
                    Ok(true) => return Some(level),
                    Ok(false) => {}
                    Err(error) => {
                        self.report(ctx, format!("{} level: {error}", LEVEL_NAMES[level]))
                    }
                }
            }
            level -= 1;
        }
        None
    }

    /// Whether every extra CRITICAL condition holds (Kapacitor ANDs them into the
    /// predicate). Their stateful functions see no per-group state.
    fn also_critical(&self, point: &Point, ctx: &mut Context<'_>) -> bool {
        self.critical_also.iter().all(|condition| {
            match condition.eval_bool(&PointScope::new(point), &mut LambdaState::default()) {
                Ok(holds) => holds,
                Err(error) => {
                    self.report(ctx, format!("CRITICAL level: {error}"));
                    false
                }
            }
        })
    }

    /// Conditions CRITICAL needs besides the `crit` predicate (`deadman`'s expressions).
    pub fn require_for_critical(&mut self, conditions: Vec<Lambda>) {
        self.critical_also = conditions;
    }

    fn determine_level(
        &self,
        point: &Point,
        state: &mut GroupState,
        ctx: &mut Context<'_>,
    ) -> usize {
        let current = state.current();
        let floor = current.saturating_sub(1);
        let stop = if current == OK { OK } else { floor };
        if let Some(level) = self.first_match(CRITICAL, stop, point, &mut state.levels, ctx) {
            return level;
        }
        if let Some(reset) = &self.resets[current] {
            match reset.eval_bool(&PointScope::new(point), &mut state.resets[current]) {
                Ok(false) => return current,
                Ok(true) => {}
                Err(error) => self.report(ctx, format!("{} reset: {error}", LEVEL_NAMES[current])),
            }
        }
        self.first_match(current, OK, point, &mut state.levels, ctx)
            .unwrap_or(OK)
    }

    fn report(&self, ctx: &mut Context<'_>, error: String) {
        if self.spec.quiet {
            ctx.stats().add_error();
        } else {
            ctx.error(error);
        }
    }

    fn add_event(&self, state: &mut GroupState, time: i64, level: usize) {
        state.changed = state.current() != level;
        state.idx = (state.idx + 1) % state.history.len();
        state.history[state.idx] = level;
        if let Some((low, high)) = self.spec.flapping {
            let change = state.percent_change();
            if state.flapping && change < low {
                state.flapping = false;
            } else if !state.flapping && change > high {
                state.flapping = true;
            }
        }
        state.expired = !state.changed
            && self.state_changes_interval != 0
            && time.saturating_sub(state.last_triggered) >= self.state_changes_interval;
    }

    fn suppressed(&self, state: &GroupState) -> bool {
        (self.spec.flapping.is_some() && state.flapping)
            || (self.spec.state_changes_only.is_some() && !state.changed && !state.expired)
    }

    fn render_id(&self, ctx: &Context<'_>, name: &str, group: &str, tags: &Tags) -> String {
        self.id.render(&TemplateData {
            name,
            task_name: ctx.task(),
            group,
            tags: Some(tags),
            ..TemplateData::default()
        })
    }

    /// Render and send an event; returns its id and message for decorations.
    fn send(&mut self, event: Event<'_>, ctx: &mut Context<'_>) -> (String, String) {
        let level_name = LEVEL_NAMES[event.level];
        let mut data = TemplateData {
            name: event.name,
            task_name: ctx.task(),
            group: event.group,
            tags: Some(event.tags),
            id: Some(&event.id),
            fields: Some(event.fields),
            level: Some(level_name),
            time: Some(event.time),
            duration: Some(event.duration),
            message: None,
        };
        let message = self.message.render(&data);
        data.message = Some(&message);
        let details = self.details.render(&data);
        let previous = self
            .sent_levels
            .insert(event.id.clone(), event.level)
            .unwrap_or(OK);
        let mut body = Map::new();
        body.insert("id".into(), Json::from(event.id.as_str()));
        body.insert("message".into(), Json::from(message.as_str()));
        body.insert("details".into(), Json::from(details.as_str()));
        let details_text = details;
        body.insert("time".into(), Json::from(format_time(event.time)));
        body.insert("duration".into(), Json::from(event.duration));
        body.insert("level".into(), Json::from(level_name));
        // Go writes a whole float as an integer (`75`), and handlers get it that way.
        body.insert(
            "data".into(),
            json::go_numbers(json::series(vec![event.row])),
        );
        body.insert("previousLevel".into(), Json::from(LEVEL_NAMES[previous]));
        body.insert("recoverable".into(), Json::Bool(!self.spec.no_recoveries));
        let bytes = Json::Object(body).to_string().into_bytes();
        if self.store.is_some() {
            self.sent = Some((event.id.clone(), event.level, bytes.clone()));
        }
        // The node's handlers, and its topics (`.topic()` and the anonymous one).
        ctx.outputs().alert_event(AlertEvent {
            task: ctx.task(),
            node: ctx.node(),
            topic: self.spec.topic.as_deref(),
            handlers: &self.spec.handlers,
            state: EventState {
                id: event.id.clone(),
                message: message.clone(),
                details: details_text,
                time: event.time,
                duration: event.duration,
                level: event.level as u8,
            },
            name: event.name,
            tags: event.tags,
            json: bytes,
        });
        ctx.stats().add_alert(event.level);
        (event.id, message)
    }

    fn decorate(&self, point: &mut Point, id: &str, message: &str, level: usize, duration: i64) {
        let level_name = LEVEL_NAMES[level];
        if let Some(tag) = &self.spec.level_tag {
            point.tags.insert(tag.clone(), level_name.to_owned());
        }
        if let Some(tag) = &self.spec.id_tag {
            point.tags.insert(tag.clone(), id.to_owned());
        }
        let mut set = |name: &Option<String>, value: FieldValue| {
            if let Some(name) = name {
                point.fields.insert(name.as_str().into(), value);
            }
        };
        set(
            &self.spec.level_field,
            FieldValue::String(level_name.to_owned()),
        );
        set(
            &self.spec.message_field,
            FieldValue::String(message.to_owned()),
        );
        set(&self.spec.id_field, FieldValue::String(id.to_owned()));
        set(&self.spec.duration_field, FieldValue::Int(duration));
    }

    fn process_point(&mut self, task_point: TaskPoint, ctx: &mut Context<'_>) {
        let TaskPoint { mut point, group } = task_point;
        let mut groups = std::mem::take(&mut self.groups);
        let state = self.state(&mut groups, &group.id);
        let was_flapping = state.flapping;
        let id = match &state.id_cache {
            Some((name, id)) if self.id_per_group && *name == point.name => id.clone(),
            _ => {
                let id = self.render_id(ctx, &point.name, &group.id, &point.tags);
                if self.id_per_group {
                    state.id_cache = Some((point.name.to_string(), id.clone()));
                }
                id
            }
        };
        let level = self.determine_level(&point, state, ctx);
        self.add_event(state, point.time, level);
        let mut decorated = None;
        if !self.suppressed(state) && (level != OK || state.changed) {
            state.triggered(point.time);
            if !(self.spec.no_recoveries && level == OK) {
                let duration = state.duration();
                let row = json::point_row(&point);
                let event = Event {
                    id,
                    name: &point.name,
                    group: &group.id,
                    tags: &point.tags,
                    fields: &point.fields,
                    level,
                    time: point.time,
                    duration,
                    row,
                };
                let (id, message) = self.send(event, ctx);
                self.decorate(&mut point, &id, &message, level, duration);
                decorated = Some(point);
            }
        }
        self.persist(&group.id, state, was_flapping);
        self.groups = groups;
        if let Some(point) = decorated {
            ctx.emit(Message::Point(TaskPoint { point, group }));
        }
    }

    fn process_batch(&mut self, mut batch: Batch, ctx: &mut Context<'_>) {
        if batch.points.is_empty() {
            return;
        }
        let mut groups = std::mem::take(&mut self.groups);
        let state = self.state(&mut groups, &batch.group.id);
        let was_flapping = state.flapping;
        let id = self.render_id(ctx, &batch.name, &batch.group.id, &batch.group.tags);
        let mut lowest = CRITICAL;
        let mut highest: Option<(usize, usize)> = None;
        for (idx, point) in batch.points.iter().enumerate() {
            // Every point is judged against the level the batch started at.
            let level = self.determine_level(point, state, ctx);
            lowest = lowest.min(level);
            if highest.is_none_or(|(best, _)| level > best) {
                highest = Some((level, idx));
            }
        }
        let Some((highest_level, highest_idx)) = highest else {
            return;
        };
        let level = if self.spec.all { lowest } else { highest_level };
        let time = if self.spec.all || level == OK {
            batch.tmax
        } else {
            batch.points[highest_idx].time
        };
        self.add_event(state, time, level);
        let send = (state.changed && level == OK) || (level != OK && !self.suppressed(state));
        if send {
            state.triggered(time);
        }
        if send && !(self.spec.no_recoveries && level == OK) {
            let duration = state.duration();
            let row = json::batch_row(&batch);
            let fields = batch.points[highest_idx].fields.clone();
            let event = Event {
                id,
                name: &batch.name,
                group: &batch.group.id,
                tags: &batch.group.tags,
                fields: &fields,
                level,
                time,
                duration,
                row,
            };
            let (id, message) = self.send(event, ctx);
            for point in &mut batch.points {
                self.decorate(point, &id, &message, level, duration);
            }
            self.persist(&batch.group.id, state, was_flapping);
            self.groups = groups;
            ctx.emit(Message::Batch(batch));
            return;
        }
        self.persist(&batch.group.id, state, was_flapping);
        self.groups = groups;
    }
}

impl Node for Alert {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(point) => self.process_point(point, ctx),
            Message::Batch(batch) => self.process_batch(batch, ctx),
        }
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        if barrier.delete {
            // `barrier().delete(TRUE)`: the group starts over at its next point (what was
            // persisted stays, as Kapacitor keeps its topic state).
            self.groups.remove(barrier.group.id.as_str());
        }
        true
    }

    fn attach_alert_state(&mut self, store: &Arc<dyn AlertStateStore>, task: &str, node: &str) {
        self.attach_state(store, task, node);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_weights_recent_changes_more() {
        let mut state = GroupState::new(3);
        assert_eq!(state.percent_change(), 0.0);
        state.history = vec![OK, CRITICAL, OK];
        state.idx = 2;
        // Kapacitor's walk: newest vs previous (weight 0.8), then oldest vs newest (1.0).
        assert!((state.percent_change() - 0.4).abs() < 1e-12);
        state.history = vec![CRITICAL, OK, CRITICAL];
        state.idx = 1;
        assert!((state.percent_change() - 0.9).abs() < 1e-12);
        let alert = Alert::new(&AlertSpec {
            history: 21,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(alert.history, 21);
        assert!(
            Alert::new(&AlertSpec {
                flapping: Some((0.2, 2.0)),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            Alert::new(&AlertSpec {
                id: Some("{{ .Bad }}".into()),
                ..Default::default()
            })
            .is_err()
        );
    }

    fn alert_task(
        persist: &str,
        store: &Arc<dyn AlertStateStore>,
    ) -> (crate::task::Task, Arc<crate::nodes::test_support::Recorder>) {
        let script = format!(
            "dbrp \"db\".\"rp\"\n\
             stream|from().measurement('cpu').groupBy('host')\
             |alert().crit(lambda: \"value\" > 90.0).stateChangesOnly(){persist}\
             .log('/dev/null')"
        );
        let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recorder = Arc::new(crate::nodes::test_support::Recorder::default());
        let mut task = crate::task::Task::new("t", &program, recorder.clone()).unwrap();
        task.attach_alert_state(store);
        (task, recorder)
    }

    fn cpu(host: &str, value: f64, secs: i64) -> Point {
        Point::gauge(
            "cpu",
            [("host".to_string(), host.to_string())].into(),
            value,
            secs * 1_000_000_000,
        )
    }

    fn levels(recorder: &crate::nodes::test_support::Recorder) -> Vec<(String, String)> {
        recorder
            .alerts
            .lock()
            .unwrap()
            .iter()
            .map(|event| {
                let json: Json = serde_json::from_str(event).unwrap();
                (
                    json["level"].as_str().unwrap().to_owned(),
                    json["previousLevel"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn persisted_state_survives_a_restart_without_refiring() {
        let memory = Arc::new(crate::alert_state::memory::MemoryStore::default());
        let store: Arc<dyn AlertStateStore> = memory.clone();
        let (mut task, recorder) = alert_task(".persist()", &store);
        task.write(
            "db",
            "rp",
            vec![
                cpu("a", 95.0, 1),
                cpu("b", 10.0, 1),
                cpu("a", 96.0, 2),
                cpu("a", 97.0, 3),
            ],
        );
        task.stop();
        assert_eq!(levels(&recorder), [("CRITICAL".into(), "OK".into())]);
        // Only the level change of host=a was worth a save.
        assert_eq!(*memory.saves.lock().unwrap(), 1);
        let saved = memory.states.lock().unwrap();
        let a = &saved[&("t".to_owned(), "alert2".to_owned(), "host=a".to_owned())];
        assert_eq!(a.last_sent, Some(("cpu:host=a".to_owned(), 3)));
        assert!(a.last_event.as_ref().is_some_and(|event| !event.is_empty()));
        drop(saved);

        // The restarted task knows host=a is CRITICAL: no new event, and the recovery comes.
        let (mut task, recorder) = alert_task(".persist()", &store);
        task.write("db", "rp", vec![cpu("a", 98.0, 10), cpu("a", 10.0, 11)]);
        task.stop();
        assert_eq!(levels(&recorder), [("OK".into(), "CRITICAL".into())]);
        let event: Json = serde_json::from_str(&recorder.alerts.lock().unwrap()[0]).unwrap();
        // The episode started before the restart: 1s to 11s.
        assert_eq!(event["duration"], 10_000_000_000i64);

        // Without .persist() the store is neither read nor written.
        let saves = *memory.saves.lock().unwrap();
        let (mut task, recorder) = alert_task("", &store);
        task.write("db", "rp", vec![cpu("b", 95.0, 20)]);
        task.stop();
        assert_eq!(levels(&recorder), [("CRITICAL".into(), "OK".into())]);
        assert_eq!(*memory.saves.lock().unwrap(), saves);
        store.forget_task("t");
        assert!(store.load("t", "alert2").is_empty());
    }

    #[test]
    fn restore_adapts_the_history_length() {
        let saved = AlertGroupState {
            group: "g".into(),
            history: vec![3, 0, 1, 2],
            idx: 1,
            ..Default::default()
        };
        // Oldest to newest: 1, 2, 3, 0.
        let longer = GroupState::restore(saved.clone(), 6);
        assert_eq!(longer.history, vec![1, 1, 1, 2, 3, 0]);
        assert_eq!(longer.current(), OK);
        assert_eq!(longer.previous(), CRITICAL);
        let shorter = GroupState::restore(saved, 2);
        assert_eq!(shorter.history, vec![3, 0]);
        assert_eq!(shorter.current(), OK);
    }

    #[test]
    fn triggered_resets_the_episode_after_ok() {
        let alert = Alert::new(&AlertSpec::default()).unwrap();
        let mut state = GroupState::new(21);
        alert.add_event(&mut state, 2, 1);
        state.triggered(2);
        alert.add_event(&mut state, 5, 3);
        state.triggered(5);
        assert_eq!(state.duration(), 3);
        alert.add_event(&mut state, 7, OK);
        state.triggered(7);
        assert_eq!(state.duration(), 5);
        alert.add_event(&mut state, 9, 2);
        state.triggered(9);
        assert_eq!(state.duration(), 0);
    }
}
