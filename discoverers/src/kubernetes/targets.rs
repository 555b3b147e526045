//! Kubernetes objects to target groups, with the `__meta_kubernetes_*` labels exactly as
//! Prometheus' kubernetes_sd builds them (pure functions over the watched objects).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Container, Endpoints, Node, ObjectReference, Pod, Service, ServicePort,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::{Labels, TargetGroup};

use crate::config::join_host_port;

/// Watched objects by `namespace/name`.
pub(crate) type Store<K> = BTreeMap<String, K>;

const PREFIX: &str = "__meta_kubernetes_";
const NAMESPACE: &str = "__meta_kubernetes_namespace";

fn label(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Replace every character that cannot be in a label name with `_`.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn insert(labels: &mut Labels, name: &str, value: impl Into<String>) {
    labels.insert(label(name), value.into());
}

/// `namespace/name`: the store key of an object.
pub(crate) fn key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// Namespace plus `<role>_label_*`, `_labelpresent_*`, `_annotation_*`, `_annotationpresent_*`.
fn object_meta_labels(labels: &mut Labels, meta: &ObjectMeta, role: &str) {
    if let Some(namespace) = &meta.namespace {
        labels.insert(NAMESPACE.to_owned(), namespace.clone());
    }
    for (name, value) in meta.labels.iter().flatten() {
        let name = sanitize(name);
        insert(labels, &format!("{role}_label_{name}"), value.clone());
        insert(labels, &format!("{role}_labelpresent_{name}"), "true");
    }
    for (name, value) in meta.annotations.iter().flatten() {
        let name = sanitize(name);
        insert(labels, &format!("{role}_annotation_{name}"), value.clone());
        insert(labels, &format!("{role}_annotationpresent_{name}"), "true");
    }
}

fn pod_ready(pod: &Pod) -> String {
    pod.status
        .iter()
        .flat_map(|status| status.conditions.iter().flatten())
        .find(|condition| condition.type_ == "Ready")
        .map_or_else(
            || "unknown".to_owned(),
            |condition| condition.status.to_lowercase(),
        )
}

/// The labels every target of a pod carries (Prometheus' `podLabels`).
fn pod_labels(pod: &Pod) -> Labels {
    let mut labels = Labels::new();
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    insert(
        &mut labels,
        "pod_name",
        pod.metadata.name.clone().unwrap_or_default(),
    );
    insert(
        &mut labels,
        "pod_ip",
        status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
    );
    insert(&mut labels, "pod_ready", pod_ready(pod));
    insert(
        &mut labels,
        "pod_phase",
        status.and_then(|s| s.phase.clone()).unwrap_or_default(),
    );
    insert(
        &mut labels,
        "pod_node_name",
        spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
    );
    insert(
        &mut labels,
        "pod_host_ip",
        status.and_then(|s| s.host_ip.clone()).unwrap_or_default(),
    );
    insert(
        &mut labels,
        "pod_uid",
        pod.metadata.uid.clone().unwrap_or_default(),
    );
    object_meta_labels(&mut labels, &pod.metadata, "pod");
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true));
    if let Some(controller) = controller {
        if !controller.kind.is_empty() {
            insert(&mut labels, "pod_controller_kind", controller.kind.clone());
        }
        if !controller.name.is_empty() {
            insert(&mut labels, "pod_controller_name", controller.name.clone());
        }
    }
    labels
}

/// Containers then init containers, each with whether it is an init container.
fn containers(pod: &Pod) -> Vec<(&Container, bool)> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let regular = spec.containers.iter().map(|container| (container, false));
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|container| (container, true));
    regular.chain(init).collect()
}

fn container_id(pod: &Pod, name: &str, init: bool) -> String {
    pod.status
        .iter()
        .flat_map(|status| {
            if init {
                status.init_container_statuses.iter()
            } else {
                status.container_statuses.iter()
            }
        })
        .flatten()
        .find(|status| status.name == name)
        .and_then(|status| status.container_id.clone())
        .unwrap_or_default()
}

fn container_labels(labels: &mut Labels, pod: &Pod, container: &Container, init: bool) {
    insert(labels, "pod_container_name", container.name.clone());
    insert(
        labels,
        "pod_container_id",
        container_id(pod, &container.name, init),
    );
    insert(
        labels,
        "pod_container_image",
        container.image.clone().unwrap_or_default(),
    );
    insert(labels, "pod_container_init", init.to_string());
}

/// Role `pod`: one target per container port, or per container without ports.
pub(crate) fn pod_group(pod: &Pod) -> Option<TargetGroup> {
    let pod_ip = pod
        .status
        .as_ref()
        .and_then(|status| status.pod_ip.clone())?;
    if pod_ip.is_empty() {
        return None;
    }
    let mut targets = Vec::new();
    for (container, init) in containers(pod) {
        let ports = container.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            let mut target = Labels::from([(ADDRESS_LABEL.to_owned(), pod_ip.clone())]);
            container_labels(&mut target, pod, container, init);
            targets.push(target);
            continue;
        }
        for port in ports {
            let number = port.container_port.to_string();
            let mut target = Labels::new();
            target.insert(
                ADDRESS_LABEL.to_owned(),
                join_host_port(&pod_ip, port_u16(port.container_port)),
            );
            container_labels(&mut target, pod, container, init);
            insert(
                &mut target,
                "pod_container_port_name",
                port.name.clone().unwrap_or_default(),
            );
            insert(&mut target, "pod_container_port_number", number);
            insert(
                &mut target,
                "pod_container_port_protocol",
                port.protocol.clone().unwrap_or_default(),
            );
            targets.push(target);
        }
    }
    Some(TargetGroup {
        source: format!("pod/{}", key(&pod.metadata)),
        targets,
        labels: pod_labels(pod),
    })
}

fn port_u16(port: i32) -> u16 {
    u16::try_from(port).unwrap_or(0)
}

/// Node address preference, as Prometheus' `nodeAddress`.
const NODE_ADDRESS_ORDER: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalDNS",
    "ExternalIP",
    "LegacyHostIP",
    "Hostname",
];

/// Role `node`: the kubelet of each node; `instance` is the node name.
pub(crate) fn node_group(node: &Node) -> Option<TargetGroup> {
    let status = node.status.as_ref()?;
    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for address in status.addresses.iter().flatten() {
        by_type
            .entry(address.type_.as_str())
            .or_insert(address.address.as_str());
    }
    let address = NODE_ADDRESS_ORDER
        .iter()
        .find_map(|kind| by_type.get(kind))?;
    let port = status
        .daemon_endpoints
        .as_ref()
        .and_then(|endpoints| endpoints.kubelet_endpoint.as_ref())
        .map_or(0, |endpoint| port_u16(endpoint.port));
    let name = node.metadata.name.clone().unwrap_or_default();
    let mut labels = Labels::new();
    insert(&mut labels, "node_name", name.clone());
    let provider_id = node.spec.as_ref().and_then(|spec| spec.provider_id.clone());
    insert(
        &mut labels,
        "node_provider_id",
        provider_id.unwrap_or_default(),
    );
    object_meta_labels(&mut labels, &node.metadata, "node");
    let mut target = Labels::new();
    target.insert(ADDRESS_LABEL.to_owned(), join_host_port(address, port));
    target.insert("instance".to_owned(), name.clone());
    for (kind, value) in &by_type {
        insert(
            &mut target,
            &format!("node_address_{}", sanitize(kind)),
            *value,
        );
    }
    Some(TargetGroup {
        source: format!("node/{name}"),
        targets: vec![target],
        labels,
    })
}

/// The labels a service adds (Prometheus' `serviceLabels`).
fn service_labels(service: &Service) -> Labels {
    let mut labels = Labels::new();
    insert(
        &mut labels,
        "service_name",
        service.metadata.name.clone().unwrap_or_default(),
    );
    object_meta_labels(&mut labels, &service.metadata, "service");
    labels
}

fn service_port_target(service: &Service, port: &ServicePort) -> Labels {
    let name = service.metadata.name.as_deref().unwrap_or("");
    let namespace = service.metadata.namespace.as_deref().unwrap_or("");
    let spec = service.spec.as_ref();
    let kind = spec.and_then(|spec| spec.type_.clone()).unwrap_or_default();
    let mut target = Labels::new();
    target.insert(
        ADDRESS_LABEL.to_owned(),
        join_host_port(&format!("{name}.{namespace}.svc"), port_u16(port.port)),
    );
    insert(
        &mut target,
        "service_port_name",
        port.name.clone().unwrap_or_default(),
    );
    insert(&mut target, "service_port_number", port.port.to_string());
    insert(
        &mut target,
        "service_port_protocol",
        port.protocol.clone().unwrap_or_default(),
    );
    if kind == "ExternalName" {
        let external = spec
            .and_then(|spec| spec.external_name.clone())
            .unwrap_or_default();
        insert(&mut target, "service_external_name", external);
    } else {
        let cluster_ip = spec
            .and_then(|spec| spec.cluster_ip.clone())
            .unwrap_or_default();
        insert(&mut target, "service_cluster_ip", cluster_ip);
    }
    insert(&mut target, "service_type", kind);
    target
}

/// Role `service`: one target per service port, at `name.namespace.svc:port`.
pub(crate) fn service_group(service: &Service) -> TargetGroup {
    let ports = service
        .spec
        .iter()
        .flat_map(|spec| spec.ports.iter().flatten());
    let targets = ports
        .map(|port| service_port_target(service, port))
        .collect();
    TargetGroup {
        source: format!("svc/{}", key(&service.metadata)),
        targets,
        labels: service_labels(service),
    }
}

fn resolve_pod<'a>(reference: Option<&ObjectReference>, pods: &'a Store<Pod>) -> Option<&'a Pod> {
    let reference = reference?;
    if reference.kind.as_deref() != Some("Pod") {
        return None;
    }
    let namespace = reference.namespace.as_deref().unwrap_or("");
    pods.get(&format!(
        "{namespace}/{}",
        reference.name.as_deref().unwrap_or("")
    ))
}

/// Pod labels and the container whose port matches an endpoint port; remembers the port.
fn add_pod_labels(
    target: &mut Labels,
    pod: &Pod,
    port: i32,
    seen: &mut BTreeMap<String, (Pod, Vec<i32>)>,
) {
    let entry = seen
        .entry(key(&pod.metadata))
        .or_insert_with(|| (pod.clone(), Vec::new()));
    target.extend(pod_labels(pod));
    for (container, init) in containers(pod) {
        let matching = container
            .ports
            .iter()
            .flatten()
            .find(|p| p.container_port == port);
        if let Some(container_port) = matching {
            insert(target, "pod_container_name", container.name.clone());
            insert(
                target,
                "pod_container_image",
                container.image.clone().unwrap_or_default(),
            );
            insert(
                target,
                "pod_container_port_name",
                container_port.name.clone().unwrap_or_default(),
            );
            insert(target, "pod_container_port_number", port.to_string());
            let protocol = container_port.protocol.clone().unwrap_or_default();
            insert(target, "pod_container_port_protocol", protocol);
            insert(target, "pod_container_init", init.to_string());
            entry.1.push(port);
            break;
        }
    }
}

/// Targets for container ports of seen pods that no endpoint port covered.
fn uncovered_pod_ports(seen: BTreeMap<String, (Pod, Vec<i32>)>) -> Vec<Labels> {
    let mut targets = Vec::new();
    for (pod, covered) in seen.into_values() {
        let pod_ip = pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.clone())
            .unwrap_or_default();
        for (container, init) in containers(&pod) {
            for port in container.ports.iter().flatten() {
                if covered.contains(&port.container_port) {
                    continue;
                }
                let mut target = Labels::new();
                target.insert(
                    ADDRESS_LABEL.to_owned(),
                    join_host_port(&pod_ip, port_u16(port.container_port)),
                );
                insert(&mut target, "pod_container_name", container.name.clone());
                insert(
                    &mut target,
                    "pod_container_image",
                    container.image.clone().unwrap_or_default(),
                );
                insert(
                    &mut target,
                    "pod_container_port_number",
                    port.container_port.to_string(),
                );
                insert(
                    &mut target,
                    "pod_container_port_name",
                    port.name.clone().unwrap_or_default(),
                );
                insert(
                    &mut target,
                    "pod_container_port_protocol",
                    port.protocol.clone().unwrap_or_default(),
                );
                insert(&mut target, "pod_container_init", init.to_string());
                target.extend(pod_labels(&pod));
                targets.push(target);
            }
        }
    }
    targets
}

/// Role `endpoints`: one target per address and port, with pod and service labels.
pub(crate) fn endpoints_group(
    endpoints: &Endpoints,
    pods: &Store<Pod>,
    services: &Store<Service>,
) -> TargetGroup {
    let mut labels = Labels::new();
    insert(
        &mut labels,
        "endpoints_name",
        endpoints.metadata.name.clone().unwrap_or_default(),
    );
    object_meta_labels(&mut labels, &endpoints.metadata, "endpoints");
    if let Some(service) = services.get(&key(&endpoints.metadata)) {
        labels.extend(service_labels(service));
    }
    let mut seen = BTreeMap::new();
    let mut targets = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let ready = subset
                .addresses
                .iter()
                .flatten()
                .map(|address| (address, "true"));
            let not_ready = subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|address| (address, "false"));
            for (address, ready) in ready.chain(not_ready) {
                let mut target = Labels::new();
                target.insert(
                    ADDRESS_LABEL.to_owned(),
                    join_host_port(&address.ip, port_u16(port.port)),
                );
                insert(
                    &mut target,
                    "endpoint_port_name",
                    port.name.clone().unwrap_or_default(),
                );
                insert(
                    &mut target,
                    "endpoint_port_protocol",
                    port.protocol.clone().unwrap_or_default(),
                );
                insert(&mut target, "endpoint_ready", ready);
                if let Some(hostname) = address.hostname.as_ref().filter(|h| !h.is_empty()) {
                    insert(&mut target, "endpoint_hostname", hostname.clone());
                }
                if let Some(reference) = &address.target_ref {
                    insert(
                        &mut target,
                        "endpoint_address_target_kind",
                        reference.kind.clone().unwrap_or_default(),
                    );
                    insert(
                        &mut target,
                        "endpoint_address_target_name",
                        reference.name.clone().unwrap_or_default(),
                    );
                }
                if let Some(node_name) = &address.node_name {
                    insert(&mut target, "endpoint_node_name", node_name.clone());
                }
                if let Some(pod) = resolve_pod(address.target_ref.as_ref(), pods) {
                    add_pod_labels(&mut target, pod, port.port, &mut seen);
                }
                targets.push(target);
            }
        }
    }
    targets.extend(uncovered_pod_ports(seen));
    TargetGroup {
        source: format!("endpoints/{}", key(&endpoints.metadata)),
        targets,
        labels,
    }
}

/// Role `endpointslice`: one target per endpoint and port, with pod and service labels.
pub(crate) fn endpointslice_group(
    slice: &EndpointSlice,
    pods: &Store<Pod>,
    services: &Store<Service>,
) -> TargetGroup {
    let mut labels = Labels::new();
    insert(
        &mut labels,
        "endpointslice_name",
        slice.metadata.name.clone().unwrap_or_default(),
    );
    insert(
        &mut labels,
        "endpointslice_address_type",
        slice.address_type.clone(),
    );
    object_meta_labels(&mut labels, &slice.metadata, "endpointslice");
    let service_name = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/service-name"));
    if let Some(service_name) = service_name {
        let namespace = slice.metadata.namespace.as_deref().unwrap_or("");
        if let Some(service) = services.get(&format!("{namespace}/{service_name}")) {
            labels.extend(service_labels(service));
        }
    }
    let mut seen = BTreeMap::new();
    let mut targets = Vec::new();
    for endpoint in slice.endpoints.iter().flatten() {
        let Some(address) = endpoint.addresses.first() else {
            continue;
        };
        for port in slice.ports.iter().flatten() {
            let number = port.port.unwrap_or(0);
            let mut target = Labels::new();
            target.insert(
                ADDRESS_LABEL.to_owned(),
                join_host_port(address, port_u16(number)),
            );
            insert(&mut target, "endpointslice_port", number.to_string());
            if let Some(name) = &port.name {
                insert(&mut target, "endpointslice_port_name", name.clone());
            }
            if let Some(protocol) = &port.protocol {
                insert(&mut target, "endpointslice_port_protocol", protocol.clone());
            }
            if let Some(app_protocol) = &port.app_protocol {
                insert(
                    &mut target,
                    "endpointslice_port_app_protocol",
                    app_protocol.clone(),
                );
            }
            if let Some(conditions) = &endpoint.conditions {
                let flags = [
                    ("ready", conditions.ready),
                    ("serving", conditions.serving),
                    ("terminating", conditions.terminating),
                ];
                for (name, value) in flags {
                    if let Some(value) = value {
                        insert(
                            &mut target,
                            &format!("endpointslice_endpoint_conditions_{name}"),
                            value.to_string(),
                        );
                    }
                }
            }
            if let Some(hostname) = &endpoint.hostname {
                insert(
                    &mut target,
                    "endpointslice_endpoint_hostname",
                    hostname.clone(),
                );
            }
            if let Some(reference) = &endpoint.target_ref {
                insert(
                    &mut target,
                    "endpointslice_address_target_kind",
                    reference.kind.clone().unwrap_or_default(),
                );
                insert(
                    &mut target,
                    "endpointslice_address_target_name",
                    reference.name.clone().unwrap_or_default(),
                );
            }
            if let Some(node_name) = &endpoint.node_name {
                insert(
                    &mut target,
                    "endpointslice_endpoint_node_name",
                    node_name.clone(),
                );
            }
            if let Some(zone) = &endpoint.zone {
                insert(&mut target, "endpointslice_endpoint_zone", zone.clone());
            }
            for (name, value) in endpoint.deprecated_topology.iter().flatten() {
                let name = sanitize(name);
                insert(
                    &mut target,
                    &format!("endpointslice_endpoint_topology_{name}"),
                    value.clone(),
                );
                insert(
                    &mut target,
                    &format!("endpointslice_endpoint_topology_present_{name}"),
                    "true",
                );
            }
            if let Some(pod) = resolve_pod(endpoint.target_ref.as_ref(), pods) {
                add_pod_labels(&mut target, pod, number, &mut seen);
            }
            targets.push(target);
        }
    }
    targets.extend(uncovered_pod_ports(seen));
    TargetGroup {
        source: format!("endpointslice/{}", key(&slice.metadata)),
        targets,
        labels,
    }
}

/// Whether `host` matches a TLS host pattern (`*.example.com` covers one label).
fn matches_host(patterns: &HashSet<&str>, host: &str) -> bool {
    if patterns.contains(host) {
        return true;
    }
    host.split_once('.')
        .is_some_and(|(_, rest)| patterns.contains(format!("*.{rest}").as_str()))
}

/// Role `ingress`: one target per rule host and path.
pub(crate) fn ingress_group(ingress: &Ingress) -> TargetGroup {
    let mut labels = Labels::new();
    insert(
        &mut labels,
        "ingress_name",
        ingress.metadata.name.clone().unwrap_or_default(),
    );
    object_meta_labels(&mut labels, &ingress.metadata, "ingress");
    let spec = ingress.spec.as_ref();
    let class = spec
        .and_then(|spec| spec.ingress_class_name.clone())
        .or_else(|| {
            ingress
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/ingress.class").cloned())
        });
    if let Some(class) = class {
        insert(&mut labels, "ingress_class_name", class);
    }
    let tls_hosts: HashSet<&str> = spec
        .iter()
        .flat_map(|spec| spec.tls.iter().flatten())
        .flat_map(|tls| tls.hosts.iter().flatten())
        .map(String::as_str)
        .collect();
    let mut targets = Vec::new();
    for rule in spec.iter().flat_map(|spec| spec.rules.iter().flatten()) {
        let host = rule.host.clone().unwrap_or_default();
        let scheme = if matches_host(&tls_hosts, &host) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<String> = match &rule.http {
            Some(http) => http
                .paths
                .iter()
                .map(|path| {
                    path.path
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| "/".to_owned())
                })
                .collect(),
            None => vec!["/".to_owned()],
        };
        for path in paths {
            let mut target = Labels::new();
            target.insert(ADDRESS_LABEL.to_owned(), host.clone());
            insert(&mut target, "ingress_scheme", scheme);
            insert(&mut target, "ingress_host", host.clone());
            insert(&mut target, "ingress_path", path);
            targets.push(target);
        }
    }
    TargetGroup {
        source: format!("ingress/{}", key(&ingress.metadata)),
        targets,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default", "uid": "u1",
                "labels": {"app": "web"},
                "annotations": {"prometheus.io/scrape": "true"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                    "uid": "s1", "controller": true}]},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "app", "image": "web:1", "ports": [{"name": "http", "containerPort": 19100, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "side:1"}],
                "initContainers": [{"name": "init", "image": "init:1"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "app", "containerID": "containerd://abc", "image": "web:1",
                    "imageID": "", "ready": true, "restartCount": 0}]}
        }))
        .unwrap()
    }

    #[test]
    fn pod_targets_match_prometheus() {
        let group = pod_group(&pod()).unwrap();
        assert_eq!(group.source, "pod/default/web-0");
        assert_eq!(group.targets.len(), 3);
        let labels = &group.labels;
        assert_eq!(labels["__meta_kubernetes_namespace"], "default");
        assert_eq!(labels["__meta_kubernetes_pod_ready"], "true");
        assert_eq!(labels["__meta_kubernetes_pod_label_app"], "web");
        assert_eq!(labels["__meta_kubernetes_pod_labelpresent_app"], "true");
        assert_eq!(
            labels["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
            "true"
        );
        assert_eq!(
            labels["__meta_kubernetes_pod_controller_kind"],
            "StatefulSet"
        );
        assert_eq!(labels["__meta_kubernetes_pod_node_name"], "node-1");
        let app = &group.targets[0];
        assert_eq!(app[ADDRESS_LABEL], "127.0.0.1:19100");
        assert_eq!(app["__meta_kubernetes_pod_container_port_name"], "http");
        assert_eq!(
            app["__meta_kubernetes_pod_container_id"],
            "containerd://abc"
        );
        assert_eq!(app["__meta_kubernetes_pod_container_init"], "false");
        assert_eq!(
            group.targets[1][ADDRESS_LABEL], "127.0.0.1",
            "no ports: bare IP"
        );
        assert_eq!(
            group.targets[2]["__meta_kubernetes_pod_container_init"],
            "true"
        );
    }

    #[test]
    fn endpoints_add_pod_and_service_labels_and_uncovered_ports() {
        let mut pod = pod();
        pod.spec.as_mut().unwrap().containers[1].ports = Some(vec![
            serde_json::from_value(
                serde_json::json!({"name": "dns", "containerPort": 53, "protocol": "UDP"}),
            )
            .unwrap(),
        ]);
        let pods = Store::from([("default/web-0".to_owned(), pod)]);
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }))
        .unwrap();
        let services = Store::from([("default/web".to_owned(), service.clone())]);
        let endpoints: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1", "nodeName": "node-1",
                            "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"}}],
                         "notReadyAddresses": [{"ip": "127.0.0.9"}],
                         "ports": [{"name": "http", "port": 19100, "protocol": "TCP"}]}]
        }))
        .unwrap();
        let group = endpoints_group(&endpoints, &pods, &services);
        assert_eq!(
            group.labels["__meta_kubernetes_service_label_tier"],
            "front"
        );
        assert_eq!(group.targets.len(), 3);
        let ready = &group.targets[0];
        assert_eq!(ready["__meta_kubernetes_endpoint_ready"], "true");
        assert_eq!(
            ready["__meta_kubernetes_endpoint_address_target_name"],
            "web-0"
        );
        assert_eq!(ready["__meta_kubernetes_pod_container_name"], "app");
        assert_eq!(ready["__meta_kubernetes_pod_name"], "web-0");
        assert_eq!(
            group.targets[1]["__meta_kubernetes_endpoint_ready"],
            "false"
        );
        assert!(!group.targets[1].contains_key("__meta_kubernetes_pod_name"));
        assert_eq!(group.targets[2][ADDRESS_LABEL], "127.0.0.1:53");

        let service_group = service_group(&service);
        let target = &service_group.targets[0];
        assert_eq!(target[ADDRESS_LABEL], "web.default.svc:80");
        assert_eq!(target["__meta_kubernetes_service_cluster_ip"], "10.96.0.10");
        assert_eq!(target["__meta_kubernetes_service_type"], "ClusterIP");
    }

    #[test]
    fn node_and_ingress() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/os": "linux"}},
            "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                      {"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
        }))
        .unwrap();
        let group = node_group(&node).unwrap();
        let target = &group.targets[0];
        assert_eq!(target[ADDRESS_LABEL], "127.0.0.1:10250");
        assert_eq!(target["instance"], "node-1");
        assert_eq!(
            target["__meta_kubernetes_node_address_InternalIP"],
            "127.0.0.1"
        );
        assert_eq!(
            group.labels["__meta_kubernetes_node_label_kubernetes_io_os"],
            "linux"
        );
        let ingress: Ingress = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "site", "namespace": "default"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["*.example.com"]}],
                     "rules": [{"host": "a.example.com", "http": {"paths": [
                        {"path": "/api", "pathType": "Prefix", "backend": {}}]}},
                               {"host": "other.org"}]}
        }))
        .unwrap();
        let group = ingress_group(&ingress);
        assert_eq!(
            group.targets[0]["__meta_kubernetes_ingress_scheme"],
            "https"
        );
        assert_eq!(group.targets[0]["__meta_kubernetes_ingress_path"], "/api");
        assert_eq!(group.targets[1]["__meta_kubernetes_ingress_scheme"], "http");
        assert_eq!(group.targets[1]["__meta_kubernetes_ingress_path"], "/");
        assert_eq!(
            group.labels["__meta_kubernetes_ingress_class_name"],
            "nginx"
        );
    }
}
