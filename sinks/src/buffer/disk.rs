//! The durable queue (`buffer = "disk"`): a segmented append-only log under the sink's
//! directory.
//!
//! Files: `<dir>/<id:020>.seg` segments and `<dir>/ack`, the position of the oldest
//! unacknowledged record (segment id, offset, crc32). A record is
//! `len: u32 LE, crc32(payload): u32 LE, payload`, and a payload is
//! `enqueued_ms: i64, points: u32, precision: u8, create: u8, db_len: u16, rp_len: u16, db, rp,
//! line protocol` (little endian). Every push is one `write` of a whole record, so a killed
//! process loses nothing it pushed; `sync` (every `fsync-interval`) covers a machine crash.
//!
//! Opening scans every segment: a torn or corrupt record ends its segment there (the file is
//! truncated and a warning logged), never a panic. A segment is deleted once all of it is
//! acknowledged. When a push would pass `max_bytes`, whole segments are dropped oldest
//! first, and the points in them that were never read count as dropped.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{
    Batch, BatchCursor, BatchKey, QueueStats, Record, precision_code, precision_from_code,
};

const HEADER_BYTES: u64 = 8;
const PAYLOAD_HEAD_BYTES: usize = 18;
const ACK_FILE: &str = "ack";
const SEGMENT_SUFFIX: &str = ".seg";

#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
    points: u64,
    read_points: u64,
    acked_points: u64,
}

/// A durable queue in one directory. Not shareable between processes.
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is the one appended to. Never empty.
    segments: VecDeque<Segment>,
    active: File,
    read: (u64, u64),
    ack: (u64, u64),
    reader: Option<(u64, File)>,
    dropped: u64,
    dirty: bool,
}

impl DiskQueue {
    /// Open (or create) the queue in `dir`, resuming from the last acknowledged position.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<DiskQueue> {
        fs::create_dir_all(dir)?;
        let segment_bytes = (max_bytes / 8).clamp(4096, 64 << 20);
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(stem) = name
                .to_str()
                .and_then(|name| name.strip_suffix(SEGMENT_SUFFIX))
            else {
                continue;
            };
            if let Ok(id) = stem.parse::<u64>() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut ack = read_ack(&dir.join(ACK_FILE)).unwrap_or((0, 0));
        let mut segments = VecDeque::new();
        for id in ids {
            let path = segment_path(dir, id);
            if id < ack.0 {
                fs::remove_file(&path)?;
                continue;
            }
            let ack_offset = if id == ack.0 { ack.1 } else { 0 };
            let (segment, acked_end) = scan_segment(&path, id, ack_offset)?;
            if id == ack.0 {
                ack.1 = acked_end;
            }
            segments.push_back(segment);
        }
        match segments.front() {
            Some(first) if first.id != ack.0 => ack = (first.id, 0),
            Some(_) => {}
            None => {
                let id = ack.0;
                File::create(segment_path(dir, id))?;
                segments.push_back(Segment {
                    id,
                    bytes: 0,
                    points: 0,
                    read_points: 0,
                    acked_points: 0,
                });
                ack = (id, 0);
            }
        }
        let last_id = segments.back().map_or(0, |segment| segment.id);
        let active = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, last_id))?;
        let queue = DiskQueue {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            segments,
            active,
            read: ack,
            ack,
            reader: None,
            dropped: 0,
            dirty: false,
        };
        queue.write_ack()?;
        Ok(queue)
    }

    /// Append a record; when the queue is full, drop the oldest segments first.
    pub fn push(&mut self, record: Record) -> io::Result<()> {
        let bytes = encode_record(&record)?;
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            self.dropped += u64::from(record.points);
            tracing::warn!(
                dir = %self.dir.display(),
                points = record.points,
                "record larger than buffer-max-size dropped"
            );
            return Ok(());
        }
        if self.active_segment().bytes > 0 && self.active_segment().bytes + len > self.segment_bytes
        {
            self.rotate()?;
        }
        while self.unacked_bytes() + len > self.max_bytes {
            if self.segments.len() == 1 {
                if self.active_segment().bytes == 0 {
                    break;
                }
                self.rotate()?;
            }
            self.drop_oldest()?;
        }
        self.active.write_all(&bytes)?;
        let active = self.active_segment_mut();
        active.bytes += len;
        active.points += u64::from(record.points);
        self.dirty = true;
        Ok(())
    }

    /// Read the next batch (consecutive records with one key, at most `max_points` unless a
    /// single record is larger).
    pub fn next_batch(&mut self, max_points: u64) -> io::Result<Option<Batch>> {
        let mut batch: Option<Batch> = None;
        loop {
            if !self.normalize_read() {
                break;
            }
            let (segment_id, offset) = self.read;
            let record = match self.read_record(segment_id, offset) {
                Ok(record) => record,
                Err(error) => {
                    self.skip_corrupt_segment(segment_id, &error)?;
                    continue;
                }
            };
            let Some((record, len)) = record else { break };
            let ends_batch = batch.as_ref().is_some_and(|batch| {
                record.key != batch.key || batch.points + u64::from(record.points) > max_points
            });
            if ends_batch {
                break;
            }
            let points = u64::from(record.points);
            let batch = batch.get_or_insert_with(|| Batch {
                key: record.key.clone(),
                points: 0,
                body: Vec::new(),
                cursor: BatchCursor::default(),
            });
            batch.points += points;
            batch.body.extend_from_slice(&record.body);
            match batch.cursor.per_segment.last_mut() {
                Some((id, segment_points)) if *id == segment_id => *segment_points += points,
                _ => batch.cursor.per_segment.push((segment_id, points)),
            }
            self.read.1 += len;
            batch.cursor.end = self.read;
            if let Some(segment) = self.segment_mut(segment_id) {
                segment.read_points += points;
            }
        }
        Ok(batch)
    }

    /// Acknowledge a batch returned by `next_batch`; deletes segments fully acknowledged.
    pub fn ack(&mut self, batch: &Batch) -> io::Result<()> {
        for &(segment_id, points) in &batch.cursor.per_segment {
            if let Some(segment) = self.segment_mut(segment_id) {
                segment.acked_points += points;
            }
        }
        let end = batch.cursor.end;
        if self.segment(end.0).is_some() && end > self.ack {
            self.ack = end;
        }
        while self.segments.len() > 1 {
            let Some(first) = self.segments.front() else {
                break;
            };
            if self.ack.0 == first.id && self.ack.1 < first.bytes {
                break;
            }
            self.remove_first()?;
        }
        // A large, fully acknowledged active segment is replaced by an empty one.
        let active = self.active_segment();
        if self.segments.len() == 1
            && self.ack == (active.id, active.bytes)
            && active.bytes >= self.segment_bytes
        {
            self.rotate()?;
            self.remove_first()?;
        }
        self.write_ack()
    }

    /// Read again from the oldest unacknowledged record.
    pub fn rewind(&mut self) {
        self.read = self.ack;
        for segment in &mut self.segments {
            segment.read_points = segment.acked_points;
        }
    }

    /// Flush appended records to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.active.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Gauges.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            points: self
                .segments
                .iter()
                .map(|s| s.points.saturating_sub(s.acked_points))
                .sum(),
            bytes: self.unacked_bytes(),
            oldest_enqueued_ms: self.peek_enqueued(self.ack),
            dropped: self.dropped,
        }
    }

    /// Points queued and not read yet.
    pub fn unread_points(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.points.saturating_sub(s.read_points))
            .sum()
    }

    /// When the oldest unread record was queued.
    pub fn oldest_unread_ms(&self) -> Option<i64> {
        self.peek_enqueued(self.read)
    }

    fn active_segment(&self) -> &Segment {
        // `segments` is never empty: open creates one and removals keep the last.
        &self.segments[self.segments.len() - 1]
    }

    fn active_segment_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    fn segment(&self, id: u64) -> Option<&Segment> {
        self.segments.iter().find(|segment| segment.id == id)
    }

    fn segment_mut(&mut self, id: u64) -> Option<&mut Segment> {
        self.segments.iter_mut().find(|segment| segment.id == id)
    }

    fn unacked_bytes(&self) -> u64 {
        let total: u64 = self.segments.iter().map(|segment| segment.bytes).sum();
        match self.segments.front() {
            Some(first) if first.id == self.ack.0 => total - self.ack.1.min(first.bytes),
            _ => total,
        }
    }

    /// Move the read cursor past the end of sealed segments; false when nothing is left.
    fn normalize_read(&mut self) -> bool {
        loop {
            let Some(index) = self.segments.iter().position(|s| s.id == self.read.0) else {
                // The segment was dropped under the cursor: continue at the oldest one.
                let first_id = self.segments.front().map_or(0, |segment| segment.id);
                self.read = (first_id, 0);
                continue;
            };
            let segment = &self.segments[index];
            if self.read.1 < segment.bytes {
                return true;
            }
            match self.segments.get(index + 1) {
                Some(next) => self.read = (next.id, 0),
                None => return false,
            }
        }
    }

    /// The record at `offset` of segment `id` and its length; None at the end of the data.
    fn read_record(&mut self, id: u64, offset: u64) -> io::Result<Option<(Record, u64)>> {
        if !matches!(&self.reader, Some((reader_id, _)) if *reader_id == id) {
            self.reader = Some((id, File::open(segment_path(&self.dir, id))?));
        }
        let Some((_, file)) = &self.reader else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER_BYTES as usize];
        file.read_exact_at(&mut header, offset)?;
        let (len, crc) = split_header(&header);
        let mut payload = vec![0u8; len];
        file.read_exact_at(&mut payload, offset + HEADER_BYTES)?;
        if crc32fast::hash(&payload) != crc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "checksum mismatch",
            ));
        }
        let record = decode_payload(payload)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed record"))?;
        Ok(Some((record, HEADER_BYTES + len as u64)))
    }

    /// A record that cannot be read ends its segment: count the unread points as dropped.
    fn skip_corrupt_segment(&mut self, id: u64, error: &io::Error) -> io::Result<()> {
        tracing::warn!(
            dir = %self.dir.display(),
            segment = id,
            offset = self.read.1,
            %error,
            "corrupt buffer record; skipping the rest of the segment"
        );
        let is_active = self.active_segment().id == id;
        if let Some(segment) = self.segment_mut(id) {
            let lost = segment.points.saturating_sub(segment.read_points);
            segment.read_points = segment.points;
            segment.acked_points += lost;
            let end = segment.bytes;
            self.dropped += lost;
            self.read = (id, end);
        }
        if is_active {
            self.rotate()?;
        }
        Ok(())
    }

    fn peek_enqueued(&self, position: (u64, u64)) -> Option<i64> {
        let mut position = position;
        let index = self
            .segments
            .iter()
            .position(|segment| segment.id == position.0)?;
        for segment in self.segments.iter().skip(index) {
            if segment.id != position.0 {
                position = (segment.id, 0);
            }
            if position.1 < segment.bytes {
                let file = File::open(segment_path(&self.dir, segment.id)).ok()?;
                let mut bytes = [0u8; 8];
                file.read_exact_at(&mut bytes, position.1 + HEADER_BYTES)
                    .ok()?;
                return Some(i64::from_le_bytes(bytes));
            }
        }
        None
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.active.sync_data()?;
        let id = self.active_segment().id + 1;
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(segment_path(&self.dir, id))?;
        self.active = OpenOptions::new()
            .append(true)
            .open(segment_path(&self.dir, id))?;
        drop(file);
        self.segments.push_back(Segment {
            id,
            bytes: 0,
            points: 0,
            read_points: 0,
            acked_points: 0,
        });
        self.dirty = false;
        Ok(())
    }

    /// Drop the oldest segment for space; its never-read points count as dropped.
    fn drop_oldest(&mut self) -> io::Result<()> {
        let Some(first) = self.segments.front() else {
            return Ok(());
        };
        let lost = first.points.saturating_sub(first.read_points);
        self.dropped += lost;
        tracing::warn!(
            dir = %self.dir.display(),
            points = lost,
            "buffer-max-size reached; dropped the oldest queued points"
        );
        self.remove_first()?;
        self.write_ack()
    }

    fn remove_first(&mut self) -> io::Result<()> {
        let Some(first) = self.segments.pop_front() else {
            return Ok(());
        };
        let next_id = self
            .segments
            .front()
            .map_or(first.id + 1, |segment| segment.id);
        if matches!(&self.reader, Some((id, _)) if *id == first.id) {
            self.reader = None;
        }
        if self.ack.0 == first.id {
            self.ack = (next_id, 0);
        }
        if self.read.0 == first.id {
            self.read = (next_id, 0);
        }
        match fs::remove_file(segment_path(&self.dir, first.id)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn write_ack(&self) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(20);
        bytes.extend_from_slice(&self.ack.0.to_le_bytes());
        bytes.extend_from_slice(&self.ack.1.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        let temporary = self.dir.join("ack.tmp");
        fs::write(&temporary, &bytes)?;
        fs::rename(&temporary, self.dir.join(ACK_FILE))
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SEGMENT_SUFFIX}"))
}

fn read_ack(path: &Path) -> Option<(u64, u64)> {
    let bytes = fs::read(path).ok()?;
    if bytes.len() != 20 {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    if crc32fast::hash(&bytes[..16]) != crc {
        return None;
    }
    let segment = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
    let offset = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    Some((segment, offset))
}

fn split_header(header: &[u8; 8]) -> (usize, u32) {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    (len as usize, crc)
}

/// Scan a segment: count its points, truncate it at the first torn or corrupt record, and
/// find the record boundary at or before `ack_offset` with the points before it.
fn scan_segment(path: &Path, id: u64, ack_offset: u64) -> io::Result<(Segment, u64)> {
    let data = fs::read(path)?;
    let mut offset = 0usize;
    let mut points = 0u64;
    let mut acked_points = 0u64;
    let mut acked_end = 0u64;
    while offset < data.len() {
        let Some(header) = data.get(offset..offset + HEADER_BYTES as usize) else {
            break;
        };
        let mut header_bytes = [0u8; 8];
        header_bytes.copy_from_slice(header);
        let (len, crc) = split_header(&header_bytes);
        let start = offset + HEADER_BYTES as usize;
        let Some(payload) = data.get(start..start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(record) = decode_payload(payload.to_vec()) else {
            break;
        };
        offset = start + len;
        points += u64::from(record.points);
        if offset as u64 <= ack_offset {
            acked_points = points;
            acked_end = offset as u64;
        }
    }
    if offset < data.len() {
        tracing::warn!(
            path = %path.display(),
            offset,
            bytes = data.len() - offset,
            "torn or corrupt record at the end of a buffer segment; truncating"
        );
        OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(offset as u64)?;
    }
    let segment = Segment {
        id,
        bytes: offset as u64,
        points,
        read_points: acked_points,
        acked_points,
    };
    Ok((segment, acked_end))
}

fn encode_record(record: &Record) -> io::Result<Vec<u8>> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "database or rp name too long");
    let db_len = u16::try_from(record.key.database.len()).map_err(|_| too_long())?;
    let rp_len = u16::try_from(record.key.retention_policy.len()).map_err(|_| too_long())?;
    let payload_len = PAYLOAD_HEAD_BYTES
        + record.key.database.len()
        + record.key.retention_policy.len()
        + record.body.len();
    let len = u32::try_from(payload_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
    let mut bytes = Vec::with_capacity(HEADER_BYTES as usize + payload_len);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&record.enqueued_ms.to_le_bytes());
    bytes.extend_from_slice(&record.points.to_le_bytes());
    bytes.push(precision_code(record.key.precision));
    bytes.push(u8::from(record.key.create));
    bytes.extend_from_slice(&db_len.to_le_bytes());
    bytes.extend_from_slice(&rp_len.to_le_bytes());
    bytes.extend_from_slice(record.key.database.as_bytes());
    bytes.extend_from_slice(record.key.retention_policy.as_bytes());
    bytes.extend_from_slice(&record.body);
    let crc = crc32fast::hash(&bytes[HEADER_BYTES as usize..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

fn decode_payload(mut payload: Vec<u8>) -> Option<Record> {
    let head = payload.get(..PAYLOAD_HEAD_BYTES)?;
    let enqueued_ms = i64::from_le_bytes(head[0..8].try_into().ok()?);
    let points = u32::from_le_bytes(head[8..12].try_into().ok()?);
    let precision = precision_from_code(head[12])?;
    let create = head[13] != 0;
    let db_len = usize::from(u16::from_le_bytes(head[14..16].try_into().ok()?));
    let rp_len = usize::from(u16::from_le_bytes(head[16..18].try_into().ok()?));
    let db_end = PAYLOAD_HEAD_BYTES + db_len;
    let rp_end = db_end + rp_len;
    let database = String::from_utf8(payload.get(PAYLOAD_HEAD_BYTES..db_end)?.to_vec()).ok()?;
    let retention_policy = String::from_utf8(payload.get(db_end..rp_end)?.to_vec()).ok()?;
    let body = payload.split_off(rp_end);
    let key = BatchKey {
        database,
        retention_policy,
        precision,
        create,
    };
    Some(Record {
        key,
        points,
        enqueued_ms,
        body,
    })
}

#[cfg(test)]
mod tests {
    use weir_engine::line_protocol::Precision;

    use super::*;

    fn record(database: &str, first: u32, points: u32) -> Record {
        let key = BatchKey {
            database: database.into(),
            retention_policy: "autogen".into(),
            precision: Precision::Seconds,
            create: true,
        };
        let body: String = (first..first + points)
            .map(|i| format!("m v={i}i {i}\n"))
            .collect();
        Record::new(key, points, body.into_bytes())
    }

    fn drain(queue: &mut DiskQueue) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(batch) = queue.next_batch(1000).unwrap() {
            out.extend_from_slice(&batch.body);
            queue.ack(&batch).unwrap();
        }
        out
    }

    fn expected(range: std::ops::Range<u32>) -> Vec<u8> {
        range
            .map(|i| format!("m v={i}i {i}\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn segment_files(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(SEGMENT_SUFFIX)
            })
            .count()
    }

    #[test]
    fn round_trips_records_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
        queue.push(record("a", 0, 3)).unwrap();
        queue.push(record("a", 3, 3)).unwrap();
        queue.push(record("b", 6, 1)).unwrap();
        assert_eq!(queue.stats().points, 7);
        assert!(queue.stats().oldest_enqueued_ms.is_some());
        let batch = queue.next_batch(100).unwrap().unwrap();
        assert_eq!(batch.key.database, "a");
        assert_eq!(batch.key.retention_policy, "autogen");
        assert_eq!(batch.key.precision, Precision::Seconds);
        assert!(batch.key.create);
        assert_eq!(batch.points, 6);
        assert_eq!(batch.body, expected(0..6));
        queue.ack(&batch).unwrap();
        let batch = queue.next_batch(100).unwrap().unwrap();
        assert_eq!((batch.key.database.as_str(), batch.points), ("b", 1));
        queue.ack(&batch).unwrap();
        assert!(queue.next_batch(100).unwrap().is_none());
        let stats = queue.stats();
        assert_eq!(
            (stats.points, stats.bytes, stats.oldest_enqueued_ms),
            (0, 0, None)
        );
    }

    #[test]
    fn resumes_from_the_oldest_unacknowledged_record_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
            for i in 0..10 {
                queue.push(record("a", i * 10, 10)).unwrap();
            }
            let batch = queue.next_batch(30).unwrap().unwrap();
            assert_eq!(batch.points, 30);
            queue.ack(&batch).unwrap();
            // Read but never acknowledged: must come back.
            let _lost_in_flight = queue.next_batch(30).unwrap().unwrap();
        }
        let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(queue.stats().points, 70);
        assert_eq!(drain(&mut queue), expected(30..100));
    }

    #[test]
    fn torn_tail_is_truncated_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
            queue.push(record("a", 0, 5)).unwrap();
            queue.push(record("a", 5, 5)).unwrap();
        }
        let path = segment_path(dir.path(), 0);
        let length = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(length - 3)
            .unwrap();
        let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(queue.stats().points, 5);
        queue.push(record("a", 100, 1)).unwrap();
        let mut want = expected(0..5);
        want.extend(expected(100..101));
        assert_eq!(drain(&mut queue), want);
    }

    #[test]
    fn corrupt_record_ends_its_segment_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
            queue.push(record("a", 0, 5)).unwrap();
            queue.push(record("a", 5, 5)).unwrap();
        }
        let path = segment_path(dir.path(), 0);
        let mut data = fs::read(&path).unwrap();
        let last = data.len() - 2;
        data[last] ^= 0xff;
        fs::write(&path, &data).unwrap();
        let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(drain(&mut queue), expected(0..5));
        // Garbage in place of a whole file is survived too.
        fs::write(segment_path(dir.path(), 7), b"\xff\xff\xff\xffgarbage").unwrap();
        let mut queue = DiskQueue::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(drain(&mut queue), Vec::<u8>::new());
        fs::write(dir.path().join(ACK_FILE), b"junk").unwrap();
        assert!(DiskQueue::open(dir.path(), 1 << 20).is_ok());
    }

    #[test]
    fn acknowledged_segments_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut queue = DiskQueue::open(dir.path(), 64 * 1024).unwrap();
        for i in 0..200 {
            queue.push(record("a", i * 10, 10)).unwrap();
        }
        assert!(
            segment_files(dir.path()) > 2,
            "{}",
            segment_files(dir.path())
        );
        assert_eq!(drain(&mut queue), expected(0..2000));
        assert_eq!(segment_files(dir.path()), 1);
        assert_eq!(queue.stats().bytes, 0);
    }

    #[test]
    fn full_queue_drops_the_oldest_points_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let max = 16 * 1024;
        let mut queue = DiskQueue::open(dir.path(), max).unwrap();
        let total = 2000;
        for i in 0..total / 10 {
            queue.push(record("a", i * 10, 10)).unwrap();
            assert!(queue.stats().bytes <= max);
        }
        let dropped = queue.stats().dropped;
        assert!(dropped > 0);
        let delivered = drain(&mut queue);
        let kept = (total as u64 - dropped) as u32;
        assert_eq!(delivered, expected(total - kept..total));
    }

    #[test]
    fn dropping_under_an_in_flight_batch_counts_only_unread_points() {
        let dir = tempfile::tempdir().unwrap();
        let max = 16 * 1024;
        let mut queue = DiskQueue::open(dir.path(), max).unwrap();
        queue.push(record("a", 0, 10)).unwrap();
        let in_flight = queue.next_batch(10).unwrap().unwrap();
        for i in 1..200 {
            queue.push(record("a", i * 10, 10)).unwrap();
        }
        queue.ack(&in_flight).unwrap();
        let rest = drain(&mut queue);
        let rest_points = rest.iter().filter(|&&byte| byte == b'\n').count() as u64;
        assert_eq!(in_flight.points + rest_points + queue.stats().dropped, 2000);
        assert!(rest.ends_with(&expected(1990..2000)));
    }
}
