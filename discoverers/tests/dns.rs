//! `[[dns]]` against the project's dnsmasq (zone `test.local`): SRV, A, AAAA, and an A record
//! changed while the test runs (through dnsmasq's live hosts directory). SRV targets are
//! resolved through the configured `nameservers` into ip:port addresses.

mod common;

use std::time::Duration;

use weir_discoverers::{DiscoveryConfig, DiscoveryManager};

fn config(dns_server: &str, hosts_name: &str) -> DiscoveryConfig {
    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[dns]]
        id = "srv"
        record-names = ["_http._tcp.test.local"]
        nameservers = ["{dns_server}"]
        [[dns]]
        id = "a"
        type = "A"
        port = 9100
        record-names = ["web1.test.local", "multi.test.local", "nonexistent.test.local"]
        nameservers = ["{dns_server}"]
        [[dns]]
        id = "aaaa"
        type = "AAAA"
        port = 9100
        record-names = ["web2.test.local"]
        nameservers = ["{dns_server}"]
        [[dns]]
        id = "dyn"
        type = "A"
        port = 80
        refresh-interval = "1h"
        record-names = ["{hosts_name}"]
        nameservers = ["{dns_server}"]
        "#
    ))
    .unwrap();
    config.validate().unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_a_aaaa_and_a_changed_record() {
    let Some(dns_server) = common::peer("DNS_SERVER") else {
        return;
    };
    let Some(hosts_dir) = common::peer("DNS_HOSTS_DIR") else {
        return;
    };
    let hosts_name = format!("dyn-weir-discoverers-{}.test.local", std::process::id());
    let hosts_file =
        std::path::Path::new(&hosts_dir).join(format!("weir-discoverers-{}", std::process::id()));
    std::fs::write(&hosts_file, format!("127.0.0.10 {hosts_name}\n")).unwrap();
    // dnsmasq reads the hosts directory through inotify; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let manager = DiscoveryManager::new();
    let mut srv = manager.subscribe("dns", "srv");
    let mut a = manager.subscribe("dns", "a");
    let mut aaaa = manager.subscribe("dns", "aaaa");
    let mut dynamic = manager.subscribe("dns", "dyn");
    manager.apply(&config(&dns_server, &hosts_name));
    let timeout = Duration::from_secs(10);

    common::wait_for(&mut srv, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    // With `nameservers`, each SRV target name (which exists only in dnsmasq) is resolved
    // through dnsmasq: `__address__` is ip:port, the record's name stays in its label.
    let targets = common::targets(&srv.borrow());
    let found: Vec<(&str, String)> = targets
        .iter()
        .map(|t| {
            let port = &t["__meta_dns_srv_record_port"];
            let ip = t["__address__"]
                .strip_suffix(&format!(":{port}"))
                .expect("the address ends in the record's port");
            (t["__meta_dns_srv_record_target"].as_str(), ip.to_owned())
        })
        .collect();
    assert_eq!(
        found,
        [
            ("web1.test.local.", "127.0.0.1".to_owned()),
            // web2 has 127.0.0.2 and ::1: the IPv4 address is taken.
            ("web2.test.local.", "127.0.0.2".to_owned()),
        ]
    );
    for target in &targets {
        assert_eq!(target["__meta_dns_name"], "_http._tcp.test.local");
    }

    common::wait_for(&mut a, timeout, |groups| !groups.is_empty()).await;
    assert_eq!(
        common::addresses(&a.borrow()),
        ["127.0.0.1:9100", "127.0.0.3:9100", "127.0.0.4:9100"]
    );
    let groups = a.borrow().clone();
    assert_eq!(
        groups.len(),
        3,
        "one group per name, an empty one for the missing name"
    );
    assert!(groups[2].targets.is_empty());
    let web1 = &common::targets(&groups)[0];
    assert_eq!(web1["__meta_dns_name"], "web1.test.local");
    assert!(!web1.contains_key("__meta_dns_srv_record_target"));

    common::wait_for(&mut aaaa, timeout, |groups| !groups.is_empty()).await;
    assert_eq!(common::addresses(&aaaa.borrow()), ["[::1]:9100"]);

    common::wait_for(&mut dynamic, timeout, |groups| {
        common::addresses(groups) == ["127.0.0.10:80"]
    })
    .await;
    std::fs::write(&hosts_file, format!("127.0.0.11 {hosts_name}\n")).unwrap();
    let started = std::time::Instant::now();
    loop {
        assert_eq!(manager.refresh("dyn").await, Some(true));
        if common::addresses(&dynamic.borrow()) == ["127.0.0.11:80"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the changed record was not seen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::remove_file(&hosts_file).unwrap();
    manager.shutdown().await;
}
