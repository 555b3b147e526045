//! Alert topics in the embedded store: the latest state of each event of each topic
//! (`topic_events`, written by the alert state's writer thread in its batched transactions,
//! so collecting an event costs a task a channel send) and the topic handler specs
//! (`topic_handlers`, written before the API answers).

use rusqlite::{Transaction, params};
use weir_engine::TopicStore;
use weir_engine::topics::{EventState, HandlerSpec};

use super::alert_state::{Command, SqliteAlertState};

/// Version of the row formats.
const VERSION: i64 = 1;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS topic_events (
    topic TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL,
    time INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (topic, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topic_handlers (
    topic TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (topic, id)
) WITHOUT ROWID;
";

/// A topic write queued for the writer thread.
pub(super) enum TopicCommand {
    Save { topic: String, state: EventState },
    Delete(String),
}

impl TopicCommand {
    /// The key a later save of the same event replaces within one batch.
    pub(super) fn key(&self) -> Option<(String, String)> {
        match self {
            TopicCommand::Save { topic, state } => Some((topic.clone(), state.id.clone())),
            TopicCommand::Delete(_) => None,
        }
    }

    pub(super) fn apply(self, transaction: &Transaction<'_>) -> rusqlite::Result<()> {
        match self {
            TopicCommand::Save { topic, state } => {
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO topic_events
                         (topic, id, version, message, details, time, duration, level)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        topic,
                        state.id,
                        VERSION,
                        state.message,
                        state.details,
                        state.time,
                        state.duration,
                        i64::from(state.level),
                    ])?;
            }
            TopicCommand::Delete(topic) => {
                transaction
                    .prepare_cached("DELETE FROM topic_events WHERE topic = ?1")?
                    .execute(params![topic])?;
            }
        }
        Ok(())
    }
}

impl SqliteAlertState {
    fn read_events(&self) -> rusqlite::Result<Vec<(String, EventState)>> {
        let reader = self.reader();
        let mut statement = reader.prepare(
            "SELECT topic, id, message, details, time, duration, level FROM topic_events
             WHERE version <= ?1",
        )?;
        let rows = statement.query_map(params![VERSION], |row| {
            Ok((
                row.get::<_, String>(0)?,
                EventState {
                    id: row.get(1)?,
                    message: row.get(2)?,
                    details: row.get(3)?,
                    time: row.get(4)?,
                    duration: row.get(5)?,
                    level: row.get::<_, i64>(6)?.clamp(0, 3) as u8,
                },
            ))
        })?;
        rows.collect()
    }

    fn read_handlers(&self) -> rusqlite::Result<Vec<(String, String, String)>> {
        let reader = self.reader();
        let mut statement =
            reader.prepare("SELECT topic, id, spec FROM topic_handlers WHERE version <= ?1")?;
        let rows = statement.query_map(params![VERSION], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        rows.collect()
    }
}

impl TopicStore for SqliteAlertState {
    fn load_events(&self) -> Vec<(String, EventState)> {
        self.flush();
        self.read_events().unwrap_or_else(|error| {
            tracing::error!("cannot read topic events, starting without them: {error}");
            Vec::new()
        })
    }

    fn load_handlers(&self) -> Vec<HandlerSpec> {
        let rows = self.read_handlers().unwrap_or_else(|error| {
            tracing::error!("cannot read topic handlers, starting without them: {error}");
            Vec::new()
        });
        rows.into_iter()
            .filter_map(
                |(topic, id, spec)| match serde_json::from_str::<HandlerSpec>(&spec) {
                    Ok(mut spec) => {
                        spec.topic = topic;
                        Some(spec)
                    }
                    Err(error) => {
                        tracing::error!(%topic, handler = %id, "bad stored topic handler: {error}");
                        None
                    }
                },
            )
            .collect()
    }

    fn save_event(&self, topic: &str, state: &EventState) {
        self.send(Command::Topic(TopicCommand::Save {
            topic: topic.to_owned(),
            state: state.clone(),
        }));
    }

    fn delete_topic(&self, topic: &str) {
        self.send(Command::Topic(TopicCommand::Delete(topic.to_owned())));
    }

    fn put_handler(&self, spec: &HandlerSpec) -> Result<(), String> {
        let text = serde_json::to_string(spec).map_err(|e| e.to_string())?;
        self.reader()
            .execute(
                "INSERT OR REPLACE INTO topic_handlers (topic, id, version, spec)
                 VALUES (?1, ?2, ?3, ?4)",
                params![spec.topic, spec.id, VERSION, text],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn delete_handler(&self, topic: &str, id: &str) -> Result<(), String> {
        self.reader()
            .execute(
                "DELETE FROM topic_handlers WHERE topic = ?1 AND id = ?2",
                params![topic, id],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, level: u8) -> EventState {
        EventState {
            id: id.into(),
            message: format!("{id} is {level}"),
            details: "d".into(),
            time: 6_000_000_000,
            duration: 4_000_000_000,
            level,
        }
    }

    #[test]
    fn topic_events_and_handlers_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAlertState::open(dir.path()).unwrap();
        store.save_event("cpu", &state("cpu.a", 2));
        store.save_event("cpu", &state("cpu.a", 3));
        store.save_event("cpu", &state("cpu.b", 2));
        store.save_event("gone", &state("x", 1));
        store.delete_topic("gone");
        let mut options = serde_json::Map::new();
        options.insert("address".into(), "127.0.0.1:1".into());
        let spec = HandlerSpec {
            topic: "cpu".into(),
            id: "tcp".into(),
            kind: "tcp".into(),
            options,
            match_expression: "level() > OK".into(),
        };
        store.put_handler(&spec).unwrap();
        store
            .put_handler(&HandlerSpec {
                id: "other".into(),
                ..spec.clone()
            })
            .unwrap();
        store.delete_handler("cpu", "other").unwrap();
        store.close();
        drop(store);

        let store = SqliteAlertState::open(dir.path()).unwrap();
        let mut events = store.load_events();
        events.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        assert_eq!(
            events,
            vec![
                ("cpu".to_owned(), state("cpu.a", 3)),
                ("cpu".to_owned(), state("cpu.b", 2))
            ]
        );
        assert_eq!(store.load_handlers(), vec![spec]);
    }
}
