//! Any text: compiling never panics, every diagnostic renders, and when `format` accepts the
//! text, the formatted script parses to the same tree and formats to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_dsl::{CompileOptions, compile, format, parser, render};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let (_, diagnostics) = compile(source, &CompileOptions::default());
    let _ = render(&diagnostics, source, "fuzz.tick", false);
    let _ = weir_dsl::to_json(&diagnostics, source);
    if let Ok(formatted) = format(source) {
        let (original, _) = parser::parse(source);
        let (reparsed, errors) = parser::parse(&formatted);
        assert!(
            errors.is_empty(),
            "formatted text does not parse:\n{formatted}"
        );
        assert_eq!(
            original.dump(false),
            reparsed.dump(false),
            "format changed the tree"
        );
        assert_eq!(format(&formatted).ok().as_deref(), Some(formatted.as_str()));
    }
});
