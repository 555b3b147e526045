//! Fuzz target: the exposition parser never panics on any bytes, in either format, and
//! its counts agree with what it reported through the callbacks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_scrapers::exposition::{self, Format};

fuzz_target!(|body: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        let mut n_samples = 0usize;
        let mut n_errors = 0usize;
        let summary = exposition::parse(
            body,
            format,
            |sample| {
                n_samples += 1;
                assert!(!sample.name.is_empty());
                assert!(sample.line >= 1);
                for label in sample.labels {
                    assert!(!label.name.is_empty());
                    // Unescaping never grows a value beyond its line.
                    assert!(label.value.len() <= body.len());
                }
            },
            |line, reason| {
                n_errors += 1;
                assert!(line >= 1);
                assert!(!reason.is_empty());
            },
        );
        assert_eq!(summary.samples, n_samples);
        assert_eq!(summary.errors, n_errors);
    }
});
