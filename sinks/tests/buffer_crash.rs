//! A real `kill -9` of a process appending to the disk buffer: every record whose push had
//! returned is there after reopening, in order, and a torn tail is skipped without a panic.
//!
//! The child is the `weir-buffer-crash-child` binary of this package
//! (`tests/support/buffer_crash_child.rs`): it appends numbered one-point records to the
//! buffer in the directory it is given and prints `pushed N` after each push has returned.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use weir_sinks::buffer::disk::DiskQueue;

#[test]
fn kill_9_loses_nothing_that_was_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir-buffer-crash-child"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        // A child that fails says why on the test's own standard error.
        .stderr(Stdio::inherit())
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
