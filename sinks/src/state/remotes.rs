//! Remote collectors registered with this (central) weir: their registration, enrollment
//! token and machine credential (both kept only as SHA-256 hex), the facts of their last
//! heartbeat, their configuration revisions, and the ids of recent uploads (so a retried
//! upload is not counted twice).
//!
//! The store never sees a secret or reads a clock: the binary hashes and passes `now`.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS remotes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    databases TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    token_sha256 TEXT NOT NULL DEFAULT '',
    token_expires_ns INTEGER NOT NULL DEFAULT 0,
    token_used INTEGER NOT NULL DEFAULT 0,
    credential_sha256 TEXT NOT NULL DEFAULT '',
    previous_credential_sha256 TEXT NOT NULL DEFAULT '',
    rotate_requested INTEGER NOT NULL DEFAULT 0,
    hostname TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    instance_id TEXT NOT NULL DEFAULT '',
    previous_instance_id TEXT NOT NULL DEFAULT '',
    instance_switched_ns INTEGER NOT NULL DEFAULT 0,
    last_seen_ns INTEGER NOT NULL DEFAULT 0,
    heartbeat_interval_seconds REAL NOT NULL DEFAULT 0,
    queue_points INTEGER NOT NULL DEFAULT 0,
    queue_bytes INTEGER NOT NULL DEFAULT 0,
    dropped_points INTEGER NOT NULL DEFAULT 0,
    clock_skew_seconds REAL NOT NULL DEFAULT 0,
    config_revision INTEGER NOT NULL DEFAULT 0,
    config_state TEXT NOT NULL DEFAULT '',
    config_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS remote_configs (
    remote_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (remote_id, revision)
);
CREATE TABLE IF NOT EXISTS remote_uploads (
    remote_id TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    PRIMARY KEY (remote_id, upload_id)
);
";

/// Status of a collector that has enrolled and heartbeats from one process.
pub const ACTIVE: &str = "active";
/// Status of a registered collector that has not enrolled yet.
pub const PENDING: &str = "pending";
/// Status of a collector whose credential two processes use.
pub const DUPLICATE_SUSPECTED: &str = "duplicate_suspected";
/// Status of a revoked collector (final).
pub const REVOKED: &str = "revoked";

/// One registered collector.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRecord {
    /// Collector id.
    pub id: String,
    /// Name given at registration.
    pub name: String,
    /// `pending`, `active`, `duplicate_suspected` or `revoked`.
    pub status: String,
    /// Databases the collector may write into.
    pub databases: Vec<String>,
    /// Registration time (Unix ns).
    pub created_ns: i64,
    /// When the current enrollment token expires (Unix ns), 0 without one.
    pub token_expires_ns: i64,
    /// Host facts sent at enrollment.
    pub hostname: String,
    /// Operating system.
    pub os: String,
    /// weir version of the latest enrollment or heartbeat.
    pub version: String,
    /// Process (instance) id of the latest heartbeat.
    pub instance_id: String,
    /// Last heartbeat or enrollment (Unix ns), 0 never.
    pub last_seen_ns: i64,
    /// The heartbeat interval the collector reported.
    pub heartbeat_interval_seconds: f64,
    /// Points queued on the collector.
    pub queue_points: u64,
    /// Bytes queued on the collector.
    pub queue_bytes: u64,
    /// Points the collector dropped since it started collecting (cumulative).
    pub dropped_points: u64,
    /// Collector clock minus central clock, seconds.
    pub clock_skew_seconds: f64,
    /// The configuration revision the collector acknowledged last.
    pub config_revision: i64,
    /// `applied`, `rejected` or empty.
    pub config_state: String,
    /// Why the revision was rejected.
    pub config_error: String,
    /// A rotation was asked for and not yet handed out.
    pub rotate_requested: bool,
}

/// What a heartbeat reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heartbeat {
    /// weir version.
    pub version: String,
    /// Process id of the sender.
    pub instance_id: String,
    /// Its heartbeat interval.
    pub interval_seconds: f64,
    /// Points queued.
    pub queue_points: u64,
    /// Bytes queued.
    pub queue_bytes: u64,
    /// Cumulative dropped points.
    pub dropped_points: u64,
    /// Collector clock minus central clock, seconds.
    pub clock_skew_seconds: f64,
}

/// Why an enrollment was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EnrollError {
    /// No pending collector has this token.
    #[error("unknown enrollment token")]
    Unknown,
    /// The token was used already.
    #[error("enrollment token already used: collector {0} is enrolled; ask for a new token")]
    Used(String),
    /// The token expired.
    #[error(
        "enrollment token of collector {0} expired; ask for a new one with POST /weir/v1/remotes/{0}/token"
    )]
    Expired(String),
    /// The collector was revoked.
    #[error("collector {0} is revoked")]
    Revoked(String),
    /// SQLite failed.
    #[error(transparent)]
    Store(#[from] RemoteStoreError),
}

/// Store errors.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum RemoteStoreError {
    /// SQLite failed.
    #[error("remote store: {0}")]
    Sqlite(String),
    /// A name is taken.
    #[error("a remote collector named {0:?} exists")]
    NameTaken(String),
    /// No such collector.
    #[error("no remote collector {0:?}")]
    NotFound(String),
    /// The operation does not fit the collector's status.
    #[error("remote collector {id} is {status}: {reason}")]
    WrongStatus {
        /// Which collector.
        id: String,
        /// Its status.
        status: String,
        /// What cannot be done.
        reason: String,
    },
}

impl From<rusqlite::Error> for RemoteStoreError {
    fn from(error: rusqlite::Error) -> Self {
        RemoteStoreError::Sqlite(error.to_string())
    }
}

/// The collectors' store, one connection to `weir.db`.
pub struct Remotes {
    connection: Mutex<Connection>,
}

const COLUMNS: &str = "id, name, status, databases, created_ns, token_expires_ns, hostname, os, version,
    instance_id, last_seen_ns, heartbeat_interval_seconds, queue_points, queue_bytes, dropped_points,
    clock_skew_seconds, config_revision, config_state, config_error, rotate_requested";

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RemoteRecord> {
    let databases: String = row.get(3)?;
    Ok(RemoteRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        databases: serde_json::from_str(&databases).unwrap_or_default(),
        created_ns: row.get(4)?,
        token_expires_ns: row.get(5)?,
        hostname: row.get(6)?,
        os: row.get(7)?,
        version: row.get(8)?,
        instance_id: row.get(9)?,
        last_seen_ns: row.get(10)?,
        heartbeat_interval_seconds: row.get(11)?,
        queue_points: row.get::<_, i64>(12)?.max(0) as u64,
        queue_bytes: row.get::<_, i64>(13)?.max(0) as u64,
        dropped_points: row.get::<_, i64>(14)?.max(0) as u64,
        clock_skew_seconds: row.get(15)?,
        config_revision: row.get(16)?,
        config_state: row.get(17)?,
        config_error: row.get(18)?,
        rotate_requested: row.get::<_, i64>(19)? != 0,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Remotes {
    /// Open (or create) the tables in `data_dir/weir.db`.
    pub fn open(data_dir: &Path) -> Result<Remotes, RemoteStoreError> {
        let connection = Connection::open(data_dir.join("weir.db"))?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(SCHEMA)?;
        Ok(Remotes {
            connection: Mutex::new(connection),
        })
    }

    /// An in-memory store, for tests.
    #[cfg(test)]
    pub fn in_memory() -> Remotes {
        let connection = Connection::open_in_memory().expect("sqlite in memory");
        connection.execute_batch(SCHEMA).expect("schema");
        Remotes {
            connection: Mutex::new(connection),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Register a pending collector with the hash of its enrollment token.
    pub fn create(
        &self,
        id: &str,
        name: &str,
        databases: &[String],
        token_sha256: &str,
        token_expires_ns: i64,
        now_ns: i64,
    ) -> Result<RemoteRecord, RemoteStoreError> {
        let connection = self.lock();
        let taken: Option<String> = connection
            .query_row(
                "SELECT id FROM remotes WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(RemoteStoreError::NameTaken(name.to_owned()));
        }
        let databases = serde_json::to_string(databases).unwrap_or_else(|_| "[]".to_owned());
        connection.execute(
            "INSERT INTO remotes (id, name, status, databases, created_ns, token_sha256, token_expires_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, name, PENDING, databases, now_ns, token_sha256, token_expires_ns],
        )?;
        drop(connection);
        self.get(id)?
            .ok_or_else(|| RemoteStoreError::NotFound(id.to_owned()))
    }

    /// One collector.
    pub fn get(&self, id: &str) -> Result<Option<RemoteRecord>, RemoteStoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM remotes WHERE id = ?1"),
                params![id],
                row_to_record,
            )
            .optional()?)
    }

    /// Every collector, by name.
    pub fn list(&self) -> Result<Vec<RemoteRecord>, RemoteStoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare(&format!("SELECT {COLUMNS} FROM remotes ORDER BY name"))?;
        let rows = statement
            .query_map([], row_to_record)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Give a pending collector a new enrollment token (the old one stops working).
    pub fn replace_token(
        &self,
        id: &str,
        token_sha256: &str,
        token_expires_ns: i64,
    ) -> Result<RemoteRecord, RemoteStoreError> {
        let record = self.require(id)?;
        if record.status != PENDING {
            return Err(RemoteStoreError::WrongStatus {
                id: id.to_owned(),
                status: record.status,
                reason: "only a pending collector gets an enrollment token".to_owned(),
            });
        }
        self.lock().execute(
            "UPDATE remotes SET token_sha256 = ?2, token_expires_ns = ?3, token_used = 0 WHERE id = ?1",
            params![id, token_sha256, token_expires_ns],
        )?;
        self.require(id)
    }

    fn require(&self, id: &str) -> Result<RemoteRecord, RemoteStoreError> {
        self.get(id)?
            .ok_or_else(|| RemoteStoreError::NotFound(id.to_owned()))
    }

    /// Enroll the pending collector whose token hashes to `token_sha256`: it becomes active
    /// with the credential hash, and the token is spent.
    pub fn enroll(
        &self,
        token_sha256: &str,
        credential_sha256: &str,
        facts: &Heartbeat,
        hostname: &str,
        os: &str,
        now_ns: i64,
    ) -> Result<RemoteRecord, EnrollError> {
        let connection = self.lock();
        let found: Option<(String, String, i64, i64)> = connection
            .query_row(
                "SELECT id, status, token_expires_ns, token_used FROM remotes WHERE token_sha256 = ?1",
                params![token_sha256],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(RemoteStoreError::from)?;
        let Some((id, status, expires_ns, used)) = found else {
            return Err(EnrollError::Unknown);
        };
        if status == REVOKED {
            return Err(EnrollError::Revoked(id));
        }
        if used != 0 || status != PENDING {
            return Err(EnrollError::Used(id));
        }
        if expires_ns <= now_ns {
            return Err(EnrollError::Expired(id));
        }
        connection
            .execute(
                "UPDATE remotes SET status = ?2, token_used = 1, credential_sha256 = ?3,
                    hostname = ?4, os = ?5, version = ?6, instance_id = ?7, last_seen_ns = ?8
                 WHERE id = ?1",
                params![
                    id,
                    ACTIVE,
                    credential_sha256,
                    hostname,
                    os,
                    facts.version,
                    facts.instance_id,
                    now_ns
                ],
            )
            .map_err(RemoteStoreError::from)?;
        drop(connection);
        Ok(self.require(&id)?)
    }

    /// The collector a machine credential belongs to (the current one, or the previous one
    /// until the new one is first used), revoked ones included.
    pub fn by_credential(
        &self,
        credential_sha256: &str,
    ) -> Result<Option<RemoteRecord>, RemoteStoreError> {
        if credential_sha256.is_empty() {
            return Ok(None);
        }
        Ok(self
            .lock()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM remotes
                     WHERE credential_sha256 = ?1 OR previous_credential_sha256 = ?1"
                ),
                params![credential_sha256],
                row_to_record,
            )
            .optional()?)
    }

    /// The first use of a collector's current credential retires the previous one.
    pub fn credential_used(
        &self,
        id: &str,
        credential_sha256: &str,
    ) -> Result<(), RemoteStoreError> {
        self.lock().execute(
            "UPDATE remotes SET previous_credential_sha256 = ''
             WHERE id = ?1 AND credential_sha256 = ?2 AND previous_credential_sha256 != ''",
            params![id, credential_sha256],
        )?;
        Ok(())
    }

    /// Record a heartbeat. A process id that differs from the current one is a restart,
    /// unless it is the one that was replaced within the last three intervals: then two
    /// processes alternate, and the collector becomes `duplicate_suspected`.
    pub fn heartbeat(
        &self,
        id: &str,
        heartbeat: &Heartbeat,
        now_ns: i64,
    ) -> Result<RemoteRecord, RemoteStoreError> {
        let record = self.require(id)?;
        if record.status == REVOKED || record.status == PENDING {
            return Err(RemoteStoreError::WrongStatus {
                id: id.to_owned(),
                status: record.status,
                reason: "it cannot heartbeat".to_owned(),
            });
        }
        let connection = self.lock();
        let (previous_instance, switched_ns): (String, i64) = connection.query_row(
            "SELECT previous_instance_id, instance_switched_ns FROM remotes WHERE id = ?1",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let mut status = record.status.clone();
        let mut instance = record.instance_id.clone();
        let mut previous = previous_instance;
        let mut switched = switched_ns;
        if heartbeat.instance_id != record.instance_id {
            let window_ns = (heartbeat.interval_seconds.max(1.0) * 3.0 * 1e9) as i64;
            if heartbeat.instance_id == previous && now_ns - switched <= window_ns {
                status = DUPLICATE_SUSPECTED.to_owned();
            }
            previous = std::mem::replace(&mut instance, heartbeat.instance_id.clone());
            switched = now_ns;
        }
        connection.execute(
            "UPDATE remotes SET status = ?2, version = ?3, instance_id = ?4, previous_instance_id = ?5,
                instance_switched_ns = ?6, last_seen_ns = ?7, heartbeat_interval_seconds = ?8,
                queue_points = ?9, queue_bytes = ?10, dropped_points = ?11, clock_skew_seconds = ?12
             WHERE id = ?1",
            params![
                id,
                status,
                heartbeat.version,
                instance,
                previous,
                switched,
                now_ns,
                heartbeat.interval_seconds,
                to_i64(heartbeat.queue_points),
                to_i64(heartbeat.queue_bytes),
                to_i64(heartbeat.dropped_points),
                heartbeat.clock_skew_seconds
            ],
        )?;
        drop(connection);
        self.require(id)
    }

    /// Ask for a new credential at the collector's next heartbeat.
    pub fn request_rotation(&self, id: &str) -> Result<RemoteRecord, RemoteStoreError> {
        let record = self.require(id)?;
        if record.status == REVOKED || record.status == PENDING {
            return Err(RemoteStoreError::WrongStatus {
                id: id.to_owned(),
                status: record.status,
                reason: "only an enrolled collector's credential rotates".to_owned(),
            });
        }
        self.lock().execute(
            "UPDATE remotes SET rotate_requested = 1 WHERE id = ?1",
            params![id],
        )?;
        self.require(id)
    }

    /// Hand out the new credential: it becomes current, the one in use stays valid until the
    /// new one is first used.
    pub fn rotate(&self, id: &str, new_credential_sha256: &str) -> Result<(), RemoteStoreError> {
        self.lock().execute(
            "UPDATE remotes SET previous_credential_sha256 = credential_sha256,
                credential_sha256 = ?2, rotate_requested = 0
             WHERE id = ?1",
            params![id, new_credential_sha256],
        )?;
        Ok(())
    }

    /// Revoke a collector for good: its token and credentials stop working.
    pub fn revoke(&self, id: &str) -> Result<RemoteRecord, RemoteStoreError> {
        self.require(id)?;
        self.lock().execute(
            "UPDATE remotes SET status = ?2, token_sha256 = '', rotate_requested = 0 WHERE id = ?1",
            params![id, REVOKED],
        )?;
        self.require(id)
    }

    /// Store a new configuration revision; its number.
    pub fn put_config(
        &self,
        id: &str,
        document: &str,
        now_ns: i64,
    ) -> Result<i64, RemoteStoreError> {
        self.require(id)?;
        let connection = self.lock();
        let latest: i64 = connection.query_row(
            "SELECT COALESCE(MAX(revision), 0) FROM remote_configs WHERE remote_id = ?1",
            params![id],
            |row| row.get(0),
        )?;
        connection.execute(
            "INSERT INTO remote_configs (remote_id, revision, document, created_ns) VALUES (?1, ?2, ?3, ?4)",
            params![id, latest + 1, document, now_ns],
        )?;
        Ok(latest + 1)
    }

    /// The newest configuration revision: `(revision, document)`.
    pub fn latest_config(&self, id: &str) -> Result<Option<(i64, String)>, RemoteStoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT revision, document FROM remote_configs WHERE remote_id = ?1
                 ORDER BY revision DESC LIMIT 1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// The collector's answer to a revision.
    pub fn config_ack(
        &self,
        id: &str,
        revision: i64,
        state: &str,
        error: &str,
    ) -> Result<(), RemoteStoreError> {
        self.lock().execute(
            "UPDATE remotes SET config_revision = ?2, config_state = ?3, config_error = ?4 WHERE id = ?1",
            params![id, revision, state, error],
        )?;
        Ok(())
    }

    /// Whether an upload id was recorded (within the time ids are remembered).
    pub fn upload_seen(&self, id: &str, upload_id: &str) -> Result<bool, RemoteStoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM remote_uploads WHERE remote_id = ?1 AND upload_id = ?2",
                params![id, upload_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Remember an upload id once its write was accepted; ids older than
    /// `forget_before_ns` are forgotten.
    pub fn remember_upload(
        &self,
        id: &str,
        upload_id: &str,
        now_ns: i64,
        forget_before_ns: i64,
    ) -> Result<(), RemoteStoreError> {
        let connection = self.lock();
        connection.execute(
            "DELETE FROM remote_uploads WHERE at_ns < ?1",
            params![forget_before_ns],
        )?;
        connection.execute(
            "INSERT OR IGNORE INTO remote_uploads (remote_id, upload_id, at_ns) VALUES (?1, ?2, ?3)",
            params![id, upload_id, now_ns],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    fn beat(instance: &str) -> Heartbeat {
        Heartbeat {
            version: "0.1.0".into(),
            instance_id: instance.into(),
            interval_seconds: 10.0,
            ..Heartbeat::default()
        }
    }

    #[test]
    fn a_token_enrolls_once_and_not_after_it_expires() {
        let remotes = Remotes::in_memory();
        remotes
            .create("r1", "edge", &["remote".into()], "t1", 100 * SECOND, 0)
            .unwrap();
        assert!(
            remotes
                .create("r2", "edge", &[], "t2", 100 * SECOND, 0)
                .is_err()
        );
        let enrolled = remotes
            .enroll("t1", "c1", &beat("a"), "host", "linux", 5 * SECOND)
            .unwrap();
        assert_eq!(enrolled.status, ACTIVE);
        assert_eq!(enrolled.hostname, "host");
        assert_eq!(
            remotes.enroll("t1", "c2", &beat("a"), "host", "linux", 6 * SECOND),
            Err(EnrollError::Used("r1".into()))
        );
        assert_eq!(
            remotes.enroll("nope", "c2", &beat("a"), "h", "linux", 6 * SECOND),
            Err(EnrollError::Unknown)
        );
        assert!(matches!(
            remotes.replace_token("r1", "t3", 200 * SECOND),
            Err(RemoteStoreError::WrongStatus { .. })
        ));
        remotes
            .create("r2", "edge2", &[], "t4", 10 * SECOND, 0)
            .unwrap();
        assert_eq!(
            remotes.enroll("t4", "c3", &beat("b"), "h", "linux", 11 * SECOND),
            Err(EnrollError::Expired("r2".into()))
        );
        remotes.replace_token("r2", "t5", 100 * SECOND).unwrap();
        assert_eq!(
            remotes.enroll("t4", "c3", &beat("b"), "h", "linux", 12 * SECOND),
            Err(EnrollError::Unknown)
        );
        assert!(
            remotes
                .enroll("t5", "c3", &beat("b"), "h", "linux", 12 * SECOND)
                .is_ok()
        );
    }

    #[test]
    fn alternating_processes_are_duplicates_and_a_restart_is_not() {
        let remotes = Remotes::in_memory();
        remotes
            .create("r1", "edge", &[], "t1", 100 * SECOND, 0)
            .unwrap();
        remotes
            .enroll("t1", "c1", &beat("a"), "h", "linux", SECOND)
            .unwrap();
        let record = remotes.heartbeat("r1", &beat("a"), 2 * SECOND).unwrap();
        assert_eq!(record.status, ACTIVE);
        // Restart: a new process id, the old one never comes back.
        let record = remotes.heartbeat("r1", &beat("b"), 3 * SECOND).unwrap();
        assert_eq!(record.status, ACTIVE);
        let record = remotes.heartbeat("r1", &beat("b"), 13 * SECOND).unwrap();
        assert_eq!(record.status, ACTIVE);
        // A second process with the same credential.
        let record = remotes.heartbeat("r1", &beat("c"), 14 * SECOND).unwrap();
        assert_eq!(record.status, ACTIVE);
        let record = remotes.heartbeat("r1", &beat("b"), 15 * SECOND).unwrap();
        assert_eq!(record.status, DUPLICATE_SUSPECTED);
    }

    #[test]
    fn rotation_keeps_the_old_credential_until_the_new_one_is_used() {
        let remotes = Remotes::in_memory();
        remotes
            .create("r1", "edge", &[], "t1", 100 * SECOND, 0)
            .unwrap();
        remotes
            .enroll("t1", "c1", &beat("a"), "h", "linux", SECOND)
            .unwrap();
        assert!(remotes.request_rotation("r1").unwrap().rotate_requested);
        remotes.rotate("r1", "c2").unwrap();
        assert!(remotes.by_credential("c1").unwrap().is_some());
        remotes.credential_used("r1", "c2").unwrap();
        assert!(remotes.by_credential("c1").unwrap().is_none());
        assert!(remotes.by_credential("c2").unwrap().is_some());
        assert_eq!(remotes.revoke("r1").unwrap().status, REVOKED);
        assert!(remotes.heartbeat("r1", &beat("a"), 2 * SECOND).is_err());
    }

    #[test]
    fn config_revisions_count_up_and_uploads_are_remembered() {
        let remotes = Remotes::in_memory();
        remotes
            .create("r1", "edge", &[], "t1", 100 * SECOND, 0)
            .unwrap();
        assert_eq!(remotes.put_config("r1", "{}", 1).unwrap(), 1);
        assert_eq!(remotes.put_config("r1", "{\"a\":1}", 2).unwrap(), 2);
        assert_eq!(
            remotes.latest_config("r1").unwrap(),
            Some((2, "{\"a\":1}".to_owned()))
        );
        assert!(!remotes.upload_seen("r1", "u1").unwrap());
        remotes.remember_upload("r1", "u1", 10, 0).unwrap();
        assert!(remotes.upload_seen("r1", "u1").unwrap());
        remotes.remember_upload("r1", "u2", 20, 15).unwrap();
        assert!(!remotes.upload_seen("r1", "u1").unwrap());
    }
}
