//! `[[nerve]]` and `[[serverset]]` against a real ZooKeeper (tests/peers/peers.sh starts
//! Debian's 3.8 as `zookeeper`): members under nested paths become targets, a node that is
//! not a member is skipped, and a node added, changed or deleted shows at once through the
//! watch (the sources' resync interval is a minute). The labels themselves are compared
//! with Prometheus' nerve_sd and serverset_sd in `prometheus.rs`.

mod common;

use std::time::Duration;

use common::zk;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_follow_zookeeper_changes() {
    let Some((client, servers, root)) = zk::connect("members").await else {
        return;
    };
    let nerve = format!("{root}/nerve/services/web/services");
    let serverset = format!("{root}/aurora/prod/web");
    zk::put(
        &client,
        &format!("{nerve}/i-1"),
        br#"{"host": "10.0.0.1", "port": 9100, "name": "web_1"}"#,
    )
    .await;
    zk::put(&client, &format!("{nerve}/i-2"), b"not a member").await;
    zk::put(
        &client,
        &format!("{serverset}/member_0000000001"),
        br#"{"serviceEndpoint": {"host": "10.1.0.1", "port": 8080}, "status": "ALIVE", "shard": 0}"#,
    )
    .await;
    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[nerve]]
        id = "web"
        servers = ["{servers}"]
        paths = ["{root}/nerve"]
        timeout = "5s"
        [[serverset]]
        id = "aurora"
        servers = ["{servers}"]
        paths = ["{root}/aurora/prod"]
        "#
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut nerve_groups = manager.subscribe("nerve", "web");
    let mut serverset_groups = manager.subscribe("serverset", "aurora");
    manager.apply(&config);
    common::wait_for(&mut nerve_groups, Duration::from_secs(15), |groups| {
        common::addresses(groups) == ["10.0.0.1:9100"]
    })
    .await;
    assert_eq!(nerve_groups.borrow()[0].source, format!("{nerve}/i-1"));
    assert_eq!(
        common::targets(&nerve_groups.borrow())[0]["__meta_nerve_endpoint_name"],
        "web_1"
    );
    common::wait_for(&mut serverset_groups, Duration::from_secs(15), |groups| {
        common::addresses(groups) == ["10.1.0.1:8080"]
    })
    .await;

    // Changes are seen through the watch, well before the one-minute resync.
    zk::put(
        &client,
        &format!("{nerve}/i-2"),
        br#"{"host": "10.0.0.2", "port": 9100}"#,
    )
    .await;
    let took = common::wait_for(&mut nerve_groups, Duration::from_secs(15), |groups| {
        common::addresses(groups) == ["10.0.0.1:9100", "10.0.0.2:9100"]
    })
    .await;
    assert!(took < Duration::from_secs(5), "a new member took {took:?}");
    zk::put(
        &client,
        &format!("{serverset}/member_0000000002"),
        br#"{"serviceEndpoint": {"host": "10.1.0.2", "port": 8080}, "status": "STARTING"}"#,
    )
    .await;
    client
        .delete(&format!("{serverset}/member_0000000001"), None)
        .await
        .unwrap();
    common::wait_for(&mut serverset_groups, Duration::from_secs(5), |groups| {
        common::addresses(groups) == ["10.1.0.2:8080"]
    })
    .await;
    assert_eq!(
        common::targets(&serverset_groups.borrow())[0]["__meta_serverset_status"],
        "STARTING"
    );
    zk::delete_tree(&client, &format!("{root}/nerve/services")).await;
    common::wait_for(&mut nerve_groups, Duration::from_secs(5), |groups| {
        common::addresses(groups).is_empty()
    })
    .await;
    manager.shutdown().await;
    zk::delete_tree(&client, &root).await;
}
