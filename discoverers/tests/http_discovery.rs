//! `[[http-discovery]]` against an HTTP SD endpoint served by the test itself: the request
//! Prometheus' HTTP SD sends (headers, basic auth), groups with `__meta_url`, changes seen on
//! the next refresh, a failing endpoint keeping the last good targets, a wrong content type
//! named in the error, and bearer auth over TLS with `ssl-ca` and `ssl-server-name`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::http_server::{Response, Server, certificates};
use serde_json::json;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

fn config(text: &str) -> DiscoveryConfig {
    let config: DiscoveryConfig = toml::from_str(text).unwrap();
    config.validate().unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_groups_follows_changes_and_keeps_them_through_failures() {
    let answer = Arc::new(std::sync::Mutex::new(json!([
        {"targets": ["127.0.0.1:9100", "127.0.0.2:9100"], "labels": {"env": "prod"}},
        {"targets": ["10.0.0.1:80"], "labels": {"__metrics_path__": "/probe"}},
    ])));
    let served = answer.clone();
    let server = Server::start(move |request| {
        if request.header("authorization") != Some("Basic dXNlcjpwYXNz") {
            return Response::status(401, "who are you");
        }
        Response::json(&served.lock().unwrap())
    })
    .await;
    let url = format!("{}/sd?team=infra", server.url);
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("http-discovery", "inv");
    manager.apply(&config(&format!(
        "[[http-discovery]]\nid = \"inv\"\nurl = \"{url}\"\nrefresh-interval = \"1s\"\n\
         username = \"user\"\npassword = \"pass\"\n"
    )));
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups).len() == 3
    })
    .await;
    {
        let published = groups.borrow();
        assert_eq!(published[0].source, format!("{url}:0"));
        assert_eq!(published[1].source, format!("{url}:1"));
        let targets = common::targets(&published);
        assert_eq!(targets[0]["__address__"], "10.0.0.1:80");
        assert_eq!(targets[0]["__metrics_path__"], "/probe");
        assert_eq!(targets[1]["env"], "prod");
        for target in &targets {
            assert_eq!(target["__meta_url"], url);
        }
    }
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/sd?team=infra");
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("x-prometheus-refresh-interval-seconds"),
        Some("1")
    );

    // A change shows on the next refresh; a removed group goes with it.
    *answer.lock().unwrap() = json!([{"targets": ["127.0.0.3:9100"]}]);
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups) == ["127.0.0.3:9100"]
    })
    .await;

    // A failing endpoint keeps the last good targets and says why.
    server.set_handler(|_| Response::status(503, "maintenance"));
    common::eventually(Duration::from_secs(10), "the failure is reported", || {
        manager.sources()[0].state != HealthState::Healthy
    })
    .await;
    let status = &manager.sources()[0];
    let error = status.last_error.clone().unwrap();
    assert!(error.contains(&url) && error.contains("503"), "{error}");
    assert_eq!(common::addresses(&groups.borrow()), ["127.0.0.3:9100"]);

    // A wrong content type is an error too, named as such.
    server.set_handler(|_| Response::with_type(200, "text/html", "[]"));
    common::eventually(
        Duration::from_secs(10),
        "the content type is reported",
        || {
            manager.sources()[0]
                .last_error
                .as_deref()
                .is_some_and(|error| error.contains("unsupported content type \"text/html\""))
        },
    )
    .await;
    assert_eq!(common::addresses(&groups.borrow()), ["127.0.0.3:9100"]);

    // Recovery: an empty list empties the source.
    server.set_handler(|_| Response::json(&json!([])));
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups).is_empty()
    })
    .await;
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_over_tls_with_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path(), "sd.weir.test") else {
        return;
    };
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let server = Server::start_tls(
        move |request| {
            if request.header("authorization") != Some("Bearer s3cret") {
                return Response::status(401, "no token");
            }
            counter.fetch_add(1, Ordering::SeqCst);
            Response::json(&json!([{"targets": ["db:5432"], "labels": {"role": "db"}}]))
        },
        &cert,
        &key,
    )
    .await;
    // `localhost` is not in the certificate: only `ssl-server-name` makes the name check pass.
    let url = format!("https://localhost:{}/targets", server.port);
    let section = |server_name: &str| {
        format!(
            "[[http-discovery]]\nid = \"tls\"\nurl = \"{url}\"\nrefresh-interval = \"1s\"\n\
             bearer-token = \"s3cret\"\nssl-ca = \"{}\"\n{server_name}",
            ca.display()
        )
    };
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("http-discovery", "tls");
    manager.apply(&config(&section("")));
    common::eventually(
        Duration::from_secs(10),
        "the name mismatch is reported",
        || manager.sources()[0].last_error.is_some(),
    )
    .await;
    assert_eq!(seen.load(Ordering::SeqCst), 0, "no request got through");
    manager.apply(&config(&section("ssl-server-name = \"sd.weir.test\"\n")));
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups) == ["db:5432"]
    })
    .await;
    let targets = common::targets(&groups.borrow());
    assert_eq!(targets[0]["role"], "db");
    assert_eq!(targets[0]["__meta_url"], url);
    let request = server.requests().pop().unwrap();
    assert_eq!(
        request.header("host"),
        Some(format!("localhost:{}", server.port).as_str()),
        "the Host header still names the URL's host"
    );
    manager.shutdown().await;
}
