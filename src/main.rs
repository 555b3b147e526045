//! `weir`: the daemon (`weir serve`), the script tools (`check`, `graph`, `fmt`, `test`) and
//! the client verbs that drive a running daemon through its API.
//!
//! This is the only crate that prints to the terminal.

mod api;
mod ci;
mod cli;
mod config;
mod daemon;
mod dot;
mod listener;
mod logging;
mod outputs;
mod remote;
mod serve;
mod services;
mod switches;
mod tasks;
mod tls;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("weir: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
