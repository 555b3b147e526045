//! Every example pipeline in `scripts/` checks clean, is formatted, and produces exactly its
//! recorded output under `weir test` (`NAME.tick` + `NAME.lp` → `NAME.expected.jsonl`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn weir(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `scripts/*.tick` (the stream examples the embedded default runs) and `scripts/batch/*.tick`
/// (batch examples, which need a `[[prometheus]]` or `[[influxdb]]` source to run).
fn scripts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut scripts: Vec<PathBuf> = [root.clone(), root.join("batch")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "tick"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty());
    scripts
}

#[test]
fn every_script_checks_clean_and_is_formatted() {
    for script in scripts() {
        let path = script.to_str().expect("utf-8 path");
        let (ok, text) = weir(&["check", path]);
        assert!(ok, "weir check {path}:\n{text}");
        let (ok, text) = weir(&["fmt", "--check", path]);
        assert!(ok, "weir fmt --check {path}:\n{text}");
        let (ok, text) = weir(&["graph", path]);
        assert!(
            ok && text.starts_with("digraph"),
            "weir graph {path}:\n{text}"
        );
    }
}

#[test]
fn every_script_produces_its_recorded_output() {
    for script in scripts() {
        let data = script.with_extension("lp");
        let expected = script.with_extension("expected.jsonl");
        assert!(
            data.exists() && expected.exists(),
            "{} needs {} and {}",
            script.display(),
            data.display(),
            expected.display()
        );
        let (ok, text) = weir(&[
            "test",
            script.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
            "--expect",
            expected.to_str().expect("utf-8"),
        ]);
        assert!(ok, "weir test {}:\n{text}", script.display());
    }
}

#[test]
fn weir_test_reports_a_difference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/scrape_health.tick");
    let data = script.with_extension("lp");
    let wrong = dir.path().join("wrong.jsonl");
    std::fs::write(&wrong, "{\"influxDBOut\":{}}\n").expect("write");
    let (ok, text) = weir(&[
        "test",
        script.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--expect",
        wrong.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(text.contains("FAIL") && text.contains("line 1"), "{text}");
}

/// `scripts/templates/*.tick`: templates check clean with their vars unset (each checked as a
/// value of its declared type) and with their `.vars.json`; a wrong-typed var fails where
/// the var is declared.
#[test]
fn templates_check_with_and_without_their_vars() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/templates");
    let templates: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "tick"))
        .collect();
    assert!(!templates.is_empty());
    for template in &templates {
        let path = template.to_str().unwrap();
        let (ok, text) = weir(&["check", path]);
        assert!(ok, "weir check {path}:\n{text}");
        let (ok, text) = weir(&["fmt", "--check", path]);
        assert!(ok, "weir fmt --check {path}:\n{text}");
        let vars = template.with_extension("vars.json");
        let (ok, text) = weir(&["check", "--vars", vars.to_str().unwrap(), path]);
        assert!(ok, "weir check --vars {}:\n{text}", vars.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(
        &wrong,
        r#"{"measurement": {"type": "string", "value": "cpu"}, "crit": {"type": "string", "value": "high"}}"#,
    )
    .unwrap();
    let threshold = root.join("threshold.tick");
    let threshold = threshold.to_str().unwrap();
    let (ok, text) = weir(&["check", "--vars", wrong.to_str().unwrap(), threshold]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("template var `crit` is float, but the supplied value is string"),
        "{text}"
    );
    assert!(text.contains("threshold.tick:20:5"), "{text}");
    // Vars that leave a declared var without a value fail, as Kapacitor's define does.
    std::fs::write(
        &wrong,
        r#"{"measurement": {"type": "string", "value": "cpu"}}"#,
    )
    .unwrap();
    let (ok, text) = weir(&["check", "--vars", wrong.to_str().unwrap(), threshold]);
    assert!(
        !ok && text.contains("missing value for template var `crit`"),
        "{text}"
    );
    // An unset var is checked by its declared type.
    let misused = dir.path().join("misused.tick");
    std::fs::write(
        &misused,
        "var every string\nstream\n    |from()\n        .measurement('m')\n    |window()\n        .period(1m)\n        .every(every)\n",
    )
    .unwrap();
    let (ok, text) = weir(&["check", misused.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(text.contains("misused.tick:7:"), "{text}");
}
