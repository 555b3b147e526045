//! Per-sink queues between [`crate::SinkManager::send`] and the delivery task.
//!
//! A [`Record`] is one hand-off: already-encoded line protocol for one database, retention
//! policy and precision. The delivery task reads [`Batch`]es of consecutive records with the
//! same [`BatchKey`], delivers them, then acknowledges them; a batch that is never
//! acknowledged (crash, reload) is read again (at-least-once).
//!
//! - [`disk::DiskQueue`]: a segmented append-only log with checksummed records, resumed after a
//!   restart from the oldest unacknowledged record; when full, the oldest points are dropped.
//! - [`memory::MemoryQueue`]: a bounded in-memory queue that refuses records when full.

pub mod disk;
pub mod ingress;
pub mod memory;

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use weir_engine::line_protocol::Precision;

/// Where and how a record's lines are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchKey {
    /// Database (v1 `db=`).
    pub database: String,
    /// Retention policy; empty for the database default.
    pub retention_policy: String,
    /// Precision the timestamps were encoded in.
    pub precision: Precision,
    /// Create the database when the peer says it does not exist.
    pub create: bool,
}

/// One queued hand-off.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Destination.
    pub key: BatchKey,
    /// Number of lines in `body`.
    pub points: u32,
    /// When it was queued, milliseconds since the Unix epoch.
    pub enqueued_ms: i64,
    /// Line protocol, one point per `\n`-terminated line.
    pub body: Vec<u8>,
}

impl Record {
    /// A record queued now.
    pub fn new(key: BatchKey, points: u32, body: Vec<u8>) -> Record {
        Record {
            key,
            points,
            enqueued_ms: now_ms(),
            body,
        }
    }
}

/// Consecutive records with one key, read for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Destination of every line.
    pub key: BatchKey,
    /// Number of lines.
    pub points: u64,
    /// The lines.
    pub body: Vec<u8>,
    /// Queue-private position data, used by `ack`.
    pub(crate) cursor: BatchCursor,
}

/// Where a batch ends and which segments its points came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct BatchCursor {
    /// Disk: (segment id, offset) after the batch. Memory: number of records.
    pub(crate) end: (u64, u64),
    /// Disk: points per segment id.
    pub(crate) per_segment: Vec<(u64, u64)>,
}

/// Queue gauges for stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct QueueStats {
    /// Points queued and not yet acknowledged.
    pub points: u64,
    /// Bytes queued and not yet acknowledged (disk: including record headers).
    pub bytes: u64,
    /// When the oldest unacknowledged record was queued (ms since the epoch).
    pub oldest_enqueued_ms: Option<i64>,
    /// Points dropped because the queue was full (disk) or corrupt.
    pub dropped: u64,
}

/// Why a record was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The memory queue is full; the record is handed back.
    #[error("queue is full")]
    Full(Record),
    /// The disk queue could not write.
    #[error("buffer write failed: {0}")]
    Io(#[from] io::Error),
}

/// A sink's queue.
#[derive(Debug)]
pub enum Queue {
    /// Durable.
    Disk(disk::DiskQueue),
    /// Bounded, in memory.
    Memory(memory::MemoryQueue),
}

impl Queue {
    /// Queue a record.
    pub fn push(&mut self, record: Record) -> Result<(), PushError> {
        match self {
            Queue::Disk(queue) => queue.push(record).map_err(PushError::Io),
            Queue::Memory(queue) => queue.push(record),
        }
    }

    /// Whether a memory queue would refuse `bytes` more (a disk queue never refuses).
    pub fn would_refuse(&self, bytes: u64) -> bool {
        match self {
            Queue::Disk(_) => false,
            Queue::Memory(queue) => queue.would_refuse(bytes),
        }
    }

    /// The next batch of at most `max_points` points (at least one record), or None when
    /// everything has been read.
    pub fn next_batch(&mut self, max_points: u64) -> io::Result<Option<Batch>> {
        match self {
            Queue::Disk(queue) => queue.next_batch(max_points),
            Queue::Memory(queue) => Ok(queue.next_batch(max_points)),
        }
    }

    /// Forget a delivered (or deliberately dropped) batch.
    pub fn ack(&mut self, batch: &Batch) -> io::Result<()> {
        match self {
            Queue::Disk(queue) => queue.ack(batch),
            Queue::Memory(queue) => {
                queue.ack(batch);
                Ok(())
            }
        }
    }

    /// Read again from the oldest unacknowledged record (a new delivery task starts here).
    pub fn rewind(&mut self) {
        match self {
            Queue::Disk(queue) => queue.rewind(),
            Queue::Memory(queue) => queue.rewind(),
        }
    }

    /// Make queued data durable (disk); nothing for memory.
    pub fn sync(&mut self) -> io::Result<()> {
        match self {
            Queue::Disk(queue) => queue.sync(),
            Queue::Memory(_) => Ok(()),
        }
    }

    /// Gauges.
    pub fn stats(&self) -> QueueStats {
        match self {
            Queue::Disk(queue) => queue.stats(),
            Queue::Memory(queue) => queue.stats(),
        }
    }

    /// Points that have been queued but not read yet.
    pub fn unread_points(&self) -> u64 {
        match self {
            Queue::Disk(queue) => queue.unread_points(),
            Queue::Memory(queue) => queue.unread_points(),
        }
    }

    /// When the oldest unread record was queued.
    pub fn oldest_unread_ms(&self) -> Option<i64> {
        match self {
            Queue::Disk(queue) => queue.oldest_unread_ms(),
            Queue::Memory(queue) => queue.oldest_unread_ms(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn precision_code(precision: Precision) -> u8 {
    match precision {
        Precision::Nanoseconds => 0,
        Precision::Microseconds => 1,
        Precision::Milliseconds => 2,
        Precision::Seconds => 3,
        Precision::Minutes => 4,
        Precision::Hours => 5,
    }
}

pub(crate) fn precision_from_code(code: u8) -> Option<Precision> {
    Some(match code {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        3 => Precision::Seconds,
        4 => Precision::Minutes,
        5 => Precision::Hours,
        _ => return None,
    })
}
