//! A real `kill -9` of a process appending to the disk buffer: every record whose push had
//! returned is there after reopening, in order, and a torn tail is skipped without a panic.
//!
//! The parent test re-runs this test binary as a child process that only appends
//! (`appends_until_killed`, which does nothing unless `WEIR_BUFFER_CHILD_DIR` is set).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use weir_engine::line_protocol::Precision;
use weir_sinks::buffer::disk::DiskQueue;
use weir_sinks::buffer::{BatchKey, Record};

const CHILD_DIR: &str = "WEIR_BUFFER_CHILD_DIR";

fn key() -> BatchKey {
    BatchKey {
        database: "db".into(),
        retention_policy: String::new(),
        precision: Precision::Nanoseconds,
        create: false,
    }
}

/// The child: append numbered one-point records for ever, reporting each one pushed.
#[test]
fn appends_until_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let mut queue = DiskQueue::open(dir.as_ref(), 1 << 30).unwrap();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in 0u64.. {
        let body = format!("m v={i}i {i}\n");
        queue
            .push(Record::new(key(), 1, body.into_bytes()))
            .unwrap();
        writeln!(out, "pushed {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_nothing_that_was_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "appends_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_pushed = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(number) = line.strip_prefix("pushed ") {
            let number: u64 = number.parse().unwrap();
            last_pushed = Some(number);
            if number >= 20_000 {
                // SIGKILL: no destructor, no flush.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    let last_pushed = last_pushed.expect("the child pushed records");

    let mut queue = DiskQueue::open(dir.path(), 1 << 30).unwrap();
    let mut numbers = Vec::new();
    while let Some(batch) = queue.next_batch(5000).unwrap() {
        for line in String::from_utf8(batch.body.clone()).unwrap().lines() {
            let number: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            numbers.push(number);
        }
        queue.ack(&batch).unwrap();
    }
    assert!(
        numbers.len() as u64 > last_pushed,
        "{} <= {last_pushed}",
        numbers.len()
    );
    let expected: Vec<u64> = (0..numbers.len() as u64).collect();
    assert_eq!(numbers, expected);
}
