//! `[[kubernetes]]` against the project's apiserver fake (tests/peers/fake_kube.py), started on
//! a free port: list then watch for the pod, node, service, endpoints and endpointslice roles,
//! live changes, and recovery after a 410 Gone relist and a closed watch.
#![cfg(feature = "kubernetes")]

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

async fn send(method: reqwest::Method, url: String, body: Option<Value>) {
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
}

fn pod(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"nodeName": "node-1", "containers": [
            {"name": "app", "image": "web:1",
             "ports": [{"name": "http", "containerPort": 19100, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

async fn seed(base: &str) {
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/nodes"),
        Some(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/os": "linux"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                      {"type": "Hostname", "address": "node-1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
        })),
    )
    .await;
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/namespaces/default/pods"),
        Some(pod("web-0", "127.0.0.1")),
    )
    .await;
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/namespaces/default/services"),
        Some(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        })),
    )
    .await;
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/namespaces/default/endpoints"),
        Some(json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1", "nodeName": "node-1",
                            "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"}}],
                         "ports": [{"name": "http", "port": 19100, "protocol": "TCP"}]}]
        })),
    )
    .await;
    send(
        reqwest::Method::POST,
        format!("{base}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"),
        Some(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true},
                           "nodeName": "node-1", "zone": "z1",
                           "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"}}],
            "ports": [{"name": "http", "port": 19100, "protocol": "TCP"}]
        })),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_watch_changes_and_relists() {
    let port = common::free_port();
    let Some(fake) = common::Fake::start("fake_kube.py", port) else {
        return;
    };
    let base = fake.url();
    seed(&base).await;
    let mut text = String::new();
    for (id, resource) in [
        ("pods", "pod"),
        ("nodes", "node"),
        ("services", "service"),
        ("endpoints", "endpoints"),
        ("slices", "endpointslice"),
    ] {
        text.push_str(&format!(
            "[[kubernetes]]\nid = \"{id}\"\napi-servers = [\"{base}\"]\nnamespace = \"default\"\nresource = \"{resource}\"\n"
        ));
    }
    text.push_str(&format!(
        "[[kubernetes]]\nid = \"selected\"\napi-servers = [\"{base}\"]\nresource = \"pod\"\nlabel-selector = \"app=none\"\n"
    ));
    let config: DiscoveryConfig = toml::from_str(&text).unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut pods = manager.subscribe("kubernetes", "pods");
    let mut nodes = manager.subscribe("kubernetes", "nodes");
    let mut services = manager.subscribe("kubernetes", "services");
    let mut endpoints = manager.subscribe("kubernetes", "endpoints");
    let mut slices = manager.subscribe("kubernetes", "slices");
    manager.apply(&config);
    let timeout = Duration::from_secs(20);

    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups).len() == 1
    })
    .await;
    let pod_target = &common::targets(&pods.borrow())[0];
    assert_eq!(pod_target["__address__"], "127.0.0.1:19100");
    assert_eq!(pod_target["__meta_kubernetes_namespace"], "default");
    assert_eq!(pod_target["__meta_kubernetes_pod_name"], "web-0");
    assert_eq!(pod_target["__meta_kubernetes_pod_ready"], "true");
    assert_eq!(pod_target["__meta_kubernetes_pod_label_app"], "web");
    assert_eq!(
        pod_target["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "true"
    );
    assert_eq!(
        pod_target["__meta_kubernetes_pod_container_port_name"],
        "http"
    );
    assert!(!pod_target["__meta_kubernetes_pod_uid"].is_empty());

    common::wait_for(&mut nodes, timeout, |groups| !groups.is_empty()).await;
    let node_target = &common::targets(&nodes.borrow())[0];
    assert_eq!(node_target["__address__"], "127.0.0.1:10250");
    assert_eq!(node_target["instance"], "node-1");
    assert_eq!(
        node_target["__meta_kubernetes_node_address_InternalIP"],
        "127.0.0.1"
    );

    common::wait_for(&mut services, timeout, |groups| !groups.is_empty()).await;
    assert_eq!(
        common::addresses(&services.borrow()),
        ["web.default.svc:80"]
    );

    common::wait_for(&mut endpoints, timeout, |groups| !groups.is_empty()).await;
    let endpoint_target = &common::targets(&endpoints.borrow())[0];
    assert_eq!(endpoint_target["__meta_kubernetes_endpoints_name"], "web");
    assert_eq!(
        endpoint_target["__meta_kubernetes_endpoint_address_target_name"],
        "web-0"
    );
    assert_eq!(endpoint_target["__meta_kubernetes_pod_name"], "web-0");
    assert_eq!(
        endpoint_target["__meta_kubernetes_service_label_tier"],
        "front"
    );

    common::wait_for(&mut slices, timeout, |groups| !groups.is_empty()).await;
    let slice_target = &common::targets(&slices.borrow())[0];
    assert_eq!(
        slice_target["__meta_kubernetes_endpointslice_address_type"],
        "IPv4"
    );
    assert_eq!(
        slice_target["__meta_kubernetes_endpointslice_endpoint_conditions_ready"],
        "true"
    );
    assert_eq!(
        slice_target["__meta_kubernetes_endpointslice_endpoint_zone"],
        "z1"
    );
    assert_eq!(
        slice_target["__meta_kubernetes_endpointslice_port"],
        "19100"
    );
    assert_eq!(slice_target["__meta_kubernetes_service_name"], "web");

    // Live changes arrive through the watch.
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/namespaces/default/pods"),
        Some(pod("web-1", "127.0.0.2")),
    )
    .await;
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    send(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/namespaces/default/pods/web-0"),
        None,
    )
    .await;
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups) == ["127.0.0.2:19100"]
    })
    .await;

    // 410 Gone on the open watches: relist, and changes made meanwhile are seen.
    send(reqwest::Method::POST, format!("{base}/_fake/gone"), None).await;
    send(
        reqwest::Method::POST,
        format!("{base}/api/v1/namespaces/default/pods"),
        Some(pod("web-2", "127.0.0.3")),
    )
    .await;
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    // A cleanly closed watch resumes.
    send(reqwest::Method::POST, format!("{base}/_fake/close"), None).await;
    send(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/namespaces/default/pods/web-1"),
        None,
    )
    .await;
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups) == ["127.0.0.3:19100"]
    })
    .await;

    // The label selector reaches the server: nothing matches.
    common::eventually(timeout, "selected source listed", || {
        manager
            .sources()
            .iter()
            .any(|s| s.id == "selected" && s.state == HealthState::Healthy)
    })
    .await;
    assert!(
        manager
            .subscribe("kubernetes", "selected")
            .borrow()
            .is_empty()
    );
    manager.shutdown().await;
}

/// A deletion the watch never delivers (the fake cuts the watch and drops the event) is
/// corrected by the next periodic full list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_corrects_a_missed_deletion() {
    let port = common::free_port();
    let Some(fake) = common::Fake::start("fake_kube.py", port) else {
        return;
    };
    let base = fake.url();
    for (name, ip) in [("web-0", "127.0.0.1"), ("web-1", "127.0.0.2")] {
        send(
            reqwest::Method::POST,
            format!("{base}/api/v1/namespaces/default/pods"),
            Some(pod(name, ip)),
        )
        .await;
    }
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[kubernetes]]\nid = \"pods\"\napi-servers = [\"{base}\"]\nnamespace = \"default\"\nrefresh-interval = \"1s\"\n"
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut pods = manager.subscribe("kubernetes", "pods");
    manager.apply(&config);
    let timeout = Duration::from_secs(20);
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    let watch = || {
        manager
            .sources()
            .into_iter()
            .find(|s| s.id == "pods")
            .and_then(|s| s.watch)
            .unwrap()
    };
    assert_eq!(watch().mode, "watch");
    assert_eq!(watch().reconcile_interval_seconds, 1.0);
    assert_eq!(watch().total_corrections, 0);

    // The watch is cut and the DELETED event is never sent: only a full list sees it.
    send(reqwest::Method::POST, format!("{base}/_fake/cut"), None).await;
    send(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/namespaces/default/pods/web-0"),
        None,
    )
    .await;
    common::wait_for(&mut pods, timeout, |groups| {
        common::addresses(groups) == ["127.0.0.2:19100"]
    })
    .await;
    common::eventually(timeout, "the correction is counted", || {
        let status = watch();
        status.total_corrections >= 1 && status.last_reconciliation.is_some()
    })
    .await;
    assert!(watch().last_watch_event.is_some());
    manager.shutdown().await;
}
