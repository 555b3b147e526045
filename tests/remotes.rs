//! Remote collectors: a central `weir serve` registers and enrolls collectors and
//! restricts their machine credential; a remote `weir serve` with a `[remote]` section
//! enrolls and heartbeats.

mod common;

use std::time::Duration;

use common::{Weir, eventually, http, http_with};
use serde_json::Value;

const CENTRAL: &str =
    "data_dir = \"@DIR@\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n[load]\nenabled = false\n";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn create(central: &Weir, name: &str) -> Value {
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes", central.url),
        Some(&format!("{{\"name\": \"{name}\"}}")),
    )
    .expect("create");
    assert_eq!(status, 201, "{body}");
    json(&body)
}

fn remote(central: &Weir, id: &str) -> Value {
    let (status, body) =
        http("GET", &format!("{}/weir/v1/remotes", central.url), None).expect("list");
    assert_eq!(status, 200, "{body}");
    json(&body)["remotes"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["id"] == id).cloned())
        .unwrap_or_else(|| panic!("{id} not listed: {body}"))
}

#[test]
fn enrollment_token_is_one_time_and_the_credential_is_confined() {
    let central = Weir::start(CENTRAL);
    let created = create(&central, "edge-1");
    assert_eq!(created["status"], "pending");
    let token = created["enrollment_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(created["token_expires_at"].is_string());
    let id = created["id"].as_str().expect("id").to_owned();
    // Registered names are unique.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes", central.url),
        Some("{\"name\": \"edge-1\"}"),
    )
    .expect("create again");
    assert_eq!(status, 409);
    // The token never shows again.
    assert!(remote(&central, &id).get("enrollment_token").is_none());

    let enroll = |token: &str| {
        http_with(
            "POST",
            &format!("{}/weir/v1/collector/enroll", central.url),
            Some("{\"hostname\": \"h1\", \"os\": \"linux\", \"version\": \"0.1.0\", \"instance_id\": \"i1\"}"),
            Some(&format!("Bearer {token}")),
        )
        .expect("enroll")
    };
    let (status, body) = enroll(&token);
    assert_eq!(status, 200, "{body}");
    let enrolled = json(&body);
    assert_eq!(enrolled["id"], id.as_str());
    let credential = enrolled["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let listed = remote(&central, &id);
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["hostname"], "h1");

    // Used token: refused, saying so.
    let (status, body) = enroll(&token);
    assert_eq!(status, 401);
    assert!(body.contains("already used"), "{body}");
    // An enrolled collector gets no new token.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/token", central.url),
        None,
    )
    .expect("token");
    assert_eq!(status, 409);

    // A pending one does, and the old token stops working.
    let second = create(&central, "edge-2");
    let old = second["enrollment_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let second_id = second["id"].as_str().expect("id").to_owned();
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{second_id}/token", central.url),
        None,
    )
    .expect("token");
    assert_eq!(status, 201, "{body}");
    let (status, body) = enroll(&old);
    assert_eq!(status, 401);
    assert!(body.contains("unknown enrollment token"), "{body}");
    let fresh = fresh_token(&central, &second_id);
    let (status, body) = enroll(&fresh);
    assert_eq!(status, 200, "{body}");

    // The machine credential: collector endpoints and /write into its database only.
    let bearer = format!("Bearer {credential}");
    let call = |method: &str, path: &str, body: Option<&str>| {
        http_with(
            method,
            &format!("{}{path}", central.url),
            body,
            Some(&bearer),
        )
        .expect(path)
    };
    assert_eq!(call("GET", "/kapacitor/v1/tasks", None).0, 403);
    assert_eq!(call("GET", "/weir/v1/remotes", None).0, 403);
    assert_eq!(call("POST", "/write?db=other", Some("m v=1")).0, 403);
    assert_eq!(call("POST", "/write?db=remotes", Some("m v=1")).0, 204);
    // An upload sent twice with one id is written once.
    let upload = |id: &str| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/write?db=remotes&precision=s", central.url))
                .bearer_auth(&credential)
                .header("X-Weir-Upload-Id", id)
                .body("uploaded v=1 1700000000\nuploaded v=2 1700000001\n")
                .send()
                .await
                .expect("upload")
                .status()
                .as_u16()
        })
    };
    assert_eq!(upload("u1"), 204);
    assert_eq!(upload("u1"), 204);
    assert_eq!(upload("u2"), 204);
    // Counts are added up after the answer: wait for a later write to show.
    assert_eq!(
        call("POST", "/write?db=remotes", Some("sentinel v=1")).0,
        204
    );
    eventually(Duration::from_secs(10), || {
        (ingress_measurement(&central, "sentinel") == 1).then_some(())
    })
    .expect("the sentinel is counted");
    assert_eq!(
        ingress_measurement(&central, "uploaded"),
        4,
        "{:?}",
        http(
            "GET",
            &format!("{}/kapacitor/v1/debug/vars", central.url),
            None
        )
    );
    let (status, body) = call(
        "POST",
        "/weir/v1/collector/heartbeat",
        Some(
            "{\"version\": \"0.1.0\", \"instance_id\": \"i1\", \"interval_seconds\": 10, \"queue_points\": 3, \"dropped_points\": 2, \"clock_unix_seconds\": 1}",
        ),
    );
    assert_eq!(status, 200, "{body}");
    let listed = remote(&central, &id);
    assert_eq!(listed["queue_points"], 3);
    assert_eq!(listed["dropped_points"], 2);
    assert!(listed["clock_skew_seconds"].as_f64().expect("skew") < -1.0e9);
    assert!(listed["last_seen_age_seconds"].as_f64().is_some());

    // Central's watch writes one point per collector where a TICKscript can alert on it.
    eventually(Duration::from_secs(25), || {
        (ingress_measurement(&central, "weir_remotes") > 0).then_some(())
    })
    .expect("weir_remotes points in _weir");

    // Revoked: final, and the credential stops working.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/revoke", central.url),
        None,
    )
    .expect("revoke");
    assert_eq!(status, 200);
    assert_eq!(call("POST", "/write?db=remotes", Some("m v=1")).0, 403);
    assert_eq!(remote(&central, &id)["status"], "revoked");
}

/// A fresh token of a pending collector (the previous one is replaced).
fn fresh_token(central: &Weir, id: &str) -> String {
    let (_, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/token", central.url),
        None,
    )
    .expect("token");
    json(&body)["enrollment_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn remote_config(central: &Weir, token: &str) -> String {
    format!(
        "data_dir = \"@DIR@\"\nhostname = \"edge-host\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n[load]\nenabled = false\n[remote]\nurl = \"{}\"\nenrollment-token = \"{token}\"\ninsecure = true\nheartbeat-interval = \"1s\"\n",
        central.url
    )
}

fn own_status(remote: &Weir) -> Value {
    let (status, body) =
        http("GET", &format!("{}/weir/v1/remote", remote.url), None).expect("status");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

#[test]
fn a_remote_weir_enrolls_heartbeats_takes_revisions_and_is_refused_after_revoke() {
    let central = Weir::start(CENTRAL);
    let created = create(&central, "edge");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["enrollment_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let remote_weir = Weir::start(&remote_config(&central, &token));

    // create -> enroll -> active with heartbeat fields filled.
    let listed = eventually(Duration::from_secs(20), || {
        let listed = remote(&central, &id);
        let kept = remote_weir.dir.join("remote.json").exists();
        (listed["status"] == "active" && listed["last_seen"].is_string() && kept).then_some(listed)
    })
    .unwrap_or_else(|| {
        panic!(
            "never active: {}\n{}",
            remote(&central, &id),
            remote_weir.log()
        )
    });
    assert_eq!(listed["hostname"], "edge-host");
    assert_eq!(listed["version"], env!("CARGO_PKG_VERSION"));
    assert!(listed["clock_skew_seconds"].as_f64().expect("skew").abs() < 5.0);

    // A revision out of range is rejected with the reason; the next valid one is applied.
    let put = |document: &str| {
        let (status, body) = http(
            "PUT",
            &format!("{}/weir/v1/remotes/{id}/config", central.url),
            Some(document),
        )
        .expect("put config");
        assert_eq!(status, 201, "{body}");
        json(&body)["revision"].as_i64().expect("revision")
    };
    let first =
        put("{\"hostMetrics\": {\"enabled\": true, \"intervalSeconds\": 10}, \"futureThing\": 1}");
    eventually(Duration::from_secs(20), || {
        let listed = remote(&central, &id);
        (listed["config_revision"] == first && listed["config_state"] == "applied").then_some(())
    })
    .unwrap_or_else(|| panic!("revision {first} not applied: {}", remote(&central, &id)));
    let bad = put("{\"hostMetrics\": {\"enabled\": true, \"intervalSeconds\": 5}}");
    let listed = eventually(Duration::from_secs(20), || {
        let listed = remote(&central, &id);
        (listed["config_revision"] == bad).then_some(listed)
    })
    .unwrap_or_else(|| panic!("revision {bad} not acknowledged: {}", remote(&central, &id)));
    assert_eq!(listed["config_state"], "rejected");
    assert!(
        listed["config_error"]
            .as_str()
            .unwrap_or("")
            .contains("intervalSeconds: 5 is out of range"),
        "{listed}"
    );
    let status = own_status(&remote_weir);
    assert_eq!(
        status["config_revision"], first,
        "the previous revision keeps running"
    );
    assert_eq!(status["host_metrics_interval_seconds"], 10);
    let good = put("{\"hostMetrics\": {\"enabled\": true, \"intervalSeconds\": 20}}");
    eventually(Duration::from_secs(20), || {
        let listed = remote(&central, &id);
        (listed["config_revision"] == good && listed["config_state"] == "applied").then_some(())
    })
    .unwrap_or_else(|| panic!("revision {good} not applied: {}", remote(&central, &id)));

    // A second process with the same credential: duplicate suspected.
    let copy = tempfile::tempdir().expect("tempdir").keep();
    std::fs::copy(
        remote_weir.dir.join("remote.json"),
        copy.join("remote.json"),
    )
    .expect("copy");
    let twin = Weir::start_in(&copy, &remote_config(&central, ""), common::free_port());
    eventually(Duration::from_secs(20), || {
        (remote(&central, &id)["status"] == "duplicate_suspected").then_some(())
    })
    .unwrap_or_else(|| panic!("no duplicate suspected: {}", remote(&central, &id)));
    drop(twin);

    // Rotation: the remote picks up a new credential at its next heartbeat; the old one
    // stops working once the new one is used.
    let credential = |dir: &std::path::Path| {
        let text = std::fs::read_to_string(dir.join("remote.json")).expect("remote.json");
        json(&text)["credential"]
            .as_str()
            .expect("credential")
            .to_owned()
    };
    let old = credential(&remote_weir.dir);
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/rotate", central.url),
        None,
    )
    .expect("rotate");
    assert_eq!(status, 200, "{body}");
    eventually(Duration::from_secs(20), || {
        (credential(&remote_weir.dir) != old && remote(&central, &id)["rotation_pending"] == false)
            .then_some(())
    })
    .unwrap_or_else(|| panic!("not rotated: {}", remote(&central, &id)));
    eventually(Duration::from_secs(20), || {
        let (status, _) = http_with(
            "GET",
            &format!("{}/weir/v1/collector/config", central.url),
            None,
            Some(&format!("Bearer {old}")),
        )
        .expect("old credential");
        (status == 401).then_some(())
    })
    .expect("the old credential stops working");

    // Revoked: the remote says so in its log and its status.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/revoke", central.url),
        None,
    )
    .expect("revoke");
    assert_eq!(status, 200);
    eventually(Duration::from_secs(20), || {
        (own_status(&remote_weir)["state"] == "refused").then_some(())
    })
    .unwrap_or_else(|| panic!("remote not refused: {}", own_status(&remote_weir)));
    assert!(
        own_status(&remote_weir)["error"]
            .as_str()
            .unwrap_or("")
            .contains("revoked")
    );
    assert!(
        remote_weir
            .log()
            .contains("central refused this collector's credential")
    );
}

#[test]
fn a_plain_http_central_is_refused_without_insecure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[remote]\nurl = \"http://127.0.0.1:1\"\n").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["config", "--check"])
        .arg(&config)
        .output()
        .expect("weir config --check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("is plain HTTP: use https, or set insecure = true"),
        "{stderr}"
    );
}

fn count_lines(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.path().is_file())
                .map(|entry| {
                    std::fs::read_to_string(entry.path())
                        .unwrap_or_default()
                        .lines()
                        .filter(|line| !line.is_empty() && !line.starts_with('#'))
                        .count()
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Points received of one measurement, from `debug/vars`.
fn ingress_measurement(weir: &Weir, measurement: &str) -> u64 {
    let (_, body) = http(
        "GET",
        &format!("{}/kapacitor/v1/debug/vars", weir.url),
        None,
    )
    .expect("vars");
    json(&body)["kapacitor"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with("ingress:") && key.ends_with(&format!(":{measurement}")))
        .map(|(_, value)| value["values"]["points_received"].as_u64().unwrap_or(0))
        .sum()
}

/// Points received per database, from `debug/vars`.
fn ingress_points(weir: &Weir, database: &str) -> u64 {
    let (_, body) = http(
        "GET",
        &format!("{}/kapacitor/v1/debug/vars", weir.url),
        None,
    )
    .expect("vars");
    json(&body)["kapacitor"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with(&format!("ingress:{database}:")))
        .map(|(_, value)| value["values"]["points_received"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn uploads_survive_a_central_outage_and_count_once() {
    let central_dir = tempfile::tempdir().expect("tempdir").keep();
    let central_port = common::free_port();
    let central = Weir::start_in(&central_dir, CENTRAL, central_port);
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", central.url),
        Some(r#"{"id": "count", "type": "stream", "dbrps": [{"db": "remotes", "rp": "autogen"}], "status": "enabled",
                 "script": "stream|from().database('remotes')|influxDBOut().database('counted').retentionPolicy('autogen')"}"#),
    )
    .expect("define");
    assert_eq!(status, 200, "{body}");
    let created = create(&central, "edge");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["enrollment_token"].as_str().expect("token");
    // The remote scrapes its own /metrics every second into `remotes`.
    let config = format!(
        "{}[[static-discovery]]\nid = \"self\"\ntargets = [\"127.0.0.1:@PORT@\"]\n[[scraper]]\nenabled = true\nname = \"self\"\ndb = \"remotes\"\nrp = \"autogen\"\ndiscoverer-id = \"self\"\ndiscoverer-service = \"static-discovery\"\nscrape-interval = \"1s\"\nscrape-timeout = \"1s\"\n",
        remote_config(&central, token)
    );
    let remote_weir = Weir::start(&config);
    eventually(Duration::from_secs(30), || {
        (ingress_points(&central, "remotes") > 0).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "nothing uploaded: {}\n{}",
            remote(&central, &id),
            remote_weir.log()
        )
    });

    // Central goes away; the remote keeps collecting into its buffer.
    central.stop();
    let queued = |status: Value| status["queue_points"].as_u64().unwrap_or(0);
    let first = eventually(Duration::from_secs(30), || {
        Some(queued(own_status(&remote_weir))).filter(|points| *points > 0)
    })
    .unwrap_or_else(|| panic!("nothing queued: {}", own_status(&remote_weir)));
    // A few more scrapes while central is down.
    eventually(Duration::from_secs(30), || {
        (queued(own_status(&remote_weir)) >= 3 * first).then_some(())
    })
    .unwrap_or_else(|| panic!("the queue does not grow: {}", own_status(&remote_weir)));
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/scrapers/self", remote_weir.url),
        Some("{\"enabled\": false}"),
    )
    .expect("disable scraper");
    assert!(status < 300, "{body}");
    let central = Weir::start_in(&central_dir, CENTRAL, central_port);
    eventually(Duration::from_secs(60), || {
        (own_status(&remote_weir)["queue_points"] == 0).then_some(())
    })
    .unwrap_or_else(|| panic!("queue not drained: {}", own_status(&remote_weir)));
    // Every point the remote collected reached central's task once.
    let collected = ingress_points(&remote_weir, "remotes") as usize;
    let counted = eventually(Duration::from_secs(20), || {
        let counted = count_lines(&central_dir.join("lp"));
        (counted >= collected).then_some(counted)
    });
    assert_eq!(counted, Some(collected), "{}", central.log());

    // Host metrics on a revision's interval reach central too.
    let (status, body) = http(
        "PUT",
        &format!("{}/weir/v1/remotes/{id}/config", central.url),
        Some("{\"hostMetrics\": {\"enabled\": true, \"intervalSeconds\": 10}}"),
    )
    .expect("put config");
    assert_eq!(status, 201, "{body}");
    eventually(Duration::from_secs(30), || {
        (ingress_measurement(&central, "host") > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no host metrics: {}", own_status(&remote_weir)));
}

#[test]
fn a_full_buffer_drops_the_oldest_and_central_shows_the_count() {
    let central_dir = tempfile::tempdir().expect("tempdir").keep();
    let central_port = common::free_port();
    let central = Weir::start_in(&central_dir, CENTRAL, central_port);
    let created = create(&central, "small");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["enrollment_token"].as_str().expect("token");
    let config = format!(
        "{}buffer-max-size = 20000\n[[static-discovery]]\nid = \"self\"\ntargets = [\"127.0.0.1:@PORT@\"]\n[[scraper]]\nenabled = true\nname = \"self\"\ndb = \"remotes\"\nrp = \"autogen\"\ndiscoverer-id = \"self\"\ndiscoverer-service = \"static-discovery\"\nscrape-interval = \"1s\"\nscrape-timeout = \"1s\"\n",
        remote_config(&central, token)
    );
    let remote_weir = Weir::start(&config);
    eventually(Duration::from_secs(20), || {
        (remote(&central, &id)["status"] == "active").then_some(())
    })
    .expect("enrolled");
    central.stop();
    eventually(Duration::from_secs(30), || {
        (own_status(&remote_weir)["dropped_points"]
            .as_u64()
            .unwrap_or(0)
            > 0)
        .then_some(())
    })
    .unwrap_or_else(|| panic!("nothing dropped: {}", own_status(&remote_weir)));
    let (status, body) = http(
        "PATCH",
        &format!("{}/weir/v1/scrapers/self", remote_weir.url),
        Some("{\"enabled\": false}"),
    )
    .expect("disable scraper");
    assert!(status < 300, "{body}");
    let dropped = own_status(&remote_weir)["dropped_points"]
        .as_u64()
        .expect("dropped");
    let central = Weir::start_in(&central_dir, CENTRAL, central_port);
    eventually(Duration::from_secs(30), || {
        (remote(&central, &id)["dropped_points"] == dropped).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "central shows {}, the remote dropped {dropped}",
            remote(&central, &id)
        )
    });
}

/// A CA and a certificate for `weir-central` signed by it, made with openssl; `None` (a
/// skip) without openssl unless peers are required.
fn test_ca(dir: &std::path::Path) -> Option<()> {
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=weir-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=weir-central",
        "-addext",
        "subjectAltName=DNS:weir-central",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
    ]);
    if !made {
        assert!(
            std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
            "openssl is needed to make a test CA"
        );
        eprintln!("skipped: openssl not available");
        return None;
    }
    Some(())
}

#[test]
fn a_remote_enrolls_and_uploads_over_tls_checked_against_the_test_ca() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    if test_ca(&dir).is_none() {
        return;
    }
    let central_config = format!(
        "data_dir = \"@DIR@\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\nhttps-enabled = true\nhttps-certificate = \"{}\"\nhttps-private-key = \"{}\"\n[load]\nenabled = false\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    let central = Weir::start_in(&dir, &central_config, common::free_port());
    assert!(central.url.starts_with("https://"));
    let created = create(&central, "tls");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["enrollment_token"].as_str().expect("token");
    let config = format!(
        "data_dir = \"@DIR@\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n[load]\nenabled = false\n[remote]\nurl = \"{}\"\nenrollment-token = \"{token}\"\nca = \"{}\"\nserver-name = \"weir-central\"\nheartbeat-interval = \"1s\"\n",
        central.url,
        dir.join("ca.pem").display()
    );
    let remote_weir = Weir::start(&config);
    eventually(Duration::from_secs(20), || {
        let listed = remote(&central, &id);
        (listed["status"] == "active" && listed["last_seen_age_seconds"].as_f64().is_some())
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "not active over TLS: {}\n{}",
            remote(&central, &id),
            remote_weir.log()
        )
    });
    // Uploads go over the same TLS connection: the host metrics of a revision arrive.
    let (status, body) = http(
        "PUT",
        &format!("{}/weir/v1/remotes/{id}/config", central.url),
        Some("{\"hostMetrics\": {\"intervalSeconds\": 10}}"),
    )
    .expect("put config");
    assert_eq!(status, 201, "{body}");
    eventually(Duration::from_secs(30), || {
        (ingress_measurement(&central, "host") > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no upload over TLS: {}", remote_weir.log()));
}
