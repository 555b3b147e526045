//! The file sink: weir's embedded default when no database is configured.
//!
//! [`FileSink`] writes line protocol (nanosecond timestamps, the same encoder as the InfluxDB
//! sink) to `<dir>/<database>.lp`, one file per database, and rotates a file when it would
//! pass `max_file_bytes`: `<db>.lp` becomes `<db>.lp.1`, `.1` becomes `.2`, and so on, keeping
//! `keep` old files. Each [`FileSink::write`] is a single `write` call, so a killed process
//! leaves whole lines. It is a plain synchronous struct, not a `SinkManager` sink kind: the
//! binary owns one and calls it from its write path.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use weir_engine::Point;
use weir_engine::line_protocol::Precision;

use crate::influxdb::encode::encode_points;

/// Line-protocol files, one per database, rotated by size.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    max_file_bytes: u64,
    keep: usize,
    files: HashMap<String, (File, u64)>,
}

impl FileSink {
    /// Create `dir` if needed. `max_file_bytes` of 0 means never rotate.
    pub fn new(dir: &Path, max_file_bytes: u64, keep: usize) -> io::Result<FileSink> {
        fs::create_dir_all(dir)?;
        Ok(FileSink {
            dir: dir.to_owned(),
            max_file_bytes,
            keep,
            files: HashMap::new(),
        })
    }

    /// The current file of a database.
    pub fn path(&self, database: &str) -> PathBuf {
        self.dir.join(format!("{}.lp", safe_name(database)))
    }

    /// Append the points to the database's file, rotating it first when it would get too big.
    /// Points with no encodable field are skipped.
    pub fn write(&mut self, database: &str, points: &[Point]) -> io::Result<()> {
        let mut body = Vec::with_capacity(points.len() * 96);
        encode_points(&mut body, points, Precision::Nanoseconds);
        if body.is_empty() {
            return Ok(());
        }
        let path = self.path(database);
        if !self.files.contains_key(database) {
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let size = file.metadata()?.len();
            self.files.insert(database.to_owned(), (file, size));
        }
        let size = self.files.get(database).map_or(0, |(_, size)| *size);
        if self.max_file_bytes > 0 && size > 0 && size + body.len() as u64 > self.max_file_bytes {
            self.files.remove(database);
            self.rotate(&path)?;
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.files.insert(database.to_owned(), (file, 0));
        }
        let Some((file, size)) = self.files.get_mut(database) else {
            return Err(io::Error::other(format!(
                "file sink: {} not open",
                path.display()
            )));
        };
        file.write_all(&body).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("file sink: {}: {error}", path.display()),
            )
        })?;
        *size += body.len() as u64;
        Ok(())
    }

    /// fsync every open file.
    pub fn sync(&mut self) -> io::Result<()> {
        for (file, _) in self.files.values() {
            file.sync_data()?;
        }
        Ok(())
    }

    fn rotate(&self, path: &Path) -> io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
        if self.keep == 0 {
            return remove_if_exists(path);
        }
        remove_if_exists(&numbered(self.keep))?;
        for n in (1..self.keep).rev() {
            rename_if_exists(&numbered(n), &numbered(n + 1))?;
        }
        rename_if_exists(path, &numbered(1))
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Database names as file names: bytes other than ASCII letters, digits, `-`, `_` and a
/// non-leading `.` become `%XX`; an empty name is `%`.
fn safe_name(name: &str) -> String {
    if name.is_empty() {
        return "%".to_owned();
    }
    let mut safe = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_')
            || (byte == b'.' && !safe.is_empty())
        {
            safe.push(char::from(byte));
        } else {
            let _ = write!(safe, "%{byte:02X}");
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use weir_engine::{FieldValue, Tags};

    use super::*;

    fn points(first: i64, count: i64) -> Vec<Point> {
        (first..first + count)
            .map(|i| {
                let mut tags = Tags::new();
                tags.insert("host".into(), "a b".into());
                let mut point = Point::gauge("cpu", tags, 0.5, i);
                point.fields.insert("n".into(), FieldValue::Int(i));
                point
            })
            .collect()
    }

    #[test]
    fn writes_one_file_per_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink::new(dir.path(), 0, 2).unwrap();
        sink.write("telegraf", &points(1, 2)).unwrap();
        sink.write("other/db", &points(3, 1)).unwrap();
        sink.write("telegraf", &points(4, 1)).unwrap();
        sink.sync().unwrap();
        let text = fs::read_to_string(dir.path().join("telegraf.lp")).unwrap();
        assert_eq!(
            text,
            "cpu,host=a\\ b n=1i,value=0.5 1\ncpu,host=a\\ b n=2i,value=0.5 2\ncpu,host=a\\ b n=4i,value=0.5 4\n"
        );
        assert!(dir.path().join("other%2Fdb.lp").exists());
        assert_eq!(sink.path(""), dir.path().join("%.lp"));
    }

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let line_len = "cpu,host=a\\ b n=1i,value=0.5 1\n".len() as u64;
        let mut sink = FileSink::new(dir.path(), line_len * 3, 2).unwrap();
        for i in 0..10 {
            sink.write("db", &points(i, 1)).unwrap();
        }
        let current = fs::read_to_string(dir.path().join("db.lp")).unwrap();
        let first = fs::read_to_string(dir.path().join("db.lp.1")).unwrap();
        let second = fs::read_to_string(dir.path().join("db.lp.2")).unwrap();
        assert!(!dir.path().join("db.lp.3").exists());
        assert_eq!(current.lines().count(), 1);
        assert!(current.ends_with(" 9\n"));
        assert_eq!(first.lines().count(), 3);
        assert!(first.starts_with("cpu,host=a\\ b n=6i"));
        assert!(second.starts_with("cpu,host=a\\ b n=3i"));
        // A reopened sink appends and keeps counting the existing size.
        drop(sink);
        let mut sink = FileSink::new(dir.path(), line_len * 3, 0).unwrap();
        sink.write("db", &points(10, 2)).unwrap();
        sink.write("db", &points(12, 1)).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("db.lp"))
                .unwrap()
                .lines()
                .count(),
            1
        );
    }
}
