//! `pinsocket`: the device server. Serves the control page and switches
//! GPIO lines (a simulated board unless configured otherwise) for every
//! connected browser at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use pinsocket_device::{App, Config};

mod cli;

/// Switch GPIO pins from a browser: serves a control page and a WebSocket
/// on one port. With no arguments: a simulated board with one output, `led`
/// on line 12, at http://127.0.0.1:8080/.
#[derive(Parser)]
#[command(name = "pinsocket", version, after_help = cli::FAILSAFE_HELP)]
struct Args {
    /// Where to listen: PORT, HOST:PORT, IP:PORT or [IPv6]:PORT; 0.0.0.0:8080
    /// serves your whole network. [default: `listen` from the config file,
    /// else 127.0.0.1:8080]
    ///
    /// A bare port (8080) or :PORT listens on 127.0.0.1, this machine only,
    /// as does localhost:PORT: anyone who can reach the page can switch the
    /// pins, so serving the network is asked for by name, 0.0.0.0:PORT (or
    /// [::]:PORT for IPv6, and IPv4 too where the system allows). Another
    /// host name is looked up and its first IPv4 address is used, else its
    /// first address. Without a port: 8080. Port 0: the system picks one.
    #[arg(long, value_name = "ADDR", value_parser = cli::parse_listen)]
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
    /// Log level: error, warn, info, debug, trace or off (any case), or
    /// tracing directives like `warn,pinsocket=debug`. RUST_LOG, if set,
    /// overrides it.
    #[arg(
        long,
        default_value = "info",
        value_name = "LEVEL",
        value_parser = cli::parse_log_level
    )]
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
    cli::init_logging(&args.log_level)?;
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::parse("", Path::new("(built-in)"))?,
    };
    let app = App::new(config, args.listen, args.www).context("cannot open the board")?;
    app.run(cli::print_listening)?;
    Ok(())
}
