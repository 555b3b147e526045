//! Command-line interface: argument definitions and dispatch.

mod client;
mod script;

/// Write to standard output; a reader that went away (`weir changes | head`) ends weir quietly
/// with exit code 0 instead of a broken-pipe panic.
pub fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("weir: cannot write to standard output: {error}");
        std::process::exit(2);
    }
}

/// `println!` that ends quietly on a closed pipe.
macro_rules! outln {
    () => {
        $crate::cli::write_stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*), true)
    };
}

/// `print!` that ends quietly on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*), false)
    };
}

pub(crate) use {out, outln};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

/// weir: a metrics stream-processing engine (discover, scrape, process with TICKscript, sink).
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    remote: Remote,
    /// Colour in log lines on standard error or output (a log file never gets any).
    #[arg(long, value_enum, env = "WEIR_COLOR", default_value_t, global = true)]
    color: Color,
}

/// When log lines get ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    /// When the stream is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How client commands print what they list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON, as the API answered.
    Json,
    /// YAML.
    Yaml,
}

/// Output format of `weir check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Human,
    /// For scripts.
    Json,
}

/// Where a running daemon is and how to print its answers (global: before or after the verb).
#[derive(Debug, clap::Args)]
pub struct Remote {
    /// The daemon's URL.
    #[arg(
        long,
        env = "WEIR_URL",
        default_value = "http://127.0.0.1:9092",
        global = true
    )]
    url: String,
    /// Output of client commands.
    #[arg(long, short = 'o', value_enum, default_value_t, global = true)]
    output: Output,
    /// Same as `-o json`.
    #[arg(long, global = true, hide = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (without --config: the embedded default, which needs no outside service).
    Serve {
        /// TOML config file (Kapacitor's keys).
        #[arg(long, short = 'c', env = "WEIR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print every config section and key with its default, type and comment; or check a file.
    Config {
        /// Validate this config file (with the environment's overrides) without starting;
        /// exit 1 when it has errors.
        #[arg(long, value_name = "FILE")]
        check: Option<PathBuf>,
    },
    /// Check scripts and templates; exit 1 when any has errors.
    Check {
        /// Scripts.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Template vars JSON (Kapacitor's `{"name": {"type": ..., "value": ...}}`): check as
        /// `kapacitor define -template -vars` would. Without it, a var declared without a value
        /// (`var x float`) is checked as a value of its declared type.
        #[arg(long, value_name = "FILE")]
        vars: Option<PathBuf>,
        /// Output format of the diagnostics.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print a script's graph in DOT.
    Graph {
        /// Script.
        file: PathBuf,
    },
    /// Format scripts canonically (in place, or --check).
    Fmt {
        /// Scripts.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Exit 1 when a file is not formatted, without changing it.
        #[arg(long)]
        check: bool,
    },
    /// Run a script over recorded data and print (or compare) what it emits.
    Test {
        /// Script.
        script: PathBuf,
        /// Line protocol (precision s unless `# precision=…` says otherwise; `# db=… rp=…` set
        /// the database) or Kapacitor's .srpl.
        #[arg(long)]
        data: PathBuf,
        /// Expected output (JSON lines); exit 1 with a diff when it differs.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Template vars JSON.
        #[arg(long)]
        vars: Option<PathBuf>,
        /// Rewrite the --expect file with the actual output.
        #[arg(long)]
        bless: bool,
    },
    /// Define or redefine a task on a running daemon.
    Define {
        /// Task id.
        id: String,
        /// Script file.
        #[arg(long = "tick", short = 't')]
        tick: Option<PathBuf>,
        /// stream or batch.
        #[arg(long = "type")]
        task_type: Option<String>,
        /// db.rp pairs (for scripts without a dbrp statement).
        #[arg(long)]
        dbrp: Vec<String>,
        /// Template id.
        #[arg(long)]
        template: Option<String>,
        /// Template vars JSON file.
        #[arg(long)]
        vars: Option<PathBuf>,
    },
    /// Enable tasks.
    Enable {
        /// Task ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Disable tasks.
    Disable {
        /// Task ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reload the daemon's config file (validated first).
    Reload,
    /// List tasks or templates.
    List {
        /// tasks or templates.
        what: ListKind,
        /// Glob on ids.
        pattern: Option<String>,
    },
    /// Show a task: script, graph with node statistics.
    Show {
        /// Task id.
        id: String,
    },
    /// Delete tasks or templates.
    Delete {
        /// tasks or templates.
        what: ListKind,
        /// Ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Write line protocol from a file or stdin.
    Write {
        /// Database.
        #[arg(long)]
        db: String,
        /// Retention policy.
        #[arg(long, default_value = "autogen")]
        rp: String,
        /// Timestamp precision: n, u, ms, s, m, h.
        #[arg(long, default_value = "n")]
        precision: String,
        /// File (default: stdin).
        file: Option<PathBuf>,
    },
    /// Show daemon statistics (tasks, sinks, config status).
    Stats,
    /// List scrapers, or enable or disable one (kept across restarts).
    Scrapers {
        /// enable or disable.
        action: Option<ScraperAction>,
        /// Scraper name.
        name: Option<String>,
    },
    /// List remote collectors, or register one (`create NAME`: prints its one-time
    /// enrollment token), give a pending one a new token, rotate a credential or revoke one.
    Remotes {
        /// create, token, rotate or revoke.
        action: Option<RemoteAction>,
        /// The name (create) or id (the others).
        name: Option<String>,
        /// Databases a new collector may write into (create; default `remotes`).
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
    },
    /// List scrape targets.
    Targets {
        /// Only targets that are not healthy.
        #[arg(long)]
        unhealthy: bool,
    },
    /// Scrape every target of a scraper now.
    Collect {
        /// Scraper name.
        name: String,
    },
    /// List discoverers, or enable, disable (kept across restarts) or refresh one.
    Discoverers {
        /// enable, disable or refresh.
        action: Option<DiscovererAction>,
        /// Discoverer id.
        id: Option<String>,
    },
    /// List configuration items.
    Cis {
        /// Only this kind (kubernetes.pod, ec2.instance, host, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only this source (kubernetes/prod) or section (kubernetes).
        #[arg(long)]
        source: Option<String>,
        /// Substring of the key or an attribute value.
        #[arg(long, short = 'q')]
        query: Option<String>,
        /// Only items related to this one, as kind:key (what runs on a node:
        /// `--related kubernetes.node:node-1`).
        #[arg(long)]
        related: Option<String>,
        /// With --related, only this relationship (runs-on, targets, resolves-to, …).
        #[arg(long, requires = "related")]
        relation: Option<String>,
    },
    /// Show one configuration item with its relationships both ways.
    Ci {
        /// Item id (`kind:key@source` as `weir cis` prints it, or `kind:key` when unique).
        id: String,
    },
    /// Show the change history, newest first.
    Changes {
        /// From: a duration ago (1h), nanoseconds or RFC 3339.
        #[arg(long, default_value = "1h")]
        since: String,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only this source or section.
        #[arg(long)]
        source: Option<String>,
        /// Only this item id.
        #[arg(long)]
        ci: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put a backup (`kapacitor backup FILE` against weir) in place as the store of a data
    /// dir; weir must not be running on that dir.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The data dir (default: `data_dir` of --config, or of the embedded default).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The config whose `data_dir` to restore into.
        #[arg(long, short = 'c', env = "WEIR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the SHA-256 to put in [[http.users]] for a password or token read from stdin.
    HashPassword,
}

/// What `list` and `delete` act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKind {
    /// Tasks.
    Tasks,
    /// Templates.
    Templates,
}

/// Scraper actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScraperAction {
    /// Enable.
    Enable,
    /// Disable.
    Disable,
}

/// Remote collector actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemoteAction {
    /// Register a collector.
    Create,
    /// A new enrollment token for a pending collector.
    Token,
    /// A new credential at the collector's next heartbeat.
    Rotate,
    /// Revoke for good.
    Revoke,
}

/// Discoverer actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscovererAction {
    /// Enable.
    Enable,
    /// Disable.
    Disable,
    /// Refresh now.
    Refresh,
}

/// Run a command; the exit code for success paths that are not 0 (check, test, fmt --check).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve { config } => {
            crate::serve::run(config, args.color).map(|()| ExitCode::SUCCESS)
        }
        Command::Config { check: None } => {
            out!(
                "{}",
                crate::config::render(false).map_err(anyhow::Error::msg)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { check: Some(path) } => match crate::config::load(&path) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    eprintln!("warning: {warning}");
                }
                outln!("{}: ok", path.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                for error in &errors.errors {
                    eprintln!("error: {error}");
                }
                Ok(ExitCode::from(1))
            }
        },
        Command::Check {
            files,
            vars,
            format,
        } => script::check(&files, vars.as_deref(), format),
        Command::Graph { file } => script::graph(&file),
        Command::Fmt { files, check } => script::fmt(&files, check),
        Command::Test {
            script,
            data,
            expect,
            vars,
            bless,
        } => script::test(&script, &data, expect.as_deref(), vars.as_deref(), bless),
        Command::Restore {
            file,
            data_dir,
            config,
        } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => crate::serve::load_config(config.as_ref())?.config.data_dir,
            };
            let contents = weir_sinks::state::backup::restore(&file, &data_dir)?;
            outln!(
                "restored {} into {}: {} tasks, {} templates, {} topic handlers, {} topic events, {} alert groups",
                file.display(),
                data_dir.display(),
                contents.tasks,
                contents.templates,
                contents.topic_handlers,
                contents.topic_events,
                contents.alert_groups
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "weir", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::HashPassword => {
            let mut secret = String::new();
            std::io::stdin().read_line(&mut secret)?;
            outln!(
                "{}",
                crate::api::sha256_hex(secret.trim_end_matches(['\n', '\r']))
            );
            Ok(ExitCode::SUCCESS)
        }
        command => client::run(command, &args.remote),
    }
}
