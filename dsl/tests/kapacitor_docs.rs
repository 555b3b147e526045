//! The Kapacitor documentation corpus: our own scripts of the same shapes as the examples in
//! Kapacitor's TICKscript reference (node pages, lambda expressions, syntax, template tasks).
//!
//! - `tests/data/kapacitor_docs/valid/NAME.tick`: every documented valid shape; each must compile
//!   without errors (a `NAME.vars.json` beside it supplies template vars, in Kapacitor's `vars`
//!   JSON). `NAME.out` holds the rendered warnings, if any.
//! - `tests/data/kapacitor_docs/invalid/NAME.tick`: documented examples that Kapacitor rejects or
//!   that fail on every point (the docs have a few), and the mistakes they warn about. Each must
//!   get at least one diagnostic; every diagnostic names line and column and has a caret.
//!   `NAME.out` holds the rendered diagnostics.
//!
//! Bless new output with `UPDATE_EXPECT=1`. Formatting must round-trip for every valid script.

use std::path::{Path, PathBuf};

use weir_dsl::{CompileOptions, compile, decode_vars, format, parser, render};

fn scripts(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kapacitor_docs")
        .join(kind);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tick"))
        .collect();
    paths.sort();
    paths
}

fn options(path: &Path) -> CompileOptions {
    let vars_path = path.with_extension("vars.json");
    let mut options = CompileOptions::default();
    if let Ok(text) = std::fs::read_to_string(&vars_path) {
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        options.vars = decode_vars(&json).unwrap();
    }
    options
}

/// Compares `actual` with `NAME.out`, or writes it with `UPDATE_EXPECT=1`.
fn expect(path: &Path, actual: &str, failures: &mut Vec<String>) {
    let expected_path = path.with_extension("out");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "--- {}\nexpected:\n{expected}\nactual:\n{actual}",
            expected_path.display()
        ));
    }
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn documented_valid_shapes_check_clean() {
    let paths = scripts("valid");
    assert!(paths.len() >= 15, "only {} valid scripts", paths.len());
    let mut failures = Vec::new();
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        let name = name(&path);
        let (program, diagnostics) = compile(&source, &options(&path));
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .map(|diagnostic| diagnostic.one_line(&source))
            .collect();
        if !errors.is_empty() || program.is_none() {
            failures.push(format!(
                "{name}: does not check clean:\n{}",
                errors.join("\n")
            ));
            continue;
        }
        expect(
            &path,
            &render(&diagnostics, &source, &name, false),
            &mut failures,
        );
        match format(&source) {
            Ok(formatted) => {
                let (original, _) = parser::parse(&source);
                let (reparsed, errors) = parser::parse(&formatted);
                if !errors.is_empty() || original.dump(false) != reparsed.dump(false) {
                    failures.push(format!(
                        "{name}: formatting changed the script:\n{formatted}"
                    ));
                }
            }
            Err(diagnostics) => failures.push(format!(
                "{name}: does not format: {}",
                render(&diagnostics, &source, &name, false)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn documented_mistakes_get_diagnostics_with_carets() {
    let paths = scripts("invalid");
    assert!(paths.len() >= 10, "only {} invalid scripts", paths.len());
    let mut failures = Vec::new();
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        let name = name(&path);
        let (_, diagnostics) = compile(&source, &options(&path));
        if diagnostics.is_empty() {
            failures.push(format!("{name}: no diagnostic"));
            continue;
        }
        let rendered = render(&diagnostics, &source, &name, false);
        for diagnostic in &diagnostics {
            let one = render(std::slice::from_ref(diagnostic), &source, &name, false);
            let located = one.contains(&format!("{name}:"));
            if !located || !one.contains('^') {
                failures.push(format!("{name}: no line:column or caret in\n{one}"));
            }
        }
        expect(&path, &rendered, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
