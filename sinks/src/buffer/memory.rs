//! The bounded in-memory queue (`buffer = "memory"`): a full queue hands records back, so the
//! caller feels back-pressure instead of losing data silently.

use std::collections::VecDeque;

use super::{Batch, BatchCursor, PushError, QueueStats, Record};

/// Records in arrival order; the first `in_flight` have been read and await `ack`.
#[derive(Debug)]
pub struct MemoryQueue {
    records: VecDeque<Record>,
    in_flight: usize,
    bytes: u64,
    points: u64,
    max_bytes: u64,
}

impl MemoryQueue {
    /// An empty queue holding at most `max_bytes` of line protocol (one record always fits).
    pub fn new(max_bytes: u64) -> MemoryQueue {
        MemoryQueue {
            records: VecDeque::new(),
            in_flight: 0,
            bytes: 0,
            points: 0,
            max_bytes,
        }
    }

    /// Whether `bytes` more would not fit (an empty queue takes anything).
    pub fn would_refuse(&self, bytes: u64) -> bool {
        !self.records.is_empty() && self.bytes + bytes > self.max_bytes
    }

    /// Queue a record, or hand it back when the queue is full.
    pub fn push(&mut self, record: Record) -> Result<(), PushError> {
        let size = record.body.len() as u64;
        if self.would_refuse(size) {
            return Err(PushError::Full(record));
        }
        self.bytes += size;
        self.points += u64::from(record.points);
        self.records.push_back(record);
        Ok(())
    }

    /// The next unread records with one key, up to `max_points` points.
    pub fn next_batch(&mut self, max_points: u64) -> Option<Batch> {
        let first = self.records.get(self.in_flight)?;
        let key = first.key.clone();
        let mut body = Vec::new();
        let mut points = 0u64;
        let mut n_records = 0;
        for record in self.records.iter().skip(self.in_flight) {
            if record.key != key
                || (n_records > 0 && points + u64::from(record.points) > max_points)
            {
                break;
            }
            body.extend_from_slice(&record.body);
            points += u64::from(record.points);
            n_records += 1;
        }
        self.in_flight += n_records;
        let cursor = BatchCursor {
            end: (n_records as u64, 0),
            per_segment: Vec::new(),
        };
        Some(Batch {
            key,
            points,
            body,
            cursor,
        })
    }

    /// Drop the records of the oldest in-flight batch.
    pub fn ack(&mut self, batch: &Batch) {
        let n_records = usize::try_from(batch.cursor.end.0).unwrap_or(usize::MAX);
        for _ in 0..n_records.min(self.in_flight) {
            if let Some(record) = self.records.pop_front() {
                self.bytes -= record.body.len() as u64;
                self.points -= u64::from(record.points);
            }
        }
        self.in_flight = self.in_flight.saturating_sub(n_records);
    }

    /// Read again from the oldest record.
    pub fn rewind(&mut self) {
        self.in_flight = 0;
    }

    /// Gauges.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            points: self.points,
            bytes: self.bytes,
            oldest_enqueued_ms: self.records.front().map(|record| record.enqueued_ms),
            dropped: 0,
        }
    }

    /// Points not read yet.
    pub fn unread_points(&self) -> u64 {
        self.records
            .iter()
            .skip(self.in_flight)
            .map(|record| u64::from(record.points))
            .sum()
    }

    /// When the oldest unread record was queued.
    pub fn oldest_unread_ms(&self) -> Option<i64> {
        self.records
            .get(self.in_flight)
            .map(|record| record.enqueued_ms)
    }
}

#[cfg(test)]
mod tests {
    use weir_engine::line_protocol::Precision;

    use super::*;
    use crate::buffer::BatchKey;

    fn record(database: &str, points: u32) -> Record {
        let key = BatchKey {
            database: database.into(),
            retention_policy: String::new(),
            precision: Precision::Nanoseconds,
            create: false,
        };
        Record::new(key, points, b"m v=1i 1\n".repeat(points as usize))
    }

    #[test]
    fn batches_by_key_and_size_then_acks() {
        let mut queue = MemoryQueue::new(1 << 20);
        for _ in 0..3 {
            queue.push(record("a", 2)).unwrap();
        }
        queue.push(record("b", 1)).unwrap();
        let first = queue.next_batch(4).unwrap();
        assert_eq!((first.key.database.as_str(), first.points), ("a", 4));
        let second = queue.next_batch(4).unwrap();
        assert_eq!((second.key.database.as_str(), second.points), ("a", 2));
        assert_eq!(queue.unread_points(), 1);
        queue.ack(&first);
        assert_eq!(queue.stats().points, 3);
        queue.rewind();
        let again = queue.next_batch(100).unwrap();
        assert_eq!(again.points, 2);
        queue.ack(&again);
        let last = queue.next_batch(100).unwrap();
        assert_eq!(last.key.database, "b");
        queue.ack(&last);
        assert!(queue.next_batch(100).is_none());
        assert_eq!(queue.stats(), QueueStats::default());
    }

    #[test]
    fn full_queue_hands_the_record_back() {
        let mut queue = MemoryQueue::new(20);
        queue.push(record("a", 2)).unwrap();
        match queue.push(record("a", 2)) {
            Err(PushError::Full(record)) => assert_eq!(record.points, 2),
            other => panic!("expected full, got {other:?}"),
        }
        let batch = queue.next_batch(10).unwrap();
        queue.ack(&batch);
        queue.push(record("a", 2)).unwrap();
    }
}
