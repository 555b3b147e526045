//! Helpers for end-to-end tests: run the `weir` binary with a config, find peers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A peer URL from the environment, or `None` (the test skips) unless `WEIR_REQUIRE_PEERS=1`.
pub fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
                "{var} is not set but WEIR_REQUIRE_PEERS=1: start the peers with tests/peers/peers.sh"
            );
            eprintln!("skipped: {var} not set");
            None
        }
    }
}

/// Hex SHA-256 of a secret, as `password-sha256` and `token-sha256` store it.
pub fn sha256_hex(secret: &str) -> String {
    use std::fmt::Write as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes());
    digest.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A running `weir serve`, killed on drop.
pub struct Weir {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Weir {
    /// Start weir with `config` (its `@PORT@` and `@DIR@` replaced) in a fresh directory.
    pub fn start(config: &str) -> Weir {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        Weir::start_in(&dir, config, free_port())
    }

    /// Start in a given directory and port (for restarts).
    pub fn start_in(dir: &Path, config: &str, port: u16) -> Weir {
        Weir::start_at(dir, config, "127.0.0.1", port)
    }

    /// Start in a given directory, answering on `host` (where `bind-address` puts it).
    pub fn start_at(dir: &Path, config: &str, host: &str, port: u16) -> Weir {
        let text = config
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.display().to_string());
        let config_path = dir.join("weir.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("weir.log"))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn weir");
        let scheme = if text.contains("https-enabled = true") {
            "https"
        } else {
            "http"
        };
        let weir = Weir {
            child,
            url: format!("{scheme}://{host}:{port}"),
            dir: dir.to_owned(),
            config: config_path,
        };
        weir.wait_ready();
        weir
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = ureq_get(&format!("{}/kapacitor/v1/ping", self.url)) {
                if response.0 == 204 {
                    return;
                }
            }
            // The poll interval: ping is asked again, not assumed to answer.
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("weir did not answer ping within 30 s; log:\n{}", self.log());
    }

    /// Everything weir logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("weir.log")).unwrap_or_default()
    }

    /// Stop with SIGTERM and wait.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.log();
            }
            // The poll interval: the exit is checked again, not assumed.
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP request; `(status, body)`.
pub fn http(method: &str, url: &str, body: Option<&str>) -> Result<(u16, String), String> {
    http_with(method, url, body, None)
}

/// A blocking HTTP request with an `Authorization` header.
pub fn http_with(
    method: &str,
    url: &str,
    body: Option<&str>,
    authorization: Option<&str>,
) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        // Tests talk to weir's self-signed test certificates too.
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| e.to_string())?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = client.request(method, url).timeout(Duration::from_secs(30));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, text))
    })
}

fn ureq_get(url: &str) -> Result<(u16, String), String> {
    http("GET", url, None)
}

/// Poll `check` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // The poll interval of `eventually`: the condition is checked again, not assumed.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Run an InfluxQL query against `influx` and return the JSON answer.
pub fn influx_query(influx: &str, db: &str, query: &str) -> serde_json::Value {
    let url = format!(
        "{influx}/query?db={db}&epoch=ns&q={}",
        query
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    let (_, body) = http("GET", &url, None).unwrap_or((0, String::new()));
    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
}

/// A CA and a server certificate signed by it that names only the host `name` (no IP
/// address), made with the `openssl` command in `dir`: (ca.pem, server.pem, server.key), or
/// `None` (after "skipped: ...") when openssl is missing and peers are not required.
pub fn certificates_for(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let [ca_key, ca, key, csr, cert, ext] = [
        "ca.key",
        "ca.pem",
        "server.key",
        "server.csr",
        "server.pem",
        "san.ext",
    ]
    .map(|file| dir.join(file));
    std::fs::write(&ext, format!("subjectAltName=DNS:{name}\n")).ok()?;
    let path = |p: &PathBuf| p.display().to_string();
    let steps: [Vec<String>; 3] = [
        [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain(["-subj".into(), "/CN=weir test CA".into()])
        .chain(["-keyout".into(), path(&ca_key), "-out".into(), path(&ca)])
        .collect(),
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj"]
            .map(str::to_owned)
            .into_iter()
            .chain([format!("/CN={name}")])
            .chain(["-keyout".into(), path(&key), "-out".into(), path(&csr)])
            .collect(),
        ["x509", "-req", "-CAcreateserial", "-days", "1"]
            .map(str::to_owned)
            .into_iter()
            .chain(["-in".into(), path(&csr), "-CA".into(), path(&ca)])
            .chain([
                "-CAkey".into(),
                path(&ca_key),
                "-extfile".into(),
                path(&ext),
            ])
            .chain(["-out".into(), path(&cert)])
            .collect(),
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            assert!(
                std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
                "openssl is needed to make test certificates"
            );
            eprintln!("skipped: openssl not available");
            return None;
        }
    }
    Some((ca, cert, key))
}

/// A fake server child process, killed when dropped.
pub struct Fake(Child);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The project's Kubernetes API fake (tests/peers/fake_kube.py) on `port`, or `None`
/// without python3 (unless `WEIR_REQUIRE_PEERS=1`).
pub fn start_kube(port: u16) -> Option<Fake> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/fake_kube.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg("1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => {
            assert!(
                std::env::var("WEIR_REQUIRE_PEERS").as_deref() != Ok("1"),
                "python3: {error}"
            );
            eprintln!("skipped: cannot run python3: {error}");
            return None;
        }
    };
    let fake = Fake(child);
    eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .expect("fake apiserver started");
    Some(fake)
}

/// Send a JSON object to the Kubernetes fake (create, update or delete an object).
pub fn kube_send(method: &str, url: &str, body: &serde_json::Value) {
    let (status, text) = http(method, url, Some(&body.to_string())).expect("fake reachable");
    assert!(status < 300, "{method} {url}: {status} {text}");
}
