//! The CI change sink end to end: weir follows the Kubernetes fake (the project's copy of an
//! apiserver that speaks the real list/watch protocol) and a file_sd file, records created,
//! updated (field-level diff) and deleted changes, links pods to nodes, and deletes nothing
//! while a source is down.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Weir, eventually, free_port, http};
use serde_json::{Value, json};

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
           "status": {"addresses": [{"type": "InternalIP", "address": format!("10.1.0.{}", name.len())}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
}

fn pod(node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"nodeName": node, "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
           "status": {"phase": "Running", "podIP": "10.2.0.7", "hostIP": "10.1.0.6",
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

/// Run the CLI against the daemon; its standard output.
fn cli(weir: &Weir, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .args(["--url", &weir.url])
        .output()
        .expect("run weir");
    assert!(
        output.status.success(),
        "weir {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn get(weir: &Weir, path: &str) -> Value {
    let (_, body) = http("GET", &format!("{}{path}", weir.url), None).unwrap_or_default();
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn changes(weir: &Weir, query: &str) -> Vec<Value> {
    get(weir, &format!("/weir/v1/changes?{query}"))["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `weir_discovery_refreshes_total` of one discovery source for `result` (`success` or
/// `error`), read from `/metrics`; 0 while the series is missing.
fn refreshes(weir: &Weir, kind: &str, id: &str, result: &str) -> u64 {
    let (_, text) = http("GET", &format!("{}/metrics", weir.url), None).unwrap_or_default();
    let series = format!(
        "weir_discovery_refreshes_total{{kind=\"{kind}\",id=\"{id}\",result=\"{result}\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Wait until source `kind`/`id` has ended `rounds` more rounds with `result` than it had
/// when this was called: proof that it ran before a test asserts that nothing changed.
fn wait_for_rounds(weir: &Weir, kind: &str, id: &str, result: &str, rounds: u64) {
    let start = refreshes(weir, kind, id, result);
    eventually(Duration::from_secs(30), || {
        (refreshes(weir, kind, id, result) >= start + rounds).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{kind} {id}: not {rounds} more {result} rounds after {start} (now {}); log:\n{}",
            refreshes(weir, kind, id, result),
            weir.log()
        )
    });
}

fn write_file_sd(path: &Path, targets: &[&str]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        json!([{"targets": targets, "labels": {"env": "ci"}}]).to_string(),
    )
    .unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[test]
fn kubernetes_and_file_changes_are_recorded_with_diffs_and_relationships() {
    let port = free_port();
    let Some(fake) = common::start_kube(port) else {
        return;
    };
    let api = format!("http://127.0.0.1:{port}");
    common::kube_send("POST", &format!("{api}/api/v1/nodes"), &node("node-1"));
    common::kube_send("POST", &format!("{api}/api/v1/nodes"), &node("node-22"));
    common::kube_send(
        "POST",
        &format!("{api}/api/v1/namespaces/default/pods"),
        &pod("node-1"),
    );
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let file_sd = dir.join("targets.json");
    write_file_sd(&file_sd, &["10.3.0.1:9100", "10.3.0.2:9100"]);
    let weir = Weir::start_in(
        &dir,
        &format!(
            r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[kubernetes]]
id = "pods"
api-servers = ["{api}"]
resource = "pod"
[[kubernetes]]
id = "nodes"
api-servers = ["{api}"]
resource = "node"
[[file-discovery]]
id = "files"
files = ["{}"]
"#,
            file_sd.display()
        ),
        free_port(),
    );

    let created = eventually(Duration::from_secs(20), || {
        let pods = changes(&weir, "kind=kubernetes.pod");
        (!pods.is_empty()).then_some(pods)
    })
    .unwrap_or_else(|| panic!("pod never became a CI; log:\n{}", weir.log()));
    assert_eq!(created[0]["change"], "created");
    assert_eq!(created[0]["key"], "default/web-0");

    common::kube_send(
        "PUT",
        &format!("{api}/api/v1/namespaces/default/pods/web-0"),
        &pod("node-22"),
    );
    let updated = eventually(Duration::from_secs(20), || {
        changes(&weir, "kind=kubernetes.pod")
            .into_iter()
            .find(|c| c["change"] == "updated")
    })
    .unwrap_or_else(|| panic!("no updated change; log:\n{}", weir.log()));
    let diffs = updated["diffs"].as_array().cloned().unwrap_or_default();
    assert!(
        diffs.iter().any(|d| d["attribute"] == "pod_node_name"
            && d["old"] == "node-1"
            && d["new"] == "node-22"),
        "{updated}"
    );
    assert!(
        diffs.iter().any(|d| d["attribute"] == "relation:runs-on"),
        "{updated}"
    );
    let updates = changes(&weir, "kind=kubernetes.pod")
        .iter()
        .filter(|c| c["change"] == "updated")
        .count();
    assert_eq!(updates, 1, "exactly one update for one move");

    // What runs on node-22? Asked of the API and the CLI, without knowing the node's source.
    let on_node = get(&weir, "/weir/v1/cis?related=kubernetes.node:node-22");
    let ids: Vec<&str> = on_node["cis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ci| ci["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["kubernetes.pod:default/web-0@kubernetes/pods"],
        "{on_node}"
    );
    let on_node_1 = get(&weir, "/weir/v1/cis?related=kubernetes.node:node-1");
    assert_eq!(on_node_1["cis"], json!([]), "the pod left node-1");
    let printed = cli(&weir, &["cis", "--related", "kubernetes.node:node-22"]);
    assert!(
        printed.lines().any(
            |l| l.contains("kubernetes.pod:default/web-0@kubernetes/pods")
                && l.trim_end().ends_with("runs-on")
        ),
        "{printed}"
    );
    let printed = cli(&weir, &["ci", "kubernetes.node:node-22"]);
    assert!(
        printed.contains("← runs-on kubernetes.pod:default/web-0@kubernetes/pods"),
        "{printed}"
    );
    let (status, body) = http(
        "GET",
        &format!("{}/weir/v1/cis?related=node-22", weir.url),
        None,
    )
    .expect("weir reachable");
    assert!(
        status == 400 && body.contains("kind:key"),
        "{status} {body}"
    );

    // What changed in the last hour?
    let last_hour = changes(&weir, "since=1h&kind=kubernetes.pod");
    assert_eq!(last_hour.len(), 2, "{last_hour:?}");
    assert!(changes(&weir, "until=1h").is_empty(), "nothing is older");
    let printed = cli(
        &weir,
        &["changes", "--since", "1h", "--kind", "kubernetes.pod"],
    );
    assert!(
        printed.lines().any(|line| line
            .split_whitespace()
            .skip(1)
            .take(2)
            .eq(["updated", "kubernetes.pod:default/web-0@kubernetes/pods"])),
        "{printed}"
    );
    assert!(
        printed.contains("pod_node_name: node-1 → node-22"),
        "{printed}"
    );

    let node_ci = get(
        &weir,
        "/weir/v1/cis/kubernetes.node:node-22@kubernetes%2Fnodes",
    );
    assert!(
        node_ci["incoming"].as_array().is_some_and(|i| i
            .iter()
            .any(|r| r["from"] == "kubernetes.pod:default/web-0@kubernetes/pods")),
        "{node_ci}"
    );

    common::kube_send(
        "DELETE",
        &format!("{api}/api/v1/namespaces/default/pods/web-0"),
        &json!({}),
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            changes(&weir, "kind=kubernetes.pod")
                .into_iter()
                .find(|c| c["change"] == "deleted")
        })
        .is_some(),
        "no deleted change; log:\n{}",
        weir.log()
    );

    write_file_sd(&file_sd, &["10.3.0.1:9100"]);
    let removed = eventually(Duration::from_secs(20), || {
        changes(&weir, "kind=file.target")
            .into_iter()
            .find(|c| c["change"] == "deleted")
    })
    .unwrap_or_else(|| panic!("no file.target deletion; log:\n{}", weir.log()));
    assert_eq!(removed["key"], "10.3.0.2:9100");

    // A source that goes down deletes nothing: look once both Kubernetes sources have
    // failed three rounds in a row (the third opens their circuit: no more rounds for a minute).
    let failed = [
        refreshes(&weir, "kubernetes", "pods", "error"),
        refreshes(&weir, "kubernetes", "nodes", "error"),
    ];
    drop(fake);
    eventually(Duration::from_secs(30), || {
        (refreshes(&weir, "kubernetes", "pods", "error") >= failed[0] + 3
            && refreshes(&weir, "kubernetes", "nodes", "error") >= failed[1] + 3)
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the Kubernetes sources did not fail three rounds after {failed:?}; log:\n{}",
            weir.log()
        )
    });
    let node_deletions = changes(&weir, "kind=kubernetes.node")
        .into_iter()
        .filter(|c| c["change"] == "deleted")
        .count();
    assert_eq!(node_deletions, 0, "a failing source deleted its items");
    let nodes = get(&weir, "/weir/v1/cis?kind=kubernetes.node");
    assert_eq!(nodes["cis"].as_array().map_or(0, Vec::len), 2, "{nodes}");
    weir.stop();
}

/// A tiny exposition endpoint whose `node_uname_info` release the test can change.
struct InfoTarget {
    address: String,
    release: std::sync::Arc<std::sync::Mutex<String>>,
}

impl InfoTarget {
    fn start(release: &str) -> InfoTarget {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let release = std::sync::Arc::new(std::sync::Mutex::new(release.to_owned()));
        let serving = release.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let release = serving.lock().unwrap().clone();
                let body = format!(
                    "# TYPE node_uname_info gauge\n\
                     node_uname_info{{machine=\"x86_64\",nodename=\"test-host\",release=\"{release}\",sysname=\"Linux\"}} 1\n"
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        InfoTarget { address, release }
    }

    fn set_release(&self, release: &str) {
        *self.release.lock().unwrap() = release.to_owned();
    }
}

fn scraper(name: &str, targets: &str) -> String {
    format!(
        r#"
[[static-discovery]]
id = "{name}"
targets = ["{targets}"]
[[scraper]]
enabled = true
name = "{name}"
db = "weir"
rp = "autogen"
scrape-interval = "1s"
scrape-timeout = "900ms"
metrics-path = "/metrics"
discoverer-id = "{name}"
discoverer-service = "static-discovery"
"#
    )
}

#[test]
fn ci_out_turns_node_uname_info_into_host_items_with_history() {
    let Some(node) = common::peer("NODE_EXPORTER_URL") else {
        return;
    };
    let node_address = node
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let target = InfoTarget::start("6.1.0-18-amd64");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/host_info.tick");
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[task]]
id = "host_info"
path = "{script}"
{}{}"#,
        scraper("node", &node_address),
        scraper("own", &target.address),
    ));

    // The real node_exporter becomes a host CI with its uname as configuration.
    let host_id = format!("host:{node_address}@pipeline/host_info");
    let host = eventually(Duration::from_secs(30), || {
        let host = get(
            &weir,
            &format!("/weir/v1/cis/{}", host_id.replace('/', "%2F")),
        );
        host["config"]["kernel"].is_string().then_some(host)
    })
    .unwrap_or_else(|| panic!("no host CI {host_id}; log:\n{}", weir.log()));
    let uname = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(host["config"]["os"], "Linux", "{host}");
    assert_eq!(host["config"]["kernel"], uname.as_str(), "{host}");
    assert!(host["config"]["machine"].is_string(), "{host}");
    assert_eq!(
        host["metrics"]["value"], 1.0,
        "the info value is a metric: {host}"
    );
    // The host is linked to the discovered target it was scraped as.
    let linked = eventually(Duration::from_secs(20), || {
        let host = get(
            &weir,
            &format!("/weir/v1/cis/{}", host_id.replace('/', "%2F")),
        );
        host["outgoing"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["kind"] == "discovered-as")
            .cloned()
    })
    .unwrap_or_else(|| panic!("{host_id} never linked to its target; log:\n{}", weir.log()));
    assert_eq!(
        linked["targets"],
        json!([format!(
            "static.target:{node_address}@static-discovery/node"
        )]),
        "{linked}"
    );
    let hosts = get(&weir, "/weir/v1/cis?kind=host&source=pipeline");
    assert_eq!(hosts["cis"].as_array().map_or(0, Vec::len), 2, "{hosts}");

    // A kernel upgrade on our own target is one `updated` change with the kernel diff.
    let own_id = format!("host:{}@pipeline/host_info", target.address);
    eventually(Duration::from_secs(30), || {
        changes(&weir, &format!("ci={}", own_id.replace('/', "%2F")))
            .into_iter()
            .find(|c| c["change"] == "created")
    })
    .unwrap_or_else(|| panic!("own target never became a host CI; log:\n{}", weir.log()));
    target.set_release("6.1.0-21-amd64");
    let updated = eventually(Duration::from_secs(30), || {
        changes(&weir, "kind=host").into_iter().find(|c| {
            c["change"] == "updated"
                && c["diffs"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["attribute"] == "kernel"))
        })
    })
    .unwrap_or_else(|| panic!("no kernel update; log:\n{}", weir.log()));
    assert_eq!(updated["ci"], own_id.as_str(), "{updated}");
    assert_eq!(
        updated["diffs"],
        json!([{"attribute": "kernel", "old": "6.1.0-18-amd64", "new": "6.1.0-21-amd64"}]),
        "only configuration is audited"
    );
    // Scrapes keep observing both hosts; nothing else changes and nothing is deleted. Look
    // once each host has been observed three more times (its `seen` time moved three times).
    let seen = |id: &str| {
        get(&weir, &format!("/weir/v1/cis/{}", id.replace('/', "%2F")))["seen"]
            .as_i64()
            .unwrap_or(0)
    };
    let ids = [host_id.as_str(), own_id.as_str()];
    let mut last = ids.map(seen);
    let mut observed = [0; 2];
    eventually(Duration::from_secs(30), || {
        for (n, id) in ids.iter().enumerate() {
            let now = seen(id);
            if now > last[n] {
                (last[n], observed[n]) = (now, observed[n] + 1);
            }
        }
        observed.iter().all(|&count| count >= 3).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "hosts observed {observed:?} more times; log:\n{}",
            weir.log()
        )
    });
    // Per host: one `created` entry that already names the link to its target (the link is
    // made in the same write), and the kernel upgrade.
    let history = changes(&weir, "kind=host");
    for created in history.iter().filter(|c| c["change"] == "created") {
        assert!(
            created["diffs"].as_array().is_some_and(|diffs| diffs
                .iter()
                .any(|d| d["attribute"] == "relation:discovered-as" && d["old"].is_null())),
            "{created}"
        );
    }
    let mut summary: Vec<(String, String)> = history
        .iter()
        .map(|c| {
            let attributes: Vec<&str> = c["diffs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["attribute"].as_str())
                .collect();
            let what = match c["change"].as_str() {
                Some("updated") => attributes.join(","),
                other => other.unwrap_or("").to_owned(),
            };
            (c["ci"].as_str().unwrap_or("").to_owned(), what)
        })
        .collect();
    summary.sort();
    let mut expected = vec![
        (host_id.clone(), "created".to_owned()),
        (own_id.clone(), "created".to_owned()),
        (own_id.clone(), "kernel".to_owned()),
    ];
    expected.sort();
    assert_eq!(summary, expected, "{history:?}");
    weir.stop();
}

/// One EC2 Query API call to moto. moto routes a request by the service in the credential
/// scope of its `Authorization` header and does not check the signature.
fn ec2_call(endpoint: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = [("Version", "2016-11-15")]
        .iter()
        .chain(params)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let url = format!("{}/?{}", endpoint.trim_end_matches('/'), query.join("&"));
    let authorization = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, \
                         SignedHeaders=host, Signature=00";
    let (status, text) =
        common::http_with("POST", &url, None, Some(authorization)).expect("moto reachable");
    assert!(status < 300, "{params:?}: {status}: {text}");
    text
}

fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn ec2_tag_changes_reach_the_history() {
    let Some(endpoint) = common::peer("AWS_ENDPOINT_URL") else {
        return;
    };
    let images = ec2_call(
        &endpoint,
        &[("Action", "DescribeImages"), ("Owner.1", "amazon")],
    );
    let ami = xml_values(&images, "imageId")
        .into_iter()
        .next()
        .expect("moto lists images");
    let run = format!("ci-{}-{}", std::process::id(), free_port());
    let started = ec2_call(
        &endpoint,
        &[
            ("Action", "RunInstances"),
            ("ImageId", &ami),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("InstanceType", "t3.micro"),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "weirtest"),
            ("TagSpecification.1.Tag.1.Value", &run),
            ("TagSpecification.1.Tag.2.Key", "env"),
            ("TagSpecification.1.Tag.2.Value", "test"),
        ],
    );
    let instance = xml_values(&started, "instanceId")
        .into_iter()
        .next()
        .expect("an instance id");
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[ec2]]
id = "aws"
region = "us-east-1"
endpoint = "{endpoint}"
access-key = "testing"
secret-key = "testing"
refresh-interval = "1s"
filters = [{{name = "tag:weirtest", values = ["{run}"]}}]
"#
    ));
    let id = format!("ec2.instance:{instance}@ec2/aws");
    let ci_query = format!("ci={}", id.replace('/', "%2F"));
    eventually(Duration::from_secs(30), || {
        changes(&weir, &ci_query)
            .into_iter()
            .find(|c| c["change"] == "created")
    })
    .unwrap_or_else(|| panic!("instance never became a CI; log:\n{}", weir.log()));
    let item = get(&weir, &format!("/weir/v1/cis/{}", id.replace('/', "%2F")));
    assert_eq!(item["config"]["tag_env"], "test", "{item}");
    assert_eq!(item["config"]["instance_type"], "t3.micro", "{item}");
    let outgoing = item["outgoing"].as_array().cloned().unwrap_or_default();
    for relation in ["in-subnet", "in-vpc"] {
        assert!(
            outgoing.iter().any(|r| r["kind"] == relation
                && r["target_key"].as_str().is_some_and(|k| !k.contains(','))),
            "{relation}: {item}"
        );
    }

    ec2_call(
        &endpoint,
        &[
            ("Action", "CreateTags"),
            ("ResourceId.1", &instance),
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "staging"),
            ("Tag.2.Key", "owner"),
            ("Tag.2.Value", "team-a"),
        ],
    );
    let updated = eventually(Duration::from_secs(30), || {
        changes(&weir, &ci_query)
            .into_iter()
            .find(|c| c["change"] == "updated")
    })
    .unwrap_or_else(|| panic!("no updated change; log:\n{}", weir.log()));
    assert_eq!(
        updated["diffs"],
        json!([
            {"attribute": "tag_env", "old": "test", "new": "staging"},
            {"attribute": "tag_owner", "old": null, "new": "team-a"},
        ]),
        "{updated}"
    );
    // Later refreshes of the unchanged instance record nothing more: look after three more
    // successful rounds (the last two started after the update was recorded).
    wait_for_rounds(&weir, "ec2", "aws", "success", 3);
    let history: Vec<Value> = changes(&weir, &ci_query);
    assert_eq!(history.len(), 2, "{history:?}");
    ec2_call(
        &endpoint,
        &[
            ("Action", "TerminateInstances"),
            ("InstanceId.1", &instance),
        ],
    );
    weir.stop();
}

#[test]
fn dns_records_link_to_the_items_they_resolve_to() {
    let (Some(dns_server), Some(hosts_dir)) =
        (common::peer("DNS_SERVER"), common::peer("DNS_HOSTS_DIR"))
    else {
        return;
    };
    // A name of our own in dnsmasq's live hosts directory, on an address only this test uses.
    let pid = std::process::id();
    let name = format!("ci-{pid}.test.local");
    let ip = format!("10.77.{}.{}", (pid >> 8) & 0xff, pid & 0xff);
    let hosts_file = Path::new(&hosts_dir).join(format!("weir-ci-{pid}"));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    // The name is added once the target it resolves to is a CI (below): until dnsmasq
    // answers, a round finds no record (not an error), and a later one finds it.
    let _remove = Remove(hosts_file.clone());
    let weir = Weir::start(&format!(
        r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
[[dns]]
id = "names"
type = "A"
port = 80
refresh-interval = "1s"
record-names = ["{name}"]
nameservers = ["{dns_server}"]
[[static-discovery]]
id = "hosts"
targets = ["{ip}:9100"]
"#
    ));
    let record_id = format!("dns.record:{name}/{ip}:80@dns/names");
    let target_id = format!("static.target:{ip}:9100@static-discovery/hosts");
    eventually(Duration::from_secs(30), || {
        get(
            &weir,
            &format!("/weir/v1/cis/{}", target_id.replace('/', "%2F")),
        )["id"]
            .is_string()
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{target_id} never became a CI; log:\n{}", weir.log()));
    std::fs::write(&hosts_file, format!("{ip} {name}\n")).expect("hosts file");
    let record = eventually(Duration::from_secs(30), || {
        let record = get(
            &weir,
            &format!("/weir/v1/cis/{}", record_id.replace('/', "%2F")),
        );
        record["outgoing"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
            .then_some(record)
    })
    .unwrap_or_else(|| {
        panic!(
            "{record_id} never resolved to anything; log:\n{}",
            weir.log()
        )
    });
    assert_eq!(
        record["outgoing"],
        json!([{"kind": "resolves-to", "target_kind": "static.target",
                "target_key": format!("{ip}:9100"), "targets": [target_id]}]),
        "{record}"
    );
    let target = get(
        &weir,
        &format!("/weir/v1/cis/{}", target_id.replace('/', "%2F")),
    );
    assert_eq!(
        target["incoming"],
        json!([{"kind": "resolves-to", "from": record_id}]),
        "{target}"
    );
    // The link is a change of the record; re-resolving the same answer changes nothing:
    // look after three more successful rounds.
    wait_for_rounds(&weir, "dns", "names", "success", 3);
    let record_query = format!("ci={}", record_id.replace('/', "%2F"));
    let history = changes(&weir, &record_query);
    let kinds: Vec<&str> = history
        .iter()
        .filter_map(|c| c["change"].as_str())
        .collect();
    // One `created` entry, with the link made in the same write; no `updated` after it.
    assert_eq!(kinds, ["created"], "{history:?}");
    let links: Vec<&Value> = history[0]["diffs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["attribute"] == "relation:resolves-to")
        .collect();
    assert_eq!(
        links,
        [&json!({"attribute": "relation:resolves-to", "old": null,
                 "new": format!("static.target:{ip}:9100")})],
        "{history:?}"
    );
    weir.stop();
}
