//! The embedded store (one SQLite file under `data_dir`): task and template definitions
//! and their enabled state, so that a restart brings every task back as it was; and the
//! run-time enable/disable of scrapers and discovery sources (their switches).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A stored task definition, in Kapacitor's vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task id.
    pub id: String,
    /// Template the task was made from, or empty.
    pub template_id: String,
    /// `stream` or `batch`.
    pub task_type: String,
    /// `(db, rp)` pairs given with the definition (not those of `dbrp` statements).
    pub dbrps: Vec<(String, String)>,
    /// TICKscript.
    pub script: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Template vars, Kapacitor's JSON shape.
    pub vars: serde_json::Value,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339.
    pub modified: String,
    /// RFC 3339, or empty when never enabled.
    pub last_enabled: String,
}

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    /// Template id.
    pub id: String,
    /// `stream` or `batch`.
    pub task_type: String,
    /// TICKscript with typed `var` declarations.
    pub script: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339.
    pub modified: String,
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row could not be decoded.
    #[error("store: bad row for {id}: {reason}")]
    Corrupt {
        /// Which row.
        id: String,
        /// Why.
        reason: String,
    },
}

/// The store handle; cheap operations, serialized by a mutex.
pub struct Store {
    connection: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL DEFAULT '',
    task_type TEXT NOT NULL,
    dbrps TEXT NOT NULL,
    script TEXT NOT NULL,
    status TEXT NOT NULL,
    vars TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    last_enabled TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS switches (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    modified TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY,
    task_type TEXT NOT NULL,
    script TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
";

impl Store {
    /// Open (or create) `weir.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let connection = Connection::open(data_dir.join("weir.db"))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    /// An in-memory store, for tests.
    #[cfg(test)]
    pub fn in_memory() -> Store {
        let connection = Connection::open_in_memory().expect("sqlite in memory");
        connection.execute_batch(SCHEMA).expect("schema");
        Store {
            connection: Mutex::new(connection),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent; keep going.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cluster and server ids (`debug/vars`), random UUIDs made at the first call and
    /// kept in the store (so a restored backup keeps them).
    pub fn server_ids(&self) -> Result<(String, String), StoreError> {
        let connection = self.lock();
        let id = |key: &str| -> Result<String, StoreError> {
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) SELECT ?1,
                     lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
                     substr(lower(hex(randomblob(2))), 2) || '-' ||
                     substr('89ab', 1 + (abs(random()) % 4), 1) ||
                     substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))",
                params![key],
            )?;
            Ok(connection.query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )?)
        };
        Ok((id("cluster_id")?, id("server_id")?))
    }

    /// Insert or replace a task.
    pub fn put_task(&self, task: &TaskRecord) -> Result<(), StoreError> {
        let dbrps = serde_json::to_string(&task.dbrps).unwrap_or_else(|_| "[]".to_owned());
        self.lock().execute(
            "INSERT OR REPLACE INTO tasks (id, template_id, task_type, dbrps, script, status, vars, created, modified, last_enabled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                task.id,
                task.template_id,
                task.task_type,
                dbrps,
                task.script,
                task.status,
                task.vars.to_string(),
                task.created,
                task.modified,
                task.last_enabled
            ],
        )?;
        Ok(())
    }

    /// One task.
    pub fn task(&self, id: &str) -> Result<Option<TaskRecord>, StoreError> {
        let row = self
            .lock()
            .query_row(
                "SELECT id, template_id, task_type, dbrps, script, status, vars, created, modified, last_enabled FROM tasks WHERE id = ?1",
                params![id],
                raw_task,
            )
            .optional()?;
        row.map(decode_task).transpose()
    }

    /// Every task, ordered by id.
    pub fn tasks(&self) -> Result<Vec<TaskRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, template_id, task_type, dbrps, script, status, vars, created, modified, last_enabled FROM tasks ORDER BY id",
        )?;
        let rows = statement
            .query_map([], raw_task)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode_task).collect()
    }

    /// Delete a task; whether it existed.
    pub fn delete_task(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM tasks WHERE id = ?1", params![id])?
            > 0)
    }

    /// Insert or replace a template.
    pub fn put_template(&self, template: &TemplateRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO templates (id, task_type, script, created, modified) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![template.id, template.task_type, template.script, template.created, template.modified],
        )?;
        Ok(())
    }

    /// One template.
    pub fn template(&self, id: &str) -> Result<Option<TemplateRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, task_type, script, created, modified FROM templates WHERE id = ?1",
                params![id],
                template_row,
            )
            .optional()?)
    }

    /// Every template, ordered by id.
    pub fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, task_type, script, created, modified FROM templates ORDER BY id",
        )?;
        let rows = statement
            .query_map([], template_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Record that the scraper or discovery source `name` was turned on or off at run time
    /// (`kind` is `scraper` or `discoverer`); `modified` is RFC 3339.
    pub fn put_switch(
        &self,
        kind: &str,
        name: &str,
        enabled: bool,
        modified: &str,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO switches (kind, name, enabled, modified) VALUES (?1, ?2, ?3, ?4)",
            params![kind, name, enabled, modified],
        )?;
        Ok(())
    }

    /// Forget a switch (the config decides again); whether there was one.
    pub fn delete_switch(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.lock().execute(
            "DELETE FROM switches WHERE kind = ?1 AND name = ?2",
            params![kind, name],
        )? > 0)
    }

    /// Every switch of a kind: name → enabled, ordered by name.
    pub fn switches(&self, kind: &str) -> Result<BTreeMap<String, bool>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT name, enabled FROM switches WHERE kind = ?1")?;
        let rows = statement
            .query_map(params![kind], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<BTreeMap<String, bool>, _>>()?;
        Ok(rows)
    }

    /// Delete a template; whether it existed.
    pub fn delete_template(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM templates WHERE id = ?1", params![id])?
            > 0)
    }
}

type RawTask = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn raw_task(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawTask> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn decode_task(raw: RawTask) -> Result<TaskRecord, StoreError> {
    let (id, template_id, task_type, dbrps, script, status, vars, created, modified, last_enabled) =
        raw;
    let corrupt = |reason: String| StoreError::Corrupt {
        id: id.clone(),
        reason,
    };
    let dbrps = serde_json::from_str(&dbrps).map_err(|e| corrupt(format!("dbrps: {e}")))?;
    let vars = serde_json::from_str(&vars).map_err(|e| corrupt(format!("vars: {e}")))?;
    Ok(TaskRecord {
        id,
        template_id,
        task_type,
        dbrps,
        script,
        status,
        vars,
        created,
        modified,
        last_enabled,
    })
}

fn template_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TemplateRecord> {
    Ok(TemplateRecord {
        id: row.get(0)?,
        task_type: row.get(1)?,
        script: row.get(2)?,
        created: row.get(3)?,
        modified: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> TaskRecord {
        TaskRecord {
            id: id.to_owned(),
            template_id: String::new(),
            task_type: "stream".to_owned(),
            dbrps: vec![("db".to_owned(), "rp".to_owned())],
            script: "stream|from()".to_owned(),
            status: "enabled".to_owned(),
            vars: serde_json::json!({}),
            created: "2026-01-01T00:00:00Z".to_owned(),
            modified: "2026-01-01T00:00:00Z".to_owned(),
            last_enabled: String::new(),
        }
    }

    #[test]
    fn tasks_round_trip_and_replace() {
        let store = Store::in_memory();
        store.put_task(&task("b")).unwrap();
        store.put_task(&task("a")).unwrap();
        let mut changed = task("a");
        changed.status = "disabled".to_owned();
        store.put_task(&changed).unwrap();
        let tasks = store.tasks().unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0], changed);
        assert!(store.delete_task("a").unwrap());
        assert!(!store.delete_task("a").unwrap());
        assert_eq!(store.task("b").unwrap(), Some(task("b")));
    }

    #[test]
    fn switches_are_kept_per_kind_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_switch("scraper", "a", false, "t1").unwrap();
        store.put_switch("discoverer", "a", true, "t1").unwrap();
        store.put_switch("scraper", "a", true, "t2").unwrap();
        store.put_switch("scraper", "b", false, "t2").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let scrapers = store.switches("scraper").unwrap();
        assert_eq!(
            scrapers,
            BTreeMap::from([("a".to_owned(), true), ("b".to_owned(), false)])
        );
        assert_eq!(
            store.switches("discoverer").unwrap(),
            BTreeMap::from([("a".to_owned(), true)])
        );
        assert!(store.delete_switch("scraper", "b").unwrap());
        assert!(!store.delete_switch("scraper", "b").unwrap());
        assert_eq!(store.switches("scraper").unwrap().len(), 1);
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path())
            .unwrap()
            .put_task(&task("x"))
            .unwrap();
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.tasks().unwrap(), vec![task("x")]);
        let ids = reopened.server_ids().unwrap();
        assert_ne!(ids.0, ids.1);
        for id in [&ids.0, &ids.1] {
            let parts: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
            assert!(
                id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
                "{id}"
            );
        }
        drop(reopened);
        assert_eq!(Store::open(dir.path()).unwrap().server_ids().unwrap(), ids);
    }
}
