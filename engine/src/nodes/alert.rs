//! `alert()`: the level state machine per group (levels, resets, history, flapping,
//! stateChangesOnly, noRecoveries, all), templated ids and messages, Kapacitor's event JSON
//! for the handlers, and decorated points downstream (reference §2.3.6).

use rustc_hash::FxHashMap as HashMap;

use serde_json::{Map, Value as Json};
use weir_dsl::nodes::AlertSpec;
use weir_dsl::{Lambda, LambdaState};

use crate::json::{self, format_time};
use crate::message::{Batch, Message, PointScope, TaskPoint};
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Fields, Point, Tags};
use crate::template::{Template, TemplateData};

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
    groups: HashMap<String, GroupState>,
    sent_levels: HashMap<String, usize>,
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
        Ok(Alert {
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
            id: parse(&spec.id, DEFAULT_ID, false)?,
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
        })
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
        body.insert("details".into(), Json::from(details));
        body.insert("time".into(), Json::from(format_time(event.time)));
        body.insert("duration".into(), Json::from(event.duration));
        body.insert("level".into(), Json::from(level_name));
        body.insert("data".into(), json::series(vec![event.row]));
        body.insert("previousLevel".into(), Json::from(LEVEL_NAMES[previous]));
        body.insert("recoverable".into(), Json::Bool(!self.spec.no_recoveries));
        let bytes = Json::Object(body).to_string().into_bytes();
        for handler in &self.spec.handlers {
            ctx.outputs().alert(handler, bytes.clone());
        }
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
                point.fields.insert(name.clone(), value);
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
        let mut state = self
            .groups
            .remove(group.id.as_str())
            .unwrap_or_else(|| GroupState::new(self.history));
        let id = self.render_id(ctx, &point.name, &group.id, &point.tags);
        let level = self.determine_level(&point, &mut state, ctx);
        self.add_event(&mut state, point.time, level);
        let mut decorated = None;
        if !self.suppressed(&state) && (level != OK || state.changed) {
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
        self.groups.insert(group.id.clone(), state);
        if let Some(point) = decorated {
            ctx.emit(Message::Point(TaskPoint { point, group }));
        }
    }

    fn process_batch(&mut self, mut batch: Batch, ctx: &mut Context<'_>) {
        if batch.points.is_empty() {
            return;
        }
        let mut state = self
            .groups
            .remove(batch.group.id.as_str())
            .unwrap_or_else(|| GroupState::new(self.history));
        let id = self.render_id(ctx, &batch.name, &batch.group.id, &batch.group.tags);
        let mut lowest = CRITICAL;
        let mut highest: Option<(usize, usize)> = None;
        for (idx, point) in batch.points.iter().enumerate() {
            // Every point is judged against the level the batch started at.
            let level = self.determine_level(point, &mut state, ctx);
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
        self.add_event(&mut state, time, level);
        let send = (state.changed && level == OK) || (level != OK && !self.suppressed(&state));
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
            self.groups.insert(batch.group.id.clone(), state);
            ctx.emit(Message::Batch(batch));
            return;
        }
        self.groups.insert(batch.group.id.clone(), state);
    }
}

impl Node for Alert {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(point) => self.process_point(point, ctx),
            Message::Batch(batch) => self.process_batch(batch, ctx),
        }
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
