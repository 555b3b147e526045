//! The CLI as a shell user meets it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, free_port, http};

fn weir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run weir")
}

/// `weir config | head -1`: a reader that goes away ends weir quietly (exit 0), not with a
/// broken-pipe panic (exit 101).
#[test]
fn a_closed_pipe_ends_weir_quietly() {
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("config")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        // Close the reading end before weir writes anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn config_lists_every_section_and_checks_files() {
    let output = weir(&["config"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for section in [
        "[[dns]]",
        "[[consul]]",
        "[[kubernetes]]",
        "[[ec2]]",
        "[[file-discovery]]",
        "[scraper.health]",
        "[[scraper.relabel-configs]]",
        "[ingress]",
        "[exec]",
        "buffer-max-size = 500000000",
    ] {
        assert!(text.contains(section), "{section} missing from:\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[http]\nbind-adress = \":1\"\n").unwrap();
    let output = weir(&["config", "--check", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("good.toml: ok\n"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `bind-address`?"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[logging]\nlevel = \"LOUD\"\n[http]\nauth-enabled = \"x\"\n",
    )
    .unwrap();
    let output = weir(&["config", "--check", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:4:"), "{stderr}");
}

/// The embedded default (no --config) honours the `WEIR_*` overrides: a taken port 9092
/// needs no config file.
#[test]
fn the_embedded_default_takes_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("serve")
        .current_dir(dir.path())
        .env("WEIR_HTTP_BIND_ADDRESS", format!("127.0.0.1:{port}"))
        .env("WEIR_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn weir");
    let url = format!("http://127.0.0.1:{port}/kapacitor/v1/ping");
    let answered = eventually(Duration::from_secs(30), || {
        http("GET", &url, None).ok().filter(|r| r.0 == 204)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered.is_some(), "no answer on {url}");
    assert!(dir.path().join("data").is_dir());
}
