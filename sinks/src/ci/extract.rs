//! Configuration items from discovered targets: each source's own model, its natural keys,
//! its `__meta_*` labels as attributes (without the prefix), and the relationships the
//! labels imply.

use std::collections::{BTreeMap, HashMap};

use weir_engine::{Labels, TargetGroup};

use super::model::{CiKey, Observation, Relation};

const ADDRESS: &str = "__address__";

/// Observations for every CI in a complete collection of one discovery source.
///
/// `service` is the config section (`kubernetes`, `ec2`, `consul`, `dns`, `file-discovery`,
/// `static-discovery`) and `source_id` its `id`. Targets that describe the same CI (a pod
/// with several container ports, endpoints with several addresses) are merged.
pub fn from_discovery(service: &str, source_id: &str, groups: &[TargetGroup]) -> Vec<Observation> {
    let source = format!("{service}/{source_id}");
    // Observations in discovery order, and where each CI's is.
    let mut merged: Vec<Observation> = Vec::new();
    let mut index: HashMap<CiKey, usize> = HashMap::new();
    for group in groups {
        for target in &group.targets {
            // Target labels win over the group's; most groups have none to add.
            let with_group_labels;
            let labels = if group.labels.is_empty() {
                target
            } else {
                let mut labels = group.labels.clone();
                labels.extend(target.iter().map(|(k, v)| (k.clone(), v.clone())));
                with_group_labels = labels;
                &with_group_labels
            };
            let Some(observation) = observe(service, &source, labels) else {
                continue;
            };
            let Some(key) = observation.key.clone() else {
                continue;
            };
            let entry = match index.entry(key) {
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(merged.len());
                    merged.push(observation);
                    continue;
                }
                std::collections::hash_map::Entry::Occupied(occupied) => {
                    &mut merged[*occupied.get()]
                }
            };
            for (name, value) in observation.config {
                entry.config.entry(name).or_insert(value);
            }
            for relation in observation.relations {
                if !entry.relations.contains(&relation) {
                    entry.relations.push(relation);
                }
            }
            for address in observation.addresses {
                if !entry.addresses.contains(&address) {
                    entry.addresses.push(address);
                }
            }
        }
    }
    for observation in &mut merged {
        observation.relations.sort();
    }
    merged
}

fn get<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    labels
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Attributes: `__meta_<prefix>` labels without the prefix (minus `skip` prefixes), plus
/// the target's plain labels.
fn attributes(labels: &Labels, prefix: &str, skip: &[&str]) -> BTreeMap<String, String> {
    let mut config = BTreeMap::new();
    for (name, value) in labels {
        if let Some(short) = name.strip_prefix(prefix) {
            if !skip.iter().any(|s| short.starts_with(s)) {
                config.insert(short.to_owned(), value.clone());
            }
        } else if !name.starts_with("__") {
            config.insert(name.clone(), value.clone());
        }
    }
    config
}

/// The host of `host:port` (or `[v6]:port`); the text itself when it names no port.
pub(crate) fn host_of(address: &str) -> String {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.contains(':') => {
            host.to_owned()
        }
        _ => address.to_owned(),
    }
}

fn observe(service: &str, source: &str, labels: &Labels) -> Option<Observation> {
    let address = get(labels, ADDRESS).unwrap_or("");
    let mut observation = Observation::default();
    let key = match service {
        "kubernetes" => kubernetes(labels, &mut observation)?,
        "ec2" => {
            const P: &str = "__meta_ec2_";
            observation.config = attributes(labels, P, &[]);
            // Prometheus lists every subnet of the instance's interfaces as `,subnet-a,subnet-b,`.
            let subnets = get(labels, "__meta_ec2_subnet_id").unwrap_or("");
            for subnet in subnets.split(',').filter(|subnet| !subnet.is_empty()) {
                let relation = Relation::new("in-subnet", "ec2.subnet", subnet);
                if !observation.relations.contains(&relation) {
                    observation.relations.push(relation);
                }
            }
            if let Some(vpc) = get(labels, "__meta_ec2_vpc_id") {
                observation
                    .relations
                    .push(Relation::new("in-vpc", "ec2.vpc", vpc));
            }
            for ip in ["__meta_ec2_private_ip", "__meta_ec2_public_ip"] {
                if let Some(ip) = get(labels, ip) {
                    observation.addresses.push(ip.to_owned());
                }
            }
            (
                "ec2.instance",
                get(labels, "__meta_ec2_instance_id")?.to_owned(),
            )
        }
        "consul" => {
            observation.config = attributes(labels, "__meta_consul_", &[]);
            let node = get(labels, "__meta_consul_node").unwrap_or("");
            if !node.is_empty() {
                observation
                    .relations
                    .push(Relation::new("registered-on", "consul.node", node));
            }
            for ip in ["__meta_consul_address", "__meta_consul_service_address"] {
                if let Some(ip) = get(labels, ip) {
                    observation.addresses.push(ip.to_owned());
                }
            }
            let id = get(labels, "__meta_consul_service_id")
                .or_else(|| get(labels, "__meta_consul_service"))?;
            (
                "consul.service",
                if node.is_empty() {
                    id.to_owned()
                } else {
                    format!("{node}/{id}")
                },
            )
        }
        "dns" => {
            observation.config = attributes(labels, "__meta_dns_", &[]);
            observation
                .config
                .insert("address".to_owned(), address.to_owned());
            let name = get(labels, "__meta_dns_name")?;
            let target = get(labels, "__meta_dns_srv_record_target").unwrap_or(address);
            observation.addresses.push(host_of(address));
            ("dns.record", format!("{name}/{target}"))
        }
        "file-discovery" => {
            observation.config = attributes(labels, "__meta_", &[]);
            observation
                .config
                .insert("address".to_owned(), address.to_owned());
            observation.addresses.push(host_of(address));
            ("file.target", address.to_owned())
        }
        _ => {
            observation.config = attributes(labels, "__meta_", &[]);
            observation
                .config
                .insert("address".to_owned(), address.to_owned());
            observation.addresses.push(host_of(address));
            ("static.target", address.to_owned())
        }
    };
    if key.1.is_empty() {
        return None;
    }
    observation.key = Some(CiKey::new(source, key.0, key.1));
    Some(observation)
}

fn kubernetes(labels: &Labels, observation: &mut Observation) -> Option<(&'static str, String)> {
    const P: &str = "__meta_kubernetes_";
    let namespace = get(labels, "__meta_kubernetes_namespace").unwrap_or("");
    let namespaced = |name: &str| {
        if namespace.is_empty() {
            name.to_owned()
        } else {
            format!("{namespace}/{name}")
        }
    };
    if let Some(name) = get(labels, "__meta_kubernetes_endpoints_name") {
        observation.config = attributes(labels, P, &["endpoint_", "pod_", "service_"]);
        if get(labels, "__meta_kubernetes_endpoint_address_target_kind") == Some("Pod") {
            if let Some(pod) = get(labels, "__meta_kubernetes_endpoint_address_target_name") {
                observation.relations.push(Relation::new(
                    "targets",
                    "kubernetes.pod",
                    namespaced(pod),
                ));
            }
        }
        return Some(("kubernetes.endpoints", namespaced(name)));
    }
    if let Some(name) = get(labels, "__meta_kubernetes_endpointslice_name") {
        observation.config = attributes(
            labels,
            P,
            &[
                "endpointslice_endpoint",
                "endpointslice_port",
                "endpointslice_address_target",
                "pod_",
                "service_",
            ],
        );
        if get(
            labels,
            "__meta_kubernetes_endpointslice_address_target_kind",
        ) == Some("Pod")
        {
            if let Some(pod) = get(
                labels,
                "__meta_kubernetes_endpointslice_address_target_name",
            ) {
                observation.relations.push(Relation::new(
                    "targets",
                    "kubernetes.pod",
                    namespaced(pod),
                ));
            }
        }
        return Some(("kubernetes.endpointslice", namespaced(name)));
    }
    if let Some(name) = get(labels, "__meta_kubernetes_pod_name") {
        observation.config = attributes(labels, P, &["pod_container_"]);
        if let Some(node) = get(labels, "__meta_kubernetes_pod_node_name") {
            observation
                .relations
                .push(Relation::new("runs-on", "kubernetes.node", node));
        }
        if let Some(ip) = get(labels, "__meta_kubernetes_pod_ip") {
            observation.addresses.push(ip.to_owned());
        }
        return Some(("kubernetes.pod", namespaced(name)));
    }
    if let Some(name) = get(labels, "__meta_kubernetes_service_name") {
        observation.config = attributes(labels, P, &["service_port_"]);
        observation.relations.push(Relation::new(
            "backed-by",
            "kubernetes.endpoints",
            namespaced(name),
        ));
        if let Some(ip) = get(labels, "__meta_kubernetes_service_cluster_ip") {
            observation.addresses.push(ip.to_owned());
        }
        return Some(("kubernetes.service", namespaced(name)));
    }
    if let Some(name) = get(labels, "__meta_kubernetes_node_name") {
        observation.config = attributes(labels, P, &[]);
        for (label, value) in labels {
            if label.starts_with("__meta_kubernetes_node_address_") {
                observation.addresses.push(value.clone());
            }
        }
        return Some(("kubernetes.node", name.to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pods_merge_container_ports_and_link_their_node() {
        let port = |number: &str| {
            labels(&[
                ("__address__", &format!("10.0.0.5:{number}")),
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_pod_name", "web-0"),
                ("__meta_kubernetes_pod_node_name", "node-1"),
                ("__meta_kubernetes_pod_ip", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_port_number", number),
            ])
        };
        let group = TargetGroup {
            source: "pods".into(),
            targets: vec![port("80"), port("9100")],
            labels: Labels::new(),
        };
        let cis = from_discovery("kubernetes", "prod", &[group]);
        assert_eq!(cis.len(), 1);
        let pod = &cis[0];
        assert_eq!(
            pod.key,
            Some(CiKey::new(
                "kubernetes/prod",
                "kubernetes.pod",
                "default/web-0"
            ))
        );
        assert_eq!(
            pod.config.get("pod_node_name").map(String::as_str),
            Some("node-1")
        );
        assert!(!pod.config.keys().any(|k| k.starts_with("pod_container_")));
        assert_eq!(
            pod.relations,
            vec![Relation::new("runs-on", "kubernetes.node", "node-1")]
        );
        assert_eq!(pod.addresses, vec!["10.0.0.5"]);
    }

    #[test]
    fn ec2_instances_link_subnet_and_vpc() {
        let target = labels(&[
            ("__address__", "10.1.2.3:80"),
            ("__meta_ec2_instance_id", "i-123"),
            ("__meta_ec2_instance_type", "t3.micro"),
            ("__meta_ec2_subnet_id", ",subnet-1,subnet-2,"),
            ("__meta_ec2_vpc_id", "vpc-1"),
            ("__meta_ec2_private_ip", "10.1.2.3"),
        ]);
        let cis = from_discovery(
            "ec2",
            "eu",
            &[TargetGroup {
                source: "x".into(),
                targets: vec![target],
                labels: Labels::new(),
            }],
        );
        assert_eq!(cis[0].key.as_ref().map(|k| k.key.as_str()), Some("i-123"));
        assert_eq!(
            cis[0].config.get("instance_type").map(String::as_str),
            Some("t3.micro")
        );
        assert_eq!(
            cis[0].relations,
            vec![
                Relation::new("in-subnet", "ec2.subnet", "subnet-1"),
                Relation::new("in-subnet", "ec2.subnet", "subnet-2"),
                Relation::new("in-vpc", "ec2.vpc", "vpc-1"),
            ]
        );
    }

    #[test]
    fn static_targets_keep_group_labels() {
        let group = TargetGroup {
            source: "s".into(),
            targets: vec![labels(&[("__address__", "127.0.0.1:9100")])],
            labels: labels(&[("env", "prod")]),
        };
        let cis = from_discovery("static-discovery", "local", &[group]);
        assert_eq!(cis[0].config.get("env").map(String::as_str), Some("prod"));
        assert_eq!(cis[0].addresses, vec!["127.0.0.1"]);
    }
}
