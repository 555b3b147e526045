//! Any scrape body, in both formats: parsing never panics, and counts add up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_scrapers::exposition::{Format, parse};

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        let mut samples = 0usize;
        let mut errors = 0usize;
        parse(
            data,
            format,
            |_sample| samples += 1,
            |line, _reason| {
                errors += 1;
                assert!(line >= 1);
            },
        );
        assert!(samples + errors <= data.len() + 1);
    }
});
