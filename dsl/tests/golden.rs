//! Golden tests: `tests/data/{parse,check,diagnostics}/NAME.tick` with the expected output in
//! `NAME.out` beside it. Run with `UPDATE_EXPECT=1` to bless new output.
//!
//! Also checks, for every script there, that formatting round-trips: parse(format(s)) has
//! the same tree as parse(s), and format is idempotent.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use weir_dsl::{CompileOptions, compile, format, parser, render};

fn data_dir(layer: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(layer)
}

fn scripts(layer: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir(layer))
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .collect()
        })
        .unwrap_or_default();
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "tick"));
    paths.sort();
    paths
}

fn check_layer(layer: &str, produce: impl Fn(&str, &str) -> String) {
    let paths = scripts(layer);
    assert!(!paths.is_empty(), "no golden scripts in {layer}");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let actual = produce(&source, &name);
        let expected_path = path.with_extension("out");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {}\nexpected:\n{expected}\nactual:\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch (bless with UPDATE_EXPECT=1):\n{}",
        failures.join("\n")
    );
}

#[test]
fn parse_goldens() {
    check_layer("parse", |source, _| {
        let (ast, diagnostics) = parser::parse(source);
        let mut out = ast.dump(true);
        for diagnostic in diagnostics {
            let _ = writeln!(out, "{}: {}", diagnostic.code, diagnostic.one_line(source));
        }
        out
    });
}

#[test]
fn check_goldens() {
    check_layer("check", |source, name| {
        let (program, diagnostics) = compile(source, &CompileOptions::default());
        let mut out = String::new();
        if let Some(program) = program {
            let _ = writeln!(out, "{:?} dbrps={:?}", program.task_type, program.dbrps);
            for node in &program.nodes {
                let _ = writeln!(
                    out,
                    "{} <- {:?}\n  {:?}",
                    node.name, node.parents, node.spec
                );
            }
        }
        out.push_str(&render(&diagnostics, source, name, false));
        out
    });
}

#[test]
fn diagnostics_goldens() {
    check_layer("diagnostics", |source, name| {
        let (program, diagnostics) = compile(source, &CompileOptions::default());
        assert!(program.is_none() || diagnostics.iter().all(|d| !d.is_error()));
        render(&diagnostics, source, name, false)
    });
}

#[test]
fn format_round_trips() {
    for layer in ["parse", "check", "diagnostics"] {
        for path in scripts(layer) {
            let source = std::fs::read_to_string(&path).unwrap();
            let Ok(formatted) = format(&source) else {
                continue;
            };
            let (original, _) = parser::parse(&source);
            let (reparsed, errors) = parser::parse(&formatted);
            assert!(
                errors.is_empty(),
                "{}: formatted text does not parse: {errors:?}\n{formatted}",
                path.display()
            );
            assert_eq!(
                original.dump(false),
                reparsed.dump(false),
                "{}: round trip changed the tree",
                path.display()
            );
            assert_eq!(
                format(&formatted).ok().as_deref(),
                Some(formatted.as_str()),
                "{}: not idempotent",
                path.display()
            );
        }
    }
}

/// Every ```tick example in the node docs compiles without errors.
#[test]
fn documented_examples_compile() {
    let nodes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/nodes");
    let mut checked = 0;
    for entry in std::fs::read_dir(nodes).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_example = false;
        let mut example = String::new();
        for line in text.lines() {
            let doc = line
                .trim_start()
                .strip_prefix("//!")
                .map(|rest| rest.strip_prefix(' ').unwrap_or(rest));
            match doc {
                Some("```tick") => in_example = true,
                Some("```") if in_example => {
                    in_example = false;
                    let (_, diagnostics) = compile(&example, &CompileOptions::default());
                    let errors: Vec<_> = diagnostics
                        .iter()
                        .filter(|d| d.is_error())
                        .map(|d| d.one_line(&example))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{}: example does not compile: {errors:?}\n{example}",
                        path.display()
                    );
                    example.clear();
                    checked += 1;
                }
                Some(line) if in_example => {
                    example.push_str(line);
                    example.push('\n');
                }
                _ => {}
            }
        }
    }
    assert!(checked >= 15, "only {checked} examples found");
}

/// Every prefix of every golden script (cut at each char boundary) compiles, formats and
/// renders without panicking: the cheap cousin of the `parse` fuzz target.
#[test]
fn truncated_scripts_never_panic() {
    for layer in ["parse", "check", "diagnostics"] {
        for path in scripts(layer) {
            let source = std::fs::read_to_string(&path).unwrap();
            for (index, _) in source.char_indices() {
                let prefix = &source[..index];
                let (_, diagnostics) = compile(prefix, &CompileOptions::default());
                let _ = render(&diagnostics, prefix, "prefix.tick", false);
                let _ = format(prefix);
            }
        }
    }
}
