//! The CLI as a shell user meets it.

use std::process::{Command, Stdio};

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
