//! weir's labels against Prometheus 2.42 (Debian) for the same peer: this test starts its own
//! Prometheus on a free port with `file_sd_configs` on temp files, `ec2_sd_configs` on the
//! running moto server, and `http_sd_configs`, `marathon_sd_configs` and `triton_sd_configs`
//! on fakes of those APIs that the test serves itself, `nerve_sd_configs` and
//! `serverset_sd_configs` on the running ZooKeeper, `azure_sd_configs` on an Azure fake (as an
//! Azure Stack cloud whose endpoints come from `AZURE_ENVIRONMENT_FILEPATH`), reads
//! `discoveredLabels` from `GET /api/v1/targets?state=any`, and compares them label by label
//! with the target groups weir's discoverers produce from the same files, instances and fakes.
//!
//! The only differences allowed are listed in [`SCRAPE_CONFIG_LABELS`]: labels Prometheus
//! adds from its scrape config, not from discovery.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_discoverers::{DiscoveryConfig, DiscoveryManager};
use weir_engine::Labels;

/// Deliberate differences: Prometheus puts these into `discoveredLabels` from the scrape
/// config (`job_name`, `scheme`, `metrics_path`, `scrape_interval`, `scrape_timeout`) when
/// the target group does not set them. In weir they belong to the `[[scraper]]` section and
/// are applied by the scraper, so a discoverer does not produce them; when a group does set
/// one (file_sd `labels`), weir keeps it and it is compared like any other label.
const SCRAPE_CONFIG_LABELS: [&str; 5] = [
    "job",
    "__scheme__",
    "__metrics_path__",
    "__scrape_interval__",
    "__scrape_timeout__",
];

/// Prometheus' global `scrape_interval` and `scrape_timeout` here (long: nothing is scraped).
const SCRAPE_INTERVAL: &str = "1h";
const SCRAPE_TIMEOUT: &str = "10s";

/// A Prometheus of our own, killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Start with `scrape_configs` (YAML, indented by two); `None` when the binary is
    /// missing and peers are not required.
    fn start(scrape_configs: &str) -> Option<Prometheus> {
        Prometheus::start_with_env(scrape_configs, &[])
    }

    /// As [`Prometheus::start`], with extra environment variables.
    fn start_with_env(scrape_configs: &str, env: &[(&str, String)]) -> Option<Prometheus> {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: {SCRAPE_TIMEOUT}\n\
             scrape_configs:\n{scrape_configs}"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = common::free_port();
        let log = std::fs::File::create(dir.path().join("log")).expect("log file");
        let child = match Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--log.level=warn")
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                assert!(!common::require_peers(), "cannot run prometheus: {error}");
                println!("skipped: cannot run prometheus: {error}");
                return None;
            }
        };
        Some(Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// `discoveredLabels` of every active and dropped target; empty until it answers.
    async fn discovered(&mut self) -> Vec<Labels> {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited with {status}:\n{}", self.log());
        }
        let Ok(response) = reqwest::get(format!("{}/api/v1/targets?state=any", self.url)).await
        else {
            return Vec::new();
        };
        let Ok(body) = response.json::<serde_json::Value>().await else {
            return Vec::new();
        };
        let data = &body["data"];
        ["activeTargets", "droppedTargets"]
            .iter()
            .flat_map(|list| data[list].as_array().cloned().unwrap_or_default())
            .filter_map(|target| serde_json::from_value(target["discoveredLabels"].clone()).ok())
            .collect()
    }

    /// Poll until `matches` holds for the discovered targets (at most 60 s).
    async fn wait_for(&mut self, what: &str, matches: impl Fn(&[Labels]) -> bool) -> Vec<Labels> {
        let started = Instant::now();
        loop {
            let targets = self.discovered().await;
            if matches(&targets) {
                return targets;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "prometheus never listed {what}; last: {targets:#?}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus' labels with the deliberate differences taken out: a scrape-config label weir
/// does not have must carry exactly the scrape config's value, and is then removed.
fn without_scrape_config(mut labels: Labels, weir: &Labels, job: &str) -> Labels {
    for name in SCRAPE_CONFIG_LABELS {
        if weir.contains_key(name) {
            continue;
        }
        let expected = match name {
            "job" => job,
            "__scheme__" => "http",
            "__metrics_path__" => "/metrics",
            "__scrape_interval__" => SCRAPE_INTERVAL,
            _ => SCRAPE_TIMEOUT,
        };
        assert_eq!(
            labels.remove(name).as_deref(),
            Some(expected),
            "prometheus' {name} for {labels:?}"
        );
    }
    labels
}

/// Compare label by label, matching targets on `key`; every difference, one line each.
fn differences(weir: &[Labels], prometheus: &[Labels], key: &str, job: &str) -> Vec<String> {
    let by_key = |targets: &[Labels]| -> BTreeMap<String, Labels> {
        targets
            .iter()
            .map(|labels| (labels.get(key).cloned().unwrap_or_default(), labels.clone()))
            .collect()
    };
    let weir = by_key(weir);
    let prometheus = by_key(prometheus);
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = weir.keys().chain(prometheus.keys()).collect();
    for target in keys {
        match (weir.get(target), prometheus.get(target)) {
            (Some(ours), Some(theirs)) => {
                let theirs = without_scrape_config(theirs.clone(), ours, job);
                let names: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
                for name in names {
                    if ours.get(name) != theirs.get(name) {
                        out.push(format!(
                            "{target}: {name}: weir {:?}, prometheus {:?}",
                            ours.get(name),
                            theirs.get(name)
                        ));
                    }
                }
            }
            (Some(_), None) => out.push(format!("{target}: only weir has it")),
            (None, Some(_)) => out.push(format!("{target}: only prometheus has it")),
            (None, None) => {}
        }
    }
    out
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a file_sd file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_labels_match_prometheus() {
    let files = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = files.path().canonicalize().expect("canonical temp dir");
    write(
        &dir.join("a.json"),
        r#"[
  {"targets": ["127.0.0.1:19999", "host-b:9100"], "labels": {"env": "test", "team": "infra"}},
  {"targets": ["10.0.0.1:80"],
   "labels": {"__metrics_path__": "/probe", "__param_module": "http_2xx", "__scheme__": "https",
              "job": "blackbox"}},
  {"targets": ["10.0.0.2:80"]},
  {"targets": ["10.0.0.3:80"], "labels": {"empty": "", "quoted": "say \"hi\"\n"}},
  {"targets": [], "labels": {"unused": "group"}}
]"#,
    );
    write(
        &dir.join("b.yml"),
        "- targets: ['10.0.0.4:9100', 'no-port-host', '[::1]:9100']\n  labels:\n    \
         unicode: \"h\u{e9}llo \u{2713}\"\n    __address__: overridden\n- targets:\n",
    );
    let json_glob = format!("{}/*.json", dir.display());
    let yaml_glob = format!("{}/*.yml", dir.display());
    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: file\n    file_sd_configs:\n      - files: ['{json_glob}', '{yaml_glob}']\n"
    )) else {
        return;
    };

    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[file-discovery]]\nid = \"f\"\nfiles = [{json_glob:?}, {yaml_glob:?}]\n"
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("file-discovery", "f");
    manager.apply(&config);
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::targets(groups).len() == 8
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("8 file_sd targets", |targets| targets.len() == 8)
        .await;
    let found = differences(&ours, &theirs, "__address__", "file");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    manager.shutdown().await;
}

#[cfg(feature = "ec2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_labels_match_prometheus() {
    use common::ec2_api::{ec2_call, xml_values};

    let Some(endpoint) = common::peer("AWS_ENDPOINT_URL") else {
        return;
    };
    let run = format!(
        "prom-{}-{}",
        std::process::id(),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos())
    );
    let images = ec2_call(
        &endpoint,
        &[("Action", "DescribeImages"), ("Owner.1", "amazon")],
    )
    .await;
    // Two images: moto's first is a Windows one (`__meta_ec2_platform`), the others are not.
    let amis = xml_values(&images, "imageId");
    assert!(amis.len() >= 2, "moto lists images: {images}");
    let mut instances = Vec::new();
    for (ami, instance_type, zone) in [
        (&amis[0], "t3.micro", "us-east-1a"),
        (&amis[1], "m5.large", "us-east-1b"),
        (&amis[1], "c5.xlarge", "us-east-1a"),
    ] {
        let text = ec2_call(
            &endpoint,
            &[
                ("Action", "RunInstances"),
                ("ImageId", ami),
                ("MinCount", "1"),
                ("MaxCount", "1"),
                ("InstanceType", instance_type),
                ("Placement.AvailabilityZone", zone),
                ("TagSpecification.1.ResourceType", "instance"),
                ("TagSpecification.1.Tag.1.Key", "weirtest"),
                ("TagSpecification.1.Tag.1.Value", &run),
                ("TagSpecification.1.Tag.2.Key", "Name"),
                ("TagSpecification.1.Tag.2.Value", instance_type),
                ("TagSpecification.1.Tag.3.Key", "k8s.io/role-x"),
                ("TagSpecification.1.Tag.3.Value", "a b,c"),
                ("TagSpecification.1.Tag.4.Key", "empty"),
                ("TagSpecification.1.Tag.4.Value", ""),
            ],
        )
        .await;
        instances.extend(xml_values(&text, "instanceId"));
    }
    assert_eq!(instances.len(), 3);
    // A stopped instance is listed by both (neither filters on state unless told to).
    ec2_call(
        &endpoint,
        &[("Action", "StopInstances"), ("InstanceId.1", &instances[2])],
    )
    .await;

    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: ec2\n    ec2_sd_configs:\n      - endpoint: {endpoint}\n        \
         region: us-east-1\n        access_key: testing\n        secret_key: testing\n        \
         port: 9100\n        refresh_interval: 2s\n        filters:\n          \
         - name: tag:weirtest\n            values: ['{run}']\n"
    )) else {
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[ec2]]
        id = "e"
        region = "us-east-1"
        endpoint = "{endpoint}"
        access-key = "testing"
        secret-key = "testing"
        port = 9100
        refresh-interval = "1h"
        filters = [{{name = "tag:weirtest", values = ["{run}"]}}]
        "#
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("ec2", "e");
    manager.apply(&config);
    let stopped = |targets: &[Labels]| {
        targets.len() == 3
            && targets
                .iter()
                .any(|t| t.get("__meta_ec2_instance_state").map(String::as_str) == Some("stopped"))
    };
    common::wait_for(&mut groups, Duration::from_secs(20), |groups| {
        stopped(&common::targets(groups))
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("the 3 instances, one stopped", stopped)
        .await;
    let found = differences(&ours, &theirs, "__meta_ec2_instance_id", "ec2");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    ec2_call(
        &endpoint,
        &[
            ("Action", "TerminateInstances"),
            ("InstanceId.1", &instances[0]),
            ("InstanceId.2", &instances[1]),
            ("InstanceId.3", &instances[2]),
        ],
    )
    .await;
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sd_labels_match_prometheus() {
    use common::http_server::{Response, Server};

    // One endpoint for both, with basic auth: groups with and without labels, a label that
    // overrides a scrape-config one, empty and unicode values, an empty group.
    let server = Server::start(|request| {
        if request.header("authorization") != Some("Basic cHJvbTpzZWNyZXQ=") {
            return Response::status(401, "who are you");
        }
        Response::with_type(
            200,
            "application/json; charset=utf-8",
            r#"[
  {"targets": ["127.0.0.1:19999", "host-b:9100"], "labels": {"env": "test", "team": "infra"}},
  {"targets": ["10.0.0.1:80"],
   "labels": {"__metrics_path__": "/probe", "__param_module": "http_2xx", "job": "blackbox"}},
  {"targets": ["10.0.0.2:80"]},
  {"targets": ["10.0.0.3:80"], "labels": {"empty": "", "unicode": "h\u00e9llo \u2713"}},
  {"targets": [], "labels": {"unused": "group"}}
]"#,
        )
    })
    .await;
    let url = format!("{}/sd?x=1", server.url);
    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: http\n    http_sd_configs:\n      - url: '{url}'\n        \
         refresh_interval: 2s\n        basic_auth:\n          username: prom\n          \
         password: secret\n"
    )) else {
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[http-discovery]]\nid = \"h\"\nurl = \"{url}\"\nusername = \"prom\"\n\
         password = \"secret\"\n"
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("http-discovery", "h");
    manager.apply(&config);
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::targets(groups).len() == 5
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("5 http_sd targets", |targets| targets.len() == 5)
        .await;
    assert!(
        theirs
            .iter()
            .all(|labels| labels.get("__meta_url") == Some(&url)),
        "prometheus sets __meta_url: {theirs:#?}"
    );
    let found = differences(&ours, &theirs, "__address__", "http");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    manager.shutdown().await;
}

/// The apps a Marathon fake serves at `/v2/apps/?embed=apps.tasks`: every way Prometheus
/// picks a port (task ports, port mappings in both places, container networks, port
/// definitions with and without `requirePorts`), labels with odd names, an app without
/// tasks and one without an image.
fn marathon_apps() -> serde_json::Value {
    serde_json::json!({"apps": [
        {"id": "/web", "labels": {"team.name": "infra", "HAPROXY_0_VHOST": "web.example"},
         "container": {"type": "DOCKER", "docker": {"image": "nginx:1.25"}},
         "tasksRunning": 2,
         "tasks": [{"id": "web.a1", "host": "10.0.0.1", "ports": [31000, 31001], "appId": "/web"},
                   {"id": "web.a2", "host": "10.0.0.2", "ports": [31002, 31003]}]},
        {"id": "/bridge", "container": {"docker": {"image": "app:2"},
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 10001,
                              "labels": {"metrics": "/m", "bad-name": "x"}}]},
         "tasks": [{"id": "bridge.1", "host": "agent-3", "ports": [31500]}]},
        {"id": "/legacy", "container": {"docker": {"image": "old:1", "portMappings": [
            {"containerPort": 9100, "hostPort": 31600}]}},
         "tasks": [{"id": "legacy.1", "host": "agent-4", "ports": [31600]}]},
        {"id": "/overlay", "networks": [{"mode": "container", "name": "dcos"}],
         "container": {"portMappings": [{"containerPort": 9273, "labels": {"scrape": "yes"}}]},
         "tasks": [{"id": "overlay.1", "host": "agent-5",
                    "ipAddresses": [{"ipAddress": "9.0.0.5", "protocol": "IPv4"}]}]},
        {"id": "/defs", "requirePorts": true,
         "portDefinitions": [{"port": 9000, "labels": {"kind": "fixed"}}, {"port": 9001}],
         "tasks": [{"id": "defs.1", "host": "agent-6", "ports": [9000, 9001]}]},
        {"id": "/service-port", "portDefinitions": [{"port": 10000, "labels": {"x": "y"}}],
         "tasks": [{"id": "sp.1", "host": "agent-7", "ports": [31777]}]},
        {"id": "/idle", "labels": {"a": "b"}, "tasks": []},
        {"id": "/noimage", "tasks": [{"id": "ni.1", "host": "agent-8", "ports": [31888]}]}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathon_labels_match_prometheus() {
    use common::http_server::{Response, Server};

    let server = Server::start(|request| {
        if request.header("authorization") != Some("Bearer m-token") {
            return Response::status(401, "{\"message\": \"unauthorized\"}");
        }
        if request.path() != "/v2/apps/" || request.query("embed").as_deref() != Some("apps.tasks")
        {
            return Response::status(404, "{\"message\": \"not found\"}");
        }
        Response::json(&marathon_apps())
    })
    .await;
    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: marathon\n    marathon_sd_configs:\n      - servers: ['{}']\n        \
         refresh_interval: 2s\n        bearer_token: m-token\n",
        server.url
    )) else {
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[marathon]]\nid = \"m\"\nservers = [\"{}\"]\nbearer-token = \"m-token\"\n",
        server.url
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("marathon", "m");
    manager.apply(&config);
    const N_TARGETS: usize = 11;
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::targets(groups).len() == N_TARGETS
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("the marathon tasks", |targets| targets.len() == N_TARGETS)
        .await;
    let key = |labels: &Labels| {
        format!(
            "{}#{}",
            labels
                .get("__meta_marathon_task")
                .cloned()
                .unwrap_or_default(),
            labels
                .get("__meta_marathon_port_index")
                .cloned()
                .unwrap_or_default()
        )
    };
    let keyed = |targets: &[Labels]| -> Vec<Labels> {
        targets
            .iter()
            .map(|labels| {
                let mut labels = labels.clone();
                labels.insert("test_key".to_owned(), key(&labels));
                labels
            })
            .collect()
    };
    let found = differences(&keyed(&ours), &keyed(&theirs), "test_key", "marathon");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_labels_match_prometheus() {
    use common::http_server::{Response, Server, certificates};

    let dir = tempfile::tempdir().expect("tempdir");
    let Some((ca, cert, key)) = certificates(dir.path(), "cmon.weir.test") else {
        return;
    };
    let server = Server::start_tls(
        |request| match request.path() {
            "/v1/discover" => Response::json(&serde_json::json!({"containers": [
                {"groups": ["web", "prod"], "server_uuid": "44454c4c-5000-104d-8037-b7c04f5a5131",
                 "vm_alias": "web-1", "vm_brand": "lx",
                 "vm_image_uuid": "7b27a514-89d7-11e6-bee6-3f96f367bee7",
                 "vm_uuid": "ad466fbf-46a2-4027-9b64-8d3cdb7e9072"},
                {"groups": [], "server_uuid": "44454c4c-5000-104d-8037-b7c04f5a5131",
                 "vm_alias": "", "vm_brand": "joyent",
                 "vm_image_uuid": "a5894692-bd32-4ca1-908a-e2dda3c3a5e6",
                 "vm_uuid": "b39a1d4d-2c6e-4a43-99a4-7ab5e1b1f0b2"}]})),
            _ => Response::status(404, "not found"),
        },
        &cert,
        &key,
    )
    .await;
    let port = server.port;
    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: triton\n    triton_sd_configs:\n      - account: weir\n        \
         dns_suffix: cmon.weir.test\n        endpoint: 127.0.0.1\n        port: {port}\n        \
         version: 1\n        refresh_interval: 2s\n        tls_config:\n          \
         ca_file: {}\n",
        ca.display()
    )) else {
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[triton]]\nid = \"t\"\naccount = \"weir\"\ndns-suffix = \"cmon.weir.test\"\n\
         endpoint = \"127.0.0.1\"\nport = {port}\nssl-ca = \"{}\"\n",
        ca.display()
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("triton", "t");
    manager.apply(&config);
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::targets(groups).len() == 2
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("the 2 triton containers", |targets| targets.len() == 2)
        .await;
    let found = differences(&ours, &theirs, "__address__", "triton");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nerve_and_serverset_labels_match_prometheus() {
    use common::zk;

    let Some((client, servers, root)) = zk::connect("prom").await else {
        return;
    };
    // Members at several depths, with and without optional fields, IPv6, odd endpoint names,
    // a node that is not a member, and a member at the watched path itself.
    let nerve = format!("{root}/nerve");
    for (path, data) in [
        ("", r#"{"host": "10.9.0.1", "port": 1, "name": "root"}"#),
        (
            "/web/i-1",
            r#"{"host": "10.0.0.1", "port": 9100, "name": "web_1", "weight": 2}"#,
        ),
        ("/web/i-2", r#"{"host": "::1", "port": 9101}"#),
        (
            "/web/deep/i-3",
            r#"{"host": "10.0.0.3", "port": 9102, "name": ""}"#,
        ),
        ("/web/junk", "not json"),
    ] {
        zk::put(&client, &format!("{nerve}{path}"), data.as_bytes()).await;
    }
    let serverset = format!("{root}/serverset");
    for (path, data) in [
        (
            "/job/member_0000000001",
            r#"{"serviceEndpoint": {"host": "10.1.0.1", "port": 8080},
                "additionalEndpoints": {"admin-http": {"host": "10.1.0.1", "port": 9990},
                                        "aurora": {"host": "10.1.0.1", "port": 8080}},
                "status": "ALIVE", "shard": 1}"#,
        ),
        (
            "/job/member_0000000002",
            r#"{"serviceEndpoint": {"host": "10.1.0.2", "port": 8081}, "status": "DEAD"}"#,
        ),
        ("/job/empty", ""),
    ] {
        zk::put(&client, &format!("{serverset}{path}"), data.as_bytes()).await;
    }
    let Some(mut prometheus) = Prometheus::start(&format!(
        "  - job_name: nerve\n    nerve_sd_configs:\n      - servers: ['{servers}']\n        \
         paths: ['{nerve}']\n  - job_name: serverset\n    serverset_sd_configs:\n      \
         - servers: ['{servers}']\n        paths: ['{serverset}']\n"
    )) else {
        zk::delete_tree(&client, &root).await;
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[nerve]]\nid = \"n\"\nservers = [\"{servers}\"]\npaths = [\"{nerve}\"]\n\
         [[serverset]]\nid = \"s\"\nservers = [\"{servers}\"]\npaths = [\"{serverset}\"]\n"
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut nerve_groups = manager.subscribe("nerve", "n");
    let mut serverset_groups = manager.subscribe("serverset", "s");
    manager.apply(&config);
    common::wait_for(&mut nerve_groups, Duration::from_secs(15), |groups| {
        common::targets(groups).len() == 4
    })
    .await;
    common::wait_for(&mut serverset_groups, Duration::from_secs(15), |groups| {
        common::targets(groups).len() == 2
    })
    .await;
    let theirs = prometheus
        .wait_for("4 nerve and 2 serverset members", |targets| {
            targets.len() == 6
        })
        .await;
    let job = |name: &str| -> Vec<Labels> {
        theirs
            .iter()
            .filter(|labels| labels.get("job").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    };
    let mut found = differences(
        &common::targets(&nerve_groups.borrow()),
        &job("nerve"),
        "__meta_nerve_path",
        "nerve",
    );
    found.extend(differences(
        &common::targets(&serverset_groups.borrow()),
        &job("serverset"),
        "__meta_serverset_path",
        "serverset",
    ));
    manager.shutdown().await;
    zk::delete_tree(&client, &root).await;
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_labels_match_prometheus() {
    use common::fake_azure::{self, CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION, TENANT};
    use common::http_server::Server;

    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let shared = base.clone();
    let server = Server::start(move |request| {
        fake_azure::handle(request, shared.get().map_or("", String::as_str))
    })
    .await;
    base.set(server.url.clone()).unwrap();
    // Prometheus takes an Azure Stack cloud's endpoints from this file (go-autorest's
    // EnvironmentFromName); that is how it is pointed at the fake.
    let dir = tempfile::tempdir().expect("tempdir");
    let environment = dir.path().join("azure.json");
    let endpoint = format!("{}/", server.url);
    std::fs::write(
        &environment,
        serde_json::json!({
            "name": "AzureStackCloud", "managementPortalURL": endpoint,
            "resourceManagerEndpoint": endpoint, "activeDirectoryEndpoint": endpoint,
            "galleryEndpoint": endpoint, "keyVaultEndpoint": endpoint,
            "graphEndpoint": endpoint, "serviceManagementEndpoint": endpoint,
            "storageEndpointSuffix": "local", "keyVaultDNSSuffix": "vault.local",
            "resourceIdentifiers": {}
        })
        .to_string(),
    )
    .expect("write the environment file");
    let Some(mut prometheus) = Prometheus::start_with_env(
        &format!(
            "  - job_name: azure\n    azure_sd_configs:\n      - environment: AzureStackCloud\n        \
             subscription_id: {SUBSCRIPTION}\n        tenant_id: {TENANT}\n        \
             client_id: {CLIENT_ID}\n        client_secret: {CLIENT_SECRET}\n        \
             port: 9100\n        refresh_interval: 2s\n"
        ),
        &[(
            "AZURE_ENVIRONMENT_FILEPATH",
            environment.display().to_string(),
        )],
    ) else {
        return;
    };
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[azure]]\nid = \"a\"\nsubscription-id = \"{SUBSCRIPTION}\"\ntenant-id = \"{TENANT}\"\n\
         client-id = \"{CLIENT_ID}\"\nclient-secret = \"{CLIENT_SECRET}\"\nport = 9100\n\
         resource-manager-endpoint = \"{endpoint}\"\nactive-directory-endpoint = \"{endpoint}\"\n"
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("azure", "a");
    manager.apply(&config);
    // Prometheus 2.42 lists deallocated VMs too (later versions skip them).
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::targets(groups).len() == 4
    })
    .await;
    let ours = common::targets(&groups.borrow());
    let theirs = prometheus
        .wait_for("the 4 azure VMs", |targets| targets.len() == 4)
        .await;
    let found = differences(&ours, &theirs, "__address__", "azure");
    assert!(
        found.is_empty(),
        "weir and prometheus disagree:\n{}",
        found.join("\n")
    );
    manager.shutdown().await;
}
