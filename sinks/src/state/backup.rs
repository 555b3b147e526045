//! Backups of weir's store (`kapacitor backup`, `weir restore`): SQLite's online backup copies
//! `weir.db` page by page into one consistent file while the daemon keeps running; a restore
//! checks that a file is weir's store before it replaces the store of a data dir with it.

use std::path::{Path, PathBuf};

use rusqlite::backup::Progress;
use rusqlite::{Connection, MAIN_DB, OpenFlags};

/// The store's file name under `data_dir`.
pub const STORE_FILE: &str = "weir.db";

/// Tables that make a SQLite file weir's store.
const REQUIRED_TABLES: [&str; 2] = ["tasks", "templates"];

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// SQLite failed while copying.
    #[error("{context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a backup of weir's store.
    #[error("{path} is not a backup of weir's store: {reason}")]
    NotWeirStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What a restored store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contents {
    /// Tasks.
    pub tasks: u64,
    /// Templates.
    pub templates: u64,
    /// Topic handlers.
    pub topic_handlers: u64,
    /// Topic events.
    pub topic_events: u64,
    /// Alert groups of `.persist()` nodes.
    pub alert_groups: u64,
}

/// Copy the store of `data_dir` into `target` (a new file) as one consistent snapshot.
pub fn backup(data_dir: &Path, target: &Path) -> Result<(), BackupError> {
    let source = data_dir.join(STORE_FILE);
    let connection = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source_error| BackupError::Sqlite {
            context: format!("cannot open the store {}", source.display()),
            source: source_error,
        })?;
    connection
        .backup(MAIN_DB, target, None::<fn(Progress)>)
        .map_err(|source| BackupError::Sqlite {
            context: format!("cannot back up the store into {}", target.display()),
            source,
        })
}

/// Check that `file` is a backup of weir's store and say what it holds.
pub fn inspect(file: &Path) -> Result<Contents, BackupError> {
    let not_weir = |reason: String| BackupError::NotWeirStore {
        path: file.to_owned(),
        reason,
    };
    let mut header = [0u8; 16];
    let read = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .map_err(|source| BackupError::Io {
            context: format!("cannot read {}", file.display()),
            source,
        });
    if let Err(error) = read {
        return match error {
            BackupError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Err(not_weir("it is too short to be a SQLite file".into()))
            }
            other => Err(other),
        };
    }
    if &header != b"SQLite format 3\0" {
        let hint = if header.starts_with(b"{") {
            " (it looks like JSON: an error answer saved by a client?)"
        } else {
            " (a Kapacitor BoltDB backup cannot be restored into weir)"
        };
        return Err(not_weir(format!("it is not a SQLite file{hint}")));
    }
    let connection =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            BackupError::Sqlite {
                context: format!("cannot open {}", file.display()),
                source,
            }
        })?;
    let has_table = |name: &str| -> bool {
        connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .is_ok_and(|n| n > 0)
    };
    if let Some(missing) = REQUIRED_TABLES.iter().find(|table| !has_table(table)) {
        return Err(not_weir(format!("it has no {missing} table")));
    }
    let count = |table: &str| -> u64 {
        if !has_table(table) {
            return 0;
        }
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .map_or(0, |n| n.max(0) as u64)
    };
    Ok(Contents {
        tasks: count("tasks"),
        templates: count("templates"),
        topic_handlers: count("topic_handlers"),
        topic_events: count("topic_events"),
        alert_groups: count("alert_state"),
    })
}

/// Put the backup `file` in place as the store of `data_dir` (weir must not be running on it).
pub fn restore(file: &Path, data_dir: &Path) -> Result<Contents, BackupError> {
    let contents = inspect(file)?;
    std::fs::create_dir_all(data_dir).map_err(|source| BackupError::Io {
        context: format!("cannot create {}", data_dir.display()),
        source,
    })?;
    let target = data_dir.join(STORE_FILE);
    // A write-ahead log of the old store would otherwise be replayed over the restored one.
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{STORE_FILE}{suffix}"));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|source| BackupError::Io {
                context: format!("cannot remove {}", side.display()),
                source,
            })?;
        }
    }
    let mut connection = Connection::open(&target).map_err(|source| BackupError::Sqlite {
        context: format!("cannot open {}", target.display()),
        source,
    })?;
    connection
        .restore(MAIN_DB, file, None::<fn(Progress)>)
        .map_err(|source| BackupError::Sqlite {
            context: format!(
                "cannot restore {} into {}",
                file.display(),
                target.display()
            ),
            source,
        })?;
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::Store;

    #[test]
    fn backup_then_restore_into_a_fresh_dir_and_refuse_other_files() {
        let live = tempfile::tempdir().unwrap();
        let store = Store::open(live.path()).unwrap();
        store
            .put_template(&crate::state::store::TemplateRecord {
                id: "t".into(),
                task_type: "stream".into(),
                script: "stream|from()".into(),
                created: "c".into(),
                modified: "m".into(),
            })
            .unwrap();
        let file = live.path().join("backup.db");
        backup(live.path(), &file).unwrap();
        let fresh = tempfile::tempdir().unwrap();
        let contents = restore(&file, &fresh.path().join("data")).unwrap();
        assert_eq!(contents.templates, 1);
        let restored = Store::open(&fresh.path().join("data")).unwrap();
        assert_eq!(restored.templates().unwrap().len(), 1);

        let json = live.path().join("error.json");
        std::fs::write(&json, "{\"error\":\"not found\"}\n").unwrap();
        let error = restore(&json, fresh.path()).unwrap_err().to_string();
        assert!(error.contains("is not a backup of weir's store"), "{error}");
        assert!(error.contains("JSON"), "{error}");
        let other = live.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE x (y)")
            .unwrap();
        let error = restore(&other, fresh.path()).unwrap_err().to_string();
        assert!(error.contains("no tasks table"), "{error}");
        let short = live.path().join("short");
        std::fs::write(&short, "x").unwrap();
        assert!(
            restore(&short, fresh.path())
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
    }
}
