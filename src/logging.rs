//! Logging with `tracing`: text or JSON, to stderr, stdout or a file, at `[logging] level`
//! (`RUST_LOG` overrides). The level can change while running (`POST /kapacitor/v1/loglevel`),
//! and `GET /kapacitor/v1preview/logs` streams the entries as Kapacitor's JSON lines.

use std::io::IsTerminal as _;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use serde_json::{Map, Value};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::cli::Color;
use crate::config::LoggingConfig;

/// Keeps a log file open for the life of the process.
pub struct Guard;

/// Log entries streamed to `/kapacitor/v1preview/logs` sessions (only built while one listens).
pub type Entry = Arc<Map<String, Value>>;

/// The output layer (format and writer chosen by the config).
type Output = Box<dyn Layer<Registry> + Send + Sync>;
/// The subscriber under the level filter (the filter disables events for every layer).
type Outputs = tracing_subscriber::layer::Layered<Output, Registry>;

static FILTER: OnceLock<reload::Handle<EnvFilter, Outputs>> = OnceLock::new();
static ENTRIES: OnceLock<tokio::sync::broadcast::Sender<Entry>> = OnceLock::new();

/// Entries a slow `/logs` session may fall behind before it skips some.
const SESSION_BUFFER: usize = 1024;

/// The levels `kapacitor level` takes.
pub const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

fn filter(level: &str) -> EnvFilter {
    EnvFilter::new(format!(
        "{level},hyper=warn,reqwest=warn,kube=warn,aws=warn,h2=warn"
    ))
}

fn entries() -> &'static tokio::sync::broadcast::Sender<Entry> {
    ENTRIES.get_or_init(|| tokio::sync::broadcast::channel(SESSION_BUFFER).0)
}

static ENDED: OnceLock<tokio::sync::watch::Sender<bool>> = OnceLock::new();

fn ended() -> &'static tokio::sync::watch::Sender<bool> {
    ENDED.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// Follow the log entries from now on; the second receiver turns true when the sessions
/// must end (shutdown).
pub fn subscribe() -> (
    tokio::sync::broadcast::Receiver<Entry>,
    tokio::sync::watch::Receiver<bool>,
) {
    (entries().subscribe(), ended().subscribe())
}

/// End every `/logs` session (at shutdown, so the listener's drain does not wait for them).
pub fn end_sessions() {
    ended().send_replace(true);
}

/// Change the running level (`debug`, `info`, `warn`, `error`; Kapacitor's names).
pub fn set_level(level: &str) -> Result<(), String> {
    let level = level.to_ascii_lowercase();
    let level = if level == "warning" {
        "warn".into()
    } else {
        level
    };
    if !LEVELS.contains(&level.as_str()) {
        return Err(format!(
            "invalid log level {level:?}: use one of {}",
            LEVELS.join(", ")
        ));
    }
    let handle = FILTER
        .get()
        .ok_or_else(|| "logging is not set up in this process".to_owned())?;
    handle
        .reload(filter(&level))
        .map_err(|e| format!("cannot change the log level: {e}"))?;
    tracing::info!(%level, "log level changed");
    Ok(())
}

/// Hands every event to the `/logs` sessions, as Kapacitor's JSON entry: `ts`, `lvl`, `msg`
/// and the event's fields (`task`, `node`, ...).
struct Sessions;

#[derive(Default)]
struct Fields(Map<String, Value>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let name = if field.name() == "message" {
            "msg"
        } else {
            field.name()
        };
        self.0
            .insert(name.to_owned(), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let name = if field.name() == "message" {
            "msg"
        } else {
            field.name()
        };
        self.0
            .insert(name.to_owned(), Value::String(value.to_owned()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Sessions {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let sender = entries();
        if sender.receiver_count() == 0 {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut entry = fields.0;
        entry.insert(
            "ts".into(),
            Value::String(crate::tasks::format_rfc3339(crate::tasks::now_nanos())),
        );
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warn",
            tracing::Level::INFO => "info",
            _ => "debug",
        };
        entry.insert("lvl".into(), Value::String(level.into()));
        entry
            .entry("service")
            .or_insert_with(|| Value::String("kapacitor".into()));
        // No session listening any more is fine.
        let _ = sender.send(Arc::new(entry));
    }
}

/// Install the global subscriber; `color` decides colour on standard error or output.
pub fn init(config: &LoggingConfig, color: Color) -> anyhow::Result<Guard> {
    let ansi = |terminal: bool| match color {
        Color::Auto => terminal,
        Color::Always => true,
        Color::Never => false,
    };
    let level = config.level.to_ascii_lowercase();
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter(&level));
    let (env_filter, handle) = reload::Layer::new(env_filter);
    let json = config.format == "json";
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let output: Output = match config.file.as_str() {
        // Colour only on a terminal (unless --color says otherwise): a pipe or a redirected
        // file gets plain text; a log file never gets colour.
        "STDERR" | "stderr" | "" => {
            let fmt = fmt
                .with_ansi(ansi(std::io::stderr().is_terminal()))
                .with_writer(std::io::stderr);
            if json {
                Box::new(fmt.json())
            } else {
                Box::new(fmt)
            }
        }
        "STDOUT" | "stdout" => {
            let fmt = fmt
                .with_ansi(ansi(std::io::stdout().is_terminal()))
                .with_writer(std::io::stdout);
            if json {
                Box::new(fmt.json())
            } else {
                Box::new(fmt)
            }
        }
        path => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("[logging] cannot open log file {path}"))?;
            let fmt = fmt
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file));
            if json {
                Box::new(fmt.json())
            } else {
                Box::new(fmt)
            }
        }
    };
    let result = tracing_subscriber::registry()
        .with(output)
        .with(env_filter)
        .with(Sessions)
        .try_init();
    // A second init (tests) keeps the first subscriber and its level handle.
    if result.is_ok() {
        let _ = FILTER.set(handle);
    }
    Ok(Guard)
}
