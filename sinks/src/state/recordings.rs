//! Recordings and replays (`kapacitor record stream`, `kapacitor replay`) in the store.
//!
//! A stream recording takes every point written for its task's databases and retention
//! policies until a point's data time passes its `stop` (Kapacitor stops on data time, not on
//! the wall clock). Its data is line protocol with `# db=… rp=… precision=ns` directives,
//! the format `weir test --data` reads, kept in memory while it runs (at most
//! [`MAX_RECORDING_BYTES`]) and stored in the `recordings` table when it finishes. Replays
//! are listed with their status and, once finished, the task's statistics.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use weir_engine::PointBatch;
use weir_engine::line_protocol::Precision;

use crate::influxdb::encode::encode_points;

/// The most a recording holds; a bigger one fails with a message saying so.
pub const MAX_RECORDING_BYTES: usize = 256 * 1024 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    task TEXT NOT NULL,
    date TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS replays (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
";

/// A recording as Kapacitor lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Id.
    pub id: String,
    /// `stream`.
    pub kind: String,
    /// The task it records for.
    pub task: String,
    /// Bytes of data.
    pub size: u64,
    /// When it started (RFC 3339).
    pub date: String,
    /// Why it failed.
    pub error: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
}

impl Recording {
    /// Kapacitor's recording JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "link": {"rel": "self", "href": format!("/kapacitor/v1/recordings/{}", self.id)},
            "id": self.id,
            "type": self.kind,
            "size": self.size,
            "date": self.date,
            "error": self.error,
            "status": self.status,
            "progress": if self.status == "running" { 0.0 } else { 1.0 },
        })
    }
}

struct Running {
    recording: Recording,
    dbrps: Vec<(String, String)>,
    stop: i64,
    data: Vec<u8>,
    last_dbrp: Option<(String, String)>,
}

/// Recordings and replays; see the module docs.
pub struct Recordings {
    connection: Mutex<Connection>,
    running: Mutex<Vec<Running>>,
    n_running: AtomicUsize,
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// SQLite failed.
    #[error("recordings store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The id is taken.
    #[error("a recording or replay with id {0:?} already exists")]
    Exists(String),
}

impl Recordings {
    /// Open the tables in `weir.db` under `data_dir`. Recordings that were running when
    /// weir stopped are marked failed.
    pub fn open(data_dir: &Path) -> Result<Recordings, RecordingError> {
        let connection = Connection::open(data_dir.join("weir.db"))?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(SCHEMA)?;
        connection.execute(
            "UPDATE recordings SET status = 'failed', error = 'weir stopped while it recorded'
             WHERE status = 'running'",
            [],
        )?;
        Ok(Recordings {
            connection: Mutex::new(connection),
            running: Mutex::new(Vec::new()),
            n_running: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Start a stream recording of what reaches `dbrps` until data time passes `stop` (ns).
    pub fn start_stream(
        &self,
        id: &str,
        task: &str,
        dbrps: Vec<(String, String)>,
        stop: i64,
        date: &str,
    ) -> Result<Recording, RecordingError> {
        if self.get(id)?.is_some() {
            return Err(RecordingError::Exists(id.to_owned()));
        }
        let recording = Recording {
            id: id.to_owned(),
            kind: "stream".into(),
            task: task.to_owned(),
            size: 0,
            date: date.to_owned(),
            error: String::new(),
            status: "running".into(),
        };
        self.save(&recording, &[])?;
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.push(Running {
            recording: recording.clone(),
            dbrps,
            stop,
            data: Vec::new(),
            last_dbrp: None,
        });
        self.n_running.store(running.len(), Ordering::Relaxed);
        Ok(recording)
    }

    /// Register a recording its caller fills (`record batch`, `record query`): listed as
    /// running until [`Recordings::finish`] stores its data or its error.
    pub fn create(
        &self,
        id: &str,
        kind: &str,
        task: &str,
        date: &str,
    ) -> Result<Recording, RecordingError> {
        if self.get(id)?.is_some() {
            return Err(RecordingError::Exists(id.to_owned()));
        }
        let recording = Recording {
            id: id.to_owned(),
            kind: kind.to_owned(),
            task: task.to_owned(),
            size: 0,
            date: date.to_owned(),
            error: String::new(),
            status: "running".into(),
        };
        self.save(&recording, &[])?;
        Ok(recording)
    }

    /// Store what a recording made with [`Recordings::create`] got: its data (finished) or
    /// why it failed.
    pub fn finish(
        &self,
        mut recording: Recording,
        result: Result<Vec<u8>, String>,
    ) -> Result<(), RecordingError> {
        let data = match result {
            Ok(data) if data.len() > MAX_RECORDING_BYTES => {
                recording.status = "failed".into();
                recording.error = format!(
                    "the recording passed {MAX_RECORDING_BYTES} bytes: record a shorter range"
                );
                Vec::new()
            }
            Ok(data) => {
                recording.status = "finished".into();
                data
            }
            Err(error) => {
                recording.status = "failed".into();
                recording.error = error;
                Vec::new()
            }
        };
        recording.size = data.len() as u64;
        self.save(&recording, &data)
    }

    fn save(&self, recording: &Recording, data: &[u8]) -> Result<(), RecordingError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO recordings (id, type, task, date, status, error, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                recording.id,
                recording.kind,
                recording.task,
                recording.date,
                recording.status,
                recording.error,
                data
            ],
        )?;
        Ok(())
    }

    /// Offer a written batch to the running recordings (free when none runs).
    pub fn offer(&self, batch: &PointBatch) {
        if self.n_running.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let mut finished = Vec::new();
        for (idx, recording) in running.iter_mut().enumerate() {
            let reads = recording
                .dbrps
                .iter()
                .any(|(db, rp)| *db == batch.database && *rp == batch.retention_policy);
            if !reads {
                continue;
            }
            let dbrp = (batch.database.clone(), batch.retention_policy.clone());
            if recording.last_dbrp.as_ref() != Some(&dbrp) {
                let header = format!("# db={} rp={} precision=ns\n", dbrp.0, dbrp.1);
                recording.data.extend_from_slice(header.as_bytes());
                recording.last_dbrp = Some(dbrp);
            }
            let keep = batch
                .points
                .iter()
                .position(|point| point.time > recording.stop)
                .unwrap_or(batch.points.len());
            encode_points(
                &mut recording.data,
                &batch.points[..keep],
                Precision::Nanoseconds,
            );
            if recording.data.len() > MAX_RECORDING_BYTES {
                recording.recording.status = "failed".into();
                recording.recording.error = format!(
                    "the recording passed {MAX_RECORDING_BYTES} bytes: record for a shorter time"
                );
                recording.data.clear();
                finished.push(idx);
            } else if keep < batch.points.len() {
                recording.recording.status = "finished".into();
                finished.push(idx);
            }
        }
        for idx in finished.into_iter().rev() {
            let mut done = running.swap_remove(idx);
            done.recording.size = done.data.len() as u64;
            if let Err(error) = self.save(&done.recording, &done.data) {
                tracing::error!(recording = %done.recording.id, "cannot store the recording: {error}");
            }
        }
        self.n_running.store(running.len(), Ordering::Relaxed);
    }

    /// One recording (a running one with its size so far).
    pub fn get(&self, id: &str) -> Result<Option<Recording>, RecordingError> {
        {
            let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(r) = running.iter().find(|r| r.recording.id == id) {
                let mut recording = r.recording.clone();
                recording.size = r.data.len() as u64;
                return Ok(Some(recording));
            }
        }
        Ok(self
            .lock()
            .query_row(
                "SELECT id, type, task, date, status, error, length(data) FROM recordings
                 WHERE id = ?1",
                params![id],
                row_recording,
            )
            .optional()?)
    }

    /// Every recording, by id.
    pub fn list(&self) -> Result<Vec<Recording>, RecordingError> {
        let ids: Vec<String> = {
            let connection = self.lock();
            let mut statement = connection.prepare("SELECT id FROM recordings ORDER BY id")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(recording) = self.get(&id)? {
                out.push(recording);
            }
        }
        Ok(out)
    }

    /// The data of a finished recording.
    pub fn data(&self, id: &str) -> Result<Option<Vec<u8>>, RecordingError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT data FROM recordings WHERE id = ?1 AND status = 'finished'",
                params![id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Delete a recording (a running one stops).
    pub fn delete(&self, id: &str) -> Result<(), RecordingError> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.retain(|r| r.recording.id != id);
        self.n_running.store(running.len(), Ordering::Relaxed);
        drop(running);
        self.lock()
            .execute("DELETE FROM recordings WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Insert or replace a replay (its JSON as Kapacitor shows it).
    pub fn put_replay(&self, id: &str, record: &serde_json::Value) -> Result<(), RecordingError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO replays (id, record) VALUES (?1, ?2)",
            params![id, record.to_string()],
        )?;
        Ok(())
    }

    /// One replay.
    pub fn replay(&self, id: &str) -> Result<Option<serde_json::Value>, RecordingError> {
        let text: Option<String> = self
            .lock()
            .query_row(
                "SELECT record FROM replays WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Every replay, by id.
    pub fn replays(&self) -> Result<Vec<serde_json::Value>, RecordingError> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT record FROM replays ORDER BY id")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(value) = serde_json::from_str(&row?) {
                out.push(value);
            }
        }
        Ok(out)
    }

    /// Delete a replay.
    pub fn delete_replay(&self, id: &str) -> Result<(), RecordingError> {
        self.lock()
            .execute("DELETE FROM replays WHERE id = ?1", params![id])?;
        Ok(())
    }
}

/// Append one run of a batch recording: `# query=N run=NS precision=ns` (N: the position of
/// the task's `query` node) and the rows the run returned, the format
/// `weir_engine::parse_batch_recording` reads.
pub fn encode_batch_run(
    out: &mut Vec<u8>,
    query: usize,
    run_time: i64,
    points: &[weir_engine::Point],
) {
    out.extend_from_slice(format!("# query={query} run={run_time} precision=ns\n").as_bytes());
    encode_points(out, points, Precision::Nanoseconds);
}

/// Append points of a stream recording under their database and retention policy.
pub fn encode_stream(
    out: &mut Vec<u8>,
    database: &str,
    retention_policy: &str,
    points: &[weir_engine::Point],
) {
    out.extend_from_slice(
        format!("# db={database} rp={retention_policy} precision=ns\n").as_bytes(),
    );
    encode_points(out, points, Precision::Nanoseconds);
}

fn row_recording(row: &rusqlite::Row<'_>) -> rusqlite::Result<Recording> {
    Ok(Recording {
        id: row.get(0)?,
        kind: row.get(1)?,
        task: row.get(2)?,
        date: row.get(3)?,
        status: row.get(4)?,
        error: row.get(5)?,
        size: row.get::<_, i64>(6)?.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(db: &str, values: &[(f64, i64)]) -> PointBatch {
        PointBatch {
            database: db.into(),
            retention_policy: "autogen".into(),
            points: values
                .iter()
                .map(|(value, time)| {
                    weir_engine::Point::gauge("cpu", Default::default(), *value, *time)
                })
                .collect(),
        }
    }

    #[test]
    fn a_stream_recording_stops_at_a_point_past_its_stop_time() {
        let dir = tempfile::tempdir().unwrap();
        let recordings = Recordings::open(dir.path()).unwrap();
        let dbrps = vec![("handlers".to_owned(), "autogen".to_owned())];
        recordings
            .start_stream("r1", "t", dbrps.clone(), 100, "d")
            .unwrap();
        assert!(recordings.start_stream("r1", "t", dbrps, 100, "d").is_err());
        recordings.offer(&batch("other", &[(1.0, 10)]));
        recordings.offer(&batch("handlers", &[(1.0, 10), (2.0, 20)]));
        assert_eq!(recordings.get("r1").unwrap().unwrap().status, "running");
        assert_eq!(recordings.data("r1").unwrap(), None, "not finished");
        recordings.offer(&batch("handlers", &[(3.0, 90), (4.0, 101), (5.0, 5)]));
        let done = recordings.get("r1").unwrap().unwrap();
        assert_eq!(done.status, "finished");
        let text = String::from_utf8(recordings.data("r1").unwrap().unwrap()).unwrap();
        let points = weir_engine::parse_directed(&text, ("x".into(), "y".into())).unwrap();
        let times: Vec<i64> = points.iter().map(|(_, _, p)| p.time).collect();
        assert_eq!(times, [10, 20, 90]);
        assert!(
            points
                .iter()
                .all(|(db, rp, _)| db == "handlers" && rp == "autogen")
        );
        assert_eq!(done.size, text.len() as u64);
        drop(recordings);
        let reopened = Recordings::open(dir.path()).unwrap();
        assert_eq!(reopened.list().unwrap().len(), 1);
        reopened.delete("r1").unwrap();
        assert!(reopened.list().unwrap().is_empty());
    }

    #[test]
    fn batch_runs_are_stored_and_read_back_run_by_run() {
        let dir = tempfile::tempdir().unwrap();
        let recordings = Recordings::open(dir.path()).unwrap();
        let recording = recordings.create("b1", "batch", "t", "d").unwrap();
        assert!(recordings.create("b1", "batch", "t", "d").is_err());
        assert_eq!(recordings.get("b1").unwrap().unwrap().status, "running");
        let mut data = Vec::new();
        encode_batch_run(
            &mut data,
            0,
            100,
            &batch("db", &[(1.0, 50), (2.0, 60)]).points,
        );
        encode_batch_run(&mut data, 1, 200, &[]);
        encode_batch_run(&mut data, 0, 200, &batch("db", &[(3.0, 150)]).points);
        recordings.finish(recording, Ok(data)).unwrap();
        let done = recordings.get("b1").unwrap().unwrap();
        assert_eq!(
            (done.status.as_str(), done.kind.as_str()),
            ("finished", "batch")
        );
        let text = String::from_utf8(recordings.data("b1").unwrap().unwrap()).unwrap();
        let runs = weir_engine::parse_batch_recording(&text).unwrap().unwrap();
        let shape: Vec<(usize, i64, Vec<i64>)> = runs
            .iter()
            .map(|run| {
                (
                    run.query,
                    run.run_time,
                    run.points.iter().map(|p| p.time).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (0, 100, vec![50, 60]),
                (1, 200, vec![]),
                (0, 200, vec![150])
            ]
        );
        let failed = recordings.create("b2", "batch", "t", "d").unwrap();
        recordings
            .finish(failed, Err("query failed: no source".into()))
            .unwrap();
        let failed = recordings.get("b2").unwrap().unwrap();
        assert_eq!(failed.status, "failed");
        assert_eq!(failed.error, "query failed: no source");
        assert_eq!(recordings.data("b2").unwrap(), None);
    }
}
