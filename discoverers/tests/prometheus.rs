//! weir's labels against Prometheus 2.42 (Debian) for the same peer: this test starts its own
//! Prometheus on a free port with `file_sd_configs` on temp files, `ec2_sd_configs` on the
//! running moto server and `http_sd_configs` on an endpoint the test serves, reads
//! `discoveredLabels` from `GET /api/v1/targets?state=any`, and compares them label by label
//! with the target groups weir's discoverers produce for the same files, instances and URL.
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
