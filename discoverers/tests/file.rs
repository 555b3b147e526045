//! `[[file-discovery]]` end to end: an atomic rewrite (write + rename) is seen within a second,
//! a malformed rewrite keeps the last good targets and names the line.

mod common;

use std::time::Duration;

use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_rewrite_is_seen_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.json");
    std::fs::write(
        &path,
        r#"[{"targets": ["127.0.0.1:19100"], "labels": {"env": "test"}}]"#,
    )
    .unwrap();
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[file-discovery]]\nid = \"files\"\nfiles = [\"{}/*.json\"]\n",
        dir.path().display()
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut receiver = manager.subscribe("file-discovery", "files");
    manager.apply(&config);
    common::wait_for(&mut receiver, Duration::from_secs(5), |groups| {
        common::addresses(groups) == ["127.0.0.1:19100"]
    })
    .await;
    let labels = &common::targets(&receiver.borrow())[0];
    assert_eq!(labels["env"], "test");
    assert_eq!(labels["__meta_filepath"], path.to_string_lossy());
    // Let the watcher settle, then replace the file atomically, as config management does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for round in 0..3 {
        let staging = dir.path().join(format!(".nodes.json.{round}.tmp"));
        let address = format!("127.0.0.{}:9100", round + 2);
        std::fs::write(&staging, format!(r#"[{{"targets": ["{address}"]}}]"#)).unwrap();
        std::fs::rename(&staging, &path).unwrap();
        let took = common::wait_for(&mut receiver, Duration::from_secs(5), |groups| {
            common::addresses(groups) == [address.as_str()]
        })
        .await;
        assert!(
            took < Duration::from_secs(1),
            "round {round}: change seen after {took:?}"
        );
    }
    // A malformed file keeps its last good targets and reports file:line.
    std::fs::write(&path, "[\n  {\"targets\": [\"x:1\"],,}\n]").unwrap();
    common::eventually(
        Duration::from_secs(3),
        "the parse error is reported",
        || manager.sources()[0].state == HealthState::Unhealthy,
    )
    .await;
    let status = &manager.sources()[0];
    let error = status.last_error.clone().unwrap();
    assert!(error.contains(&format!("{}:2:", path.display())), "{error}");
    assert_eq!(common::addresses(&receiver.borrow()), ["127.0.0.4:9100"]);
    // A new file in the directory is picked up too.
    std::fs::write(
        dir.path().join("more.json"),
        r#"[{"targets": ["10.0.0.1:80"]}]"#,
    )
    .unwrap();
    common::wait_for(&mut receiver, Duration::from_secs(2), |groups| {
        common::addresses(groups).contains(&"10.0.0.1:80".to_owned())
    })
    .await;
    manager.shutdown().await;
}
