//! `[[triton]]` against a triton-cmon fake served by the test over TLS: the container and
//! compute-node endpoints, the `groups` filter as Prometheus sends it, and `ssl-server-name`.
//! The labels themselves are compared with Prometheus' in `prometheus.rs`.

mod common;

use std::time::Duration;

use common::http_server::{Response, Server, certificates};
use serde_json::json;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_compute_nodes_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path(), "cmon.weir.test") else {
        return;
    };
    let server = Server::start_tls(
        |request| match (request.path(), request.query("groups").as_deref()) {
            ("/v1/discover", Some("web,db")) => Response::json(&json!({"containers": [
                {"groups": ["web"], "server_uuid": "s1", "vm_alias": "w1", "vm_brand": "lx",
                 "vm_image_uuid": "i1", "vm_uuid": "vm-1"}]})),
            ("/v1/discover", None) => Response::json(&json!({"containers": []})),
            ("/v2/gz/discover", None) => Response::json(&json!({"cns": [
                {"server_uuid": "cn-1", "server_hostname": "headnode"}]})),
            _ => Response::status(404, "no such endpoint"),
        },
        &cert,
        &key,
    )
    .await;
    let port = server.port;
    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[triton]]
        id = "web"
        account = "weir"
        dns-suffix = "cmon.weir.test"
        endpoint = "localhost"
        ssl-server-name = "cmon.weir.test"
        port = {port}
        groups = ["web", "db"]
        ssl-ca = "{ca}"
        [[triton]]
        id = "cn"
        account = "weir"
        dns-suffix = "cns.weir.test"
        endpoint = "127.0.0.1"
        role = "cn"
        version = 2
        port = {port}
        ssl-ca = "{ca}"
        "#,
        ca = ca.display()
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut web = manager.subscribe("triton", "web");
    let mut cn = manager.subscribe("triton", "cn");
    manager.apply(&config);
    common::wait_for(&mut web, Duration::from_secs(10), |groups| {
        common::addresses(groups) == [format!("vm-1.cmon.weir.test:{port}")]
    })
    .await;
    let target = &common::targets(&web.borrow())[0];
    assert_eq!(target["__meta_triton_groups"], ",web,");
    assert_eq!(target["__meta_triton_machine_alias"], "w1");
    assert_eq!(
        web.borrow()[0].source,
        format!("https://localhost:{port}/v1/discover?groups=web%2Cdb")
    );
    common::wait_for(&mut cn, Duration::from_secs(10), |groups| {
        common::addresses(groups) == [format!("cn-1.cns.weir.test:{port}")]
    })
    .await;
    assert_eq!(
        common::targets(&cn.borrow())[0]["__meta_triton_machine_alias"],
        "headnode"
    );
    manager.shutdown().await;
}
