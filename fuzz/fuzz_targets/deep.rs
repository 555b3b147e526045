//! Deeply nested scripts: prefixes of nesting characters repeated many times must compile to
//! diagnostics, never exhaust the stack (the parser's depth limits, dsl::parser::MAX_NESTING
//! and MAX_DEPTH). Each input byte picks a fragment; the fragments repeat to thousands of
//! levels.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_dsl::{CompileOptions, compile, format};

const FRAGMENTS: &[&str] = &[
    "(", ")", "[", "]", "!", "-", "lambda: ", " AND ", " OR ", " + ", "|window()", ".period(1s)",
    "\"v\"", "1", ", ", "f(", "stream", "|from()", "var x = ", "\n", "'s'", "@u()",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let repeat = usize::from(data[0]) * 40 + 1;
    let mut source = String::new();
    for _ in 0..repeat {
        for byte in &data[1..data.len().min(9)] {
            source.push_str(FRAGMENTS[usize::from(*byte) % FRAGMENTS.len()]);
        }
    }
    let _ = compile(&source, &CompileOptions::default());
    let _ = format(&source);
});
