//! Helpers shared by the peer tests: env-var lookup with skip/require, waiting, fakes.

#![allow(dead_code)] // Each test binary uses a different subset.

#[cfg(feature = "ec2")]
pub mod ec2_api;
pub mod fake_azure;
pub mod http_server;
pub mod zk;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use weir_engine::{Labels, TargetGroup};

/// Whether a missing peer must fail the test (`WEIR_REQUIRE_PEERS=1`) instead of skipping it.
pub fn require_peers() -> bool {
    std::env::var("WEIR_REQUIRE_PEERS").is_ok_and(|value| value == "1")
}

/// The value of a peer env var, or `None` after printing "skipped: VAR not set".
pub fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(!require_peers(), "{var} not set and WEIR_REQUIRE_PEERS=1");
            println!("skipped: {var} not set");
            None
        }
    }
}

/// Every target of every group, with the group labels merged in (target labels win).
pub fn targets(groups: &[TargetGroup]) -> Vec<Labels> {
    let mut all: Vec<Labels> = groups
        .iter()
        .flat_map(|group| {
            group.targets.iter().map(|target| {
                let mut labels = group.labels.clone();
                labels.extend(target.clone());
                labels
            })
        })
        .collect();
    all.sort_by(|a, b| a.get("__address__").cmp(&b.get("__address__")));
    all
}

/// The sorted `__address__` values.
pub fn addresses(groups: &[TargetGroup]) -> Vec<String> {
    let mut all: Vec<String> = targets(groups)
        .iter()
        .filter_map(|t| t.get("__address__").cloned())
        .collect();
    all.sort();
    all
}

/// Wait until the published groups satisfy `condition`; returns how long it took.
pub async fn wait_for(
    receiver: &mut watch::Receiver<Vec<TargetGroup>>,
    timeout: Duration,
    condition: impl Fn(&[TargetGroup]) -> bool,
) -> Duration {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, receiver.wait_for(|groups| condition(groups)))
        .await
        .map(|result| result.is_ok());
    match outcome {
        Ok(true) => started.elapsed(),
        Ok(false) => panic!("the target channel closed"),
        Err(_) => panic!(
            "condition not met within {timeout:?}; last value: {:?}",
            receiver.borrow()
        ),
    }
}

/// Poll `condition` every 50 ms until it holds.
pub async fn eventually(timeout: Duration, what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not reached within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A python fake from tests/peers, killed on drop.
pub struct Fake {
    child: Child,
    pub port: u16,
}

impl Fake {
    /// Start `tests/peers/<script>` on `port` and wait until it accepts connections; `None`
    /// (after "skipped: ...") when python3 is missing and peers are not required.
    pub fn start(script: &str, port: u16) -> Option<Fake> {
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "tests", "peers", script]
            .iter()
            .collect();
        let child = match Command::new("python3")
            .arg(&path)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                assert!(
                    !require_peers(),
                    "cannot run python3 {}: {error}",
                    path.display()
                );
                println!("skipped: cannot run python3 {}: {error}", path.display());
                return None;
            }
        };
        let fake = Fake { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{script} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(fake)
    }

    /// Stop the fake (as a crashed peer).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop();
    }
}
