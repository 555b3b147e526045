//! The discoverer API of a running daemon shows real health states: a Consul source (the
//! project's fake, started here on its own port) is healthy, turns unhealthy and then
//! circuit-open when its peer stops, keeps its last good targets meanwhile, and recovers on
//! `POST .../refresh`; a static source keeps working throughout, and disabling it with
//! `PATCH /weir/v1/discoverers/:id` shows Disabled and removes its targets until re-enabled.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Weir, eventually, free_port, http};
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
