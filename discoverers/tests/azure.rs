//! `[[azure]]` against the Azure fake (tests/common/fake_azure.rs, served by the test): a
//! wrong client secret is reported with the token endpoint's answer, the token is fetched
//! once and reused across rounds, and `resource-group` lists only that group's VMs. The
//! labels themselves are compared with Prometheus' azure SD in `prometheus.rs`.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::fake_azure::{self, CLIENT_ID, SUBSCRIPTION, TENANT};
use common::http_server::Server;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_errors_reuse_and_resource_groups() {
    let base = Arc::new(OnceLock::<String>::new());
    let shared = base.clone();
    let server = Server::start(move |request| {
        fake_azure::handle(request, shared.get().map_or("", String::as_str))
    })
    .await;
    base.set(server.url.clone()).unwrap();
    let endpoint = format!("{}/", server.url);
    let section = |secret: &str, group: &str| {
        let config: DiscoveryConfig = toml::from_str(&format!(
            "[[azure]]\nid = \"az\"\nsubscription-id = \"{SUBSCRIPTION}\"\n\
             tenant-id = \"{TENANT}\"\nclient-id = \"{CLIENT_ID}\"\nclient-secret = \"{secret}\"\n\
             resource-group = \"{group}\"\nrefresh-interval = \"1s\"\n\
             resource-manager-endpoint = \"{endpoint}\"\nactive-directory-endpoint = \"{endpoint}\"\n"
        ))
        .unwrap();
        config.validate().unwrap();
        config
    };
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("azure", "az");
    manager.apply(&section("wrong", ""));
    common::eventually(
        Duration::from_secs(10),
        "the token error is reported",
        || {
            let status = &manager.sources()[0];
            status.state != HealthState::Healthy
                && status.last_error.as_deref().is_some_and(|error| {
                    error.contains(&format!("{TENANT}/oauth2/token returned 401"))
                        && error.contains("invalid_client")
                })
        },
    )
    .await;

    manager.apply(&section(fake_azure::CLIENT_SECRET, "rg-db"));
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups) == ["10.0.1.4:80", "10.0.1.9:80"]
    })
    .await;
    let target = &common::targets(&groups.borrow())[0];
    assert_eq!(target["__meta_azure_machine_os_type"], "Windows");
    assert_eq!(target["__meta_azure_machine_tag_role"], "db");
    // Three more rounds, one token.
    let token_requests = || {
        server
            .requests()
            .iter()
            .filter(|request| request.path().ends_with("/oauth2/token"))
            .count()
    };
    let before = token_requests();
    let lists = || {
        server
            .requests()
            .iter()
            .filter(|request| request.path().ends_with("/virtualMachines"))
            .count()
    };
    let lists_before = lists();
    common::eventually(Duration::from_secs(10), "three more rounds", || {
        lists() >= lists_before + 3
    })
    .await;
    assert_eq!(token_requests(), before, "the token is reused");
    assert!(
        server
            .requests()
            .iter()
            .filter(|request| request.path().ends_with("/virtualMachines"))
            .all(|request| request.path().contains("/resourceGroups/rg-db/")),
        "only the group's VMs are listed"
    );
    manager.shutdown().await;
}
