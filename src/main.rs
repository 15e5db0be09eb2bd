//! `pinsocket`: the device server. Serves the control page and switches
//! GPIO lines (a simulated board unless configured otherwise) for every
//! connected browser at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use pinsocket::device::{App, Config};

/// Switch GPIO pins from a browser: serves a control page and a WebSocket
/// on one port. With no arguments: a simulated board with one output, `led`
/// on line 12, at http://127.0.0.1:8080/.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; 0.0.0.0:8080 serves your whole network.
    /// [default: `listen` from the config file, else 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// TOML file describing the board: backend (`sim` or `gpio-cdev`),
    /// chip, `[[output]]` and `[[input]]` pins, `[limits]`,
    /// `heartbeat_timeout`. See docs/raspberry-pi.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve pages from this folder instead of the built-in ones (the
    /// control page, led.html and wstest.html).
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace. RUST_LOG overrides it.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinsocket: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .or_else(|_| tracing_subscriber::EnvFilter::try_new(&args.log_level))
                .with_context(|| format!("invalid --log-level `{}`", args.log_level))?,
        )
        .init();
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::parse("", Path::new("(built-in)"))?,
    };
    let app = App::new(config, args.listen, args.www).context("cannot open the board")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let running = app.server.spawn().await?;
        println!("pinsocket: open http://{}/", running.local_addr());
        pinsocket::shutdown_signal().await;
        tracing::info!("shutting down: closing clients, outputs to their safe levels");
        running.stop().await;
        app.device.all_safe();
        anyhow::Ok(())
    })
}
