//! `[[consul]]` against the project's Consul fake (tests/peers/fake_consul.py), started on a
//! free port: labels, service and tag filters, blocking-query wake-ups, and the circuit
//! breaker when the peer is stopped (the last good targets stay, the trial recovers).

mod common;

use std::time::Duration;

use serde_json::json;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthPolicy, HealthState};

async fn register(base: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .put(format!("{base}/v1/catalog/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "register: {}",
        response.status()
    );
}

async fn seed(base: &str) {
    register(
        base,
        json!({"Node": "node-a", "Address": "127.0.0.1",
               "TaggedAddresses": {"lan": "127.0.0.1", "wan": "10.0.0.1"},
               "NodeMeta": {"rack": "r1", "weird-key.x": "y"},
               "Service": {"ID": "web-1", "Service": "web", "Tags": ["prod", "metrics"],
                           "Port": 19100, "Meta": {"version": "1.2"}},
               "Check": {"Status": "passing"}}),
    )
    .await;
    register(
        base,
        json!({"Node": "node-b", "Address": "127.0.0.2",
               "Service": {"ID": "web-2", "Service": "web", "Tags": ["dev"],
                           "Address": "127.0.0.20", "Port": 19101},
               "Check": {"Status": "critical"}}),
    )
    .await;
}

fn config(address: &str) -> DiscoveryConfig {
    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[consul]]
        id = "all"
        address = "{address}"
        refresh-interval = "5s"
        [[consul]]
        id = "web-prod"
        address = "{address}"
        services = ["web"]
        tags = ["prod"]
        refresh-interval = "5s"
        "#
    ))
    .unwrap();
    config.validate().unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_filters_blocking_queries_and_circuit_breaker() {
    let port = common::free_port();
    let Some(mut fake) = common::Fake::start("fake_consul.py", port) else {
        return;
    };
    let base = fake.url();
    seed(&base).await;

    let policy = HealthPolicy {
        failures_to_open: 3,
        open_for: Duration::from_secs(2),
        retry_after: Duration::from_millis(100),
        ..HealthPolicy::default()
    };
    let manager = DiscoveryManager::with_policy(policy);
    let mut all = manager.subscribe("consul", "all");
    let mut web_prod = manager.subscribe("consul", "web-prod");
    manager.apply(&config(&format!("127.0.0.1:{port}")));
    let timeout = Duration::from_secs(10);

    common::wait_for(&mut all, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    assert_eq!(
        common::addresses(&all.borrow()),
        ["127.0.0.1:19100", "127.0.0.20:19101"]
    );
    let targets = common::targets(&all.borrow());
    let web1 = &targets[0];
    assert_eq!(web1["__meta_consul_address"], "127.0.0.1");
    assert_eq!(web1["__meta_consul_dc"], "dc1");
    assert_eq!(web1["__meta_consul_health"], "passing");
    assert_eq!(web1["__meta_consul_node"], "node-a");
    assert_eq!(web1["__meta_consul_service"], "web");
    // An empty value is no label (as in Prometheus' discoveredLabels).
    assert!(!web1.contains_key("__meta_consul_service_address"));
    assert_eq!(web1["__meta_consul_service_id"], "web-1");
    assert_eq!(web1["__meta_consul_service_port"], "19100");
    assert_eq!(web1["__meta_consul_tags"], ",prod,metrics,");
    assert_eq!(web1["__meta_consul_metadata_rack"], "r1");
    assert_eq!(web1["__meta_consul_metadata_weird_key_x"], "y");
    assert_eq!(web1["__meta_consul_service_metadata_version"], "1.2");
    assert_eq!(web1["__meta_consul_tagged_address_wan"], "10.0.0.1");
    assert_eq!(targets[1]["__meta_consul_health"], "critical");
    assert_eq!(targets[1]["__meta_consul_tags"], ",dev,");

    common::wait_for(&mut web_prod, timeout, |groups| !groups.is_empty()).await;
    assert_eq!(common::addresses(&web_prod.borrow()), ["127.0.0.1:19100"]);

    // A registration wakes the blocking query well before its 5 s wait ends.
    register(
        &base,
        json!({"Node": "node-c", "Address": "127.0.0.3",
               "Service": {"ID": "db-1", "Service": "db", "Port": 5432}}),
    )
    .await;
    let took = common::wait_for(&mut all, timeout, |groups| {
        common::addresses(groups).len() == 3
    })
    .await;
    assert!(
        took < Duration::from_secs(3),
        "blocking query woke after {took:?}"
    );
    let status = manager
        .sources()
        .into_iter()
        .find(|s| s.id == "all")
        .unwrap();
    assert_eq!(status.state, HealthState::Healthy);
    assert_eq!(status.targets, 3);

    // Stop the peer: failures, then the circuit opens; the last good targets stay.
    fake.stop();
    common::eventually(timeout, "circuit open", || {
        manager
            .sources()
            .iter()
            .all(|s| s.state == HealthState::CircuitOpen)
    })
    .await;
    let status = manager
        .sources()
        .into_iter()
        .find(|s| s.id == "all")
        .unwrap();
    assert!(status.consecutive_failures >= 3, "{status:?}");
    assert!(status.last_error.unwrap().contains("consul"));
    assert_eq!(
        common::addresses(&all.borrow()).len(),
        3,
        "last good targets kept"
    );
    let mut metrics = String::new();
    manager.write_metrics(&mut metrics);
    assert!(
        metrics
            .contains("weir_discovery_state{kind=\"consul\",id=\"all\",state=\"circuit-open\"} 1"),
        "{metrics}"
    );

    // Bring it back (empty, then seeded): the trial after the open period recovers.
    let Some(fake) = common::Fake::start("fake_consul.py", port) else {
        return;
    };
    seed(&fake.url()).await;
    common::eventually(timeout, "healthy again", || {
        manager
            .sources()
            .iter()
            .all(|s| s.state == HealthState::Healthy)
    })
    .await;
    common::wait_for(&mut all, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    manager.shutdown().await;
}
