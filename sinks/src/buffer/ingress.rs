//! The ingress log: `/write` bodies appended before they are acknowledged, and replayed after
//! a crash until the tasks no longer need them.
//!
//! Files under its directory: `<first seq:020>.log` segments and `safe`, the highest sequence
//! number whose batch (and every batch before it) no task needs any more. A record is
//! `len: u32 LE, crc32(payload): u32 LE, payload`, and a payload is `seq: u64, received_ns: i64,
//! precision: u8, db_len: u16, rp_len: u16, db, rp, body` (little endian; the body is the
//! request's line protocol, UTF-8). Each append is one `write` of a whole record, so once
//! [`IngressLog::append`] returns, a killed process has the record on disk; `sync` (every
//! `fsync-interval`) covers a machine crash too.
//!
//! The log implements the engine's [`IngressTracker`]: an appended batch is held once by its
//! writer until it has been routed, and once by every task it was routed to. The lowest
//! sequence number still held bounds `safe`; [`IngressLog::checkpoint`] writes `safe` and
//! deletes the segments entirely at or below it. Opening scans the segments (a torn or corrupt
//! tail is truncated with a warning, never a panic) and [`IngressLog::replay`] hands back every
//! record above `safe`, in order. When the log would pass its size cap, [`IngressLog::append`]
//! refuses (the writer answers 503 with `Retry-After`): acknowledged data is never dropped.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use weir_engine::IngressTracker;
use weir_engine::line_protocol::Precision;

use super::{precision_code, precision_from_code};

const HEADER_BYTES: usize = 8;
const PAYLOAD_HEAD_BYTES: usize = 8 + 8 + 1 + 2 + 2;
const SAFE_FILE: &str = "safe";
const SEGMENT_SUFFIX: &str = ".log";

/// One logged write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Sequence number, increasing by one per append.
    pub seq: u64,
    /// When the write arrived (ns since the epoch): the time of lines without a timestamp.
    pub received_ns: i64,
    /// The write's `precision`.
    pub precision: Precision,
    /// The write's database.
    pub database: String,
    /// The write's retention policy.
    pub retention_policy: String,
    /// The accepted line protocol.
    pub body: Vec<u8>,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The log holds `max-log-size` bytes that tasks still need.
    #[error("the ingress log is full ({bytes} bytes waiting for tasks; max-log-size {max})")]
    Full {
        /// Bytes in the log.
        bytes: u64,
        /// The cap.
        max: u64,
    },
    /// The disk said no.
    #[error("cannot append to the ingress log: {0}")]
    Io(#[from] io::Error),
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    last_seq: Option<u64>,
    bytes: u64,
}

#[derive(Debug)]
struct State {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is appended to. Never empty.
    segments: VecDeque<Segment>,
    active: File,
    next_seq: u64,
    /// Sequence numbers still held, with their number of holders.
    held: BTreeMap<u64, u32>,
    /// The last `safe` written to disk.
    safe_on_disk: u64,
    dirty: bool,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct IngressStats {
    /// Records appended.
    pub appended: AtomicU64,
    /// Bytes appended.
    pub appended_bytes: AtomicU64,
    /// Records replayed after a restart.
    pub replayed: AtomicU64,
    /// Appends refused because the log was full.
    pub refused: AtomicU64,
}

/// The log; shared by the `/write` handlers and the engine's tasks.
#[derive(Debug)]
pub struct IngressLog {
    state: Mutex<State>,
    /// Counters.
    pub stats: IngressStats,
}

impl IngressLog {
    /// Open (or create) the log in `dir`, capped at `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<IngressLog> {
        fs::create_dir_all(dir)?;
        let segment_bytes = (max_bytes / 16).clamp(64 << 10, 64 << 20);
        let safe = read_safe(&dir.join(SAFE_FILE)).unwrap_or(0);
        let mut firsts = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            if let Some(first) = name
                .to_str()
                .and_then(|name| name.strip_suffix(SEGMENT_SUFFIX))
                .and_then(|stem| stem.parse::<u64>().ok())
            {
                firsts.push(first);
            }
        }
        firsts.sort_unstable();
        let mut segments = VecDeque::new();
        let mut next_seq = safe + 1;
        for first in firsts {
            let path = segment_path(dir, first);
            let (bytes, last_seq) = scan(&path, &mut |_| {})?;
            if let Some(last) = last_seq {
                next_seq = next_seq.max(last + 1);
            }
            if last_seq.is_none_or(|last| last <= safe) {
                fs::remove_file(&path)?;
                continue;
            }
            segments.push_back(Segment {
                first_seq: first,
                last_seq,
                bytes,
            });
        }
        if segments.is_empty() {
            File::create(segment_path(dir, next_seq))?;
            segments.push_back(Segment {
                first_seq: next_seq,
                last_seq: None,
                bytes: 0,
            });
        }
        let active_first = segments
            .back()
            .map_or(next_seq, |segment| segment.first_seq);
        let active = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, active_first))?;
        Ok(IngressLog {
            state: Mutex::new(State {
                dir: dir.to_owned(),
                max_bytes,
                segment_bytes,
                segments,
                active,
                next_seq,
                held: BTreeMap::new(),
                safe_on_disk: safe,
                dirty: false,
            }),
            stats: IngressStats::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The segments that may hold records to replay, oldest first.
    pub fn replay_segments(&self) -> Vec<PathBuf> {
        let state = self.lock();
        state
            .segments
            .iter()
            .map(|segment| segment_path(&state.dir, segment.first_seq))
            .collect()
    }

    /// The records of one segment (from [`IngressLog::replay_segments`]) that the tasks may
    /// not have finished with before the last stop, oldest first. Each comes back held once,
    /// as an append is: release it after routing it. One segment at a time keeps a replay's
    /// memory to a segment's size.
    pub fn replay_segment(&self, segment: &Path) -> io::Result<Vec<Entry>> {
        let safe = self.lock().safe_on_disk;
        let mut entries = Vec::new();
        scan(segment, &mut |entry| {
            if entry.seq > safe {
                entries.push(entry);
            }
        })?;
        let mut state = self.lock();
        for entry in &entries {
            *state.held.entry(entry.seq).or_insert(0) += 1;
        }
        self.stats
            .replayed
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(entries)
    }

    /// Every record to replay, oldest first, each held once (see [`IngressLog::replay_segment`]).
    pub fn replay(&self, mut each: impl FnMut(Entry)) -> io::Result<()> {
        for segment in self.replay_segments() {
            self.replay_segment(&segment)?
                .into_iter()
                .for_each(&mut each);
        }
        Ok(())
    }

    /// Append a write; it is on disk (for a killed process) when this returns, held once for
    /// the writer. Refused, with nothing written, when the log is full.
    pub fn append(
        &self,
        received_ns: i64,
        precision: Precision,
        database: &str,
        retention_policy: &str,
        body: &[u8],
    ) -> Result<u64, AppendError> {
        let mut state = self.lock();
        let seq = state.next_seq;
        let record = encode(
            seq,
            received_ns,
            precision,
            database,
            retention_policy,
            body,
        )?;
        let len = record.len() as u64;
        let total: u64 = state.segments.iter().map(|segment| segment.bytes).sum();
        if total + len > state.max_bytes && total > 0 {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::Full {
                bytes: total,
                max: state.max_bytes,
            });
        }
        let active_bytes = state.segments.back().map_or(0, |segment| segment.bytes);
        if active_bytes > 0 && active_bytes + len > state.segment_bytes {
            let path = segment_path(&state.dir, seq);
            state.active = OpenOptions::new().create(true).append(true).open(path)?;
            state.segments.push_back(Segment {
                first_seq: seq,
                last_seq: None,
                bytes: 0,
            });
        }
        state.active.write_all(&record)?;
        state.next_seq = seq + 1;
        state.dirty = true;
        if let Some(segment) = state.segments.back_mut() {
            segment.bytes += len;
            segment.last_seq = Some(seq);
        }
        state.held.insert(seq, 1);
        self.stats.appended.fetch_add(1, Ordering::Relaxed);
        self.stats.appended_bytes.fetch_add(len, Ordering::Relaxed);
        Ok(seq)
    }

    /// The highest sequence number such that it and everything before it are no longer held.
    fn safe(state: &State) -> u64 {
        match state.held.keys().next() {
            Some(lowest) => lowest - 1,
            None => state.next_seq - 1,
        }
    }

    /// Record how far the tasks got (the `safe` file) and delete the segments no longer
    /// needed. Cheap when nothing changed; call it often.
    pub fn checkpoint(&self) -> io::Result<()> {
        let mut state = self.lock();
        let safe = Self::safe(&state);
        if safe == state.safe_on_disk {
            return Ok(());
        }
        write_safe(&state.dir, safe)?;
        state.safe_on_disk = safe;
        while state.segments.len() > 1 {
            let Some(front) = state.segments.front() else {
                break;
            };
            if front.last_seq.is_some_and(|last| last <= safe) {
                let path = segment_path(&state.dir, front.first_seq);
                state.segments.pop_front();
                fs::remove_file(path)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// fsync the segment being appended to, if anything was appended since the last sync.
    pub fn sync(&self) -> io::Result<()> {
        let mut state = self.lock();
        if state.dirty {
            state.active.sync_data()?;
            state.dirty = false;
        }
        Ok(())
    }

    /// Bytes in the log and sequence numbers still held.
    pub fn depth(&self) -> (u64, usize) {
        let state = self.lock();
        (
            state.segments.iter().map(|segment| segment.bytes).sum(),
            state.held.len(),
        )
    }
}

impl IngressTracker for IngressLog {
    fn hold(&self, seq: u64) {
        *self.lock().held.entry(seq).or_insert(0) += 1;
    }

    fn release(&self, seq: u64) {
        let mut state = self.lock();
        if let Some(count) = state.held.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                state.held.remove(&seq);
            }
        }
    }
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEGMENT_SUFFIX}"))
}

fn read_safe(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.trim().parse().ok()
}

fn write_safe(dir: &Path, safe: u64) -> io::Result<()> {
    let temporary = dir.join("safe.tmp");
    fs::write(&temporary, format!("{safe}\n"))?;
    fs::rename(temporary, dir.join(SAFE_FILE))
}

fn encode(
    seq: u64,
    received_ns: i64,
    precision: Precision,
    database: &str,
    retention_policy: &str,
    body: &[u8],
) -> io::Result<Vec<u8>> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "database or rp name too long");
    let db_len = u16::try_from(database.len()).map_err(|_| too_long())?;
    let rp_len = u16::try_from(retention_policy.len()).map_err(|_| too_long())?;
    let payload_len = PAYLOAD_HEAD_BYTES + database.len() + retention_policy.len() + body.len();
    let len = u32::try_from(payload_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "write body over 4 GiB"))?;
    let mut out = Vec::with_capacity(HEADER_BYTES + payload_len);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&received_ns.to_le_bytes());
    out.push(precision_code(precision));
    out.extend_from_slice(&db_len.to_le_bytes());
    out.extend_from_slice(&rp_len.to_le_bytes());
    out.extend_from_slice(database.as_bytes());
    out.extend_from_slice(retention_policy.as_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[HEADER_BYTES..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let head = payload.get(..PAYLOAD_HEAD_BYTES)?;
    let seq = u64::from_le_bytes(head[0..8].try_into().ok()?);
    let received_ns = i64::from_le_bytes(head[8..16].try_into().ok()?);
    let precision = precision_from_code(head[16])?;
    let db_len = usize::from(u16::from_le_bytes(head[17..19].try_into().ok()?));
    let rp_len = usize::from(u16::from_le_bytes(head[19..21].try_into().ok()?));
    let rest = &payload[PAYLOAD_HEAD_BYTES..];
    let database = std::str::from_utf8(rest.get(..db_len)?).ok()?.to_owned();
    let retention_policy = std::str::from_utf8(rest.get(db_len..db_len + rp_len)?)
        .ok()?
        .to_owned();
    let body = rest.get(db_len + rp_len..)?.to_vec();
    Some(Entry {
        seq,
        received_ns,
        precision,
        database,
        retention_policy,
        body,
    })
}

/// Read a segment, handing each good record to `each`; a torn or corrupt tail is cut off.
/// Returns the good length and the last sequence number.
fn scan(path: &Path, each: &mut dyn FnMut(Entry)) -> io::Result<(u64, Option<u64>)> {
    let data = fs::read(path)?;
    let mut offset = 0usize;
    let mut last = None;
    while offset < data.len() {
        let Some(header) = data.get(offset..offset + HEADER_BYTES) else {
            break;
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = offset + HEADER_BYTES;
        let Some(payload) = data.get(start..start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(entry) = decode(payload) else {
            break;
        };
        offset = start + len;
        last = Some(entry.seq);
        each(entry);
    }
    if offset < data.len() {
        tracing::warn!(
            path = %path.display(),
            offset,
            bytes = data.len() - offset,
            "torn or corrupt record at the end of an ingress log segment; truncating"
        );
        OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(offset as u64)?;
    }
    Ok((offset as u64, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(log: &IngressLog, body: &str) -> u64 {
        log.append(1, Precision::Nanoseconds, "db", "autogen", body.as_bytes())
            .expect("append")
    }

    fn replayed(dir: &Path) -> Vec<(u64, String)> {
        let log = IngressLog::open(dir, 1 << 20).expect("open");
        let mut out = Vec::new();
        log.replay(|entry| out.push((entry.seq, String::from_utf8(entry.body).unwrap())))
            .expect("replay");
        out
    }

    #[test]
    fn replays_what_is_still_held_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = IngressLog::open(dir.path(), 1 << 20).unwrap();
        let a = append(&log, "cpu value=1 1\n");
        let b = append(&log, "cpu value=2 2\n");
        let c = append(&log, "cpu value=3 3\n");
        // a is routed to one task that finishes; b to one that does not; c is not routed yet.
        log.hold(a);
        log.release(a);
        log.release(a);
        log.hold(b);
        log.release(b);
        log.checkpoint().unwrap();
        drop(log);
        let again = replayed(dir.path());
        assert_eq!(
            again,
            vec![(b, "cpu value=2 2\n".into()), (c, "cpu value=3 3\n".into())]
        );
    }

    #[test]
    fn released_segments_are_deleted_and_sequence_numbers_continue() {
        let dir = tempfile::tempdir().unwrap();
        let log = IngressLog::open(dir.path(), 1 << 20).unwrap();
        let body = "x".repeat(20_000);
        let mut last = 0;
        for _ in 0..20 {
            last = append(&log, &body);
            log.release(last);
        }
        log.checkpoint().unwrap();
        let files = fs::read_dir(dir.path()).unwrap().count();
        assert!(files <= 3, "{files} files");
        drop(log);
        assert!(replayed(dir.path()).is_empty());
        let log = IngressLog::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(append(&log, "y"), last + 1);
    }

    #[test]
    fn a_full_log_refuses_instead_of_dropping() {
        let dir = tempfile::tempdir().unwrap();
        let log = IngressLog::open(dir.path(), 100_000).unwrap();
        let body = "x".repeat(30_000);
        for _ in 0..3 {
            append(&log, &body);
        }
        let refused = log.append(1, Precision::Nanoseconds, "db", "autogen", body.as_bytes());
        assert!(
            matches!(refused, Err(AppendError::Full { .. })),
            "{refused:?}"
        );
        assert_eq!(replayed(dir.path()).len(), 3);
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_rest_replays() {
        let dir = tempfile::tempdir().unwrap();
        let log = IngressLog::open(dir.path(), 1 << 20).unwrap();
        append(&log, "cpu value=1 1\n");
        append(&log, "cpu value=2 2\n");
        drop(log);
        let segment = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .find(|entry| entry.path().extension().is_some_and(|e| e == "log"))
            .unwrap()
            .path();
        let length = fs::metadata(&segment).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(length - 3)
            .unwrap();
        assert_eq!(replayed(dir.path()).len(), 1);
    }
}
