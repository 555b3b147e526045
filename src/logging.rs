//! Logging with `tracing`: text or JSON, to stderr, stdout or a file, at `[logging] level`
//! (`RUST_LOG` overrides).

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::cli::Color;
use crate::config::LoggingConfig;

/// Keeps a log file open for the life of the process.
pub struct Guard;

/// Install the global subscriber; `color` decides colour on standard error or output.
pub fn init(config: &LoggingConfig, color: Color) -> anyhow::Result<Guard> {
    let ansi = |terminal: bool| match color {
        Color::Auto => terminal,
        Color::Always => true,
        Color::Never => false,
    };
    let level = config.level.to_ascii_lowercase();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,reqwest=warn,kube=warn,aws=warn,h2=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let json = config.format == "json";
    let result = match config.file.as_str() {
        // Colour only on a terminal (unless --color says otherwise): a pipe or a redirected
        // file gets plain text; a log file never gets colour.
        "STDERR" | "stderr" | "" => {
            let builder = builder.with_ansi(ansi(std::io::stderr().is_terminal()));
            if json {
                builder.json().with_writer(std::io::stderr).try_init()
            } else {
                builder.with_writer(std::io::stderr).try_init()
            }
        }
        "STDOUT" | "stdout" => {
            let builder = builder.with_ansi(ansi(std::io::stdout().is_terminal()));
            if json {
                builder.json().with_writer(std::io::stdout).try_init()
            } else {
                builder.with_writer(std::io::stdout).try_init()
            }
        }
        path => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("[logging] cannot open log file {path}"))?;
            let file = std::sync::Mutex::new(file);
            if json {
                builder.json().with_ansi(false).with_writer(file).try_init()
            } else {
                builder.with_ansi(false).with_writer(file).try_init()
            }
        }
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(Guard)
}
