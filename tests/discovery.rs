//! The discoverer API of a running daemon shows real health states: a Consul source (the
//! project's fake, started here on its own port) is healthy, turns unhealthy and then
//! circuit-open when its peer stops, keeps its last good targets meanwhile, and recovers on
//! `POST .../refresh`; a static source keeps working throughout, and disabling it with
//! `PATCH /weir/v1/discoverers/:id` shows Disabled and removes its targets until re-enabled.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Weir, eventually, free_port, http, peer};
use serde_json::{Value, json};

/// The project's Consul fake on its own port, killed on drop (never the shared peers).
struct FakeConsul {
    child: Child,
    port: u16,
}

impl FakeConsul {
    /// `None` (the test skips) when python3 cannot run and peers are not required.
    fn start(port: u16) -> Option<FakeConsul> {
        let script: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "tests",
            "peers",
            "fake_consul.py",
        ]
        .iter()
        .collect();
        let child = match Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                assert!(
                    std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
                    "cannot run python3 {}: {error}",
                    script.display()
                );
                eprintln!("skipped: cannot run python3: {error}");
                return None;
            }
        };
        let fake = FakeConsul { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "fake_consul.py did not start"
            );
            // The poll interval: the port is tried again, not assumed open.
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(fake)
    }

    /// Register one service instance, as real Consul's `PUT /v1/catalog/register`.
    fn register(&self, node: &str, service_id: &str, port: u16) {
        let body = json!({"Node": node, "Address": "127.0.0.1",
            "Service": {"ID": service_id, "Service": "weir", "Tags": ["self"], "Port": port},
            "Check": {"Status": "passing"}});
        let (status, text) = http(
            "PUT",
            &format!("http://127.0.0.1:{}/v1/catalog/register", self.port),
            Some(&body.to_string()),
        )
        .expect("register with the fake");
        assert_eq!(status, 200, "register: {text}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        self.stop();
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `GET /weir/v1/discoverers`, the entry with this id.
fn discoverer(weir: &Weir, id: &str) -> Value {
    let (status, body) = http("GET", &format!("{}/weir/v1/discoverers", weir.url), None)
        .expect("GET /weir/v1/discoverers");
    assert_eq!(status, 200, "{body}");
    json(&body)["discoverers"]
        .as_array()
        .and_then(|all| all.iter().find(|source| source["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

/// The `__address__` of every target a scraper has (from `GET /weir/v1/targets`).
fn scraper_targets(weir: &Weir, scraper: &str) -> Vec<String> {
    let (_, body) = http(
        "GET",
        &format!("{}/weir/v1/targets?scraper={scraper}", weir.url),
        None,
    )
    .unwrap_or_default();
    let mut addresses: Vec<String> = json(&body)["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|target| target["discovered_labels"]["__address__"].as_str())
        .map(str::to_owned)
        .collect();
    addresses.sort();
    addresses
}

/// Scrapes of every target of a scraper so far.
fn scrapes(weir: &Weir, scraper: &str) -> u64 {
    let (_, body) = http(
        "GET",
        &format!("{}/weir/v1/targets?scraper={scraper}", weir.url),
        None,
    )
    .unwrap_or_default();
    json(&body)["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|target| target["scrapes_total"].as_u64())
        .sum()
}

/// Wait until the discoverer `id` is in `state`; panics with the last answer and the log.
fn wait_state(weir: &Weir, id: &str, state: &str, timeout: Duration) -> Value {
    let mut last = Value::Null;
    let found = eventually(timeout, || {
        last = discoverer(weir, id);
        (last["state"] == state).then(|| last.clone())
    });
    found.unwrap_or_else(|| {
        panic!(
            "discoverer {id} not {state} within {timeout:?}: {last}\nlog:\n{}",
            weir.log()
        )
    })
}

#[test]
fn discoverer_api_shows_health_circuit_open_disable_and_refresh() {
    let consul_port = free_port();
    let Some(mut consul) = FakeConsul::start(consul_port) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    // Consul announces weir itself, so its scraper has a real target to scrape.
    consul.register("node-a", "weir-1", port);
    let config = format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[static-discovery]]
id = "own"
targets = ["127.0.0.1:@PORT@"]
[[consul]]
id = "svc"
address = "127.0.0.1:{consul_port}"
refresh-interval = "5s"
[[scraper]]
enabled = true
name = "own"
db = "self"
rp = "autogen"
scrape-interval = "500ms"
scrape-timeout = "400ms"
discoverer-id = "own"
discoverer-service = "static-discovery"
[[scraper]]
enabled = true
name = "svc"
db = "self"
rp = "autogen"
scrape-interval = "1s"
scrape-timeout = "900ms"
discoverer-id = "svc"
discoverer-service = "consul"
"#
    );
    let weir = Weir::start_in(&dir, &config, port);
    let timeout = Duration::from_secs(15);
    let self_address = format!("127.0.0.1:{port}");

    // Both sources healthy, each with its one target, and the scrapers see them.
    let svc = wait_state(&weir, "svc", "healthy", timeout);
    assert_eq!(svc["kind"], "consul", "{svc}");
    assert_eq!(svc["targets"], 1, "{svc}");
    assert_eq!(svc["enabled"], true, "{svc}");
    assert!(svc["last_refresh"].is_string(), "{svc}");
    let own = wait_state(&weir, "own", "healthy", timeout);
    assert_eq!(own["kind"], "static-discovery", "{own}");
    assert_eq!(own["targets"], 1, "{own}");
    assert!(
        eventually(timeout, || (scraper_targets(&weir, "svc")
            == [self_address.clone()])
        .then_some(()))
        .is_some(),
        "the consul target never reached its scraper: {:?}",
        scraper_targets(&weir, "svc")
    );

    // The peer stops: unhealthy (retrying with back-off), then the circuit opens after three
    // failures in a row; the last good target stays, with the scraper too.
    consul.stop();
    let unhealthy = wait_state(&weir, "svc", "unhealthy", timeout);
    assert!(
        unhealthy["last_error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "{unhealthy}"
    );
    let open = wait_state(&weir, "svc", "circuit-open", timeout);
    assert!(open["consecutive_failures"].as_u64() >= Some(3), "{open}");
    assert!(open["error_count"].as_u64() >= Some(3), "{open}");
    assert_eq!(open["targets"], 1, "last good targets kept: {open}");
    assert!(open["next_refresh"].is_string(), "{open}");
    assert_eq!(
        scraper_targets(&weir, "svc"),
        std::slice::from_ref(&self_address)
    );
    let (_, metrics) = http("GET", &format!("{}/metrics", weir.url), None).unwrap();
    assert!(
        metrics
            .contains("weir_discovery_state{kind=\"consul\",id=\"svc\",state=\"circuit-open\"} 1"),
        "{metrics}"
    );

    // Meanwhile the static source is healthy and its scraper keeps scraping.
    let own = discoverer(&weir, "own");
    assert_eq!(own["state"], "healthy", "{own}");
    let before = scrapes(&weir, "own");
    assert!(
        eventually(timeout, || (scrapes(&weir, "own") > before + 2)
            .then_some(()))
        .is_some(),
        "the static source's scraper stopped while consul failed"
    );
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/discoverers/own/refresh", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");

    // Refreshing the failing source now fails, and says why (not "no such discoverer").
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/discoverers/svc/refresh", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("consul"), "{body}");
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/discoverers/nope/refresh", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 404);

    // Disable the static source: Disabled, no targets, the scraper has none; then back.
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/discoverers/own", weir.url),
        Some(r#"{"enabled": false}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let disabled = wait_state(&weir, "own", "disabled", timeout);
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert_eq!(disabled["targets"], 0, "{disabled}");
    assert!(
        eventually(timeout, || scraper_targets(&weir, "own")
            .is_empty()
            .then_some(()))
        .is_some(),
        "a disabled source still feeds its scraper: {:?}",
        scraper_targets(&weir, "own")
    );
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/discoverers/own/refresh", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 409, "a disabled source does not refresh: {body}");
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/discoverers/own", weir.url),
        Some(r#"{"enabled": "no"}"#),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/discoverers/own", weir.url),
        Some(r#"{"enabled": true}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let own = wait_state(&weir, "own", "healthy", timeout);
    assert_eq!(own["targets"], 1, "{own}");
    assert!(
        eventually(timeout, || (scraper_targets(&weir, "own")
            == [self_address.clone()])
        .then_some(()))
        .is_some(),
        "re-enabling did not bring the target back"
    );

    // The peer comes back with another instance; "refresh now" ends the open circuit at once
    // (the scheduled trial would come only after 60 s).
    let Some(consul) = FakeConsul::start(consul_port) else {
        return;
    };
    consul.register("node-a", "weir-1", port);
    consul.register("node-b", "weir-2", port.wrapping_add(1));
    assert_eq!(discoverer(&weir, "svc")["state"], "circuit-open");
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/discoverers/svc/refresh", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let svc = wait_state(&weir, "svc", "healthy", timeout);
    assert_eq!(svc["targets"], 2, "{svc}");
    assert_eq!(svc["consecutive_failures"], 0, "{svc}");
    let mut both = vec![
        self_address.clone(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ];
    both.sort();
    assert!(
        eventually(timeout, || (scraper_targets(&weir, "svc") == both)
            .then_some(()))
        .is_some(),
        "the recovered source's targets did not reach the scraper: {:?}",
        scraper_targets(&weir, "svc")
    );
    weir.stop();
}

/// `weir ARGS` against a daemon; exit code, standard output and standard error.
fn weir_cli(weir: &Weir, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_URL", &weir.url)
        .stdin(Stdio::null())
        .output()
        .expect("run weir");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `GET /weir/v1/scrapers`, the entry with this name.
fn scraper(weir: &Weir, name: &str) -> Value {
    let (_, body) = http("GET", &format!("{}/weir/v1/scrapers", weir.url), None).unwrap();
    json(&body)["scrapers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

/// The states of a scraper's targets.
fn target_states(weir: &Weir, scraper: &str) -> Vec<String> {
    let (_, body) = http(
        "GET",
        &format!("{}/weir/v1/targets?scraper={scraper}", weir.url),
        None,
    )
    .unwrap_or_default();
    json(&body)["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|target| target["state"].as_str().map(str::to_owned))
        .collect()
}

const SWITCHES: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[static-discovery]]
id = "own"
targets = ["127.0.0.1:@PORT@"]
[[static-discovery]]
id = "other"
targets = ["127.0.0.1:@PORT@"]
[[scraper]]
enabled = @OWN_ENABLED@
name = "own"
db = "self"
rp = "autogen"
scrape-interval = "300ms"
scrape-timeout = "250ms"
discoverer-id = "own"
discoverer-service = "static-discovery"
[[scraper]]
enabled = true
name = "control"
db = "self"
rp = "autogen"
scrape-interval = "300ms"
scrape-timeout = "250ms"
discoverer-id = "own"
discoverer-service = "static-discovery"
[[scraper]]
enabled = true
name = "other"
db = "self"
rp = "autogen"
scrape-interval = "300ms"
scrape-timeout = "250ms"
discoverer-id = "other"
discoverer-service = "static-discovery"
"#;

/// What a disabled scraper and a disabled source look like everywhere, and that "own" does
/// not scrape while "control" (same target, same interval) scrapes three more times.
fn assert_switched_off(weir: &Weir, timeout: Duration) {
    let own = scraper(weir, "own");
    assert_eq!(own["enabled"], false, "{own}");
    assert_eq!(own["targets_up"], 0, "{own}");
    assert!(own["next_collection"].is_null(), "{own}");
    assert!(
        eventually(timeout, || (target_states(weir, "own") == ["disabled"])
            .then_some(()))
        .is_some(),
        "the disabled scraper's target: {:?}",
        target_states(weir, "own")
    );
    let other = wait_state(weir, "other", "disabled", timeout);
    assert_eq!(other["enabled"], false, "{other}");
    assert!(
        eventually(timeout, || scraper_targets(weir, "other")
            .is_empty()
            .then_some(()))
        .is_some(),
        "a disabled source still feeds its scraper"
    );
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/scrapers/own/collect", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("disabled"), "{body}");
    let (code, _, stderr) = weir_cli(weir, &["collect", "own"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("409") && stderr.contains("disabled"),
        "{stderr}"
    );
    let (_, printed, _) = weir_cli(weir, &["discoverers"]);
    let other_row = printed
        .lines()
        .find(|line| line.starts_with("other "))
        .unwrap_or_default();
    assert!(other_row.contains("disabled"), "{printed}");
    let quiet = scrapes(weir, "own");
    let control = scrapes(weir, "control");
    assert!(
        eventually(timeout, || (scrapes(weir, "control") >= control + 3)
            .then_some(()))
        .is_some(),
        "the control scraper stopped"
    );
    assert_eq!(scrapes(weir, "own"), quiet, "a disabled scraper scraped");
}

#[test]
fn disabled_scrapers_and_sources_stay_disabled_across_kill_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let config = SWITCHES.replace("@OWN_ENABLED@", "true");
    let weir = Weir::start_in(&dir, &config, port);
    let timeout = Duration::from_secs(15);
    for name in ["own", "control", "other"] {
        assert!(
            eventually(timeout, || (target_states(&weir, name) == ["healthy"])
                .then_some(()))
            .is_some(),
            "{name} never scraped its target: {:?}\n{}",
            target_states(&weir, name),
            weir.log()
        );
    }

    // The scraper through the CLI, the source through the API.
    let (code, _, stderr) = weir_cli(&weir, &["scrapers", "disable", "own"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/discoverers/other", weir.url),
        Some(r#"{"enabled": false}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let (code, _, stderr) = weir_cli(&weir, &["scrapers", "disable", "nope"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no scraper named nope"), "{stderr}");
    assert_switched_off(&weir, timeout);

    // kill -9 and start again on the same data: still off.
    drop(weir);
    let weir = Weir::start_in(&dir, &config, port);
    assert_switched_off(&weir, timeout);

    // A config that says what the switch says makes it moot: it is forgotten, so the
    // config decides again when it changes back.
    std::fs::write(
        &weir.config,
        SWITCHES
            .replace("@OWN_ENABLED@", "false")
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.display().to_string()),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(scraper(&weir, "own")["enabled"], false);
    std::fs::write(
        &weir.config,
        config
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.display().to_string()),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        scraper(&weir, "own")["enabled"],
        true,
        "the config decides again"
    );
    assert!(
        eventually(timeout, || (target_states(&weir, "own") == ["healthy"])
            .then_some(()))
        .is_some(),
        "own: {:?}",
        target_states(&weir, "own")
    );

    // The source back on through the CLI; a clean stop and start keeps everything on.
    let (code, _, stderr) = weir_cli(&weir, &["discoverers", "enable", "other"]);
    assert_eq!(code, Some(0), "{stderr}");
    wait_state(&weir, "other", "healthy", timeout);
    weir.stop();
    let weir = Weir::start_in(&dir, &config, port);
    assert_eq!(scraper(&weir, "own")["enabled"], true);
    wait_state(&weir, "other", "healthy", timeout);
    for name in ["own", "other"] {
        assert!(
            eventually(timeout, || (target_states(&weir, name) == ["healthy"])
                .then_some(()))
            .is_some(),
            "{name}: {:?}",
            target_states(&weir, name)
        );
    }
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/scrapers/own/collect", weir.url),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    weir.stop();
}

/// `(from, to)` of every transition in a status' history.
fn transitions(status: &Value) -> Vec<(String, String)> {
    status["history"]["transitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["from"].as_str().unwrap_or_default().to_owned(),
                t["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(path: &[(&str, &str)]) -> Vec<(String, String)> {
    path.iter()
        .map(|(from, to)| ((*from).to_owned(), (*to).to_owned()))
        .collect()
}

#[test]
fn targets_and_sources_show_their_failures_and_transitions_and_a_broken_file_opens_the_circuit() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let closed = free_port();
    let sd = dir.join("sd");
    std::fs::create_dir_all(&sd).unwrap();
    let file = sd.join("targets.json");
    let good = format!(r#"[{{"targets": ["127.0.0.1:{closed}"]}}]"#);
    std::fs::write(&file, &good).unwrap();
    let config = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[file-discovery]]
id = "files"
files = ["@DIR@/sd/*.json"]
[[scraper]]
enabled = true
name = "files"
db = "self"
rp = "autogen"
scrape-interval = "200ms"
scrape-timeout = "150ms"
discoverer-id = "files"
discoverer-service = "file-discovery"
[scraper.health]
failures-before-open = 2
open-duration = "1m"
"#;
    let weir = Weir::start_in(&dir, config, port);
    let timeout = Duration::from_secs(15);

    // A target nobody listens on: two failures with their reason, then the circuit opens.
    let mut target = Value::Null;
    let opened = eventually(timeout, || {
        let (_, body) = http(
            "GET",
            &format!("{}/weir/v1/targets?scraper=files", weir.url),
            None,
        )
        .ok()?;
        target = json(&body)["targets"][0].clone();
        (target["state"] == "circuit-open").then_some(())
    });
    assert!(opened.is_some(), "target: {target}\n{}", weir.log());
    let failures = target["history"]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failures.len(), 2, "{target}");
    for failure in &failures {
        let message = failure["message"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(message.contains("connection refused"), "{failure}");
        assert!(
            failure["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{failure}"
        );
    }
    assert_eq!(
        transitions(&target),
        pairs(&[("unknown", "unhealthy"), ("unhealthy", "circuit-open")]),
        "{target}"
    );

    // The file breaks and stays broken: every re-read fails, the failures count, and the
    // source's circuit opens while the last good target stays.
    let healthy = wait_state(&weir, "files", "healthy", timeout);
    assert_eq!(transitions(&healthy), pairs(&[("pending", "healthy")]));
    std::fs::write(&file, "[\n  {\"targets\": [\"x:1\"],,}\n]").unwrap();
    let open = wait_state(&weir, "files", "circuit-open", timeout);
    assert!(open["consecutive_failures"].as_u64() >= Some(3), "{open}");
    assert_eq!(open["targets"], 1, "last good targets kept: {open}");
    let failures = open["history"]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(failures.len() >= 3, "{open}");
    assert!(
        failures.iter().all(|failure| failure["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("{}:2:", file.display())))),
        "{open}"
    );
    assert_eq!(
        transitions(&open),
        pairs(&[
            ("pending", "healthy"),
            ("healthy", "unhealthy"),
            ("unhealthy", "circuit-open")
        ]),
        "{open}"
    );

    // Fixed: the change is a trial at once (the open circuit would wait a minute).
    std::fs::write(&file, &good).unwrap();
    let recovered = wait_state(&weir, "files", "healthy", Duration::from_secs(10));
    assert_eq!(recovered["consecutive_failures"], 0, "{recovered}");
    assert_eq!(
        transitions(&recovered).last(),
        Some(&("circuit-open".to_owned(), "healthy".to_owned())),
        "{recovered}"
    );
    weir.stop();
}

/// `[[dns]]` SRV with `nameservers` against dnsmasq: `_http._tcp` names web1 (127.0.0.1, on
/// node_exporter's port) and web2 (127.0.0.2, on Prometheus' port), names only dnsmasq knows.
/// weir listens on 127.0.0.2 at that port itself, so both targets answer: each is scraped at
/// the address dnsmasq gave, and the record's name stays in its label.
#[test]
fn dns_srv_targets_resolved_through_nameservers_are_scraped() {
    let (Some(dns_server), Some(zone), Some(prometheus), Some(node_exporter)) = (
        peer("DNS_SERVER"),
        peer("DNS_ZONE"),
        peer("PROM_URL"),
        peer("NODE_EXPORTER_URL"),
    ) else {
        return;
    };
    let port_of = |url: &str| -> u16 {
        let authority = url.trim_start_matches("http://");
        let authority = authority.split('/').next().unwrap_or_default();
        authority
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"))
    };
    let (web1_port, web2_port) = (port_of(&node_exporter), port_of(&prometheus));
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let config = format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.2:@PORT@"
[[dns]]
id = "srv"
type = "SRV"
record-names = ["_http._tcp.{zone}"]
nameservers = ["{dns_server}"]
refresh-interval = "5s"
[[scraper]]
enabled = true
name = "srv"
db = "self"
rp = "autogen"
scrape-interval = "500ms"
scrape-timeout = "400ms"
discoverer-id = "srv"
discoverer-service = "dns"
"#
    );
    let weir = Weir::start_at(&dir, &config, "127.0.0.2", web2_port);
    let expected = [
        (format!("127.0.0.1:{web1_port}"), format!("web1.{zone}.")),
        (format!("127.0.0.2:{web2_port}"), format!("web2.{zone}.")),
    ];
    let mut last = Value::Null;
    let scraped = eventually(Duration::from_secs(20), || {
        let (_, body) = http(
            "GET",
            &format!("{}/weir/v1/targets?scraper=srv", weir.url),
            None,
        )
        .ok()?;
        last = json(&body);
        let targets = last["targets"].as_array()?;
        let healthy: Vec<(String, String)> = targets
            .iter()
            .filter(|t| t["state"] == "healthy" && t["last_samples"].as_u64() > Some(0))
            .map(|t| {
                (
                    t["discovered_labels"]["__address__"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    t["discovered_labels"]["__meta_dns_srv_record_target"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        (targets.len() == 2 && healthy == expected).then_some(())
    });
    assert!(
        scraped.is_some(),
        "both SRV targets should be scraped at their addresses: {last}\n{}",
        weir.log()
    );
    let (_, body) = http(
        "GET",
        &format!("{}/weir/v1/targets?scraper=srv", weir.url),
        None,
    )
    .unwrap();
    let targets = json(&body);
    assert_eq!(
        targets["targets"][0]["labels"]["instance"],
        format!("127.0.0.1:{web1_port}"),
        "{targets}"
    );
    weir.stop();
}
