//! The child process of `tests/buffer_crash.rs`: opens the disk buffer in the directory
//! given as its only argument and appends numbered one-point records for ever, printing
//! `pushed N` after each push has returned, until the parent kills it with `kill -9`.

use std::io::Write;
use std::path::PathBuf;

use weir_engine::line_protocol::Precision;
use weir_sinks::buffer::disk::DiskQueue;
use weir_sinks::buffer::{BatchKey, Record};

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: weir-buffer-crash-child DIR");
        std::process::exit(2);
    };
    let key = BatchKey {
        database: "db".into(),
        retention_policy: String::new(),
        precision: Precision::Nanoseconds,
        create: false,
    };
    let mut queue = DiskQueue::open(&dir, 1 << 30).expect("open the disk buffer");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in 0u64.. {
        let body = format!("m v={i}i {i}\n");
        queue
            .push(Record::new(key.clone(), 1, body.into_bytes()))
            .expect("push a record");
        writeln!(out, "pushed {i}").expect("report to the parent");
        out.flush().expect("report to the parent");
    }
}
