//! Alert state in the embedded store (`alert().persist()`): the engine's
//! [`AlertStateStore`] over the `alert_state` table of `weir.db`.
//!
//! Task threads only enqueue saves; one writer thread drains the queue into batched
//! transactions (the latest state per group wins within a batch), so persisting costs the
//! alert hot path a channel send. A load first waits for the queue to be written, so a task
//! restarted in the same process reads what its previous run saved.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use weir_engine::{AlertGroupState, AlertStateStore};

/// Saves queued before task threads wait for the writer (back-pressure, not memory growth).
const QUEUE: usize = 65_536;
/// Most commands written in one transaction.
const BATCH: usize = 16_384;
/// How long a load waits for queued saves to reach the database.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Version of the row format.
const VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_state (
    task TEXT NOT NULL,
    node TEXT NOT NULL,
    grp TEXT NOT NULL,
    version INTEGER NOT NULL,
    history BLOB NOT NULL,
    idx INTEGER NOT NULL,
    flapping INTEGER NOT NULL,
    first_triggered INTEGER NOT NULL,
    last_triggered INTEGER NOT NULL,
    last_id TEXT,
    last_level INTEGER,
    last_event BLOB,
    PRIMARY KEY (task, node, grp)
) WITHOUT ROWID;
";

pub(super) enum Command {
    Save {
        task: String,
        node: String,
        state: AlertGroupState,
    },
    Forget(String),
    Flush(SyncSender<()>),
    /// A topic event saved or a topic deleted (`super::topics`).
    Topic(super::topics::TopicCommand),
}

/// Alert state in SQLite; see the module docs.
pub struct SqliteAlertState {
    sender: Mutex<Option<SyncSender<Command>>>,
    reader: Mutex<Connection>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.busy_timeout(Duration::from_secs(10))?;
    Ok(connection)
}

/// Why the alert state store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread could not start.
    #[error("cannot start the alert state writer: {0}")]
    Thread(#[from] std::io::Error),
}

impl SqliteAlertState {
    /// Open the table in `weir.db` under `data_dir` and start the writer thread.
    pub fn open(data_dir: &Path) -> Result<SqliteAlertState, OpenError> {
        let path = data_dir.join("weir.db");
        let writer_connection = open(&path)?;
        writer_connection.execute_batch(SCHEMA)?;
        writer_connection.execute_batch(super::topics::SCHEMA)?;
        let reader = open(&path)?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("weir-alert-state".to_owned())
            .spawn(move || write_loop(writer_connection, receiver))?;
        Ok(SqliteAlertState {
            sender: Mutex::new(Some(sender)),
            reader: Mutex::new(reader),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// The reading connection (also used for the rare synchronous writes).
    pub(super) fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn send(&self, command: Command) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match sender {
            // A send error means the writer ended; the state is then only in memory.
            Some(sender) => {
                if sender.send(command).is_err() {
                    tracing::error!("alert state writer is gone: state not persisted");
                }
            }
            None => tracing::warn!("alert state store is closed: state not persisted"),
        }
    }

    /// Wait until everything queued so far is in the database.
    pub fn flush(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        self.send(Command::Flush(ack));
        if done.recv_timeout(FLUSH_TIMEOUT).is_err() {
            tracing::warn!("alert state writer did not flush in time");
        }
    }

    /// Write what is queued and stop the writer (after the engine stopped its tasks).
    pub fn close(&self) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sender);
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("alert state writer panicked");
            }
        }
    }

    fn read(&self, task: &str, node: &str) -> rusqlite::Result<Vec<AlertGroupState>> {
        let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let mut statement = reader.prepare_cached(
            "SELECT grp, version, history, idx, flapping, first_triggered, last_triggered,
                    last_id, last_level, last_event
             FROM alert_state WHERE task = ?1 AND node = ?2",
        )?;
        let rows = statement.query_map(params![task, node], |row| {
            let version: i64 = row.get(1)?;
            let last_id: Option<String> = row.get(7)?;
            let last_level: Option<i64> = row.get(8)?;
            Ok((
                version,
                AlertGroupState {
                    group: row.get(0)?,
                    history: row.get(2)?,
                    idx: usize::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                    flapping: row.get::<_, i64>(4)? != 0,
                    first_triggered: row.get(5)?,
                    last_triggered: row.get(6)?,
                    last_sent: last_id.zip(last_level.map(|level| level.clamp(0, 3) as u8)),
                    last_event: row.get(9)?,
                },
            ))
        })?;
        let mut states = Vec::new();
        for row in rows {
            let (version, state) = row?;
            if version > VERSION {
                tracing::warn!(
                    task,
                    node,
                    group = %state.group,
                    version,
                    "alert state written by a newer weir: ignored"
                );
                continue;
            }
            states.push(state);
        }
        Ok(states)
    }
}

impl AlertStateStore for SqliteAlertState {
    fn load(&self, task: &str, node: &str) -> Vec<AlertGroupState> {
        self.flush();
        match self.read(task, node) {
            Ok(states) => states,
            Err(error) => {
                tracing::error!(
                    task,
                    node,
                    "cannot read alert state, starting fresh: {error}"
                );
                Vec::new()
            }
        }
    }

    fn save(&self, task: &str, node: &str, state: AlertGroupState) {
        self.send(Command::Save {
            task: task.to_owned(),
            node: node.to_owned(),
            state,
        });
    }

    fn forget_task(&self, task: &str) {
        self.send(Command::Forget(task.to_owned()));
    }
}

impl Drop for SqliteAlertState {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(mut connection: Connection, receiver: Receiver<Command>) {
    let mut last_error_log: Option<Instant> = None;
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        let mut acks = Vec::new();
        if let Err(error) = write_batch(&mut connection, batch, &mut acks) {
            // Keep going: the next change of a group saves it whole again.
            if last_error_log.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                tracing::error!("cannot persist alert state: {error}");
                last_error_log = Some(Instant::now());
            }
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

fn write_batch(
    connection: &mut Connection,
    batch: Vec<Command>,
    acks: &mut Vec<SyncSender<()>>,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT OR REPLACE INTO alert_state
             (task, node, grp, version, history, idx, flapping, first_triggered, last_triggered,
              last_id, last_level, last_event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut forget = transaction.prepare_cached("DELETE FROM alert_state WHERE task = ?1")?;
        // Only the latest state of a group in this batch is written; a forget in between
        // drops the saves before it.
        let mut latest: HashMap<(String, String, String), usize> = HashMap::new();
        let mut latest_topic: HashMap<(String, String), usize> = HashMap::new();
        let mut commands: Vec<Option<Command>> = batch.into_iter().map(Some).collect();
        for idx in 0..commands.len() {
            match &commands[idx] {
                Some(Command::Save { task, node, state }) => {
                    let key = (task.clone(), node.clone(), state.group.clone());
                    if let Some(previous) = latest.insert(key, idx) {
                        commands[previous] = None;
                    }
                }
                Some(Command::Topic(topic_command)) => {
                    if let Some(key) = topic_command.key() {
                        if let Some(previous) = latest_topic.insert(key, idx) {
                            commands[previous] = None;
                        }
                    }
                }
                Some(Command::Forget(task)) => {
                    let task = task.clone();
                    latest.retain(|(saved_task, _, _), previous| {
                        if *saved_task == task {
                            commands[*previous] = None;
                            false
                        } else {
                            true
                        }
                    });
                }
                _ => {}
            }
        }
        for command in commands.into_iter().flatten() {
            match command {
                Command::Save { task, node, state } => {
                    let (last_id, last_level) = match state.last_sent {
                        Some((id, level)) => (Some(id), Some(i64::from(level))),
                        None => (None, None),
                    };
                    upsert.execute(params![
                        task,
                        node,
                        state.group,
                        VERSION,
                        state.history,
                        state.idx as i64,
                        i64::from(state.flapping),
                        state.first_triggered,
                        state.last_triggered,
                        last_id,
                        last_level,
                        state.last_event,
                    ])?;
                }
                Command::Forget(task) => {
                    forget.execute(params![task])?;
                }
                Command::Flush(ack) => acks.push(ack),
                Command::Topic(topic_command) => topic_command.apply(&transaction)?,
            }
        }
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(group: &str, level: u8) -> AlertGroupState {
        AlertGroupState {
            group: group.to_owned(),
            history: vec![0, level],
            idx: 1,
            flapping: level == 2,
            first_triggered: 5,
            last_triggered: 7,
            last_sent: Some((format!("cpu:{group}"), level)),
            last_event: Some(b"{\"level\":\"CRITICAL\"}".to_vec()),
        }
    }

    #[test]
    fn saves_survive_reopening_and_forget_removes_a_task() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAlertState::open(dir.path()).unwrap();
        store.save("t", "alert2", state("host=a", 3));
        store.save("t", "alert2", state("host=a", 2));
        store.save("t", "alert2", state("host=b", 3));
        store.save("u", "alert2", state("nil", 1));
        store.forget_task("u");
        store.save(
            "v",
            "alert5",
            AlertGroupState {
                group: "nil".into(),
                history: vec![0, 0],
                ..Default::default()
            },
        );
        store.close();
        drop(store);

        let store = SqliteAlertState::open(dir.path()).unwrap();
        let mut loaded = store.load("t", "alert2");
        loaded.sort_by(|a, b| a.group.cmp(&b.group));
        assert_eq!(loaded, vec![state("host=a", 2), state("host=b", 3)]);
        assert!(store.load("u", "alert2").is_empty());
        let plain = store.load("v", "alert5");
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].last_sent, None);
        assert_eq!(plain[0].last_event, None);
        // A load sees saves still in the queue.
        store.save("t", "alert2", state("host=c", 1));
        assert_eq!(store.load("t", "alert2").len(), 3);
    }
}
