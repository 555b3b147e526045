//! The probe's findings, each reproduced against a running daemon: what once let a request
//! run a command, abort weir or hold it forever is now refused with a clear answer.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{Weir, eventually, http, http_with};
use serde_json::Value;

const BASE: &str = r#"
data_dir = "@DIR@/data"
[http]
bind-address = "127.0.0.1:@PORT@"
"#;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn task(id: &str, script: &str) -> String {
    serde_json::json!({
        "id": id,
        "type": "stream",
        "dbrps": [{"db": "db", "rp": "autogen"}],
        "script": script,
        "status": "enabled",
    })
    .to_string()
}

#[test]
fn exec_runs_only_allowed_commands() {
    let marker = tempfile::tempdir().expect("tempdir").keep().join("touched");
    let script = format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).exec('/usr/bin/touch', '{}')",
        marker.display()
    );
    let weir = Weir::start(BASE);
    let tasks = format!("{}/kapacitor/v1/tasks", weir.url);
    let (status, body) = http("POST", &tasks, Some(&task("ping", &script))).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("[exec] allowed-commands"), "{body}");
    assert!(body.contains("/usr/bin/touch"), "{body}");
    weir.stop();

    let allowed = format!("{BASE}\n[exec]\nallowed-commands = [\"/usr/bin/touch\"]\n");
    let weir = Weir::start(&allowed);
    let tasks = format!("{}/kapacitor/v1/tasks", weir.url);
    let (status, body) = http("POST", &tasks, Some(&task("ping", &script))).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=db", weir.url),
        Some("cpu value=1"),
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    assert!(
        eventually(Duration::from_secs(20), || marker.exists().then_some(())).is_some(),
        "the allowed command ran"
    );
    weir.stop();
}

#[test]
fn auth_bypass_by_path_suffix_is_closed_and_survives_a_reload_that_turns_auth_off() {
    let hash = common::sha256_hex("secret");
    let config = format!(
        "{BASE}auth-enabled = true\n[[http.users]]\nusername = \"ops\"\npassword-sha256 = \"{hash}\"\n"
    );
    let weir = Weir::start(&config);
    let url = |path: &str| format!("{}{path}", weir.url);
    let (status, _) = http("GET", &url("/kapacitor/v1/ping"), None).unwrap();
    assert_eq!(status, 204);
    for (method, path) in [
        ("GET", "/kapacitor/v1/tasks/ping"),
        ("PATCH", "/kapacitor/v1/tasks/ping"),
        ("DELETE", "/kapacitor/v1/templates/ping"),
        ("PATCH", "/weir/v1/scrapers/ping"),
        ("GET", "/kapacitor/v1/tasks/ping/ping"),
    ] {
        let (status, body) = http(method, &url(path), Some("{}")).unwrap();
        assert_eq!(status, 401, "{method} {path}: {body}");
    }
    // A reload that turns auth off takes effect at the next restart, as the log says.
    std::fs::write(&weir.config, weir_config_without_auth(&weir)).expect("write config");
    let basic = "Basic b3BzOnNlY3JldA==";
    let (status, body) =
        http_with("POST", &url("/weir/v1/config/reload"), None, Some(basic)).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = http("GET", &url("/kapacitor/v1/tasks"), None).unwrap();
    assert_eq!(status, 401, "auth stays on until the restart");
    weir.stop();
}

fn weir_config_without_auth(weir: &Weir) -> String {
    std::fs::read_to_string(&weir.config)
        .expect("read config")
        .replace("auth-enabled = true", "auth-enabled = false")
}

#[test]
fn deep_scripts_and_huge_patterns_get_400_and_the_daemon_stays_up() {
    let weir = Weir::start(BASE);
    let tasks = format!("{}/kapacitor/v1/tasks", weir.url);
    let nested = format!(
        "stream|from().measurement('cpu').where(lambda: {}\"value\" > 1{})|httpOut('x')",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let (status, body) = http("POST", &tasks, Some(&task("deep", &nested))).unwrap();
    assert_eq!(status, 400, "{body}");
    let message = json(&body)["error"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("nested deeper than"), "{message}");
    assert!(
        message.contains("1:"),
        "the message names line:column: {message}"
    );

    let terms: Vec<String> = (0..3_000).map(|i| format!("\"v{i}\" > 0")).collect();
    let chain = format!(
        "stream|from().measurement('cpu').where(lambda: {})|httpOut('x')",
        terms.join(" AND ")
    );
    let (status, body) = http("POST", &tasks, Some(&task("chain", &chain))).unwrap();
    assert_eq!(status, 400, "{body}");

    let mut pipeline = "stream|from().measurement('cpu')".to_owned();
    for _ in 0..3_000 {
        pipeline.push_str("|window().period(10s).every(10s)");
    }
    let (status, body) = http("POST", &tasks, Some(&task("long", &pipeline))).unwrap();
    assert_eq!(status, 400, "{body}");

    let stars = "*".repeat(45_000);
    let (status, body) = http("GET", &format!("{tasks}?pattern={stars}"), None).unwrap();
    assert_eq!(status, 400, "{body}");
    let exponential = format!("{}b", "*a".repeat(13));
    let (status, body) = http("GET", &format!("{tasks}?pattern={exponential}"), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = http("GET", &format!("{}/kapacitor/v1/ping", weir.url), None).unwrap();
    assert_eq!(status, 204, "the daemon is still up");
    weir.stop();
}

#[test]
fn max_body_size_is_honoured_at_any_size_and_answered_as_json() {
    let config = format!("{BASE}max-body-size = \"50MB\"\n");
    let weir = Weir::start(&config);
    let write = format!("{}/write?db=db", weir.url);
    let line =
        "cpu,host=server01,region=uswest value=0.640000000,other=12345678i 1434055562000000000\n";
    let forty_mb = line.repeat(40_000_000 / line.len());
    let (status, body) = http("POST", &write, Some(&forty_mb)).unwrap();
    assert_eq!(status, 204, "{body}");
    let sixty_mb = line.repeat(60_000_000 / line.len());
    let (status, body) = http("POST", &write, Some(&sixty_mb)).unwrap();
    assert_eq!(status, 413, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("50000000")),
        "{body}"
    );
    // One line that is not UTF-8 rejects only itself.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (status, body) = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(&write)
            .body(b"cpu value=1 1\ncpu,host=\xff value=2 2\ncpu value=3 3\n".to_vec())
            .send()
            .await
            .expect("send");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    });
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 2"), "{body}");
    weir.stop();
}

#[test]
fn slow_clients_are_disconnected_after_the_header_timeout() {
    let config = format!("{BASE}read-header-timeout = \"1s\"\nmax-connections = 20\n");
    let weir = Weir::start(&config);
    let address = weir.url.trim_start_matches("http://").to_owned();
    // Trickling headers.
    let mut slow = TcpStream::connect(&address).expect("connect");
    slow.write_all(b"GET /kapacitor/v1/ping HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    // An idle keep-alive connection after one request.
    let mut idle = TcpStream::connect(&address).expect("connect");
    idle.write_all(b"GET /kapacitor/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    for (name, stream) in [("slow", &mut slow), ("idle", &mut idle)] {
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        let started = Instant::now();
        let mut received = Vec::new();
        let closed = loop {
            let mut buffer = [0_u8; 1024];
            match stream.read(&mut buffer) {
                Ok(0) => break true,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(_) => break false,
            }
        };
        assert!(closed, "{name}: the server closed the connection");
        eprintln!("{name} closed after {:?}", started.elapsed());
    }
    // More connections than max-connections: the extra ones are closed, the API answers again
    // once they go.
    let held: Vec<TcpStream> = (0..25)
        .filter_map(|_| TcpStream::connect(&address).ok())
        .collect();
    drop(held);
    assert!(
        eventually(Duration::from_secs(15), || {
            http("GET", &format!("{}/kapacitor/v1/ping", weir.url), None)
                .ok()
                .filter(|(status, _)| *status == 204)
        })
        .is_some()
    );
    weir.stop();
}

fn config_revision(weir: &Weir) -> u64 {
    let (_, body) = http("GET", &format!("{}/weir/v1/config/status", weir.url), None).unwrap();
    json(&body)["revision"].as_u64().unwrap_or(0)
}

#[test]
fn reading_the_config_file_does_not_reload_it() {
    let weir = Weir::start(BASE);
    assert_eq!(config_revision(&weir), 1);
    let text = std::fs::read_to_string(&weir.config).expect("read");
    // A real change reloads: the watcher runs.
    std::fs::write(&weir.config, format!("{text}\n# change 1\n")).expect("write");
    assert!(
        eventually(Duration::from_secs(20), || (config_revision(&weir) >= 2)
            .then_some(()))
        .is_some(),
        "a content change reloads"
    );
    // `cat weir.toml`, many times.
    for _ in 0..20 {
        let _ = std::fs::read_to_string(&weir.config).expect("read");
    }
    // Touching without changing the content is not a change either.
    let same = std::fs::read_to_string(&weir.config).expect("read");
    std::fs::write(&weir.config, &same).expect("rewrite");
    // A second real change: the reads and the rewrite above were seen before it, in order.
    std::fs::write(&weir.config, format!("{text}\n# change 2\n")).expect("write");
    let revision = eventually(Duration::from_secs(20), || {
        let revision = config_revision(&weir);
        (revision >= 3).then_some(revision)
    });
    assert_eq!(revision, Some(3), "only the two changes reloaded");
    weir.stop();
}

/// Serves one gzip bomb: a small body that decompresses to 200 MB.
fn gzip_bomb_server() -> (String, std::thread::JoinHandle<()>) {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let chunk = vec![b'#'; 1 << 20];
    for _ in 0..200 {
        encoder.write_all(&chunk).expect("compress");
    }
    let bomb = encoder.finish().expect("compress");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bomb.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&bomb);
        }
    });
    (address, handle)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_gzip_bomb_fails_the_scrape_with_the_limit_and_memory_stays_bounded() {
    let (address, _server) = gzip_bomb_server();
    let config = format!(
        "{BASE}\n[[static-discovery]]\nid = \"bomb\"\ntargets = [\"{address}\"]\n[[scraper]]\nenabled = true\nname = \"bomb\"\ndb = \"prom\"\nrp = \"autogen\"\nscrape-interval = \"1s\"\nscrape-timeout = \"900ms\"\ndiscoverer-id = \"bomb\"\ndiscoverer-service = \"static-discovery\"\n"
    );
    let weir = Weir::start(&config);
    let reason = eventually(Duration::from_secs(30), || {
        let (_, body) = http("GET", &format!("{}/weir/v1/targets", weir.url), None).ok()?;
        body.contains("body size limit").then_some(body)
    })
    .expect("the target fails with the body size limit");
    assert!(reason.contains("16777216"), "{reason}");
    let peak = peak_rss_kib(weir.child.id());
    assert!(peak > 0 && peak < 200 * 1024, "peak RSS {peak} KiB");
    weir.stop();
}
