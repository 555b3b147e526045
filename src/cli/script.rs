//! Local script tools: `weir check`, `weir graph`, `weir fmt`, `weir test`.

use super::{out, outln};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use weir_dsl::{CompileOptions, Diagnostic};
use weir_engine::Point;
use weir_engine::line_protocol::{self, Precision};

use super::Format;

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn diagnostic_json(diagnostic: &Diagnostic, source: &str, file: &str) -> serde_json::Value {
    let (line, column) = diagnostic.span().line_col(source);
    serde_json::json!({
        "file": file,
        "code": diagnostic.code,
        "severity": if diagnostic.is_error() { "error" } else { "warning" },
        "message": diagnostic.message,
        "line": line,
        "column": column,
        "notes": diagnostic.notes,
    })
}

/// A value of each var type, for checking a template whose vars have none: what the script
/// does with the var is checked against its declared type.
fn placeholder(var_type: &str) -> Option<serde_json::Value> {
    Some(match var_type {
        "int" => serde_json::json!(1),
        "float" => serde_json::json!(1.0),
        "bool" => serde_json::json!(false),
        "string" | "star" => serde_json::json!("placeholder"),
        "duration" => serde_json::json!("1m"),
        "regex" => serde_json::json!(".*"),
        "lambda" => serde_json::json!("TRUE"),
        "list" => serde_json::json!([]),
        _ => return None, // an unknown type: the check reports it where it is declared
    })
}

/// Template vars JSON from `path`.
fn read_vars(path: &Path) -> anyhow::Result<BTreeMap<String, weir_dsl::Value>> {
    let json: serde_json::Value = serde_json::from_str(&read(path)?)
        .with_context(|| format!("{}: invalid JSON", path.display()))?;
    weir_dsl::decode_vars(&json).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `weir check FILE… [--vars FILE]`: exit 0 when clean, 1 with errors (warnings alone keep 0).
pub fn check(
    files: &[std::path::PathBuf],
    vars: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let color = std::io::stdout().is_terminal();
    let mut any_error = false;
    let mut all_json = Vec::new();
    let supplied = vars.map(read_vars).transpose()?;
    for path in files {
        let source = read(path)?;
        let name = path.display().to_string();
        let vars = match &supplied {
            Some(vars) => vars.clone(),
            None => {
                let unset = weir_dsl::template_vars(&source).into_iter();
                let unset = unset.filter(|var| var.value.is_none()).filter_map(|var| {
                    let value = placeholder(&var.r#type)?;
                    Some((
                        var.name,
                        serde_json::json!({"type": var.r#type, "value": value}),
                    ))
                });
                let json = serde_json::Value::Object(unset.collect());
                weir_dsl::decode_vars(&json).map_err(anyhow::Error::msg)?
            }
        };
        let options = CompileOptions {
            task_type: None,
            vars,
            services: None,
        };
        let (_, diagnostics) = weir_dsl::compile(&source, &options);
        any_error |= diagnostics.iter().any(Diagnostic::is_error);
        match format {
            Format::Human => {
                if !diagnostics.is_empty() {
                    out!("{}", weir_dsl::render(&diagnostics, &source, &name, color));
                }
            }
            Format::Json => {
                all_json.extend(
                    diagnostics
                        .iter()
                        .map(|d| diagnostic_json(d, &source, &name)),
                );
            }
        }
    }
    if format == Format::Json {
        outln!("{}", serde_json::to_string_pretty(&all_json)?);
    } else if !any_error {
        eprintln!("{} file(s) checked: no errors", files.len());
    }
    Ok(if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `weir graph FILE`: the compiled graph as DOT.
pub fn graph(path: &Path) -> anyhow::Result<ExitCode> {
    let source = read(path)?;
    let name = path.display().to_string();
    let (program, diagnostics) = weir_dsl::compile(&source, &CompileOptions::default());
    let Some(program) = program.filter(|_| !diagnostics.iter().any(Diagnostic::is_error)) else {
        eprint!(
            "{}",
            weir_dsl::render(
                &diagnostics,
                &source,
                &name,
                std::io::stderr().is_terminal()
            )
        );
        return Ok(ExitCode::from(1));
    };
    let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("task");
    outln!(
        "{}",
        crate::dot::render(id, &program, &serde_json::Value::Null, false)
    );
    Ok(ExitCode::SUCCESS)
}

/// `weir fmt FILE… [--check]`.
pub fn fmt(files: &[std::path::PathBuf], check: bool) -> anyhow::Result<ExitCode> {
    let mut unformatted = 0;
    for path in files {
        let source = read(path)?;
        let formatted = match weir_dsl::format(&source) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                eprint!(
                    "{}",
                    weir_dsl::render(
                        &diagnostics,
                        &source,
                        &path.display().to_string(),
                        std::io::stderr().is_terminal()
                    )
                );
                return Ok(ExitCode::from(1));
            }
        };
        if formatted != source {
            unformatted += 1;
            if check {
                outln!("{} is not formatted", path.display());
            } else {
                std::fs::write(path, formatted)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(if check && unformatted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Points of a `weir test` data file, each with its database and retention policy.
///
/// Line protocol files may carry directives in comments: `# db=NAME rp=NAME precision=s`
/// (precision defaults to seconds, as in Kapacitor's recordings). Files ending in `.srpl`
/// are Kapacitor stream recordings: database, retention policy and a line-protocol line,
/// repeated.
pub fn read_test_data(
    path: &Path,
    default_dbrp: (String, String),
) -> anyhow::Result<Vec<(String, String, Point)>> {
    let text = read(path)?;
    let mut out = Vec::new();
    if path.extension().is_some_and(|e| e == "srpl") {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() % 3 != 0 {
            bail!(
                "{}: a .srpl file has database, retention policy and point lines in threes",
                path.display()
            );
        }
        for (index, chunk) in lines.chunks(3).enumerate() {
            let (points, errors) = line_protocol::parse(chunk[2], Precision::Seconds, 0);
            if let Some(error) = errors.first() {
                bail!("{}:{}: {}", path.display(), index * 3 + 3, error.message);
            }
            out.extend(
                points
                    .into_iter()
                    .map(|p| (chunk[0].to_owned(), chunk[1].to_owned(), p)),
            );
        }
        return Ok(out);
    }
    weir_engine::parse_directed(&text, default_dbrp)
        .map_err(|error| anyhow::anyhow!("{}:{error}", path.display()))
}

/// `weir test SCRIPT --data FILE [--expect FILE] [--vars FILE] [--bless]`.
pub fn test(
    script: &Path,
    data: &Path,
    expect: Option<&Path>,
    vars: Option<&Path>,
    bless: bool,
) -> anyhow::Result<ExitCode> {
    let source = read(script)?;
    let vars = vars.map(read_vars).transpose()?.unwrap_or_default();
    let (program, diagnostics) = weir_dsl::compile(
        &source,
        &CompileOptions {
            task_type: None,
            vars,
            services: None,
        },
    );
    let Some(program) = program.filter(|_| !diagnostics.iter().any(Diagnostic::is_error)) else {
        eprint!(
            "{}",
            weir_dsl::render(
                &diagnostics,
                &source,
                &script.display().to_string(),
                std::io::stderr().is_terminal()
            )
        );
        return Ok(ExitCode::from(1));
    };
    let default_dbrp = program
        .dbrps
        .first()
        .cloned()
        .unwrap_or_else(|| ("weir".to_owned(), "autogen".to_owned()));
    let points = read_test_data(data, default_dbrp)?;
    let output = weir_engine::run_test(&program, points);
    let actual: Vec<String> = output_lines(&output);
    match expect {
        Some(path) if bless => {
            std::fs::write(path, actual.join("\n") + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => {
            let expected_text = read(path)?;
            let expected: Vec<&str> = expected_text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let same = expected.len() == actual.len()
                && expected.iter().zip(&actual).all(|(e, a)| json_equal(e, a));
            if same {
                outln!("ok: {} output(s) match {}", actual.len(), path.display());
                return Ok(ExitCode::SUCCESS);
            }
            outln!("FAIL: output differs from {}", path.display());
            for index in 0..expected.len().max(actual.len()) {
                let e = expected.get(index).copied();
                let a = actual.get(index).map(String::as_str);
                if e.zip(a).is_some_and(|(e, a)| json_equal(e, a)) {
                    continue;
                }
                outln!("line {}:", index + 1);
                outln!("  - {}", e.unwrap_or("(nothing)"));
                outln!("  + {}", a.unwrap_or("(nothing)"));
            }
            Ok(ExitCode::from(1))
        }
        None => {
            for line in actual {
                outln!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a test run emitted, one JSON object a line, in a stable order: `httpPost` bodies,
/// alert events, `influxDBOut` points, `ciOut` observations, the final `httpOut` results,
/// and an error if the task could not run.
pub fn output_lines(output: &weir_engine::TestOutput) -> Vec<String> {
    let mut lines = Vec::new();
    let value = serde_json::to_value(output).unwrap_or(serde_json::Value::Null);
    let push = |lines: &mut Vec<String>, kind: &str, item: serde_json::Value| {
        let mut object = serde_json::Map::new();
        object.insert(kind.to_owned(), item);
        lines.push(serde_json::Value::Object(object).to_string());
    };
    for post in value["http_posts"].as_array().into_iter().flatten() {
        push(&mut lines, "httpPost", post.clone());
    }
    for alert in value["alerts"].as_array().into_iter().flatten() {
        push(&mut lines, "alert", alert.clone());
    }
    for write in value["influxdb_writes"].as_array().into_iter().flatten() {
        for point in write["points"].as_array().into_iter().flatten() {
            let mut item = serde_json::Map::new();
            item.insert("database".to_owned(), write["database"].clone());
            item.insert(
                "retentionPolicy".to_owned(),
                write["retention_policy"].clone(),
            );
            if !write["cluster"].is_null() {
                item.insert("cluster".to_owned(), write["cluster"].clone());
            }
            item.insert("point".to_owned(), point.clone());
            push(&mut lines, "influxDBOut", serde_json::Value::Object(item));
        }
    }
    for observation in value["ci_observations"].as_array().into_iter().flatten() {
        push(&mut lines, "ciOut", observation.clone());
    }
    if let Some(endpoints) = value["http_out"].as_object() {
        for (endpoint, result) in endpoints {
            push(
                &mut lines,
                "httpOut",
                serde_json::json!({ "endpoint": endpoint, "result": result }),
            );
        }
    }
    if let Some(error) = value["error"].as_str() {
        push(
            &mut lines,
            "error",
            serde_json::Value::String(error.to_owned()),
        );
    }
    lines
}

fn json_equal(expected: &str, actual: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(expected),
        serde_json::from_str::<serde_json::Value>(actual),
    ) {
        (Ok(e), Ok(a)) => e == a,
        _ => expected.trim() == actual.trim(),
    }
}
