//! `weir serve`: load the config, start the daemon, serve the API until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::{self, Loaded};
use crate::daemon::{self, Daemon};

/// Resolve Kapacitor's `:9092` (every interface) and `host:port` forms.
pub fn bind_address(text: &str) -> anyhow::Result<SocketAddr> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    if let Ok(address) = full.parse() {
        return Ok(address);
    }
    use std::net::ToSocketAddrs as _;
    full.to_socket_addrs()
        .with_context(|| format!("[http] bind-address {text:?} is not host:port"))?
        .next()
        .with_context(|| format!("[http] bind-address {text:?} resolves to nothing"))
}

/// Load the config from `path`, or the embedded default.
pub fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Loaded> {
    match path {
        Some(path) => config::load(path).map_err(|errors| anyhow::anyhow!("{errors}")),
        None => config::load_embedded().map_err(|errors| anyhow::anyhow!("{errors}")),
    }
}

/// Run the daemon until it is told to stop.
pub fn run(config_path: Option<PathBuf>, color: crate::cli::Color) -> anyhow::Result<()> {
    let mut loaded = load_config(config_path.as_ref())?;
    if config_path.is_none() && !loaded.config.load.dir.is_dir() {
        // Outside a checkout there is no scripts/ directory: run without example pipelines.
        loaded.config.load.enabled = false;
    }
    let _log_guard = crate::logging::init(&loaded.config.logging, color)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let address = bind_address(&loaded.config.http.bind_address)?;
    if config_path.is_none() {
        // The embedded default scrapes itself: follow a WEIR_HTTP_BIND_ADDRESS override.
        let own = std::net::SocketAddr::new(
            match address.ip() {
                ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
                ip => ip,
            },
            address.port(),
        );
        for discovery in &mut loaded.config.static_discovery {
            if discovery.id == "self" && discovery.targets == ["127.0.0.1:9092"] {
                discovery.targets = vec![own.to_string()];
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        // Room for the deepest script the parser accepts (dsl::parser::MAX_DEPTH) on every
        // thread that compiles one, with a wide margin.
        .thread_stack_size(8 << 20)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} ([http] bind-address)"))?;
        let local = listener.local_addr().unwrap_or(address);
        let data_dir = loaded.config.data_dir.clone();
        let config_file = loaded.path.clone();
        let sinks: Vec<String> = loaded
            .config
            .influxdb
            .iter()
            .flat_map(|s| s.urls.clone())
            .collect();
        let http = &loaded.config.http;
        let limits = crate::listener::Limits {
            max_connections: http.max_connections,
            header_timeout: http.read_header_timeout,
        };
        let tls = if http.https_enabled {
            let key = (!http.https_private_key.is_empty())
                .then(|| PathBuf::from(&http.https_private_key));
            Some(crate::tls::acceptor(
                std::path::Path::new(&http.https_certificate),
                key.as_deref(),
            )?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let daemon = Daemon::start(loaded).await?;
        tracing::info!(address = %local, scheme, "weir {} serving", env!("CARGO_PKG_VERSION"));
        print_banner(
            &daemon,
            scheme,
            local,
            &data_dir,
            &sinks,
            config_file.as_ref(),
        );
        daemon::reload_on_sighup(daemon.clone());
        if let Some(path) = config_file {
            daemon::reload_on_file_change(daemon.clone(), path);
        }
        let app = crate::api::router(daemon.clone());
        let shutdown_daemon = daemon.clone();
        let shutdown = async move {
            daemon::terminated().await;
            tracing::info!("shutting down: draining pipelines and flushing sinks");
            crate::logging::end_sessions();
            let deadline = daemon::shutdown_deadline(&shutdown_daemon);
            if tokio::time::timeout(deadline, shutdown_daemon.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("shutdown timed out; buffered data stays on disk");
            }
        };
        crate::listener::serve(listener, tls, app, limits, shutdown).await
    })
}

fn print_banner(
    daemon: &Daemon,
    scheme: &str,
    address: SocketAddr,
    data_dir: &std::path::Path,
    sinks: &[String],
    config_file: Option<&PathBuf>,
) {
    let config = daemon.config.load();
    let source = config_file.map_or_else(
        || "embedded default".to_owned(),
        |p| p.display().to_string(),
    );
    let tasks = daemon.tasks.ids().unwrap_or_default();
    println!(
        "weir {} listening on {scheme}://{address} (config: {source})",
        env!("CARGO_PKG_VERSION")
    );
    println!("  data_dir:  {}", data_dir.display());
    if sinks.is_empty() {
        println!(
            "  output:    line protocol files in {}",
            data_dir.join(&config.config.files.dir).display()
        );
    } else {
        println!("  output:    {}", sinks.join(", "));
    }
    println!(
        "  scrapers:  {}",
        config
            .config
            .scraper
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  tasks:     {}",
        if tasks.is_empty() {
            "none".to_owned()
        } else {
            tasks.join(", ")
        }
    );
    println!(
        "  metrics:   {scheme}://{address}/metrics   targets: {scheme}://{address}/weir/v1/targets"
    );
}
