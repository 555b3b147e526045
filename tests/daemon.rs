//! The daemon through its API: task persistence across restarts, validated config reload
//! while scraping goes on, `/write` partial acceptance, auth.

mod common;

use std::time::Duration;

use common::{Weir, eventually, free_port, http, peer};
use serde_json::Value;

const BASE: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
"#;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn tasks_survive_a_restart_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let weir = Weir::start_in(&dir, BASE, port);
    let define = r#"{"id":"cpu","type":"stream","dbrps":[{"db":"telegraf","rp":"autogen"}],
        "script":"stream|from().measurement('cpu')|window().period(10s).every(10s)|mean('usage')|httpOut('mean')","status":"enabled"}"#;
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(define),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let disabled = r#"{"id":"idle","type":"stream","dbrps":[{"db":"telegraf","rp":"autogen"}],
        "script":"stream|from().measurement('idle')|log()","status":"disabled"}"#;
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(disabled),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    weir.stop();

    let weir = Weir::start_in(&dir, BASE, port);
    let (status, body) = http("GET", &format!("{}/kapacitor/v1/tasks", weir.url), None).unwrap();
    assert_eq!(status, 200);
    let tasks = json(&body);
    let tasks = tasks["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{body}");
    let cpu = tasks.iter().find(|t| t["id"] == "cpu").expect("cpu task");
    assert_eq!(cpu["status"], "enabled");
    assert_eq!(cpu["executing"], true, "{cpu}");
    let idle = tasks.iter().find(|t| t["id"] == "idle").expect("idle task");
    assert_eq!(idle["status"], "disabled");
    assert_eq!(idle["executing"], false);
    weir.stop();
}

#[test]
fn write_accepts_good_lines_and_names_the_bad_one() {
    let weir = Weir::start(BASE);
    let define = r#"{"id":"t","type":"stream","dbrps":[{"db":"db","rp":"autogen"}],
        "script":"stream|from().measurement('m')|httpOut('last')","status":"enabled"}"#;
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(define),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let lines = "m,host=a value=1 1700000000000000000\nm,host=a value= 1700000001000000000\nm,host=a value=3 1700000002000000000\n";
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=db&rp=autogen", weir.url),
        Some(lines),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("line 2")),
        "{body}"
    );
    let last = eventually(Duration::from_secs(10), || {
        let (_, body) = http(
            "GET",
            &format!("{}/kapacitor/v1/tasks/t/last", weir.url),
            None,
        )
        .ok()?;
        let value = json(&body);
        let row = value["series"][0]["values"][0].clone();
        (row[1].as_f64() == Some(3.0)).then_some(row)
    });
    assert!(
        last.is_some(),
        "the good line after the bad one was not accepted; log:\n{}",
        weir.log()
    );
    let (status, _) = http("POST", &format!("{}/write", weir.url), Some("m value=1")).unwrap();
    assert_eq!(status, 400, "a write without db is refused");
    weir.stop();
}

#[test]
fn broken_config_is_rejected_while_scraping_continues() {
    let Some(node) = peer("NODE_EXPORTER_URL") else {
        return;
    };
    let address = node
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let good = format!(
        r#"{BASE}
[[static-discovery]]
id = "nodes"
targets = ["{address}"]
[[scraper]]
enabled = true
name = "node"
db = "prom"
rp = "autogen"
scrape-interval = "1s"
scrape-timeout = "900ms"
discoverer-id = "nodes"
discoverer-service = "static-discovery"
"#
    );
    let weir = Weir::start(&good);
    let scraped = || -> u64 {
        let (_, body) = http("GET", &format!("{}/metrics", weir.url), None).unwrap_or_default();
        body.lines()
            .find_map(|line| line.strip_prefix("weir_scraped_points_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(15), || (scraped() > 0).then_some(())).is_some(),
        "{}",
        weir.log()
    );

    let broken = good.replace("scrape-interval = \"1s\"", "scrape-interval = ");
    std::fs::write(
        &weir.config,
        broken
            .replace("@DIR@", &weir.dir.display().to_string())
            .replace("@PORT@", weir.url.rsplit(':').next().unwrap_or("0")),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 400, "{body}");
    let (_, body) = http("GET", &format!("{}/weir/v1/config/status", weir.url), None).unwrap();
    let config_status = json(&body);
    assert_eq!(config_status["state"], "rejected", "{body}");
    assert!(
        config_status["reason"]
            .as_str()
            .is_some_and(|r| r.contains("weir.toml:")),
        "{body}"
    );
    let before = scraped();
    assert!(
        eventually(Duration::from_secs(10), || (scraped() > before)
            .then_some(()))
        .is_some(),
        "scraping stopped after a rejected config; log:\n{}",
        weir.log()
    );

    let fixed = good.replace("name = \"node\"", "name = \"node2\"");
    std::fs::write(
        &weir.config,
        fixed
            .replace("@DIR@", &weir.dir.display().to_string())
            .replace("@PORT@", weir.url.rsplit(':').next().unwrap_or("0")),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, body) = http("GET", &format!("{}/weir/v1/config/status", weir.url), None).unwrap();
    let config_status = json(&body);
    assert_eq!(config_status["state"], "applied", "{body}");
    assert!(
        config_status["running_revision"]
            .as_u64()
            .is_some_and(|r| r >= 2),
        "{body}"
    );
    let (_, body) = http("GET", &format!("{}/weir/v1/scrapers", weir.url), None).unwrap();
    assert!(body.contains("node2"), "{body}");
    let before = scraped();
    assert!(
        eventually(Duration::from_secs(10), || (scraped() > before)
            .then_some(()))
        .is_some(),
        "{}",
        weir.log()
    );
    weir.stop();
}

#[test]
fn auth_protects_everything_but_ping() {
    let token_hash = common::sha256_hex("s3cret");
    let weir = Weir::start(&format!(
        "{BASE}auth-enabled = true\n[[http.users]]\ntoken-sha256 = \"{token_hash}\"\n"
    ));
    let (status, _) = http("GET", &format!("{}/kapacitor/v1/ping", weir.url), None).unwrap();
    assert_eq!(status, 204);
    let (status, _) = http("GET", &format!("{}/kapacitor/v1/tasks", weir.url), None).unwrap();
    assert_eq!(status, 401);
    let (status, _) = http("POST", &format!("{}/write?db=x", weir.url), Some("m v=1")).unwrap();
    assert_eq!(status, 401);
    let (status, _) = common::http_with(
        "GET",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        None,
        Some("Bearer wrong"),
    )
    .unwrap();
    assert_eq!(status, 401);
    let (status, body) = common::http_with(
        "GET",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        None,
        Some("Bearer s3cret"),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = common::http_with(
        "POST",
        &format!("{}/write?db=x", weir.url),
        Some("m v=1"),
        Some("Bearer s3cret"),
    )
    .unwrap();
    assert_eq!(status, 204);
    weir.stop();
}

#[test]
fn https_serves_the_api_with_the_configured_certificate() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
            "openssl is needed to make a test certificate"
        );
        eprintln!("skipped: openssl not available");
        return;
    }
    let config = format!(
        "{BASE}https-enabled = true\nhttps-certificate = \"{}\"\nhttps-private-key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let weir = Weir::start_in(&dir, &config, free_port());
    assert!(weir.url.starts_with("https://"));
    let (status, body) = http("GET", &format!("{}/kapacitor/v1/tasks", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let plain = weir.url.replace("https://", "http://");
    assert!(
        http("GET", &format!("{plain}/kapacitor/v1/ping"), None)
            .map_or(true, |(status, _)| status != 204)
    );
    weir.stop();
}

/// `ssl-server-name`: weir scrapes its own HTTPS listener at 127.0.0.1, whose certificate
/// names only `metrics.internal`. Named so, the scrape verifies (TLS sends and checks that
/// name while dialling the target's address); without it the certificate does not match.
#[test]
fn ssl_server_name_checks_the_certificate_against_that_name_while_dialling_the_target() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let Some((ca, cert, key)) = common::certificates_for(&dir, "metrics.internal") else {
        return;
    };
    let scraper = |name: &str, server_name: &str| {
        format!(
            r#"
[[scraper]]
enabled = true
name = "{name}"
db = "self"
rp = "autogen"
scheme = "https"
scrape-interval = "300ms"
scrape-timeout = "250ms"
ssl-ca = "{}"
ssl-server-name = "{server_name}"
discoverer-id = "self"
discoverer-service = "static-discovery"
"#,
            ca.display()
        )
    };
    let config = format!(
        "{BASE}https-enabled = true\nhttps-certificate = \"{}\"\nhttps-private-key = \"{}\"\n\
         [[static-discovery]]\nid = \"self\"\ntargets = [\"127.0.0.1:@PORT@\"]\n{}{}",
        cert.display(),
        key.display(),
        scraper("named", "metrics.internal"),
        scraper("unnamed", ""),
    );
    let weir = Weir::start_in(&dir, &config, free_port());
    let target = |scraper: &str| -> Value {
        let (_, body) = http(
            "GET",
            &format!("{}/weir/v1/targets?scraper={scraper}", weir.url),
            None,
        )
        .unwrap_or_default();
        json(&body)["targets"][0].clone()
    };
    let timeout = Duration::from_secs(15);
    let named = eventually(timeout, || {
        let named = target("named");
        (named["state"] == "healthy").then_some(named)
    })
    .unwrap_or_else(|| panic!("named: {}\n{}", target("named"), weir.log()));
    let address = weir.url.trim_start_matches("https://").to_owned();
    assert_eq!(named["labels"]["instance"], address.as_str(), "{named}");
    assert_eq!(
        named["url"],
        format!("https://{address}/metrics"),
        "{named}"
    );
    assert!(named["last_samples"].as_u64() > Some(0), "{named}");
    let unnamed = eventually(timeout, || {
        let unnamed = target("unnamed");
        unnamed["last_error"].is_string().then_some(unnamed)
    })
    .unwrap_or_else(|| panic!("unnamed: {}", target("unnamed")));
    let error = unnamed["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("certificate"), "{unnamed}");
    assert!(
        error.contains(&address),
        "the error names the target: {unnamed}"
    );
    assert_ne!(unnamed["state"], "healthy", "{unnamed}");
    weir.stop();
}

/// Issue 5's reload bar: a reload that changes one scraper of fifty leaves the other
/// forty-nine scraping without a gap. weir scrapes its own `/metrics` fifty times over; a
/// restarted scraper starts its targets' counters from zero, so counters that only ever grow
/// prove the forty-nine were never stopped, and the changed one proves the check can fail.
/// A tick counts whether it scraped or skipped (an overloaded machine may time scrapes out
/// and open a circuit): what is tested is that every target's loop kept running.
#[test]
fn reloading_one_scraper_of_fifty_leaves_the_others_running() {
    let scrapers = |changed_interval: &str| {
        let mut config = format!(
            "{BASE}\n[[static-discovery]]\nid = \"self\"\ntargets = [\"127.0.0.1:@PORT@\"]\n"
        );
        for n in 0..50 {
            let interval = if n == 0 { changed_interval } else { "500ms" };
            config.push_str(&format!(
                "[[scraper]]\nenabled = true\nname = \"s{n:02}\"\ndb = \"self\"\nrp = \"autogen\"\n\
                 scrape-interval = \"{interval}\"\nscrape-timeout = \"400ms\"\n\
                 discoverer-id = \"self\"\ndiscoverer-service = \"static-discovery\"\n"
            ));
        }
        config
    };
    let weir = Weir::start(&scrapers("500ms"));
    let counts = || -> std::collections::BTreeMap<String, u64> {
        let (_, body) =
            http("GET", &format!("{}/weir/v1/targets", weir.url), None).unwrap_or_default();
        json(&body)["targets"]
            .as_array()
            .map(|targets| {
                targets
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t["scraper"].as_str()?.to_owned(),
                            t["scrapes_total"].as_u64()? + t["skipped_total"].as_u64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let warm = eventually(Duration::from_secs(20), || {
        let counts = counts();
        (counts.len() == 50 && counts.values().all(|&c| c >= 3)).then_some(counts)
    })
    .unwrap_or_else(|| {
        panic!(
            "fifty scrapers never all ran: {:?}\n{}",
            counts(),
            weir.log()
        )
    });

    let port = weir.url.rsplit(':').next().unwrap_or("0").to_owned();
    std::fs::write(
        &weir.config,
        scrapers("1s")
            .replace("@DIR@", &weir.dir.display().to_string())
            .replace("@PORT@", &port),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");

    // Sample the counters until the reload has visibly happened (s00's counter went back)
    // and the forty-nine have ticked four more times each: at every sample they never go
    // back.
    let mut last = warm.clone();
    let mut restarted_changed = false;
    let after = eventually(Duration::from_secs(20), || {
        let now = counts();
        for (name, &count) in &now {
            let before = last.get(name).copied().unwrap_or(0);
            if name == "s00" {
                restarted_changed |= count < before;
            } else {
                assert!(
                    count >= before,
                    "scraper {name} was restarted by a reload that did not change it ({before} -> {count})\n{}",
                    weir.log()
                );
            }
        }
        last.extend(now);
        let ticked = warm
            .iter()
            .filter(|(name, _)| name.as_str() != "s00")
            .all(|(name, &before)| last.get(name).is_some_and(|&c| c >= before + 4));
        (restarted_changed && ticked).then_some(())
    });
    assert!(
        after.is_some(),
        "after the reload: s00 restarted: {restarted_changed}; counts: {:?}\nlog:\n{}",
        counts(),
        weir.log()
    );
    weir.stop();
}

/// Issue 8 through the daemon: while the time-series database is unreachable the points a
/// task writes wait in the disk buffer, and `/weir/v1/sinks` and `/metrics` show how many,
/// with the retry count and the cause; pointing the sink at the real InfluxDB with a reload
/// delivers every one of them and the queue drains to zero.
#[test]
fn sink_outage_is_visible_and_a_reload_delivers_the_buffered_points() {
    let Some(influx) = peer("INFLUXDB_URL") else {
        return;
    };
    for q in [
        "DROP%20DATABASE%20weir_outage",
        "CREATE%20DATABASE%20weir_outage",
    ] {
        http("POST", &format!("{influx}/query?q={q}"), None).expect("influxdb reachable");
    }
    let dead = format!("http://127.0.0.1:{}", free_port());
    let config = |url: &str| {
        format!(
            r#"{BASE}
[[influxdb]]
name = "tsdb"
default = true
urls = ["{url}"]
flush-interval = "100ms"
timeout = "1s"
buffer = "disk"
"#
        )
    };
    let weir = Weir::start(&config(&dead));
    let script = "dbrp \"app\".\"autogen\"\nstream\n    |from()\n        .measurement('req')\n    |influxDBOut()\n        .database('weir_outage')\n        .retentionPolicy('autogen')\n";
    let define =
        serde_json::json!({"id": "copy", "type": "stream", "script": script, "status": "enabled"});
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let lines: String = (0..500)
        .map(|i| format!("req,host=h{} latency={i} {}\n", i % 5, 1_700_000_000 + i))
        .collect();
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=app&rp=autogen&precision=s", weir.url),
        Some(&lines),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");

    let sink = || -> Value {
        let (_, body) =
            http("GET", &format!("{}/weir/v1/sinks", weir.url), None).unwrap_or_default();
        json(&body)["sinks"]
            .as_array()
            .and_then(|sinks| sinks.iter().find(|s| s["name"] == "tsdb").cloned())
            .unwrap_or(Value::Null)
    };
    let queued = eventually(Duration::from_secs(15), || {
        let sink = sink();
        (sink["queued_points"] == 500 && sink["retried"].as_u64().is_some_and(|r| r > 0))
            .then_some(sink)
    })
    .unwrap_or_else(|| panic!("the outage is not visible: {}\n{}", sink(), weir.log()));
    assert_eq!(queued["buffer"], "disk", "{queued}");
    assert!(
        queued["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&dead)),
        "the error names the URL: {queued}"
    );
    let (_, metrics) = http("GET", &format!("{}/metrics", weir.url), None).unwrap();
    assert!(
        metrics.contains("weir_sink_queue_points{sink=\"tsdb\"} 500"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("weir_sink"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let port = weir.url.rsplit(':').next().unwrap_or("0").to_owned();
    std::fs::write(
        &weir.config,
        config(&influx)
            .replace("@DIR@", &weir.dir.display().to_string())
            .replace("@PORT@", &port),
    )
    .unwrap();
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let count = || {
        common::influx_query(&influx, "weir_outage", "SELECT count(latency) FROM req")["results"][0]
            ["series"][0]["values"][0][1]
            .as_u64()
    };
    assert!(
        eventually(Duration::from_secs(20), || (count() == Some(500))
            .then_some(()))
        .is_some(),
        "InfluxDB has {:?} of 500 points; sink {}\n{}",
        count(),
        sink(),
        weir.log()
    );
    let drained = eventually(Duration::from_secs(10), || {
        let sink = sink();
        (sink["queued_points"] == 0 && sink["written"] == 500).then_some(())
    });
    assert!(drained.is_some(), "{}", sink());
    weir.stop();
}
