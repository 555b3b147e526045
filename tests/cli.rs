//! The CLI as a shell user meets it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, free_port, http};

fn weir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run weir")
}

/// `weir config | head -1`: a reader that goes away ends weir quietly (exit 0), not with a
/// broken-pipe panic (exit 101).
#[test]
fn a_closed_pipe_ends_weir_quietly() {
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("config")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        // Close the reading end before weir writes anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn config_lists_every_section_and_checks_files() {
    let output = weir(&["config"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for section in [
        "[[dns]]",
        "[[consul]]",
        "[[kubernetes]]",
        "[[ec2]]",
        "[[file-discovery]]",
        "[scraper.health]",
        "[[scraper.relabel-configs]]",
        "[ingress]",
        "[exec]",
        "buffer-max-size = 500000000",
    ] {
        assert!(text.contains(section), "{section} missing from:\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[http]\nbind-adress = \":1\"\n").unwrap();
    let output = weir(&["config", "--check", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("good.toml: ok\n"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `bind-address`?"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[logging]\nlevel = \"LOUD\"\n[http]\nauth-enabled = \"x\"\n",
    )
    .unwrap();
    let output = weir(&["config", "--check", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:4:"), "{stderr}");
}

/// The embedded default (no --config) honours the `WEIR_*` overrides: a taken port 9092
/// needs no config file.
#[test]
fn the_embedded_default_takes_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("serve")
        .current_dir(dir.path())
        .env("WEIR_HTTP_BIND_ADDRESS", format!("127.0.0.1:{port}"))
        .env("WEIR_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn weir");
    let url = format!("http://127.0.0.1:{port}/kapacitor/v1/ping");
    let answered = eventually(Duration::from_secs(30), || {
        http("GET", &url, None).ok().filter(|r| r.0 == 204)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered.is_some(), "no answer on {url}");
    assert!(dir.path().join("data").is_dir());
}

const DAEMON: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[static-discovery]]
id = "self"
targets = ["127.0.0.1:@PORT@"]
[[scraper]]
enabled = true
name = "self"
db = "weir"
rp = "autogen"
scrape-interval = "1s"
scrape-timeout = "1s"
discoverer-id = "self"
discoverer-service = "static-discovery"
"#;

/// `weir ARGS` against a daemon; exit code and standard output.
fn client(weir: &common::Weir, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_URL", &weir.url)
        .stdin(Stdio::null())
        .output()
        .expect("run weir");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code(), stdout)
}

/// Every line's cells start where their header starts (kubectl's aligned columns).
fn assert_aligned(printed: &str, headers: &[&str]) {
    let header_line = printed.lines().next().unwrap_or_default();
    let starts: Vec<usize> = headers
        .iter()
        .map(|h| {
            header_line
                .find(h)
                .unwrap_or_else(|| panic!("{h} in {printed}"))
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{printed}");
    for line in printed.lines().skip(1) {
        for &start in &starts[1..] {
            let before = line.as_bytes().get(start - 1).copied();
            assert!(
                before.is_none() || before == Some(b' '),
                "column at {start} not aligned in {line:?}:\n{printed}"
            );
        }
    }
}

#[test]
fn list_verbs_print_aligned_tables_and_parseable_json_with_global_options_anywhere() {
    let weir = common::Weir::start(DAEMON);
    let url = weir.url.clone();
    eventually(Duration::from_secs(30), || {
        let (_, printed) = client(&weir, &["targets"]);
        printed.contains("healthy").then_some(())
    })
    .expect("the target is scraped");
    let (code, before) = client(&weir, &["--url", &url, "scrapers"]);
    assert_eq!(code, Some(0));
    let (_, after) = client(&weir, &["scrapers", "--url", &url]);
    assert_eq!(before.lines().next(), after.lines().next());
    let tables: [(&[&str], &[&str]); 5] = [
        (
            &["scrapers"],
            &["NAME", "ENABLED", "UP", "INTERVAL", "DBRP", "DISCOVERER"],
        ),
        (
            &["targets"],
            &[
                "SCRAPER", "INSTANCE", "STATE", "LAST", "DURATION", "SAMPLES",
            ],
        ),
        (
            &["discoverers"],
            &["ID", "TYPE", "ENABLED", "STATE", "TARGETS"],
        ),
        (&["changes"], &["TIME", "CHANGE", "CI", "DIFF"]),
        (&["cis"], &["ID", "KIND", "ATTRIBUTES"]),
    ];
    for (args, headers) in tables {
        let (code, printed) = client(&weir, args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(printed.lines().count() >= 2, "{args:?}: {printed}");
        assert_aligned(&printed, headers);
    }
    let verbs: [&[&str]; 8] = [
        &["scrapers"],
        &["targets"],
        &["discoverers"],
        &["list", "tasks"],
        &["list", "templates"],
        &["stats"],
        &["cis"],
        &["changes"],
    ];
    for verb in verbs {
        let mut args = vec!["-o", "json"];
        args.extend(verb);
        let (code, printed) = client(&weir, &args);
        assert_eq!(code, Some(0), "{args:?}");
        let value: serde_json::Value = serde_json::from_str(&printed)
            .unwrap_or_else(|e| panic!("weir {args:?} is not JSON ({e}): {printed}"));
        assert!(value.is_object(), "{args:?}: {printed}");
        let (_, yaml) = client(&weir, &[verb, &["--output", "yaml"]].concat());
        let from_yaml: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(
            from_yaml.as_object().map(|o| o.len()),
            value.as_object().map(|o| o.len())
        );
    }
    // A list verb whose reader goes away ends quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["changes", "--url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `stats` counts per node: a copy task over 3 points shows 3 at each node, not their sum.
#[test]
fn stats_are_per_node_and_a_rejected_reload_names_the_running_revision() {
    let weir = common::Weir::start(DAEMON);
    let script = weir.dir.join("copy.tick");
    std::fs::write(
        &script,
        "stream\n    |from()\n        .measurement('m')\n    |httpOut('out')\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let define = ["define", "copy", "-t", script, "--dbrp", "db.rp"];
    assert_eq!(client(&weir, &define).0, Some(0));
    assert_eq!(client(&weir, &["enable", "copy"]).0, Some(0));
    let lines = "m v=1 1\nm v=2 2\nm v=3 3\n";
    let write = format!("{}/write?db=db&rp=rp&precision=s", weir.url);
    assert_eq!(http("POST", &write, Some(lines)).unwrap().0, 204);
    let printed = eventually(Duration::from_secs(10), || {
        let (_, printed) = client(&weir, &["stats"]);
        printed
            .lines()
            .any(|l| l.starts_with("copy") && l.contains("http_out2"))
            .then_some(printed)
    })
    .expect("stats of the copy task");
    let rows: Vec<Vec<&str>> = printed
        .lines()
        .filter(|l| l.starts_with("copy "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{printed}");
    assert_eq!(rows[1][2..5], ["from1", "3", "3"], "{printed}");
    assert_eq!(rows[2][2..4], ["http_out2", "3"], "{printed}");
    assert!(
        printed.starts_with("config: revision 1 running ("),
        "{printed}"
    );
    std::fs::write(&weir.config, "[http]\nbind-address = 5\n").unwrap();
    let (code, printed) = client(&weir, &["reload"]);
    assert_eq!(code, Some(1), "{printed}");
    let (_, printed) = client(&weir, &["stats"]);
    let first = printed.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("config: revision 1 running ("),
        "{printed}"
    );
    assert!(
        first.contains("the last reload was rejected: "),
        "{printed}"
    );
}

/// Run `weir serve` on `config` (`@PORT@`, `@DIR@` replaced) with `extra` arguments until it
/// answers ping; its standard error. The log file of the config, if any, is in `dir`.
fn serve_until_ready(dir: &std::path::Path, config: &str, extra: &[&str]) -> String {
    let port = free_port();
    let text = config
        .replace("@PORT@", &port.to_string())
        .replace("@DIR@", &dir.display().to_string());
    std::fs::write(dir.join("weir.toml"), text).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["serve", "--config"])
        .arg(dir.join("weir.toml"))
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn weir");
    let url = format!("http://127.0.0.1:{port}/kapacitor/v1/ping");
    let ready = eventually(Duration::from_secs(30), || {
        http("GET", &url, None).ok().filter(|r| r.0 == 204)
    });
    // SIGTERM: weir logs its shutdown too.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let stopped = eventually(Duration::from_secs(20), || child.try_wait().ok().flatten());
    if stopped.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    assert!(ready.is_some(), "weir did not start: {stderr}");
    stderr
}

const LOGGING: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[logging]
file = "@FILE@"
format = "@FORMAT@"
"#;

#[test]
fn log_files_have_no_colour_and_json_lines_parse() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("text.log");
    let config = LOGGING
        .replace("@FILE@", file.to_str().unwrap())
        .replace("@FORMAT@", "text");
    serve_until_ready(dir.path(), &config, &["--color", "always"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("json.log");
    let config = LOGGING
        .replace("@FILE@", file.to_str().unwrap())
        .replace("@FORMAT@", "json");
    serve_until_ready(dir.path(), &config, &[]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["level"].is_string() && value["fields"].is_object(),
            "{line}"
        );
    }
}

#[test]
fn color_on_standard_error_follows_the_color_option() {
    let config = LOGGING
        .replace("@FILE@", "STDERR")
        .replace("@FORMAT@", "text");
    let dir = tempfile::tempdir().unwrap();
    let piped = serve_until_ready(dir.path(), &config, &[]);
    assert!(
        piped.contains("INFO") && !piped.contains('\u{1b}'),
        "{piped:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let forced = serve_until_ready(dir.path(), &config, &["--color", "always"]);
    assert!(forced.contains('\u{1b}'), "{forced:?}");
    let dir = tempfile::tempdir().unwrap();
    let never = serve_until_ready(dir.path(), &config, &["--color=never"]);
    assert!(
        never.contains("INFO") && !never.contains('\u{1b}'),
        "{never:?}"
    );
}
